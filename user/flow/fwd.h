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
 * rules a port that cannot be bound is an error.
 */
#ifndef BPASST_FWD_H
#define BPASST_FWD_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#include "core/config.h"

#define FWD_ALL_LAST_PORT 49151

struct fwd_listener {
	int fd;
	int af; /* AF_INET or AF_INET6 */
	uint16_t port; /* host port listened on */
	uint16_t to_port; /* guest port it forwards to */
};

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
static inline const struct fwd_listener *fwd_listener_at(const struct fwd_listeners *fl, uint32_t i)
{
	return i < fl->count ? &fl->l[i] : (const struct fwd_listener *)0;
}

#endif /* BPASST_FWD_H */
