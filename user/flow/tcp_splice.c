// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tcp_splice.c - pasta's loopback path for TCP: two sockets joined by splice(2)
 *
 * Theory of operation
 *
 * Who connects where:
 *   -t (host to namespace): tcp.c's listener on the host accepts; when the peer is a loopback
 *      address (127.0.0.0/8, ::1) the connection comes here (tcp_splice_from_host()). We take a
 *      socket that was opened inside the namespace from a pool and connect it to the namespace's
 *      127.0.0.1 or ::1 (same family as the client), at the rule's target port. The server in
 *      the namespace sees a loopback peer.
 *   -T (namespace to host): tcp_splice_new() opens listeners inside the namespace on 127.0.0.1
 *      and ::1 (the rule's address, if any, is not used: this is the loopback path), for every
 *      forwarded port. An accepted connection gets an ordinary host socket of ours connected
 *      to the host's 127.0.0.1 or ::1 at the target port.
 *   Sockets "inside the namespace" are created by a short helper process that joined it
 *   (core/nsexec.h); a socket stays in the namespace it was created in, so the daemon can
 *   connect() and splice() it from the host's namespace. The helper costs a clone() and two
 *   setns(), so it opens TCP_SPLICE_POOL_SIZE sockets per family at a time (the pool): filled
 *   at start-up when there are -t rules, refilled whenever a connection finds its family's pool
 *   empty. When no socket can be had (a refill refused: --runas dropped the rights to enter
 *   the namespace) or the table is full, a -t connection is left to tcp.c, which carries it
 *   through the tap as any other: slower, but it works. A -T connection has no other path:
 *   with the table full it is reset.
 *
 * Data: sock[0] is the accepted side, sock[1] the one we connected. Direction d moves bytes from
 * sock[d] to sock[!d] through its own pipe (created when data first comes; grown with
 * F_SETPIPE_SZ to TCP_SPLICE_PIPE_SIZE once the direction has relayed
 * TCP_SPLICE_PIPE_GROW_AFTER bytes, if the kernel allows it): splice(sock[d] -> pipe), then
 * splice(pipe -> sock[!d]), both SPLICE_F_NONBLOCK, in rounds until the source is empty (a read
 * that finds nothing while the pipe is empty, or a read shorter than TCP_SPLICE_SHORT_READ: that
 * saves a syscall per small message, and epoll being level-triggered, anything that came after it
 * is reported at the next wait), the destination is full (EAGAIN: `blocked`) or a
 * round limit is hit (epoll is level-triggered, so what is left comes back at the next wait).
 * No byte is ever copied to user space. `pending` counts the bytes in the pipe.
 *
 * Epoll, level-triggered, one mask per socket, changed only when it differs:
 *   EPOLLIN  on sock[x] while dir[x] can go on: connected, no end of stream yet, not blocked
 *            (a blocked direction stops reading its source until the destination drains);
 *   EPOLLOUT on sock[x] while dir[!x] is blocked (and on sock[1] while connecting).
 *   A socket that wants neither (e.g. both directions finished: end of stream read from it, FIN
 *   sent to it; or its data waits for the other side) leaves the epoll set: it would otherwise
 *   report EPOLLHUP at every wait once both of its directions are shut.
 *
 * End of stream and close: end of stream read from sock[d] (splice returns 0) and its pipe
 * empty -> shutdown(sock[!d], SHUT_WR): the FIN is relayed, and the other direction goes on
 * (half-close). When both directions have relayed their FIN, both sockets are closed: the
 * connection is gone from the table.
 *
 * Resets: an error on either socket (EPOLLERR with SO_ERROR set, or a splice failing with
 * ECONNRESET, EPIPE, ...) aborts both sockets: SO_LINGER {1, 0} and close(), so the peer of the
 * other socket receives a RST, whatever was still in the pipes is dropped, and the slot is
 * freed. Our connect() failing (refused, unreachable) resets the client in the same way.
 *
 * Loopback bypass (--bpf-bypass): user/io/bypass.c registers struct tcp_splice_hooks, and the
 * relay calls them: pre_connect just before sock[1]'s connect() (the bypass registers sock[1]'s
 * socket cookie, so that its programs learn the server's 4-tuple when sock[1] becomes
 * established; sock[1] is not bound: a port chosen by connect() can be reused while earlier
 * connections sit in TIME_WAIT), connected once it succeeded (the bypass looks for both
 * endpoints and may hand both directions over at once, before any byte moved), dir_idle
 * after tcp_splice_move() left a direction's pipe empty without end of stream (the moment a
 * hand-over may be allowed: nothing of that direction is in our hands), hold before writing a
 * pipe into its destination (true: the bytes stay in the pipe, the direction is `held` and its
 * source is not read, so TCP holds the sender, until the bypass calls tcp_splice_resume(): it
 * keeps our writes from overtaking data the receiver has not read, see user/io/bypass_grant.c),
 * and closing before the sockets are closed (the bypass removes its map entries). Everything else stays as above: a
 * direction handed over simply sees no more data on its source socket until the sender returns
 * to the relay (then the data comes here again, in order); in the bypass's egress mode the
 * kernel writes the sender's data into sock[!d] itself, behind what we relayed, and our relay of
 * that direction just stays idle. End of stream, resets and the
 * epoll masks work as without the bypass. The hooks write conn->byp only.
 *
 * State: struct tcp_splice_conn per connection (with the bypass's part, conn->byp), indexed by
 * slot: its epoll references carry the slot, the side and the slot's
 * generation (TCP_SPLICE_INDEX_GEN_SHIFT), so that an event queued for a socket that was closed
 * meanwhile in the same batch never acts on the slot's next connection. A free-slot stack, the
 * pools, the -T listener table, counters. Everything is allocated by tcp_splice_new().
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "core/epoll_ref.h"
#include "core/log.h"
#include "core/nsexec.h"
#include "flow/tcp_splice.h"

#define TCP_SPLICE_ROUNDS 16 /* read/write rounds per direction per event */
#define TCP_SPLICE_SHORT_READ (16 * 1024) /* a read this short drained its socket */
#define TCP_SPLICE_ACCEPT_BATCH 32

struct tcp_splice {
	const struct config *c;
	int epollfd;
	int netns_fd, userns_fd;
	bool fam_on[2]; /* [0] IPv4, [1] IPv6 */
	struct tcp_splice_conn *conn;
	uint32_t *free_stack;
	unsigned cap, count;
	int pool[2][TCP_SPLICE_POOL_SIZE]; /* sockets opened inside the namespace */
	unsigned pool_count[2];
	bool refill_refused; /* entering the namespace was refused once: don't try again */
	struct fwd_listeners ns_listeners; /* -T */
	int pipe_size; /* what bulk directions ask for; 0: F_SETPIPE_SZ does not work here */
	uint32_t gen;
	struct tcp_splice_stats st;
	struct tcp_splice_hooks hooks; /* all NULL: no bypass */
};

static int tcp_splice_fam(int af)
{
	return af == AF_INET6 ? 1 : 0;
}

static void tcp_splice_abort_fd(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* Loopback address of family af, port in host order. */
static socklen_t tcp_splice_loopback(int af, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (af == AF_INET) {
		struct sockaddr_in *sa = (struct sockaddr_in *)ss;

		sa->sin_family = AF_INET;
		sa->sin_port = htons(port);
		sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof(*sa);
	}
	{
		struct sockaddr_in6 *sa = (struct sockaddr_in6 *)ss;

		sa->sin6_family = AF_INET6;
		sa->sin6_port = htons(port);
		sa->sin6_addr = in6addr_loopback;
		return sizeof(*sa);
	}
}

bool tcp_splice_peer_is_loopback(const struct sockaddr_storage *peer)
{
	if (peer->ss_family == AF_INET) {
		const struct sockaddr_in *sa = (const struct sockaddr_in *)peer;

		return (ntohl(sa->sin_addr.s_addr) >> 24) == IN_LOOPBACKNET;
	}
	if (peer->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sa = (const struct sockaddr_in6 *)peer;

		return IN6_IS_ADDR_LOOPBACK(&sa->sin6_addr);
	}
	return false;
}

/* ---- Inside the namespace (run by the nsexec helper) ---- */

static int tcp_splice_refill_in_ns(void *arg)
{
	struct tcp_splice *s = arg;
	int f;

	for (f = 0; f < 2; f++) {
		if (!s->fam_on[f])
			continue;
		while (s->pool_count[f] < TCP_SPLICE_POOL_SIZE) {
			int fd = socket(f ? AF_INET6 : AF_INET,
					SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);

			if (fd < 0)
				break;
			s->pool[f][s->pool_count[f]++] = fd;
		}
	}
	return 0;
}

/* Top the pools up: one helper run. 0, or -errno when the namespace could not be entered. */
static int tcp_splice_pool_fill(struct tcp_splice *s)
{
	int ret;

	if (s->refill_refused)
		return -EPERM;
	ret = nsexec_call(s->netns_fd, s->userns_fd, tcp_splice_refill_in_ns, s, NULL);
	if (!ret)
		s->st.pool_refills++;
	else if (ret == -EPERM)
		s->refill_refused = true; /* privileges dropped: it will not work again */
	return ret;
}

/* Families rule set forwards port through (the ports fwd_port_translate() accepts). */
static void tcp_splice_port_families(const struct fwd_set *set, uint16_t port, bool *f4, bool *f6)
{
	unsigned i;

	*f4 = *f6 = false;
	for (i = 0; i < set->count; i++) {
		const struct fwd_rule *r = &set->rule[i];

		if (r->exclude || port < r->first || port > r->last)
			continue;
		*f4 |= r->af != AF_INET6;
		*f6 |= r->af != AF_INET;
	}
}

static int tcp_splice_listen_one(struct tcp_splice *s, int af, uint16_t port, uint16_t to)
{
	struct fwd_listeners *fl = &s->ns_listeners;
	struct sockaddr_storage ss;
	struct epoll_event ev;
	socklen_t sl = tcp_splice_loopback(af, port, &ss);
	int fd, one = 1, e;

	if (fl->count >= fl->cap)
		return -ENOSPC;
	fd = socket(af, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (af == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, SOMAXCONN) < 0)
		goto fail;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u64 = epoll_ref_make(EPOLL_KIND_TCP_SPLICE, TCP_SPLICE_INDEX_LISTENER | fl->count);
	if (epoll_ctl(s->epollfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		goto fail;
	fl->l[fl->count].fd = fd;
	fl->l[fl->count].af = af;
	fl->l[fl->count].port = port;
	fl->l[fl->count].to_port = to;
	fl->count++;
	return 0;
fail:
	e = -errno;
	close(fd);
	return e;
}

/* Open the -T listeners. Returns 0 or -errno (the offending port logged). */
static int tcp_splice_listen_in_ns(void *arg)
{
	struct tcp_splice *s = arg;
	const struct fwd_set *set = &s->c->tcp_out;
	unsigned p;

	for (p = 1; p <= 65535; p++) {
		uint16_t to;
		bool f[2];
		int i, ret;

		if (!fwd_port_translate(set, (uint16_t)p, &to))
			continue;
		tcp_splice_port_families(set, (uint16_t)p, &f[0], &f[1]);
		for (i = 0; i < 2; i++) {
			if (!f[i] || !s->fam_on[i])
				continue;
			ret = tcp_splice_listen_one(s, i ? AF_INET6 : AF_INET, (uint16_t)p, to);
			/* A namespace without IPv6 on lo: the IPv4 listener is enough. */
			if (ret == -EADDRNOTAVAIL || ret == -EAFNOSUPPORT) {
				debug("TCP splice: no %s loopback in the namespace for port %u",
				      i ? "IPv6" : "IPv4", p);
				continue;
			}
			if (ret < 0) {
				err("cannot forward TCP port %u from the namespace (%s): %s", p,
				    i ? "IPv6" : "IPv4", strerror(-ret));
				return ret;
			}
		}
	}
	return 0;
}

/* ---- Set-up ---- */

static int tcp_splice_listen_ns(struct tcp_splice *s)
{
	const struct fwd_set *set = &s->c->tcp_out;
	unsigned p, n = 0;
	int ret, result = 0;

	if (set->mode != FWD_SPEC)
		return 0;
	for (p = 1; p <= 65535; p++) {
		uint16_t to;

		if (fwd_port_translate(set, (uint16_t)p, &to))
			n += 2;
	}
	if (!n)
		return 0;
	s->ns_listeners.l = calloc(n, sizeof(*s->ns_listeners.l));
	if (!s->ns_listeners.l)
		return -ENOMEM;
	s->ns_listeners.cap = n;
	ret = nsexec_call(s->netns_fd, s->userns_fd, tcp_splice_listen_in_ns, s, &result);
	if (ret < 0) {
		err("TCP: cannot enter the namespace to listen on -T ports: %s", strerror(-ret));
		return ret;
	}
	if (result < 0)
		return result;
	debug("TCP splice: %u listening sockets in the namespace", s->ns_listeners.count);
	return 0;
}

struct tcp_splice *tcp_splice_new(const struct config *c, int epollfd, int netns_fd, int userns_fd,
				  unsigned max_conns)
{
	struct tcp_splice *s;
	unsigned i;

	if (!max_conns)
		max_conns = TCP_SPLICE_CONNS_DEFAULT;
	if (max_conns > TCP_SPLICE_MAX_CONNS)
		max_conns = TCP_SPLICE_MAX_CONNS;
	s = calloc(1, sizeof(*s));
	if (!s)
		goto nomem;
	s->c = c;
	s->epollfd = epollfd;
	s->netns_fd = netns_fd;
	s->userns_fd = userns_fd;
	s->fam_on[0] = c->ip4.enabled;
	s->fam_on[1] = c->ip6.enabled;
	s->pipe_size = TCP_SPLICE_PIPE_SIZE;
	s->cap = max_conns;
	s->conn = calloc(max_conns, sizeof(*s->conn));
	s->free_stack = calloc(max_conns, sizeof(*s->free_stack));
	if (!s->conn || !s->free_stack)
		goto nomem;
	for (i = 0; i < max_conns; i++) {
		s->conn[i].sock[0] = s->conn[i].sock[1] = -1;
		s->conn[i].dir[0].pipe_r = s->conn[i].dir[0].pipe_w = -1;
		s->conn[i].dir[1].pipe_r = s->conn[i].dir[1].pipe_w = -1;
		s->free_stack[i] = max_conns - 1 - i; /* slot 0 on top */
	}
	if (tcp_splice_listen_ns(s) < 0) {
		tcp_splice_free(s);
		return NULL;
	}
	/* Fill the pool now, while we surely may enter the namespace: after --runas drops our
	 * privileges, refills may be refused, and the pool is what is left. */
	if ((c->tcp_in.mode == FWD_SPEC || c->tcp_in.mode == FWD_ALL ||
	     c->tcp_in.mode == FWD_AUTO) &&
	    tcp_splice_pool_fill(s) < 0)
		warn("TCP splice: cannot open sockets in the namespace: loopback connections to "
		     "-t ports go through the tap");
	return s;
nomem:
	err("TCP splice: out of memory for %u connections", max_conns);
	tcp_splice_free(s);
	return NULL;
}

/* ---- Connections ---- */

static bool tcp_splice_in_use(const struct tcp_splice *s, uint32_t idx)
{
	return idx < s->cap && s->conn[idx].sock[0] >= 0;
}

static uint32_t tcp_splice_index(const struct tcp_splice_conn *c, uint32_t idx, int side)
{
	return (c->gen & 0xff) << TCP_SPLICE_INDEX_GEN_SHIFT | idx << 1 | (uint32_t)side;
}

static void tcp_splice_epoll(struct tcp_splice *s, uint32_t idx, int side, uint32_t events)
{
	struct tcp_splice_conn *c = &s->conn[idx];
	struct epoll_event ev;
	int op;

	if (c->registered[side] && c->events[side] == events)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.u64 = epoll_ref_make(EPOLL_KIND_TCP_SPLICE, tcp_splice_index(c, idx, side));
	op = c->registered[side] ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(s->epollfd, op, c->sock[side], &ev) < 0) {
		warn("TCP splice: epoll_ctl for connection %u: %s", idx, strerror(errno));
		return;
	}
	c->registered[side] = true;
	c->events[side] = events;
}

static void tcp_splice_epoll_del(struct tcp_splice *s, uint32_t idx, int side)
{
	struct tcp_splice_conn *c = &s->conn[idx];

	if (!c->registered[side])
		return;
	epoll_ctl(s->epollfd, EPOLL_CTL_DEL, c->sock[side], NULL);
	c->registered[side] = false;
	c->events[side] = 0;
}

/* The masks the state asks for (see the theory of operation). A socket that wants nothing is
 * taken out of the epoll set: it would still report EPOLLHUP (both ways shut) at every wait, and
 * an error on it is found by the next splice() once it is wanted again. */
static void tcp_splice_epoll_update(struct tcp_splice *s, uint32_t idx)
{
	struct tcp_splice_conn *c = &s->conn[idx];
	int x;

	for (x = 0; x < 2; x++) {
		const struct tcp_splice_dir *from = &c->dir[x], *to = &c->dir[!x];
		uint32_t ev = 0;

		if (c->connecting) {
			ev = x ? EPOLLOUT : 0;
		} else {
			if (!from->eof && !from->blocked && !from->held)
				ev |= EPOLLIN;
			if (to->blocked)
				ev |= EPOLLOUT;
		}
		if (ev)
			tcp_splice_epoll(s, idx, x, ev);
		else
			tcp_splice_epoll_del(s, idx, x);
	}
}

static void tcp_splice_release(struct tcp_splice *s, uint32_t idx, bool abort)
{
	struct tcp_splice_conn *c = &s->conn[idx];
	int x;

	if (s->hooks.closing)
		s->hooks.closing(s->hooks.ctx, idx, c, abort);
	for (x = 0; x < 2; x++) {
		struct tcp_splice_dir *d = &c->dir[x];

		tcp_splice_epoll_del(s, idx, x);
		if (abort)
			tcp_splice_abort_fd(c->sock[x]);
		else if (c->sock[x] >= 0)
			close(c->sock[x]);
		if (d->pipe_r >= 0)
			close(d->pipe_r);
		if (d->pipe_w >= 0)
			close(d->pipe_w);
		s->st.bytes[x] += d->relayed;
	}
	if (abort)
		s->st.reset++;
	else
		s->st.closed++;
	trace("TCP splice %u: %s after %llu / %llu bytes", idx, abort ? "reset" : "closed",
	      (unsigned long long)c->dir[0].relayed, (unsigned long long)c->dir[1].relayed);
	memset(c, 0, sizeof(*c));
	c->sock[0] = c->sock[1] = -1;
	c->dir[0].pipe_r = c->dir[0].pipe_w = c->dir[1].pipe_r = c->dir[1].pipe_w = -1;
	s->free_stack[s->cap - s->count] = idx;
	s->count--;
}

/* Both sockets must be open non-blocking descriptors; sock[1]'s connect() is started here.
 * Takes both; on failure the client (sock[0]) is reset. */
static void tcp_splice_start(struct tcp_splice *s, int accepted, int ours, int af, uint16_t port,
			     bool from_ns)
{
	struct tcp_splice_conn *c;
	struct sockaddr_storage ss;
	socklen_t sl;
	uint32_t idx;
	int one = 1, x;

	if (s->count >= s->cap) {
		s->st.refused_full++;
		log_ratelimited(LOG_LVL_ERR,
				"TCP splice: connection table full (%u), refusing new connections",
				s->cap);
		goto refuse;
	}
	idx = s->free_stack[s->cap - s->count - 1];
	s->count++;
	c = &s->conn[idx];
	memset(c, 0, sizeof(*c));
	c->sock[0] = accepted;
	c->sock[1] = ours;
	c->af = (uint8_t)af;
	c->port = port;
	c->from_ns = from_ns;
	c->gen = ++s->gen;
	for (x = 0; x < 2; x++) {
		c->dir[x].pipe_r = c->dir[x].pipe_w = -1;
		setsockopt(c->sock[x], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	if (from_ns)
		s->st.opened_from_ns++;
	else
		s->st.opened_from_host++;

	if (s->hooks.pre_connect)
		s->hooks.pre_connect(s->hooks.ctx, idx, c);
	sl = tcp_splice_loopback(af, port, &ss);
	if (connect(ours, (struct sockaddr *)&ss, sl) < 0) {
		if (errno != EINPROGRESS) {
			debug("TCP splice %u: connect to loopback port %u: %s", idx, port,
			      strerror(errno));
			s->st.connect_failed++;
			tcp_splice_release(s, idx, true);
			return;
		}
		c->connecting = true;
	} else if (s->hooks.connected) {
		s->hooks.connected(s->hooks.ctx, idx, c);
	}
	trace("TCP splice %u: %s, port %u, %s", idx,
	      from_ns ? "from the namespace" : "from the host", port,
	      c->connecting ? "connecting" : "connected");
	tcp_splice_epoll_update(s, idx);
	return;
refuse:
	tcp_splice_abort_fd(accepted);
	tcp_splice_abort_fd(ours);
}

static int tcp_splice_pool_take(struct tcp_splice *s, int af)
{
	int f = tcp_splice_fam(af), ret;

	if (!s->pool_count[f]) {
		bool tried = s->refill_refused;

		ret = tcp_splice_pool_fill(s);
		if (ret < 0) {
			if (!tried) /* logged once when refused for good */
				log_ratelimited(LOG_LVL_WARN,
						"TCP splice: cannot open sockets in the namespace "
						"(--runas dropped the rights?): %s; loopback "
						"connections to -t ports go through "
						"the tap",
						strerror(-ret));
			return -1;
		}
		if (!s->pool_count[f]) {
			log_ratelimited(LOG_LVL_ERR,
					"TCP splice: no %s socket could be opened "
					"in the namespace",
					f ? "IPv6" : "IPv4");
			return -1;
		}
	}
	return s->pool[f][--s->pool_count[f]];
}

bool tcp_splice_from_host(struct tcp_splice *s, int sock, int af, uint16_t to_port)
{
	int ours;

	if (!s || (af != AF_INET && af != AF_INET6))
		return false;
	if (s->count >= s->cap) {
		s->st.refused_full++;
		log_ratelimited(LOG_LVL_WARN,
				"TCP splice: connection table full (%u): loopback connections go "
				"through the tap meanwhile",
				s->cap);
		return false;
	}
	ours = tcp_splice_pool_take(s, af);
	if (ours < 0) {
		s->st.pool_empty++;
		return false;
	}
	tcp_splice_start(s, sock, ours, af, to_port, false);
	return true;
}

static void tcp_splice_listener_event(struct tcp_splice *s, uint32_t n)
{
	const struct fwd_listener *l = fwd_listener_at(&s->ns_listeners, n);
	unsigned i;

	if (!l)
		return;
	for (i = 0; i < TCP_SPLICE_ACCEPT_BATCH; i++) {
		int sock = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), ours;

		if (sock < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_ratelimited(LOG_LVL_WARN, "TCP splice: accept on port %u: %s",
						l->port, strerror(errno));
			return;
		}
		ours = socket(l->af, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
		if (ours < 0) {
			log_ratelimited(LOG_LVL_WARN, "TCP splice: socket: %s", strerror(errno));
			s->st.connect_failed++;
			tcp_splice_abort_fd(sock);
			continue;
		}
		tcp_splice_start(s, sock, ours, l->af, l->to_port, true);
	}
}

/* ---- Data ---- */

static int tcp_splice_pipe_open(struct tcp_splice_dir *d)
{
	int p[2];

	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
		return -errno;
	d->pipe_r = p[0];
	d->pipe_w = p[1];
	return 0;
}

/* A direction that carries bulk data gets a larger pipe: more per splice() call. Only then: an
 * unprivileged user's pipes share a budget (fs.pipe-user-pages-soft, 64 MiB), past which new
 * pipes get two pages, so short connections keep the default size. Refused (EPERM: the budget
 * or fs.pipe-max-size): the pipe stays as it is. */
static void tcp_splice_pipe_grow(struct tcp_splice *s, struct tcp_splice_dir *d)
{
	d->grown = true;
	if (s->pipe_size && fcntl(d->pipe_w, F_SETPIPE_SZ, s->pipe_size) < 0 && errno != EPERM)
		s->pipe_size = 0; /* not supported at all: don't try again */
}

/* Move what can be moved in direction x. 0, or -errno: the connection must be reset. */
static int tcp_splice_move(struct tcp_splice *s, uint32_t idx, int x)
{
	struct tcp_splice_conn *c = &s->conn[idx];
	struct tcp_splice_dir *d = &c->dir[x];
	int from = c->sock[x], to = c->sock[!x], round;

	d->blocked = false;
	d->held = false;
	if (d->eof && !d->pending)
		goto eof;
	if (d->pipe_w < 0) {
		int ret = tcp_splice_pipe_open(d);

		if (ret < 0) {
			log_ratelimited(LOG_LVL_ERR, "TCP splice: pipe: %s", strerror(-ret));
			return ret;
		}
	}
	if (!d->grown && d->relayed >= TCP_SPLICE_PIPE_GROW_AFTER)
		tcp_splice_pipe_grow(s, d);
	for (round = 0; round < TCP_SPLICE_ROUNDS; round++) {
		bool was_empty = !d->pending, drained = d->eof;
		ssize_t n;

		if (!d->eof) {
			n = splice(from, NULL, d->pipe_w, NULL, (size_t)TCP_SPLICE_PIPE_SIZE,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n > 0) {
				d->pending += (uint32_t)n;
				/* A short read (well under a pipe's default 64 KiB) emptied the
				 * socket: don't spend a syscall to hear EAGAIN. If more came
				 * meanwhile, level-triggered epoll reports it at the next wait. */
				if (n < TCP_SPLICE_SHORT_READ)
					drained = true;
			} else if (n == 0) {
				d->eof = true;
				drained = true;
			} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
				drained = was_empty; /* else the pipe was full: write, then again */
			} else if (errno != EINTR) {
				return -errno;
			}
		}
		if (d->pending && s->hooks.hold && s->hooks.hold(s->hooks.ctx, idx, c, x)) {
			d->held = true;
			break;
		}
		if (d->pending) {
			n = splice(d->pipe_r, NULL, to, NULL, d->pending,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n > 0) {
				d->pending -= (uint32_t)n;
				d->relayed += (uint64_t)n;
			} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				d->blocked = true;
				break;
			} else if (n < 0 && errno != EINTR) {
				return -errno;
			}
		}
		if (drained && !d->pending)
			break;
	}
eof:
	if (d->eof && !d->pending && !d->shut) {
		if (shutdown(to, SHUT_WR) < 0 && errno != ENOTCONN)
			return -errno;
		d->shut = true;
		trace("TCP splice %u: end of stream relayed to side %d", idx, !x);
	}
	if (!d->eof && !d->pending && s->hooks.dir_idle)
		s->hooks.dir_idle(s->hooks.ctx, idx, c, x);
	return 0;
}

/* Our connect() finished, one way or the other. false: the connection is gone. */
static bool tcp_splice_connected(struct tcp_splice *s, uint32_t idx)
{
	struct tcp_splice_conn *c = &s->conn[idx];
	socklen_t sl = sizeof(int);
	int e = 0;

	if (getsockopt(c->sock[1], SOL_SOCKET, SO_ERROR, &e, &sl) < 0)
		e = errno;
	if (e) {
		debug("TCP splice %u: connect to loopback port %u: %s", idx, c->port, strerror(e));
		s->st.connect_failed++;
		tcp_splice_release(s, idx, true);
		return false;
	}
	c->connecting = false;
	if (s->hooks.connected)
		s->hooks.connected(s->hooks.ctx, idx, c);
	return true;
}

/* After moving data on connection idx (ret from tcp_splice_move(), or 0): reset on an error,
 * release once both ways are shut, else the epoll masks the state asks for. */
static void tcp_splice_after(struct tcp_splice *s, uint32_t idx, int x, int ret)
{
	struct tcp_splice_conn *c = &s->conn[idx];

	if (ret < 0) {
		debug("TCP splice %u: side %d: %s, resetting", idx, x, strerror(-ret));
		tcp_splice_release(s, idx, true);
		return;
	}
	if (c->dir[0].shut && c->dir[1].shut) {
		tcp_splice_release(s, idx, false);
		return;
	}
	tcp_splice_epoll_update(s, idx);
}

static void tcp_splice_conn_event(struct tcp_splice *s, uint32_t idx, int x, uint32_t events)
{
	struct tcp_splice_conn *c = &s->conn[idx];
	int ret = 0;

	if (c->connecting) {
		if (x == 1 && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
			if (!tcp_splice_connected(s, idx))
				return;
			/* The client may have sent already: try both ways. */
			ret = tcp_splice_move(s, idx, 0);
			if (!ret)
				ret = tcp_splice_move(s, idx, 1);
		} else if (x == 0 && (events & (EPOLLERR | EPOLLHUP))) {
			ret = -ECONNRESET; /* the client went away before we were connected */
		}
		goto out;
	}
	if (events & EPOLLERR) {
		socklen_t sl = sizeof(int);
		int e = 0;

		getsockopt(c->sock[x], SOL_SOCKET, SO_ERROR, &e, &sl);
		if (e) {
			ret = -e;
			goto out;
		}
	}
	if (events & EPOLLOUT)
		ret = tcp_splice_move(s, idx, !x);
	if (!ret && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !c->dir[x].held)
		ret = tcp_splice_move(s, idx, x);
out:
	tcp_splice_after(s, idx, x, ret);
}

void tcp_splice_resume(struct tcp_splice *s, uint32_t idx, uint32_t gen, int d)
{
	if (!s || !tcp_splice_in_use(s, idx) || s->conn[idx].gen != gen || !s->conn[idx].dir[d].held)
		return;
	tcp_splice_after(s, idx, d, tcp_splice_move(s, idx, d));
}

void tcp_splice_event(struct tcp_splice *s, uint32_t index, uint32_t events)
{
	uint32_t idx;

	if (!s)
		return;
	if (index & TCP_SPLICE_INDEX_LISTENER) {
		tcp_splice_listener_event(s, index & ~TCP_SPLICE_INDEX_LISTENER);
		return;
	}
	idx = (index & ((1u << TCP_SPLICE_INDEX_GEN_SHIFT) - 1)) >> 1;
	if (!tcp_splice_in_use(s, idx) || tcp_splice_index(&s->conn[idx], idx, index & 1) != index)
		return; /* closed, or closed and reused since this event was queued */
	tcp_splice_conn_event(s, idx, (int)(index & 1), events);
}

/* ---- Tear-down and queries ---- */

void tcp_splice_free(struct tcp_splice *s)
{
	unsigned i;
	int f;

	if (!s)
		return;
	if (s->conn) {
		for (i = 0; i < s->cap; i++) {
			if (s->conn[i].sock[0] >= 0)
				tcp_splice_release(s, i, true);
		}
	}
	for (f = 0; f < 2; f++) {
		while (s->pool_count[f])
			close(s->pool[f][--s->pool_count[f]]);
	}
	fwd_close(&s->ns_listeners);
	free(s->conn);
	free(s->free_stack);
	free(s);
}

unsigned tcp_splice_count(const struct tcp_splice *s)
{
	return s ? s->count : 0;
}

const struct tcp_splice_stats *tcp_splice_get_stats(const struct tcp_splice *s)
{
	return &s->st;
}

const struct tcp_splice_conn *tcp_splice_conn_at(const struct tcp_splice *s, uint32_t idx)
{
	return tcp_splice_in_use(s, idx) ? &s->conn[idx] : NULL;
}

struct tcp_splice_conn *tcp_splice_conn_get(struct tcp_splice *s, uint32_t idx)
{
	return tcp_splice_in_use(s, idx) ? &s->conn[idx] : NULL;
}

unsigned tcp_splice_capacity(const struct tcp_splice *s)
{
	return s ? s->cap : 0;
}

void tcp_splice_set_hooks(struct tcp_splice *s, const struct tcp_splice_hooks *h)
{
	if (!s)
		return;
	if (h)
		s->hooks = *h;
	else
		memset(&s->hooks, 0, sizeof(s->hooks));
}

const struct fwd_listeners *tcp_splice_listeners(const struct tcp_splice *s)
{
	return &s->ns_listeners;
}

struct fwd_listeners *tcp_splice_ns_listeners(struct tcp_splice *s)
{
	return &s->ns_listeners;
}
