// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bypass.c - the loopback bypass (--bpf-bypass): start, stop, and a connection's map entries
 *
 * Theory of operation
 *
 * Four sockets make a TCP connection through one of pasta's loopback forwards: the client's (C),
 * ours that accepted it (A = sock[0] of struct tcp_splice_conn), ours connected to the server
 * (B = sock[1]) and the server's (S). flow/tcp_splice.c relays C->S bytes from A to B through a
 * pipe (direction 0, "c2s") and S->C bytes from B to A (direction 1, "s2c"). The BPF side
 * (bpf/bypass.bpf.c, loaded by loader/bypass.c; layouts in include/bpasst_bypass.h) can let C and
 * S send past our relay: a sock_ops program on the root of the cgroup v2 hierarchy puts C and S
 * (never A or B) into a sockhash when they become established, and an sk_msg program redirects
 * an endpoint's sendmsg() straight into its peer's receive queue (INGRESS), or into our socket
 * towards its peer (EGRESS), once we allowed it. Which of the two, and when, so that no byte is
 * ever reordered, is bypass_grant.c's part (its theory of operation has the policy and the
 * ordering rules): --bpf-bypass (=ingress) grants only INGRESS, --bpf-bypass=egress only EGRESS.
 * This file starts and stops the bypass, registers our listeners, and keeps each connection's
 * map entries from the moment it is offered to its close.
 *
 * Keys. Every endpoint is known by struct bp_bypass_key: the cookie of its network namespace
 * and its 4-tuple as it sees it itself. C is in the namespace of A (the host's for -t, the
 * namespace's for -T): C.local = A's peer, C.remote = A's local address. S is in the other one:
 * S.local = B's peer, S.remote = B's local address. conn->byp.key[0] is C, key[1] is S: key[d]
 * is the sender of direction d and key[!d] its receiver; our socket towards the receiver of d is
 * sock[!d].
 *
 * Start (bypass_start(), privileged, before main drops privileges): pasta only, with a TCP
 * splice table and at least one -t or -T port, --bpf not off. A NETLINK_SOCK_DIAG socket is
 * opened in each namespace (the namespace's through core/nsexec.h), and getsockopt
 * (SO_NETNS_COOKIE) on each gives the two cookies. bp_bypass_start() loads and attaches (instance
 * --bpf-name or our PID, the maps pinned beside the tap program's). Then every loopback
 * listener is registered in bypass_listen: for each -t port, 127.0.0.1 and ::1 with the host's
 * cookie (only the rule's own address when the rule names a loopback address; not at all when
 * it names another address or an interface other than lo); for each -T listener, its loopback
 * address with the namespace's cookie. Then the splice hooks are installed. With "auto"
 * (-t auto, -T auto), main.c hands bypass_auto_listener() to flow/fwd_auto.c, which calls it for
 * every auto TCP listener open now and for each one opened or closed later: the family's
 * loopback address at that port, with the host's cookie (-t) or the namespace's (-T), is
 * registered or unregistered, so the programs still see only our own forwards. When anything fails,
 * one line says why ("BPF bypass: off: <reason>") and the splice path carries everything; with
 * --bpf on (which says "fail without BPF") the daemon exits instead, as for the tap fast path.
 *
 * Per connection (the hooks, see flow/tcp_splice.h):
 *  1. pre_connect: the connection is offered (its relayed bytes count in relayed_c2s/_s2c from
 *     now on). C's key is read from A; B's socket cookie (SO_COOKIE) goes into
 *     bypass_expect_cookie. B is not bound: when B becomes established the sock_ops program
 *     turns the cookie into the bypass_expect entry of exactly the server socket B connected to
 *     (and deletes the cookie entry); S is inserted when it becomes established. connect()
 *     picking B's port (instead of bind(port 0)) lets the kernel reuse ports of connections in
 *     TIME_WAIT: with bind(), the connection rate collapsed once ~28k of them piled up.
 *     Failure (map full): no bypass for this connection.
 *  2. connected: S's key is computed from B's getsockname()/getpeername(); then both endpoints
 *     must be in bypass_ends (bp_bypass_end_get()); S may be there a moment after our
 *     connect() completed, so it is looked for again from the retry timer, up to
 *     BYPASS_ENDS_TRIES times. Found: in egress mode bypass_out gets C's key -> B and S's key
 *     -> A (the egress targets; ingress mode needs none and saves the two syscalls), and both
 *     directions start their first hand-over episode at once (bypass_begin()). Not found, or
 *     bypass_out refused: the connection stays on the splice path (conns_no_ends), the expect
 *     entries and an endpoint found alone are removed, so the programs leave those sockets
 *     alone.
 *  3. dir_idle (a relay round left a direction's pipe empty) and the 1 s tick hand the
 *     direction to bypass_check_dir() (bypass_grant.c).
 *  4. End of stream, resets: unchanged, the relay's job. The sender's FIN goes over TCP to A or
 *     B even while bypassing (shutdown is not redirected); we read end of stream, and only
 *     then shut our socket towards the receiver, which sees EOF after the bypassed bytes. An
 *     error on either of our sockets resets both, as on the splice path.
 *  5. closing: the connection's relayed bytes join relayed_closed; the ctl entries, the expect
 *     entries (if still there), the bypass_out entries and the relay's tails (bypass_tail and
 *     bypass_tailsock, bypass_grant.c) are deleted. On a reset both
 *     endpoints are removed from the maps (bp_bypass_end_del()): the sockets are dead anyway,
 *     and a dead receiver must not stay in the sockhash while its owner keeps the descriptor.
 *     On a clean close an endpoint still in bypass_ends (one that closed already is gone) is
 *     removed only when nothing redirected to it is unread (no INGRESS permission was ever
 *     written towards it and no tail went on; or its ingress_in == its ingress_read, known with
 *     the receive hook): removing a socket from the sockhash drops its psock and with it the unread
 *     redirected data. Otherwise the program removes it when the socket closes (ends_closed).
 *     A killed peer resets the connection (its socket is gone from the maps with it, the other
 *     is removed by us), so no entry outlives its connection's sockets.
 *
 * Counters: struct bp_bypass_daemon_stats, written to the bypass_daemon map by bypass_tick()
 * when changed (at most once a second); bypassed_now is recounted there, and so are
 * relayed_c2s / relayed_s2c: the exact bytes our relay carried for every connection offered to
 * the bypass (relayed_closed plus the live connections' dir[].relayed), so that what went
 * through the bypass is what was sent minus these (the programs' egress counts are upper
 * bounds). upgrades stays 0 (no EGRESS -> INGRESS in this version). bypass_stop() logs them
 * with the programs' counters.
 *
 * State: struct bypass_state bypass_run (bypass_int.h): the loader handle, the two namespaces'
 * cookies and sock_diag sockets, the retry timerfd and list, the permission generation, the
 * mode granted, the counters. Per connection and direction: conn->byp (flow/tcp_splice.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

#include "core/epoll_ref.h"
#include "core/log.h"
#include "core/nsexec.h"
#include "flow/fwd.h"
#include "io/bypass.h"
#include "io/bypass_int.h"
#include "io/sockdiag.h"
/* loader/bypass.h, the BPF side, through the loader's include directory: "bypass.h" in quotes
 * would find io/bypass.h beside this file first. */
#include <bypass.h>

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif
#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

struct bypass_state bypass_run = {
	.timerfd = -1,
	.diag = { -1, -1 },
	.epollfd = -1,
	.grant_mode = BP_BYPASS_MODE_INGRESS,
};

uint64_t bypass_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- Keys ---- */
/* One address into a key's __u32[4] (IPv4 in [0]); IPv4-mapped IPv6 becomes IPv4. Returns the
 * family, or -EAFNOSUPPORT. */
static int bypass_key_addr(const struct sockaddr *sa, __u32 ip[4], __u16 *port)
{
	memset(ip, 0, 16);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		memcpy(&ip[0], &sin->sin_addr, 4);
		*port = ntohs(sin->sin_port);
		return AF_INET;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		*port = ntohs(sin6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			memcpy(&ip[0], &sin6->sin6_addr.s6_addr[12], 4);
			return AF_INET;
		}
		memcpy(ip, &sin6->sin6_addr, 16);
		return AF_INET6;
	}
	return -EAFNOSUPPORT;
}

int bypass_key_from_addrs(struct bp_bypass_key *k, uint64_t netns_cookie,
			  const struct sockaddr *local, const struct sockaddr *remote)
{
	int fl, fr;

	memset(k, 0, sizeof(*k));
	fl = bypass_key_addr(local, k->local_ip, &k->local_port);
	fr = bypass_key_addr(remote, k->remote_ip, &k->remote_port);
	if (fl < 0 || fr < 0 || fl != fr) {
		memset(k, 0, sizeof(*k));
		return -EAFNOSUPPORT;
	}
	k->netns_cookie = netns_cookie;
	k->family = (__u8)fl;
	return 0;
}

/* ---- Map entries of a connection ---- */

/* The expect entries, while the program may not have used them (failure paths, closing). */
static void bypass_drop_expect(struct tcp_splice_conn *conn)
{
	if (!conn->byp.expecting)
		return;
	bp_bypass_expect_cookie_del(bypass_run.b, conn->byp.b_cookie);
	if (conn->byp.have_server_key)
		bp_bypass_expect_del(bypass_run.b, &conn->byp.key[1]);
	conn->byp.expecting = false;
}

static void bypass_drop_outs(struct tcp_splice_conn *conn)
{
	int x;

	if (!conn->byp.outs)
		return;
	for (x = 0; x < 2; x++)
		bp_bypass_out_del(bypass_run.b, &conn->byp.key[x]);
	conn->byp.outs = false;
}

/* ---- Endpoints of a connection ---- */

void bypass_find_ends(uint32_t idx, struct tcp_splice_conn *conn)
{
	struct bp_bypass_end e[2];
	bool have[2];
	int x, ret = 0;

	for (x = 0; x < 2; x++)
		have[x] = !bp_bypass_end_get(bypass_run.b, &conn->byp.key[x], &e[x]);
	if (have[0] && have[1]) {
		/* S is in: the program used (and deleted) both expect entries */
		conn->byp.expecting = false;
		/* egress mode: the targets, our socket towards each sender's peer */
		if (bypass_run.grant_mode == BP_BYPASS_MODE_EGRESS) {
			conn->byp.outs = true;
			for (x = 0; x < 2 && !ret; x++)
				ret = bp_bypass_out_add(bypass_run.b, &conn->byp.key[x],
							conn->sock[!x]);
		}
		if (ret < 0) {
			log_ratelimited(LOG_LVL_WARN, "BPF bypass: cannot register our sockets: %s",
					strerror(-ret));
			bypass_drop_outs(conn);
			goto no_bypass;
		}
		conn->byp.ends = true;
		bypass_run.st.conns_both_ends++;
		bypass_begin(idx, conn, e);
		return;
	}
	/* C is in bypass_ends before we accepted A; S may follow our connect() by a moment. */
	if (have[0] && ++conn->byp.ends_tries < BYPASS_ENDS_TRIES) {
		bypass_queue(idx, conn, bypass_now_ms() + (1u << (conn->byp.ends_tries - 1)));
		return;
	}
	debug("BPF bypass %u: endpoints not found (client %s, server %s): splice path", idx,
	      have[0] ? "yes" : "no", have[1] ? "yes" : "no");
no_bypass:
	bypass_run.st.conns_no_ends++;
	bypass_drop_expect(conn);
	for (x = 0; x < 2; x++)
		if (have[x])
			bp_bypass_end_del(bypass_run.b, &conn->byp.key[x]);
	conn->byp.keyed = false; /* nothing of ours left in the maps */
}

/* ---- Splice hooks ---- */

static void bypass_pre_connect(void *ctx, uint32_t idx, struct tcp_splice_conn *conn)
{
	struct sockaddr_storage a_local, a_peer;
	socklen_t l1 = sizeof(a_local), l2 = sizeof(a_peer), cl = sizeof(uint64_t);
	uint64_t c_cookie = bypass_run.cookie[conn->from_ns ? BYPASS_NS_GUEST : BYPASS_NS_HOST];
	struct tcp_splice_byp *byp = &conn->byp;
	int ret;

	(void)ctx;
	memset(byp, 0, sizeof(*byp));
	byp->offered = true; /* its relayed bytes count from now on, whatever follows */
	if (getsockname(conn->sock[0], (struct sockaddr *)&a_local, &l1) < 0 ||
	    getpeername(conn->sock[0], (struct sockaddr *)&a_peer, &l2) < 0)
		goto no;
	if (bypass_key_from_addrs(&byp->key[0], c_cookie, (struct sockaddr *)&a_peer,
				  (struct sockaddr *)&a_local) < 0)
		goto no;
	/* B's cookie: the program learns S's 4-tuple from B itself when B becomes established. */
	if (getsockopt(conn->sock[1], SOL_SOCKET, SO_COOKIE, &byp->b_cookie, &cl) < 0)
		goto no;
	ret = bp_bypass_expect_cookie_add(bypass_run.b, byp->b_cookie, idx);
	if (ret < 0) {
		log_ratelimited(LOG_LVL_WARN, "BPF bypass: cannot register a connection: %s",
				strerror(-ret));
		goto no;
	}
	byp->expecting = true;
	byp->keyed = true;
	return;
no:
	debug("BPF bypass %u: not offered: %s", idx, strerror(errno));
	memset(byp, 0, sizeof(*byp));
	byp->offered = true;
}

static void bypass_connected(void *ctx, uint32_t idx, struct tcp_splice_conn *conn)
{
	uint64_t s_cookie = bypass_run.cookie[conn->from_ns ? BYPASS_NS_HOST : BYPASS_NS_GUEST];
	struct sockaddr_storage b_local, b_peer;
	socklen_t l1 = sizeof(b_local), l2 = sizeof(b_peer);
	struct tcp_splice_byp *byp = &conn->byp;

	(void)ctx;
	if (!byp->keyed || byp->counted)
		return;
	byp->counted = true;
	bypass_run.st.conns_registered++;
	/* S as it sees itself: its local address is B's peer, its remote B's local address. */
	if (getsockname(conn->sock[1], (struct sockaddr *)&b_local, &l1) < 0 ||
	    getpeername(conn->sock[1], (struct sockaddr *)&b_peer, &l2) < 0 ||
	    bypass_key_from_addrs(&byp->key[1], s_cookie, (struct sockaddr *)&b_peer,
				  (struct sockaddr *)&b_local) < 0) {
		debug("BPF bypass %u: our connected socket: %s", idx, strerror(errno));
		bypass_run.st.conns_no_ends++;
		bypass_drop_expect(conn);
		bp_bypass_end_del(bypass_run.b, &byp->key[0]);
		byp->keyed = false;
		return;
	}
	byp->have_server_key = true;
	bypass_find_ends(idx, conn);
}

static void bypass_dir_idle(void *ctx, uint32_t idx, struct tcp_splice_conn *conn, int d)
{
	(void)ctx;
	if (conn->byp.keyed && conn->byp.ends)
		bypass_check_dir(idx, conn, d, false);
}

/* May endpoint r (still in bypass_ends: receiver) be taken out of the maps without losing
 * redirected data it has not read? */
static bool bypass_end_drained(const struct tcp_splice_conn *conn, int r,
			       const struct bp_bypass_end *receiver)
{
	if (!conn->byp.dir[!r].ingress_ever)
		return true; /* nothing was ever redirected into r (no INGRESS, no tail) */
	if (!receiver->ingress_in)
		return true;
	return bp_bypass_read_tracking(bypass_run.b) &&
	       receiver->ingress_read >= receiver->ingress_in;
}

static void bypass_closing(void *ctx, uint32_t idx, struct tcp_splice_conn *conn, bool reset)
{
	struct tcp_splice_byp *byp = &conn->byp;
	struct bp_bypass_end receiver;
	int x;

	(void)ctx;
	(void)idx;
	if (byp->offered) {
		for (x = 0; x < 2; x++)
			bypass_run.relayed_closed[x] += conn->dir[x].relayed;
		byp->offered = false; /* counted once */
	}
	if (!byp->keyed)
		return;
	bypass_drop_expect(conn);
	for (x = 0; x < 2; x++) {
		if (byp->dir[x].gen)
			bp_bypass_ctl_del(bypass_run.b, &byp->key[x]);
		if (byp->dir[x].tail_sock) /* direction x's tail goes into its receiver, key[!x] */
			bp_bypass_tail_del(bypass_run.b, &byp->key[!x]);
		byp->dir[x].tail_sock = byp->dir[x].tail = false;
	}
	bypass_drop_outs(conn); /* closing our sockets would too: this is explicit */
	for (x = 0; x < 2; x++) {
		if (!byp->ends || reset) {
			bp_bypass_end_del(bypass_run.b, &byp->key[x]);
			continue;
		}
		if (bp_bypass_end_get(bypass_run.b, &byp->key[x], &receiver) < 0)
			continue; /* closed already: the program removed it */
		if (bypass_end_drained(conn, x, &receiver))
			bp_bypass_end_forget(bypass_run.b, &byp->key[x], &receiver,
					     bypass_run.grant_mode == BP_BYPASS_MODE_EGRESS);
		else
			bypass_run.ends_kept++;
	}
	byp->keyed = false;
}

static const struct tcp_splice_hooks bypass_hooks = {
	.pre_connect = bypass_pre_connect,
	.connected = bypass_connected,
	.dir_idle = bypass_dir_idle,
	.closing = bypass_closing,
	.hold = bypass_hold,
};

/* ---- Tick ---- */

void bypass_tick(void)
{
	uint64_t bypassed = 0, relayed[2];
	unsigned cap, i;
	int ret;

	if (!bypass_run.b)
		return;
	relayed[0] = bypass_run.relayed_closed[0];
	relayed[1] = bypass_run.relayed_closed[1];
	cap = tcp_splice_capacity(bypass_run.splice);
	for (i = 0; i < cap; i++) {
		struct tcp_splice_conn *conn = tcp_splice_conn_get(bypass_run.splice, i);
		bool bypassing = false;
		int d;

		if (!conn)
			continue;
		if (conn->byp.offered) {
			relayed[0] += conn->dir[0].relayed;
			relayed[1] += conn->dir[1].relayed;
		}
		if (!conn->byp.keyed || !conn->byp.ends)
			continue;
		for (d = 0; d < 2; d++) {
			uint8_t st = conn->byp.dir[d].state;

			if (st == TCP_SPLICE_BYP_GRANTED || st == TCP_SPLICE_BYP_REDIRECT ||
			    st == TCP_SPLICE_BYP_GAVE_UP)
				bypass_check_dir(i, conn, d, false);
			bypassing |= tcp_splice_byp_mode(&conn->byp.dir[d]) != BP_BYPASS_MODE_RELAY;
		}
		bypassed += bypassing;
	}
	bypass_run.st.bypassed_now = bypassed;
	bypass_run.st.relayed_c2s = relayed[0];
	bypass_run.st.relayed_s2c = relayed[1];
	if (!memcmp(&bypass_run.st, &bypass_run.st_written, sizeof(bypass_run.st)))
		return;
	ret = bp_bypass_daemon_stats_set(bypass_run.b, &bypass_run.st);
	if (ret < 0) {
		log_ratelimited(LOG_LVL_DEBUG, "BPF bypass: cannot write bypass_daemon: %s",
				strerror(-ret));
		return;
	}
	bypass_run.st_written = bypass_run.st;
}

/* ---- Start ---- */

static int bypass_off(const struct config *c, const char *line)
{
	if (c->bpf != BPF_MODE_ON) {
		info("%s", line);
		return 0;
	}
	err("%s", line);
	err("--bpf on: the BPF bypass asked for with --bpf-bypass cannot be had, exiting");
	return -1;
}

static int bypass_cookie(int fd, uint64_t *cookie)
{
	socklen_t len = sizeof(*cookie);

	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, cookie, &len) < 0)
		return -errno;
	return 0;
}

static int bypass_open_diag_in_ns(void *arg)
{
	int *fd = arg;

	*fd = sockdiag_open();
	return *fd < 0 ? *fd : 0;
}

static bool bypass_addr_is_loopback(int af, const struct fwd_rule *r)
{
	if (af == AF_INET)
		return (ntohl(r->addr.v4.s_addr) >> 24) == IN_LOOPBACKNET;
	return IN6_IS_ADDR_LOOPBACK(&r->addr.v6);
}

static void bypass_listen_key(struct bp_bypass_listen *k, uint64_t cookie, int af,
			      const void *addr, uint16_t port)
{
	memset(k, 0, sizeof(*k));
	k->netns_cookie = cookie;
	k->family = (__u8)af;
	k->port = port;
	memcpy(k->ip, addr, af == AF_INET ? 4 : 16);
}

static int bypass_listen_one(uint64_t cookie, int af, const void *addr, uint16_t port)
{
	struct bp_bypass_listen k;
	int ret;

	bypass_listen_key(&k, cookie, af, addr, port);
	ret = bp_bypass_listen_add(bypass_run.b, &k);
	if (!ret)
		bypass_run.listen_count++;
	return ret;
}

/* -t: the loopback addresses each forwarded port listens on, on the host. */
static int bypass_listen_host(const struct config *c)
{
	const struct fwd_set *set = &c->tcp_in;
	const struct in_addr lo4 = { htonl(INADDR_LOOPBACK) };
	unsigned p, i;

	for (p = 1; p <= 65535; p++) {
		bool want[2] = { false, false }, any = false;
		const void *addr[2] = { &lo4, &in6addr_loopback };
		uint16_t to;
		int f, ret;

		if (!fwd_port_translate(set, (uint16_t)p, &to))
			continue;
		for (i = 0; i < set->count; i++) {
			const struct fwd_rule *r = &set->rule[i];

			if (r->exclude || p < r->first || p > r->last)
				continue;
			any = true;
			if (r->ifname[0] && strcmp(r->ifname, "lo"))
				continue; /* bound to another interface: no loopback peer */
			for (f = 0; f < 2; f++) {
				int af = f ? AF_INET6 : AF_INET;

				if (r->af != AF_UNSPEC && r->af != af)
					continue;
				if (!r->has_addr) {
					want[f] = true;
				} else if (bypass_addr_is_loopback(af, r)) {
					want[f] = true;
					addr[f] = &r->addr;
				}
			}
		}
		if (!any) /* "all": every port, on the wildcard */
			want[0] = want[1] = true;
		for (f = 0; f < 2; f++) {
			if (!want[f] || !(f ? c->ip6.enabled : c->ip4.enabled))
				continue;
			ret = bypass_listen_one(bypass_run.cookie[BYPASS_NS_HOST],
						f ? AF_INET6 : AF_INET, addr[f], (uint16_t)p);
			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

/* -T: the listeners tcp_splice opened inside the namespace (127.0.0.1 and ::1). */
static int bypass_listen_ns(const struct tcp_splice *s)
{
	const struct fwd_listeners *fl = tcp_splice_listeners(s);
	const struct in_addr lo4 = { htonl(INADDR_LOOPBACK) };
	unsigned i;

	for (i = 0; i < fl->count; i++) {
		const struct fwd_listener *l = &fl->l[i];
		int ret;

		if (l->fd < 0 || l->dynamic)
			continue; /* "auto": bypass_auto_listener() */
		ret = bypass_listen_one(bypass_run.cookie[BYPASS_NS_GUEST], l->af,
					    l->af == AF_INET ? (const void *)&lo4
							     : (const void *)&in6addr_loopback,
					    l->port);

		if (ret < 0)
			return ret;
	}
	return 0;
}

void bypass_auto_listener(void *arg, enum fwd_auto_dir_id dir, int af, uint16_t port, bool added)
{
	const struct in_addr lo4 = { htonl(INADDR_LOOPBACK) };
	const void *addr = af == AF_INET ? (const void *)&lo4 : (const void *)&in6addr_loopback;
	uint64_t cookie;
	struct bp_bypass_listen k;
	int ret;

	(void)arg;
	if (!bypass_run.b || bypass_run.owner != getpid() ||
	    (dir != FWD_AUTO_TCP_IN && dir != FWD_AUTO_TCP_OUT) || (af != AF_INET && af != AF_INET6))
		return;
	cookie = bypass_run.cookie[dir == FWD_AUTO_TCP_IN ? BYPASS_NS_HOST : BYPASS_NS_GUEST];
	if (added) {
		ret = bypass_listen_one(cookie, af, addr, port);
	} else {
		bypass_listen_key(&k, cookie, af, addr, port);
		ret = bp_bypass_listen_del(bypass_run.b, &k);
		if (!ret && bypass_run.listen_count)
			bypass_run.listen_count--;
	}
	if (ret < 0)
		log_ratelimited(LOG_LVL_WARN, "BPF bypass: cannot %s loopback listener port %u: %s",
				added ? "register" : "unregister", port, strerror(-ret));
	else
		debug("BPF bypass: auto %s port %u (%s) %s", dir == FWD_AUTO_TCP_IN ? "-t" : "-T",
		      port, af == AF_INET ? "IPv4" : "IPv6", added ? "registered" : "unregistered");
}

static void bypass_close_fds(void)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (bypass_run.diag[i] >= 0)
			close(bypass_run.diag[i]);
		bypass_run.diag[i] = -1;
	}
	if (bypass_run.timerfd >= 0)
		close(bypass_run.timerfd); /* also leaves the epoll set */
	bypass_run.timerfd = -1;
	free(bypass_run.retry);
	free(bypass_run.walk);
	bypass_run.retry = bypass_run.walk = NULL;
	bypass_run.retry_cap = bypass_run.retry_count = 0;
}

static bool bypass_has_forwards(const struct config *c, const struct tcp_splice *s)
{
	return c->tcp_in.mode == FWD_SPEC || c->tcp_in.mode == FWD_ALL ||
	       c->tcp_in.mode == FWD_AUTO || c->tcp_out.mode == FWD_AUTO ||
	       tcp_splice_listeners(s)->count;
}

int bypass_start(const struct config *c, const struct ns_state *ns, struct tcp_splice *s,
		 int epollfd, uid_t run_uid, gid_t run_gid)
{
	struct bp_bypass_params p;
	struct epoll_event ev;
	char line[640];
	int ret, result = 0;

	if (!c->bpf_bypass || bypass_run.b)
		return 0;
	if (c->mode != MODE_PASTA || !ns)
		return bypass_off(c, "BPF bypass: off: passt mode has no loopback forwards");
	if (c->bpf == BPF_MODE_OFF)
		return bypass_off(c, "BPF bypass: off: disabled (--bpf off)");
	if (!s)
		return bypass_off(c, "BPF bypass: off: no TCP loopback path (--no-tcp)");
	if (!bypass_has_forwards(c, s))
		return bypass_off(c, "BPF bypass: off: no TCP forwards (-t, -T)");

	/* Both namespaces: a sock_diag socket each, and their cookies. */
	bypass_run.diag[BYPASS_NS_HOST] = sockdiag_open();
	if (bypass_run.diag[BYPASS_NS_HOST] < 0) {
		snprintf(line, sizeof(line), "BPF bypass: off: sock_diag socket: %s",
			 strerror(-bypass_run.diag[BYPASS_NS_HOST]));
		goto off;
	}
	ret = nsexec_call(ns->netns_fd, ns->userns_fd, bypass_open_diag_in_ns,
			  &bypass_run.diag[BYPASS_NS_GUEST], &result);
	if (ret < 0 || result < 0 || bypass_run.diag[BYPASS_NS_GUEST] < 0) {
		int e = EBADF;

		if (ret < 0)
			e = -ret;
		else if (result < 0)
			e = -result;
		bypass_run.diag[BYPASS_NS_GUEST] = -1;
		snprintf(line, sizeof(line),
			 "BPF bypass: off: sock_diag socket in the namespace: %s", strerror(e));
		goto off;
	}
	ret = bypass_cookie(bypass_run.diag[BYPASS_NS_HOST], &bypass_run.cookie[BYPASS_NS_HOST]);
	if (!ret)
		ret = bypass_cookie(bypass_run.diag[BYPASS_NS_GUEST],
				    &bypass_run.cookie[BYPASS_NS_GUEST]);
	if (ret < 0) {
		snprintf(line, sizeof(line), "BPF bypass: off: SO_NETNS_COOKIE: %s",
			 strerror(-ret));
		goto off;
	}
	if (bypass_run.cookie[BYPASS_NS_HOST] == bypass_run.cookie[BYPASS_NS_GUEST]) {
		snprintf(line, sizeof(line), "BPF bypass: off: the namespace is the host's");
		goto off;
	}
	bypass_run.retry_cap = tcp_splice_capacity(s);
	bypass_run.retry =
		calloc(bypass_run.retry_cap ? bypass_run.retry_cap : 1, sizeof(*bypass_run.retry));
	bypass_run.walk =
		calloc(bypass_run.retry_cap ? bypass_run.retry_cap : 1, sizeof(*bypass_run.walk));
	bypass_run.timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (!bypass_run.retry || !bypass_run.walk || bypass_run.timerfd < 0) {
		snprintf(line, sizeof(line), "BPF bypass: off: retry timer: %s",
			 bypass_run.retry && bypass_run.walk ? strerror(errno) : "out of memory");
		goto off;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u64 = epoll_ref_make(EPOLL_KIND_BYPASS, 0);
	if (epoll_ctl(epollfd, EPOLL_CTL_ADD, bypass_run.timerfd, &ev) < 0) {
		snprintf(line, sizeof(line), "BPF bypass: off: epoll: %s", strerror(errno));
		goto off;
	}

	memset(&p, 0, sizeof(p));
	snprintf(p.instance, sizeof(p.instance), "%s", c->bpf_name);
	p.pin_uid = run_uid == (uid_t)-1 ? UINT32_MAX : (uint32_t)run_uid;
	p.pin_gid = run_gid == (gid_t)-1 ? UINT32_MAX : (uint32_t)run_gid;
	p.verbose = log_get_level() >= LOG_LVL_DEBUG;
	p.max_conns = tcp_splice_capacity(s);
	bypass_run.b = bp_bypass_start(&p, line, sizeof(line));
	if (!bypass_run.b)
		goto off;
	bypass_run.owner = getpid();
	bypass_run.splice = s;
	bypass_run.epollfd = epollfd;
	bypass_run.grant_mode = c->bpf_bypass_mode == BPF_BYPASS_EGRESS ? BP_BYPASS_MODE_EGRESS
									: BP_BYPASS_MODE_INGRESS;
	/* Without the receive hook a tail's budget could not tell read bytes from unread ones. */
	bypass_run.tails = bypass_run.grant_mode == BP_BYPASS_MODE_INGRESS &&
			   bp_bypass_read_tracking(bypass_run.b);

	ret = bypass_listen_host(c);
	if (!ret)
		ret = bypass_listen_ns(s);
	if (ret < 0) {
		char why[640];

		snprintf(why, sizeof(why),
			 "BPF bypass: off: cannot register loopback listener %u: %s",
			 bypass_run.listen_count + 1, strerror(-ret));
		bp_bypass_stop(bypass_run.b);
		bypass_run.b = NULL;
		snprintf(line, sizeof(line), "%s", why);
		goto off;
	}
	tcp_splice_set_hooks(s, &bypass_hooks);
	info("%s", line);
	debug("BPF bypass: %u loopback listeners registered, mode %s, budget %llu, receive hook %s",
	      bypass_run.listen_count,
	      bypass_run.grant_mode == BP_BYPASS_MODE_EGRESS ? "egress" : "ingress",
	      (unsigned long long)BYPASS_BUDGET,
	      bp_bypass_read_tracking(bypass_run.b) ? "on" : "off (the budget counts every byte)");
	return 0;
off:
	bypass_close_fds();
	return bypass_off(c, line);
}

/* ---- Stop ---- */

void bypass_stop(void)
{
	struct bp_bypass_counters n;
	const struct bp_bypass_daemon_stats *st = &bypass_run.st;
	unsigned cap, i;

	if (!bypass_run.b || bypass_run.owner != getpid())
		return;
	/* Live connections are about to be reset by tcp_splice_free(): their entries go now. */
	cap = tcp_splice_capacity(bypass_run.splice);
	for (i = 0; i < cap; i++) {
		struct tcp_splice_conn *conn = tcp_splice_conn_get(bypass_run.splice, i);

		if (conn)
			bypass_closing(NULL, i, conn, true);
	}
	tcp_splice_set_hooks(bypass_run.splice, NULL);
	info("BPF bypass: stopping (%s): connections %llu (both ends %llu, no ends %llu), "
	     "relayed c2s %llu s2c %llu, attempts %llu, granted %llu (egress %llu), postponed "
	     "pending %llu count %llu outq %llu rqueue %llu diag %llu unread %llu, gave up %llu, "
	     "tails on "
	     "%llu (returned %llu), relay held %llu, endpoints left to close %llu",
	     bypass_run.grant_mode == BP_BYPASS_MODE_EGRESS ? "egress" : "ingress",
	     (unsigned long long)st->conns_registered, (unsigned long long)st->conns_both_ends,
	     (unsigned long long)st->conns_no_ends,
	     (unsigned long long)bypass_run.relayed_closed[0],
	     (unsigned long long)bypass_run.relayed_closed[1], (unsigned long long)st->attempts,
	     (unsigned long long)st->granted, (unsigned long long)st->granted_egress,
	     (unsigned long long)st->postponed_pending, (unsigned long long)st->postponed_count,
	     (unsigned long long)st->postponed_outq, (unsigned long long)st->postponed_rqueue,
	     (unsigned long long)st->postponed_diag, (unsigned long long)st->postponed_unread,
	     (unsigned long long)st->gave_up,
	     (unsigned long long)st->tails_on, (unsigned long long)st->tail_returned,
	     (unsigned long long)st->held,
	     (unsigned long long)bypass_run.ends_kept);
	if (!bp_bypass_counters(bypass_run.b, &n))
		info("BPF bypass: programs: inserted client %llu server %llu failed %llu, expect "
		     "from cookie %llu; handovers c2s %llu s2c %llu; to egress c2s %llu s2c %llu; "
		     "bytes redirected c2s %llu s2c %llu, egressed c2s %llu s2c %llu; returns "
		     "budget %llu no-peer %llu no-ctl %llu state %llu no-out %llu; tail bytes %llu "
		     "returns %llu",
		     (unsigned long long)n.insert_client, (unsigned long long)n.insert_server,
		     (unsigned long long)n.insert_failed, (unsigned long long)n.expect_from_cookie,
		     (unsigned long long)n.handover_c2s, (unsigned long long)n.handover_s2c,
		     (unsigned long long)n.to_egress_c2s, (unsigned long long)n.to_egress_s2c,
		     (unsigned long long)n.bytes_c2s, (unsigned long long)n.bytes_s2c,
		     (unsigned long long)n.egress_bytes_c2s, (unsigned long long)n.egress_bytes_s2c,
		     (unsigned long long)n.return_budget, (unsigned long long)n.return_no_peer,
		     (unsigned long long)n.return_no_ctl, (unsigned long long)n.return_state,
		     (unsigned long long)n.return_no_out, (unsigned long long)n.tail_bytes,
		     (unsigned long long)n.tail_returns);
	bp_bypass_stop(bypass_run.b);
	bypass_run.b = NULL;
	bypass_run.splice = NULL;
	bypass_close_fds();
}

bool bypass_active(void)
{
	return bypass_run.b != NULL;
}
