/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fwd.c - inbound port forwarding: listening host sockets for the forwarded ports
 *
 * fwd_listen() walks the rules twice: once to count the (port, family) pairs, to size the
 * listener table exactly, then to open them. Each socket is non-blocking and close-on-exec, with
 * SO_REUSEADDR, IPV6_V6ONLY for IPv6 (each family gets its own socket, so a peer's address is
 * never v4-mapped), bound to the rule's address or the wildcard, SO_BINDTODEVICE for an
 * ADDR%IFNAME rule, listening (TCP) and added to epoll with EPOLLIN.
 *
 * State: the listener table (fd, family, host port, guest port). Port translation
 * (FIRST-LAST:TFIRST-TLAST) is resolved when a listener is created.
 *
 * Run-time changes (pasta's "auto", driven by fwd_auto.c): fwd_reserve() gives an empty table a
 * fixed capacity once; fwd_insert() takes the lowest free slot (fd -1) below the high-water mark
 * `count`, else the next one; fwd_remove() closes the socket, marks the slot free and bumps its
 * generation, which is part of the epoll index (see fwd.h), so that an event already queued for
 * the old socket cannot act on whatever the slot holds next. Nothing is allocated after
 * fwd_reserve().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <assert.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "core/epoll_ref.h"
#include "core/log.h"
#include "flow/fwd.h"

static_assert(FWD_MAX_LISTENERS <= FWD_INDEX_SLOT_MASK + 1, "slot bits too few");
static_assert(FWD_INDEX_SLOT_BITS + FWD_INDEX_GEN_BITS <= 31, "bit 31 belongs to the owners");

static bool fwd_port_excluded(const struct fwd_set *set, uint16_t port)
{
	unsigned i;

	for (i = 0; i < set->count; i++) {
		const struct fwd_rule *r = &set->rule[i];

		if (r->exclude && port >= r->first && port <= r->last)
			return true;
	}
	return false;
}

bool fwd_port_translate(const struct fwd_set *set, uint16_t port, uint16_t *to_port)
{
	unsigned i;

	if (set->mode != FWD_SPEC && set->mode != FWD_ALL)
		return false;
	if (fwd_port_excluded(set, port))
		return false;
	for (i = 0; i < set->count; i++) {
		const struct fwd_rule *r = &set->rule[i];

		if (!r->exclude && port >= r->first && port <= r->last) {
			*to_port = (uint16_t)(r->to_first + (port - r->first));
			return true;
		}
	}
	if (set->mode == FWD_ALL && port >= 1 && port <= FWD_ALL_LAST_PORT) {
		*to_port = port;
		return true;
	}
	return false;
}

/* Families a rule applies to. */
static void fwd_rule_families(const struct fwd_rule *r, bool v4, bool v6, bool *f4, bool *f6)
{
	*f4 = v4 && (r->af == AF_UNSPEC || r->af == AF_INET);
	*f6 = v6 && (r->af == AF_UNSPEC || r->af == AF_INET6);
}

/* A bound socket (listening, for SOCK_STREAM) on port: at the rule's address and interface when
 * r has them, else at the loopback address (loopback) or the wildcard. IP(V6)_RECVERR when
 * recverr. The socket, or -errno. */
static int fwd_bound_socket(int af, int sock_type, uint16_t port, const struct fwd_rule *r,
			    bool loopback, bool recverr)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1, err;

	memset(&ss, 0, sizeof(ss));
	if (af == AF_INET) {
		struct sockaddr_in *sa = (struct sockaddr_in *)&ss;

		sa->sin_family = AF_INET;
		sa->sin_port = htons(port);
		if (r && r->has_addr)
			sa->sin_addr = r->addr.v4;
		else
			sa->sin_addr.s_addr = htonl(loopback ? INADDR_LOOPBACK : INADDR_ANY);
		sl = sizeof(*sa);
	} else if (af == AF_INET6) {
		struct sockaddr_in6 *sa = (struct sockaddr_in6 *)&ss;

		sa->sin6_family = AF_INET6;
		sa->sin6_port = htons(port);
		if (r && r->has_addr)
			sa->sin6_addr = r->addr.v6;
		else
			sa->sin6_addr = loopback ? in6addr_loopback : in6addr_any;
		sl = sizeof(*sa);
	} else {
		return -EAFNOSUPPORT;
	}
	fd = socket(af, sock_type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (af == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (recverr) {
		if (af == AF_INET)
			setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one));
		else
			setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof(one));
	}
	if (r && r->ifname[0] &&
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, r->ifname,
		       (socklen_t)strnlen(r->ifname, sizeof(r->ifname))) < 0)
		goto fail;
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0)
		goto fail;
	if (sock_type == SOCK_STREAM && listen(fd, SOMAXCONN) < 0)
		goto fail;
	return fd;
