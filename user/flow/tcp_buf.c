/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tcp_buf.c - guest-to-host writes, and the bounded area for a short write's unsent tail
 *
 * Path of guest data (tcp_buf_write): with no tail pending, one sendmsg() of all the segment
 * payloads given (iovecs pointing into the guest's frames, no copy); whatever the socket did not
 * take is copied into a tail area. With a tail pending, the tail is flushed first and new data is
 * written only once it is empty, else appended to it. When no area is free or the area is full,
 * the remainder is refused and the caller leaves it unacknowledged (the guest retransmits it).
 *
 * The pool is one mmap()ed block (MAP_NORESERVE: the kernel backs only pages a tail touched) cut
 * into equal areas, and a stack of free area numbers; nothing is allocated after start.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "core/log.h"
#include "flow/tcp_buf.h"

int tcp_buf_pool_init(struct tcp_buf_pool *p, unsigned areas, size_t area_size)
{
	unsigned i;

	memset(p, 0, sizeof(*p));
	if (!areas || !area_size || area_size > UINT32_MAX || areas > SIZE_MAX / area_size)
		return -EINVAL;
	p->mem = mmap(NULL, areas * area_size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p->mem == MAP_FAILED) {
		p->mem = NULL;
		return -errno;
	}
	p->free_stack = mmap(NULL, areas * sizeof(*p->free_stack), PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p->free_stack == MAP_FAILED) {
		munmap(p->mem, areas * area_size);
		memset(p, 0, sizeof(*p));
		return -ENOMEM;
	}
	p->areas = areas;
	p->area_size = area_size;
	for (i = 0; i < areas; i++)
		p->free_stack[i] = areas - 1 - i;
	p->free_count = areas;
	return 0;
}

void tcp_buf_pool_free(struct tcp_buf_pool *p)
{
	if (p->mem)
		munmap(p->mem, p->areas * p->area_size);
	if (p->free_stack)
		munmap(p->free_stack, p->areas * sizeof(*p->free_stack));
	memset(p, 0, sizeof(*p));
}

static uint8_t *tcp_buf_area(const struct tcp_buf_pool *p, uint32_t area)
{
	return p->mem + (size_t)area * p->area_size;
}

void tcp_buf_release(struct tcp_buf_pool *p, struct tcp_tail *tl)
{
	if (tl->area != TCP_TAIL_NONE && tl->area < p->areas)
		p->free_stack[p->free_count++] = tl->area;
	tcp_tail_init(tl);
}

size_t tcp_buf_room(const struct tcp_buf_pool *p, const struct tcp_tail *tl)
{
	if (tl->area == TCP_TAIL_NONE)
		return p->area_size;
	return p->area_size - tl->len;
}

/* Copy up to room bytes of iov, starting skip bytes in, to the end of the tail. Bytes copied. */
static size_t tcp_buf_append(struct tcp_buf_pool *p, struct tcp_tail *tl, const struct iovec *iov,
			     unsigned iovcnt, size_t skip)
{
	size_t copied = 0;
	unsigned i;

	if (tl->area == TCP_TAIL_NONE) {
		if (!p->free_count)
			return 0;
		tl->area = p->free_stack[--p->free_count];
		tl->len = 0;
	}
	for (i = 0; i < iovcnt; i++) {
		size_t room = p->area_size - tl->len, n;

		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		n = iov[i].iov_len - skip;
		if (n > room)
			n = room;
		memcpy(tcp_buf_area(p, tl->area) + tl->len, (const uint8_t *)iov[i].iov_base + skip,
		       n);
		tl->len += (uint32_t)n;
		copied += n;
		skip = 0;
		if (tl->len == p->area_size)
			break;
	}
	if (!tl->len)
		tcp_buf_release(p, tl);
	return copied;
}

ssize_t tcp_buf_flush(struct tcp_buf_pool *p, struct tcp_tail *tl, int sock)
{
	uint8_t *area;
	ssize_t n;

	if (tl->area == TCP_TAIL_NONE)
		return 0;
	area = tcp_buf_area(p, tl->area);
	n = send(sock, area, tl->len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return tl->len;
		return -errno;
	}
	if ((size_t)n < tl->len)
		memmove(area, area + n, tl->len - (size_t)n);
	tl->len -= (uint32_t)n;
	if (!tl->len) {
		tcp_buf_release(p, tl);
		return 0;
	}
	return tl->len;
}

ssize_t tcp_buf_write(struct tcp_buf_pool *p, struct tcp_tail *tl, int sock,
		      const struct iovec *iov, unsigned iovcnt, size_t len)
{
	struct msghdr mh;
	ssize_t n;

	if (!len)
		return 0;
	if (tl->area != TCP_TAIL_NONE) {
		n = tcp_buf_flush(p, tl, sock);
		if (n < 0)
			return n;
		if (n > 0)
			return (ssize_t)tcp_buf_append(p, tl, iov, iovcnt, 0);
	}
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = (struct iovec *)iov;
	mh.msg_iovlen = iovcnt;
	n = sendmsg(sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		n = 0;
	}
	if ((size_t)n == len)
		return n;
	return n + (ssize_t)tcp_buf_append(p, tl, iov, iovcnt, (size_t)n);
}
