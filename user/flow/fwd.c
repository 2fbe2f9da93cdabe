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
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "core/epoll_ref.h"
#include "core/log.h"
#include "flow/fwd.h"

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

static int fwd_open(const struct fwd_rule *r, int af, uint16_t port, int sock_type, int epollfd,
		    uint32_t kind, uint32_t index)
{
	struct sockaddr_storage ss;
	struct epoll_event ev;
	socklen_t sl;
	int fd, one = 1, err;

	memset(&ss, 0, sizeof(ss));
	if (af == AF_INET) {
		struct sockaddr_in *sa = (struct sockaddr_in *)&ss;

		sa->sin_family = AF_INET;
		sa->sin_port = htons(port);
		if (r && r->has_addr)
			sa->sin_addr = r->addr.v4;
		sl = sizeof(*sa);
	} else {
		struct sockaddr_in6 *sa = (struct sockaddr_in6 *)&ss;

		sa->sin6_family = AF_INET6;
		sa->sin6_port = htons(port);
		if (r && r->has_addr)
			sa->sin6_addr = r->addr.v6;
		sl = sizeof(*sa);
	}
	fd = socket(af, sock_type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (af == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (r && r->ifname[0] &&
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, r->ifname,
		       (socklen_t)strnlen(r->ifname, sizeof(r->ifname))) < 0)
		goto fail;
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0)
		goto fail;
	if (sock_type == SOCK_STREAM && listen(fd, SOMAXCONN) < 0)
		goto fail;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u64 = epoll_ref_make((enum epoll_kind)kind, index);
	if (epoll_ctl(epollfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		goto fail;
	return fd;
fail:
	err = -errno;
	close(fd);
	return err;
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
