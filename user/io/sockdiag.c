// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * sockdiag.c - unread bytes of one TCP socket by exact 4-tuple, through NETLINK_SOCK_DIAG
 *
 * Theory of operation
 *
 * The loopback bypass (io/bypass.c) must know, before it lets a sender's data skip the relay,
 * that the receiving endpoint has read every byte the relay gave it: a socket of another
 * process, possibly in another network namespace. The kernel tells anyone through the socket
 * diagnostics interface: a SOCK_DIAG_BY_FAMILY request for TCP with a complete inet_diag_sockid
 * (both addresses, both ports, no interface, no cookie) and without NLM_F_DUMP makes tcp_diag
 * look the socket up exactly as an incoming segment would (inet_diag_find_one_icsk()) and answer
 * with one struct inet_diag_msg, or an NLMSG_ERROR (ENOENT: no such socket). idiag_rqueue of an
 * established socket is rcv_nxt - copied_seq: bytes TCP received and the application has not
 * read. A netlink socket answers about its own network namespace, so the caller keeps one per
 * namespace, created inside it (core/nsexec.h for pasta's).
 *
 * The call is synchronous: the kernel builds the answer during sendto(), so a blocking recv()
 * returns at once. Each request carries a new sequence number and answers with another one
 * (left over from an earlier, interrupted call) are skipped, a bounded number of times.
 *
 * State: a sequence counter. No allocation; the answer is read into a stack buffer.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include "io/sockdiag.h"

#define SOCKDIAG_RECV_BUF 8192
#define SOCKDIAG_MAX_STALE 8 /* answers to earlier requests skipped, at most */
#define SOCKDIAG_TIMEOUT_US 200000

static uint32_t sockdiag_seq;

int sockdiag_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = 0, .tv_usec = SOCKDIAG_TIMEOUT_US };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);

	if (fd < 0)
		return -errno;
	/* The kernel answers during sendto(): a timeout only guards against the impossible. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

static void sockdiag_fill_id(struct inet_diag_sockid *id, const struct sockdiag_tuple *t)
{
	memset(id, 0, sizeof(*id));
	id->idiag_sport = htons(t->local_port);
	id->idiag_dport = htons(t->remote_port);
	memcpy(id->idiag_src, t->local, t->af == AF_INET ? 4 : 16);
	memcpy(id->idiag_dst, t->remote, t->af == AF_INET ? 4 : 16);
	id->idiag_if = 0;
	id->idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	id->idiag_cookie[1] = INET_DIAG_NOCOOKIE;
}

/* One answer in buf[0..len): 1 found (filled), 0 not ours (other sequence), or -errno. */
static int sockdiag_parse(const uint8_t *buf, size_t len, uint32_t seq, uint32_t *rqueue,
			  uint8_t *state)
{
	const struct nlmsghdr *nh = (const struct nlmsghdr *)buf;
	size_t left = len;

	for (; NLMSG_OK(nh, left); nh = NLMSG_NEXT(nh, left)) {
		if (nh->nlmsg_seq != seq)
			continue;
		if (nh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = NLMSG_DATA(nh);

			if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
				return -EPROTO;
			return e->error ? e->error : -ENOENT;
		}
		if (nh->nlmsg_type == SOCK_DIAG_BY_FAMILY) {
			const struct inet_diag_msg *m = NLMSG_DATA(nh);

			if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
				return -EPROTO;
			*rqueue = m->idiag_rqueue;
			if (state)
				*state = m->idiag_state;
			return 1;
		}
		if (nh->nlmsg_type == NLMSG_DONE)
			return -ENOENT;
	}
	return 0;
}

int sockdiag_rqueue(int fd, const struct sockdiag_tuple *t, uint32_t *rqueue, uint8_t *state)
{
	struct {
		struct nlmsghdr nh;
		struct inet_diag_req_v2 r;
	} req;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	uint8_t buf[SOCKDIAG_RECV_BUF] __attribute__((aligned(NLMSG_ALIGNTO)));
	unsigned tries;

	if (fd < 0)
		return -EBADF;
	if (t->af != AF_INET && t->af != AF_INET6)
		return -EAFNOSUPPORT;
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = sizeof(req);
	req.nh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.nh.nlmsg_seq = ++sockdiag_seq;
	req.r.sdiag_family = (uint8_t)t->af;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = ~0u;
	sockdiag_fill_id(&req.r.id, t);

	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	for (tries = 0; tries < SOCKDIAG_MAX_STALE; tries++) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		int ret;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		ret = sockdiag_parse(buf, (size_t)n, req.nh.nlmsg_seq, rqueue, state);
		if (ret)
			return ret < 0 ? ret : 0;
	}
	return -EPROTO;
}
