/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tcp_buf.h - guest-to-host writes, and the bounded area for a short write's unsent tail
 *
 * Data from the guest is written to the host socket as it arrives. The window we advertise keeps
 * the guest within what the socket can take, so a write normally goes through whole; when it does
 * not (the socket's buffer shrank, or our estimate of its free space was off), the part the socket
 * refused is kept here and written again when the socket is writable, so the guest can be
 * acknowledged at once and a short write never costs it a retransmission timeout.
 *
 * State: a pool of tail areas (count x size bytes, one block reserved at start; pages are touched
 * only when a tail is used), handed to a connection on its first short write and given back when
 * its tail is flushed. A connection's struct tcp_tail says which area it holds and how much is in
 * it. Later data for a connection with a tail goes behind the tail, never around it.
 */
#ifndef BPASST_TCP_BUF_H
#define BPASST_TCP_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define TCP_TAIL_NONE UINT32_MAX

struct tcp_tail {
	uint32_t area; /* TCP_TAIL_NONE: no tail */
	uint32_t len; /* bytes waiting, at the start of the area */
};

struct tcp_buf_pool {
	uint8_t *mem;
	size_t area_size;
	unsigned areas;
	uint32_t *free_stack;
	unsigned free_count;
};

static inline void tcp_tail_init(struct tcp_tail *tl)
{
	tl->area = TCP_TAIL_NONE;
	tl->len = 0;
}

/* Reserve areas x area_size bytes. 0, or -errno. */
int tcp_buf_pool_init(struct tcp_buf_pool *p, unsigned areas, size_t area_size);
void tcp_buf_pool_free(struct tcp_buf_pool *p);

/* Write the iovcnt buffers of iov (len bytes in all) to sock, behind any pending tail. Returns
 * the bytes taken: written, or kept in the tail. Fewer than len means the rest was refused (no
 * area free, or the tail is full): the caller must not acknowledge it. -errno on a socket error
 * other than EAGAIN. */
ssize_t tcp_buf_write(struct tcp_buf_pool *p, struct tcp_tail *tl, int sock,
		      const struct iovec *iov, unsigned iovcnt, size_t len);
/* Write the pending tail. Returns the bytes still pending (0: the area was given back), or
 * -errno on a socket error. */
ssize_t tcp_buf_flush(struct tcp_buf_pool *p, struct tcp_tail *tl, int sock);
/* Drop the tail (connection closing). */
void tcp_buf_release(struct tcp_buf_pool *p, struct tcp_tail *tl);
/* Free bytes left in tl's area (area_size if it has none). */
size_t tcp_buf_room(const struct tcp_buf_pool *p, const struct tcp_tail *tl);

#endif /* BPASST_TCP_BUF_H */
