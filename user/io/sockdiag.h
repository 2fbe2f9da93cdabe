/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sockdiag.h - how many bytes a TCP socket of any process has not read yet, by exact 4-tuple
 *
 * One NETLINK_SOCK_DIAG socket per network namespace (a netlink socket answers about the
 * namespace it was created in). sockdiag_rqueue() sends one SOCK_DIAG_BY_FAMILY request without
 * NLM_F_DUMP, so the kernel looks the socket up by its exact 4-tuple instead of walking the
 * table, and returns idiag_rqueue (for an established socket: bytes received and not yet read,
 * rcv_nxt - copied_seq). One round trip, no privilege needed. See sockdiag.c.
 */
#ifndef BPASST_SOCKDIAG_H
#define BPASST_SOCKDIAG_H

#include <stdint.h>
#include <netinet/in.h>

/* A TCP socket as it sees itself: family AF_INET or AF_INET6, addresses in network order
 * (IPv4 in the first 4 bytes), ports in host order. */
struct sockdiag_tuple {
	int af;
	uint8_t local[16];
	uint8_t remote[16];
	uint16_t local_port;
	uint16_t remote_port;
};

/* A NETLINK_SOCK_DIAG socket in the calling thread's current network namespace (non-blocking
 * is not used: the kernel answers within the call). fd, or -errno. */
int sockdiag_open(void);

/* Bytes the socket t has received and not read (idiag_rqueue) into *rqueue, and its TCP state
 * (TCP_ESTABLISHED, ...) into *state when not NULL. 0, -ENOENT when no such socket exists in
 * the namespace of fd, or -errno. */
int sockdiag_rqueue(int fd, const struct sockdiag_tuple *t, uint32_t *rqueue, uint8_t *state);

#endif /* BPASST_SOCKDIAG_H */