fail:
	err = -errno;
	close(fd);
	return err;
}

static int fwd_open(const struct fwd_rule *r, int af, uint16_t port, int sock_type, int epollfd,
		    uint32_t kind, uint32_t index)
{
	struct epoll_event ev;
	int fd = fwd_bound_socket(af, sock_type, port, r, false, false), err;

	if (fd < 0)
		return fd;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u64 = epoll_ref_make((enum epoll_kind)kind, index);
	if (epoll_ctl(epollfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* Visit every forwarded (rule, port): fn returns < 0 to stop. Returns that, or 0. */
static int fwd_walk(const struct fwd_set *set,
		    int (*fn)(const struct fwd_rule *r, uint16_t port, uint16_t to, void *arg),
		    void *arg)
{
	unsigned i;
	int ret;

	for (i = 0; i < set->count; i++) {
		const struct fwd_rule *r = &set->rule[i];
		unsigned p;

		if (r->exclude)
			continue;
		for (p = r->first; p <= r->last && p <= 65535; p++) {
			if (fwd_port_excluded(set, (uint16_t)p))
				continue;
			ret = fn(r, (uint16_t)p, (uint16_t)(r->to_first + (p - r->first)), arg);
			if (ret < 0)
				return ret;
		}
	}
	if (set->mode == FWD_ALL) {
		unsigned p;

		for (p = 1; p <= FWD_ALL_LAST_PORT; p++) {
			unsigned j;
			bool in_rule = false;

			if (fwd_port_excluded(set, (uint16_t)p))
				continue;
			/* Ports an explicit rule covers were visited above. */
			for (j = 0; j < set->count && !in_rule; j++)
				in_rule = !set->rule[j].exclude && p >= set->rule[j].first &&
					p <= set->rule[j].last;
			if (in_rule)
				continue;
			ret = fn(NULL, (uint16_t)p, (uint16_t)p, arg);
			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

struct fwd_walk_ctx {
	struct fwd_listeners *fl;
	const struct fwd_set *set;
	int sock_type, epollfd;
	uint32_t kind;
	bool v4, v6;
	unsigned counted;
};

static int fwd_count_one(const struct fwd_rule *r, uint16_t port, uint16_t to, void *arg)
{
	struct fwd_walk_ctx *w = arg;
	struct fwd_rule any = { .af = AF_UNSPEC };
	bool f4, f6;

	(void)port;
	(void)to;
	fwd_rule_families(r ? r : &any, w->v4, w->v6, &f4, &f6);
	w->counted += (unsigned)f4 + (unsigned)f6;
	return 0;
}

static int fwd_open_one(const struct fwd_rule *r, uint16_t port, uint16_t to, void *arg)
{
	struct fwd_walk_ctx *w = arg;
	struct fwd_rule any = { .af = AF_UNSPEC };
	int afs[2], n = 0, i, opened = 0;
	bool f4, f6;

	fwd_rule_families(r ? r : &any, w->v4, w->v6, &f4, &f6);
	if (f4)
		afs[n++] = AF_INET;
	if (f6)
		afs[n++] = AF_INET6;
	for (i = 0; i < n; i++) {
		struct fwd_listeners *fl = w->fl;
		int fd;

		if (fl->count >= fl->cap)
			return -ENOSPC;
		fd = fwd_open(r, afs[i], port, w->sock_type, w->epollfd, w->kind, fl->count);
		if (fd < 0) {
			/* "all": skip what cannot be bound. A second family that the host does not
			 * have (no IPv6) is not an error when the first one worked. */
			if (!r ||
			    (i > 0 && opened && (fd == -EADDRNOTAVAIL || fd == -EAFNOSUPPORT)))
				continue;
			err("cannot forward %s port %u (%s): %s",
			    w->sock_type == SOCK_STREAM ? "TCP" : "UDP", port,
			    afs[i] == AF_INET ? "IPv4" : "IPv6", strerror(-fd));
			return fd;
		}
		memset(&fl->l[fl->count], 0, sizeof(fl->l[fl->count]));
		fl->l[fl->count].fd = fd;
		fl->l[fl->count].af = afs[i];
		fl->l[fl->count].port = port;
		fl->l[fl->count].to_port = to;
		fl->count++;
		opened++;
	}
	return 0;
}

int fwd_listen(struct fwd_listeners *fl, const struct fwd_set *set, int sock_type, bool v4, bool v6,
	       int epollfd, uint32_t epoll_kind)
{
	struct fwd_walk_ctx w = {
		.fl = fl,
		.set = set,
		.sock_type = sock_type,
		.epollfd = epollfd,
		.kind = epoll_kind,
		.v4 = v4,
		.v6 = v6,
	};
	int ret;

	memset(fl, 0, sizeof(*fl));
	if (set->mode != FWD_SPEC && set->mode != FWD_ALL)
		return 0;
	fwd_walk(set, fwd_count_one, &w);
	if (!w.counted)
		return 0;
	fl->l = calloc(w.counted, sizeof(*fl->l));
	if (!fl->l)
		return -ENOMEM;
	fl->cap = w.counted;
	ret = fwd_walk(set, fwd_open_one, &w);
	if (ret < 0) {
		fwd_close(fl);
		return ret;
	}
	debug("forwarding: %u %s listening sockets", fl->count,
	      sock_type == SOCK_STREAM ? "TCP" : "UDP");
	return 0;
}

void fwd_close(struct fwd_listeners *fl)
{
	unsigned i;

	for (i = 0; i < fl->count; i++) {
		if (fl->l[i].fd >= 0)
			close(fl->l[i].fd);
	}
	free(fl->l);
	memset(fl, 0, sizeof(*fl));
}

/* --- run-time changes --------------------------------------------------------------------- */

int fwd_reserve(struct fwd_listeners *fl, unsigned cap)
{
	if (fl->cap || fl->l)
		return -EBUSY;
	if (!cap || cap > FWD_MAX_LISTENERS)
		cap = FWD_MAX_LISTENERS;
	/* Pages of the table are touched only as slots are used. */
	fl->l = calloc(cap, sizeof(*fl->l));
	if (!fl->l)
		return -ENOMEM;
	fl->cap = cap;
	fl->count = 0;
	return 0;
}

int fwd_socket(int af, int sock_type, uint16_t port, bool loopback, bool recverr)
{
	return fwd_bound_socket(af, sock_type, port, NULL, loopback, recverr);
}

int fwd_insert(struct fwd_listeners *fl, int fd, int af, uint16_t port, uint16_t to_port,
	       int epollfd, uint32_t kind, uint32_t index_flags)
{
	struct epoll_event ev;
	struct fwd_listener *l;
	unsigned slot;

	for (slot = 0; slot < fl->count; slot++) {
		if (fl->l[slot].fd < 0)
			break;
	}
	if (slot == fl->count && fl->count >= fl->cap)
		return -ENOSPC;
	l = &fl->l[slot];
	/* The generation is kept: it was bumped when the slot was freed. */
	l->af = af;
	l->port = port;
	l->to_port = to_port;
	l->dynamic = true;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u64 = epoll_ref_make((enum epoll_kind)kind, index_flags | fwd_index(fl, slot));
	if (epoll_ctl(epollfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	l->fd = fd;
	if (slot == fl->count)
		fl->count++;
	return (int)slot;
}

void fwd_remove(struct fwd_listeners *fl, unsigned slot)
{
	struct fwd_listener *l;

	if (slot >= fl->count || fl->l[slot].fd < 0)
		return;
	l = &fl->l[slot];
	close(l->fd);
	l->fd = -1;
	l->gen = (uint16_t)((l->gen + 1) & FWD_INDEX_GEN_MASK);
	l->dynamic = false;
}
