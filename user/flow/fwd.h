/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fwd.h - inbound port forwarding: the host sockets that listen on forwarded ports
 *
 * A struct fwd_set (core/config.h, filled from -t/-u) says which host ports are forwarded to which
 * guest ports. fwd_listen() turns it into sockets: one per (port, family), bound to the rule's
 * address and interface when it has them, registered in the epoll set under the caller's kind with
 * the listener's number as index. The listener table remembers, for each socket, the guest port
 * it forwards to (port translation is done once, here) so that an accept() needs no lookup.
 *
 * Rules: every port of every rule that is not an exclusion (~RANGE), minus the ports any
 * exclusion covers. FWD_ALL (passt's "all") is every non-ephemeral port 1..49151 less the
 * exclusions, and ports that cannot be bound (in use, privileged) are skipped quietly; in explicit
 * rules a port that cannot be bound is an error. FWD_AUTO (pasta's "auto") opens nothing here:
 * flow/fwd_auto.c adds and removes listeners at run time with the calls below.
 *
 * Run-time changes: a table may be given a fixed capacity once (fwd_reserve()); then
 * fwd_insert() puts a socket into a free slot and fwd_remove() closes one. A free slot has fd -1.
 * The epoll index of a listener is its slot (bits 0-17) plus the slot's generation (bits 18-30),
 * which fwd_remove() bumps: an event that was queued for a removed listener (in the same
 * epoll_wait() batch) no longer matches, and fwd_listener_at() returns NULL for it even when the
 * slot holds a new listener by then. Bit 31 is left to the owners (the splice modules use it to
 * tell listeners from connections). Listeners opened by fwd_listen() have generation 0, so their
 * index is their slot number, as before.
 */
#ifndef BPASST_FWD_H
#define BPASST_FWD_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#include "core/config.h"

#define FWD_ALL_LAST_PORT 49151

struct fwd_listener {
	int fd; /* -1: free slot */
	int af; /* AF_INET or AF_INET6 */
	uint16_t port; /* host port listened on */
	uint16_t to_port; /* guest port it forwards to */
	uint16_t gen; /* generation of the slot (low FWD_INDEX_GEN_BITS bits are used) */
	bool dynamic; /* added at run time (fwd_insert()): fwd_auto.c may remove it */
};

#define FWD_INDEX_SLOT_BITS 18
#define FWD_INDEX_SLOT_MASK ((1u << FWD_INDEX_SLOT_BITS) - 1)
#define FWD_INDEX_GEN_BITS 13
#define FWD_INDEX_GEN_MASK ((1u << FWD_INDEX_GEN_BITS) - 1)
/* Every (port, family) pair: the largest table anyone needs. */
#define FWD_MAX_LISTENERS (2u * 65535u)

struct fwd_listeners {
	struct fwd_listener *l;
	unsigned count, cap;
};

/* Guest port for host port `port` under set; false when the port is not forwarded. */
bool fwd_port_translate(const struct fwd_set *set, uint16_t port, uint16_t *to_port);

/* Open and register the listening sockets of set: sock_type SOCK_STREAM or SOCK_DGRAM, families
 * as enabled (v4, v6), epoll reference kind epoll_kind with index = listener number. 0, or -errno
 * with the offending port logged (everything opened so far is closed again). */
int fwd_listen(struct fwd_listeners *fl, const struct fwd_set *set, int sock_type, bool v4, bool v6,
	       int epollfd, uint32_t epoll_kind);
/* Close every listener and free the table. */
void fwd_close(struct fwd_listeners *fl);

/* The epoll index (without the owner's flag bits) of the listener in slot. */
static inline uint32_t fwd_index(const struct fwd_listeners *fl, unsigned slot)
{
	return slot | ((uint32_t)(fl->l[slot].gen & FWD_INDEX_GEN_MASK) << FWD_INDEX_SLOT_BITS);
}

/* The listener an epoll index names; NULL when the slot is free, or was freed (and perhaps
 * reused) since the index was made. Bit 31 must be cleared by the caller. */
static inline const struct fwd_listener *fwd_listener_at(const struct fwd_listeners *fl, uint32_t i)
{
	uint32_t slot = i & FWD_INDEX_SLOT_MASK;

	if (slot >= fl->count || fl->l[slot].fd < 0 ||
	    (fl->l[slot].gen & FWD_INDEX_GEN_MASK) != (i >> FWD_INDEX_SLOT_BITS))
		return (const struct fwd_listener *)0;
	return &fl->l[slot];
}

/* --- run-time changes (pasta's "auto") --- */

/* Give an empty table (nothing opened yet) room for cap listeners, at most FWD_MAX_LISTENERS.
 * 0, -EBUSY when it has a capacity already, or -ENOMEM. */
int fwd_reserve(struct fwd_listeners *fl, unsigned cap);

/* A listening socket for port: non-blocking, close-on-exec, SO_REUSEADDR, IPV6_V6ONLY for
 * AF_INET6, bound to the wildcard address or (loopback) to 127.0.0.1 / ::1, listen()ing for
 * SOCK_STREAM; recverr: IP_RECVERR / IPV6_RECVERR on (ICMP errors for a UDP listener). Opens in
 * the caller's network namespace, registers nothing. fd, or -errno. */
int fwd_socket(int af, int sock_type, uint16_t port, bool loopback, bool recverr);

/* Put listening socket fd (family af, port, forwarding to to_port) into a free slot of fl, marked
 * dynamic, and add it to epollfd with EPOLLIN and reference (kind, index_flags | fwd_index()).
 * Returns the slot; or -ENOSPC (table full) or -errno from epoll_ctl(), and fd is then left
 * open for the caller to close. */
int fwd_insert(struct fwd_listeners *fl, int fd, int af, uint16_t port, uint16_t to_port,
	       int epollfd, uint32_t kind, uint32_t index_flags);

/* Close the listener in slot (it leaves the epoll set with its last descriptor) and free the
 * slot; its generation changes, so events queued for it are ignored from now on. */
void fwd_remove(struct fwd_listeners *fl, unsigned slot);

#endif /* BPASST_FWD_H */
