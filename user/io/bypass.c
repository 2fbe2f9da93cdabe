// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bypass.c - the loopback bypass (--bpf-bypass): when a spliced connection's data may skip us
 *
 * Theory of operation
 *
 * Four sockets make a TCP connection through one of pasta's loopback forwards: the client's (C),
 * ours that accepted it (A = sock[0] of struct tcp_splice_conn), ours connected to the server
 * (B = sock[1]) and the server's (S). flow/tcp_splice.c relays C->S bytes from A to B through a
 * pipe (direction 0, "c2s") and S->C bytes from B to A (direction 1, "s2c"). The BPF side
 * (bpf/bypass.bpf.c, loaded by loader/bypass.c; layouts in include/bpasst_bypass.h) can let C and
 * S send straight into each other's receive queue: a sock_ops program on the root of the cgroup
 * v2 hierarchy puts C and S (never A or B) into a sockhash when they become established, and an
 * sk_msg program redirects an endpoint's sendmsg() to its peer once we allowed it. This file
 * decides when that is allowed, so that no byte is ever reordered.
 *
 * Why care about order: the receiver's recvmsg() reads redirected data before data that came
 * over TCP whenever both are queued. So a direction may switch to redirect only when no earlier
 * byte of it is anywhere on the relay path: not in flight from the sender to A, not in our
 * pipe, not unacknowledged in B's send queue, not unread in S's receive queue. Switching back
 * (redirect -> relay) keeps order by itself (redirected bytes are read first, and were sent
 * first).
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
 * address with the namespace's cookie. Then the splice hooks are installed. When anything fails,
 * one line says why ("BPF bypass: off: <reason>") and the splice path carries everything; with
 * --bpf on (which says "fail without BPF") the daemon exits instead, as for the tap fast path.
 *
 * Per connection (the hooks, see flow/tcp_splice.h):
 *  1. pre_connect: B is bound to the loopback address, port 0, to learn its port before it
 *     connects; S's key is then known and goes into bypass_expect (so the sock_ops program takes
 *     exactly that server socket, when it becomes established), C's key is read from A. Failure
 *     (bind, map full): no bypass for this connection.
 *  2. connected: both endpoints must be in bypass_ends (bp_bypass_end_get()); S may be there a
 *     moment after our connect() completed, so it is looked for again from the retry timer, up
 *     to BYPASS_ENDS_TRIES times. Found: the expect entry is deleted (conns_both_ends) and both
 *     directions start their first hand-over episode at once (before any byte moved, the
 *     checks are trivial: see 3). Not found: the connection stays on the splice path
 *     (conns_no_ends), the expect entry and an endpoint found alone are removed, so the programs
 *     leave those sockets alone.
 *  3. A hand-over attempt for direction d (sender E = key[d], receiver R = key[!d], O = sock[!d],
 *     relayed_d = bytes we wrote to O) reads E's entry, then bypass_handover_decide():
 *        our pipe of d is empty                          else postponed_pending
 *        E.passed == relayed_d                           else postponed_count
 *        (the next two only when something was sent: relayed_d or E.passed non-zero)
 *        ioctl(O, SIOCOUTQ) == 0                         else postponed_outq
 *        sock_diag(R's exact tuple, R's namespace).idiag_rqueue == 0
 *                                                        else postponed_rqueue / _diag
 *     and then writes bypass_ctl[E] = { peer R, allow = relayed_d, budget, gen = new, flow id }
 *     (granted). The program switches E at its next sendmsg only if E.passed == allow still, and
 *     the compare runs under E's socket lock: a byte E sent after our snapshot makes the
 *     permission stale (E.passed > allow forever), never wrong. A stale permission shows as data
 *     arriving on our relay while the direction is GRANTED: a new attempt follows at once.
 *  4. Postponed: the direction goes on the retry list and the timerfd (EPOLL_KIND_BYPASS) brings
 *     it back after BYPASS_RETRY_FIRST_MS, doubling up to BYPASS_RETRY_MAX_MS, for at most
 *     BYPASS_MAX_ATTEMPTS attempts per episode; then it gave_up and stays on the relay, re-armed
 *     (a new episode) after BYPASS_REARM_MS if it carried data meanwhile. Between timer
 *     attempts, relay rounds (dir_idle) do not attempt: the back-off also bounds the syscalls.
 *  5. A redirecting direction can return to the relay (the program's budget: the receiver left
 *     too much redirected data unread; the peer closed; the sender's state): its next bytes
 *     come over TCP to us again, in order. dir_idle after relaying them, or the 1 s tick, sees
 *     E.mode == RELAY and starts a new episode. Until then the relay's own TCP backpressure
 *     bounds what the sender can queue: the budget (BP_BYPASS_BUDGET_DEFAULT per direction) is
 *     the only unread redirected data a receiver can be made to hold.
 *  6. End of stream, resets: unchanged, the relay's job. The sender's FIN goes over TCP to A or
 *     B even while redirecting (shutdown is not redirected); we read end of stream, and only
 *     then shut our socket towards the receiver, which sees EOF after the redirected bytes. An
 *     error on either of our sockets resets both, as on the splice path.
 *  7. closing: the ctl entries and the expect entry are deleted. On a reset both endpoints are
 *     removed from the maps (bp_bypass_end_del()): the sockets are dead anyway, and a dead
 *     receiver must not stay in the sockhash while its owner keeps the descriptor. On a clean
 *     close an endpoint is removed only when nothing redirected to it is unread (its peer's
 *     redirected == its ingress_read, known with the receive hook; or nothing was redirected):
 *     removing a socket from the sockhash drops its psock and with it the unread redirected
 *     data. Otherwise the program removes it when the socket closes (ends_closed). A killed
 *     peer resets the connection (its socket is gone from the maps with it, the other is
 *     removed by us), so no entry outlives its connection's sockets.
 *
 * Counters: struct bp_bypass_daemon_stats, written to the bypass_daemon map by bypass_tick()
 * when changed (at most once a second); bypassed_now is recounted there. bypass_stop() logs
 * them with the programs' counters in one line.
 *
 * State: one static struct bypass_state: the loader handle, the two namespaces' cookies and
 * sock_diag sockets, the retry timerfd and the retry list (connection slots with their
 * generation, at most one entry per connection: conn->byp.queued), the permission generation,
 * the counters. Per connection and direction: conn->byp (flow/tcp_splice.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

#include "core/epoll_ref.h"
#include "core/log.h"
#include "core/nsexec.h"
#include "flow/fwd.h"
#include "io/bypass.h"
#include "io/sockdiag.h"
/* loader/bypass.h, the BPF side, through the loader's include directory: "bypass.h" in quotes
 * would find io/bypass.h beside this file first. */
#include <bypass.h>

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

enum { BYPASS_NS_HOST = 0, BYPASS_NS_GUEST = 1 };

struct bypass_retry {
	uint32_t idx; /* connection slot */
	uint32_t gen; /* its generation when queued */
};

static struct bypass_state {
	struct bp_bypass *b; /* NULL: off */
	pid_t owner;
	struct tcp_splice *splice;
	int epollfd;
	int timerfd;
	int diag[2]; /* sock_diag socket per namespace, BYPASS_NS_* */
	uint64_t cookie[2]; /* network namespace cookies */
	uint64_t armed_ms; /* timer armed for, 0: disarmed */
	struct bypass_retry *retry, *walk; /* the list, and the copy a timer walk reads */
	unsigned retry_count, retry_cap;
	uint32_t gen;
	unsigned listen_count;
	struct bp_bypass_daemon_stats st, st_written;
	uint64_t ends_kept; /* endpoints left to the program at a clean close (unread data) */
} by = {
	.timerfd = -1,
	.diag = { -1, -1 },
	.epollfd = -1,
};

static uint64_t bypass_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- Pure parts ---- */

enum bypass_verdict bypass_handover_decide(uint32_t pending, uint64_t relayed, uint64_t passed,
					   const struct bypass_probes *p)
{
	uint32_t n;

	if (pending)
		return BYPASS_WAIT_PENDING;
	if (passed != relayed)
		return BYPASS_WAIT_COUNT;
	if (!relayed)
		return BYPASS_GRANT; /* nothing was ever sent this way: nothing can be overtaken */
	if (p->outq(p->arg, &n) < 0 || n)
		return BYPASS_WAIT_OUTQ;
	if (p->rqueue(p->arg, &n) < 0)
		return BYPASS_WAIT_DIAG;
	return n ? BYPASS_WAIT_RQUEUE : BYPASS_GRANT;
}

const char *bypass_verdict_name(enum bypass_verdict v)
{
	static const char *const names[] = {
		"grant", "pending", "count", "outq", "rqueue", "diag"
	};

	return (unsigned)v < sizeof(names) / sizeof(names[0]) ? names[v] : "?";
}

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

/* ---- Probes of one attempt ---- */

struct bypass_probe_ctx {
	int our_sock; /* O: our socket towards the receiver */
	const struct bp_bypass_key *receiver;
};

static int bypass_probe_outq(void *arg, uint32_t *bytes)
{
	const struct bypass_probe_ctx *p = arg;
	int n = 0;

	if (ioctl(p->our_sock, SIOCOUTQ, &n) < 0)
		return -errno;
	*bytes = n > 0 ? (uint32_t)n : 0;
	return 0;
}

static int bypass_diag_fd(uint64_t cookie)
{
	if (cookie == by.cookie[BYPASS_NS_HOST])
		return by.diag[BYPASS_NS_HOST];
	if (cookie == by.cookie[BYPASS_NS_GUEST])
		return by.diag[BYPASS_NS_GUEST];
	return -1;
}

static int bypass_probe_rqueue(void *arg, uint32_t *bytes)
{
	const struct bypass_probe_ctx *p = arg;
	const struct bp_bypass_key *k = p->receiver;
	struct sockdiag_tuple t;
	int ret;

	memset(&t, 0, sizeof(t));
	t.af = k->family;
	memcpy(t.local, k->local_ip, 16);
	memcpy(t.remote, k->remote_ip, 16);
	t.local_port = k->local_port;
	t.remote_port = k->remote_port;
	ret = sockdiag_rqueue(bypass_diag_fd(k->netns_cookie), &t, bytes, NULL);
	if (ret < 0)
		log_ratelimited(LOG_LVL_DEBUG, "BPF bypass: sock_diag of the receiver: %s",
				strerror(-ret));
	return ret;
}

/* ---- Retry list and timer ---- */

static void bypass_timer_arm(uint64_t due_ms)
{
	struct itimerspec its = { 0 };
	uint64_t now = bypass_now_ms(), delta;

	if (by.armed_ms && by.armed_ms <= due_ms)
		return; /* fires earlier (or fired, unread): that walk re-arms for the rest */
	delta = due_ms > now ? due_ms - now : 0;
	if (!delta)
		its.it_value.tv_nsec = 200000; /* due now: as soon as the loop comes back */
	else {
		its.it_value.tv_sec = (time_t)(delta / 1000);
		its.it_value.tv_nsec = (long)(delta % 1000) * 1000000L;
	}
	if (timerfd_settime(by.timerfd, 0, &its, NULL) < 0) {
		log_ratelimited(LOG_LVL_WARN, "BPF bypass: timerfd: %s", strerror(errno));
		return;
	}
	by.armed_ms = due_ms > now ? due_ms : now;
}

static void bypass_queue(uint32_t idx, struct tcp_splice_conn *conn, uint64_t due_ms)
{
	if (!conn->byp.queued) {
		if (by.retry_count >= by.retry_cap)
			return; /* cannot happen: one entry per connection at most */
		by.retry[by.retry_count].idx = idx;
		by.retry[by.retry_count].gen = conn->gen;
		by.retry_count++;
		conn->byp.queued = true;
	}
	bypass_timer_arm(due_ms);
}

/* ---- Map entries of a connection ---- */

static void bypass_drop_expect(struct tcp_splice_conn *conn)
{
	if (!conn->byp.expecting)
		return;
	bp_bypass_expect_del(by.b, &conn->byp.key[1]);
	conn->byp.expecting = false;
}

/* ---- Hand-over ---- */

/* A direction starts a hand-over episode: counters of the back-off reset. */
static void bypass_episode(struct tcp_splice_byp_dir *bd)
{
	bd->state = TCP_SPLICE_BYP_RELAY;
	bd->attempts = 0;
	bd->delay_ms = BYPASS_RETRY_FIRST_MS;
}

/* Postponed: count the reason, schedule the next attempt or give up. */
static void bypass_postpone(uint32_t idx, struct tcp_splice_conn *conn, int d,
			    enum bypass_verdict v, uint64_t now)
{
	struct tcp_splice_byp_dir *bd = &conn->byp.dir[d];

	switch (v) {
	case BYPASS_WAIT_PENDING:
		by.st.postponed_pending++;
		break;
	case BYPASS_WAIT_COUNT:
		by.st.postponed_count++;
		break;
	case BYPASS_WAIT_OUTQ:
		by.st.postponed_outq++;
		break;
	case BYPASS_WAIT_RQUEUE:
		by.st.postponed_rqueue++;
		break;
	default:
		by.st.postponed_diag++;
		break;
	}
	if (bd->attempts >= BYPASS_MAX_ATTEMPTS) {
		by.st.gave_up++;
		bd->state = TCP_SPLICE_BYP_GAVE_UP;
		bd->allow = conn->dir[d].relayed; /* re-armed only if it moves data */
		bd->retry_ms = now + BYPASS_REARM_MS;
		debug("BPF bypass %u: %s stays on the relay after %u attempts (last: %s)", idx,
		      d ? "s2c" : "c2s", bd->attempts, bypass_verdict_name(v));
		return;
	}
	bd->state = TCP_SPLICE_BYP_RETRY;
	bd->retry_ms = now + bd->delay_ms;
	bypass_queue(idx, conn, bd->retry_ms);
	bd->delay_ms = (uint16_t)(bd->delay_ms * 2 > BYPASS_RETRY_MAX_MS ? BYPASS_RETRY_MAX_MS
									 : bd->delay_ms * 2);
}

/* One attempt for direction d, its sender's entry already read into e. */
static void bypass_attempt_with(uint32_t idx, struct tcp_splice_conn *conn, int d,
				const struct bp_bypass_end *e)
{
	struct tcp_splice_byp_dir *bd = &conn->byp.dir[d];
	struct bypass_probe_ctx pc = { .our_sock = conn->sock[!d], .receiver = &conn->byp.key[!d] };
	struct bypass_probes probes = { bypass_probe_outq, bypass_probe_rqueue, &pc };
	const struct tcp_splice_dir *sd = &conn->dir[d];
	enum bypass_verdict v;
	struct bp_bypass_ctl ctl;
	int ret;

	by.st.attempts++;
	bd->attempts++;
	v = bypass_handover_decide(sd->pending, sd->relayed, e->passed, &probes);
	if (v != BYPASS_GRANT) {
		bypass_postpone(idx, conn, d, v, bypass_now_ms());
		return;
	}
	memset(&ctl, 0, sizeof(ctl));
	ctl.peer = conn->byp.key[!d];
	ctl.allow = sd->relayed;
	ctl.budget = BP_BYPASS_BUDGET_DEFAULT;
	if (++by.gen == 0)
		by.gen = 1;
	ctl.gen = by.gen;
	ctl.flow_id = idx;
	ret = bp_bypass_ctl_set(by.b, &conn->byp.key[d], &ctl);
	if (ret < 0) {
		log_ratelimited(LOG_LVL_WARN, "BPF bypass: cannot write bypass_ctl: %s",
				strerror(-ret));
		bypass_postpone(idx, conn, d, BYPASS_WAIT_DIAG, bypass_now_ms());
		return;
	}
	by.st.granted++;
	bd->state = TCP_SPLICE_BYP_GRANTED;
	bd->gen = ctl.gen;
	bd->allow = ctl.allow;
	trace("BPF bypass %u: %s allowed after %llu bytes (gen %u)", idx, d ? "s2c" : "c2s",
	      (unsigned long long)ctl.allow, ctl.gen);
}

/* Look at direction d and act on what its sender's entry says. from_timer: a due retry. */
static void bypass_check_dir(uint32_t idx, struct tcp_splice_conn *conn, int d, bool from_timer)
{
	struct tcp_splice_byp_dir *bd = &conn->byp.dir[d];
	const struct tcp_splice_dir *sd = &conn->dir[d];
	struct bp_bypass_end e;
	uint64_t now;

	if (!conn->byp.ends || conn->connecting || bd->state == TCP_SPLICE_BYP_NONE)
		return;
	if (sd->eof || sd->shut) {
		bd->state = TCP_SPLICE_BYP_NONE; /* finished: nothing more to hand over */
		return;
	}
	now = 0;
	switch (bd->state) {
	case TCP_SPLICE_BYP_RETRY:
		if (!from_timer)
			return; /* the back-off decides */
		break;
	case TCP_SPLICE_BYP_GAVE_UP:
		now = bypass_now_ms();
		if (now < bd->retry_ms || sd->relayed == bd->allow)
			return;
		bypass_episode(bd); /* it carries data: worth another episode */
		break;
	default:
		break;
	}
	if (bp_bypass_end_get(by.b, &conn->byp.key[d], &e) < 0) {
		bd->state = TCP_SPLICE_BYP_NONE; /* the sender is gone (closed) */
		return;
	}
	if (e.mode == BP_BYPASS_MODE_REDIRECT) {
		bd->state = TCP_SPLICE_BYP_REDIRECT;
		return;
	}
	switch (bd->state) {
	case TCP_SPLICE_BYP_GRANTED:
		if (e.passed == bd->allow && e.used_gen != bd->gen)
			return; /* not used yet, still valid */
		/* stale (the sender sent before switching), or used and returned since */
		bypass_episode(bd);
		break;
	case TCP_SPLICE_BYP_REDIRECT:
		bypass_episode(bd); /* returned to the relay (budget, ...): a new episode */
		break;
	default:
		break;
	}
	bypass_attempt_with(idx, conn, d, &e);
}

/* Both endpoints in bypass_ends? Decides the connection's fate, or queues another look. */
static void bypass_find_ends(uint32_t idx, struct tcp_splice_conn *conn)
{
	struct bp_bypass_end e[2];
	bool have[2];
	int x;

	for (x = 0; x < 2; x++)
		have[x] = !bp_bypass_end_get(by.b, &conn->byp.key[x], &e[x]);
	if (have[0] && have[1]) {
		conn->byp.ends = true;
		by.st.conns_both_ends++;
		bypass_drop_expect(conn);
		for (x = 0; x < 2; x++) {
			bypass_episode(&conn->byp.dir[x]);
			bypass_check_dir(idx, conn, x, false);
		}
		return;
	}
	/* C is in bypass_ends before we accepted A; S may follow our connect() by a moment. */
	if (have[0] && ++conn->byp.ends_tries < BYPASS_ENDS_TRIES) {
		bypass_queue(idx, conn, bypass_now_ms() + (1u << (conn->byp.ends_tries - 1)));
		return;
	}
	by.st.conns_no_ends++;
	debug("BPF bypass %u: endpoints not found (client %s, server %s): splice path", idx,
	      have[0] ? "yes" : "no", have[1] ? "yes" : "no");
	bypass_drop_expect(conn);
	for (x = 0; x < 2; x++)
		if (have[x])
			bp_bypass_end_del(by.b, &conn->byp.key[x]);
	conn->byp.keyed = false; /* nothing of ours left in the maps */
}

/* ---- Splice hooks ---- */

static socklen_t bypass_loopback(int af, uint16_t port, struct sockaddr_storage *ss)
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

static void bypass_pre_connect(void *ctx, uint32_t idx, struct tcp_splice_conn *conn)
{
	struct sockaddr_storage a_local, a_peer, b_local, server;
	socklen_t l1 = sizeof(a_local), l2 = sizeof(a_peer), l3 = sizeof(b_local), sl;
	uint64_t c_cookie = by.cookie[conn->from_ns ? BYPASS_NS_GUEST : BYPASS_NS_HOST];
	uint64_t s_cookie = by.cookie[conn->from_ns ? BYPASS_NS_HOST : BYPASS_NS_GUEST];
	struct tcp_splice_byp *byp = &conn->byp;
	int ret;

	(void)ctx;
	memset(byp, 0, sizeof(*byp));
	if (getsockname(conn->sock[0], (struct sockaddr *)&a_local, &l1) < 0 ||
	    getpeername(conn->sock[0], (struct sockaddr *)&a_peer, &l2) < 0)
		goto no;
	if (bypass_key_from_addrs(&byp->key[0], c_cookie, (struct sockaddr *)&a_peer,
				  (struct sockaddr *)&a_local) < 0)
		goto no;
	/* Bind B now so that the server's 4-tuple is known before the handshake completes. */
	sl = bypass_loopback(conn->af, 0, &b_local);
	if (bind(conn->sock[1], (struct sockaddr *)&b_local, sl) < 0 ||
	    getsockname(conn->sock[1], (struct sockaddr *)&b_local, &l3) < 0)
		goto no;
	bypass_loopback(conn->af, conn->port, &server);
	if (bypass_key_from_addrs(&byp->key[1], s_cookie, (struct sockaddr *)&server,
				  (struct sockaddr *)&b_local) < 0)
		goto no;
	ret = bp_bypass_expect_add(by.b, &byp->key[1], idx);
	if (ret < 0) {
		log_ratelimited(LOG_LVL_WARN, "BPF bypass: cannot register a server: %s",
				strerror(-ret));
		goto no;
	}
	byp->expecting = true;
	byp->keyed = true;
	return;
no:
	debug("BPF bypass %u: not offered: %s", idx, strerror(errno));
	memset(byp, 0, sizeof(*byp));
}

static void bypass_connected(void *ctx, uint32_t idx, struct tcp_splice_conn *conn)
{
	(void)ctx;
	if (!conn->byp.keyed || conn->byp.counted)
		return;
	conn->byp.counted = true;
	by.st.conns_registered++;
	bypass_find_ends(idx, conn);
}

static void bypass_dir_idle(void *ctx, uint32_t idx, struct tcp_splice_conn *conn, int d)
{
	(void)ctx;
	if (conn->byp.keyed && conn->byp.ends)
		bypass_check_dir(idx, conn, d, false);
}

/* May endpoint r be taken out of the maps without losing redirected data it has not read? */
static bool bypass_end_drained(const struct tcp_splice_conn *conn, int r)
{
	struct bp_bypass_end sender, receiver;

	if (bp_bypass_end_get(by.b, &conn->byp.key[!r], &sender) < 0)
		return conn->byp.dir[!r].gen == 0; /* sender gone: safe only if never allowed */
	if (!sender.redirected)
		return true;
	if (!bp_bypass_read_tracking(by.b) ||
	    bp_bypass_end_get(by.b, &conn->byp.key[r], &receiver) < 0)
		return false;
	return receiver.ingress_read >= sender.redirected;
}

static void bypass_closing(void *ctx, uint32_t idx, struct tcp_splice_conn *conn, bool reset)
{
	struct tcp_splice_byp *byp = &conn->byp;
	bool drop[2] = { reset, reset };
	int x;

	(void)ctx;
	(void)idx;
	if (!byp->keyed)
		return;
	bypass_drop_expect(conn);
	for (x = 0; x < 2; x++)
		if (byp->dir[x].gen)
			bp_bypass_ctl_del(by.b, &byp->key[x]);
	if (byp->ends && !reset) {
		for (x = 0; x < 2; x++) {
			drop[x] = bypass_end_drained(conn, x);
			by.ends_kept += !drop[x];
		}
	}
	for (x = 0; x < 2; x++)
		if (drop[x] || !byp->ends)
			bp_bypass_end_del(by.b, &byp->key[x]);
	byp->keyed = false;
}

static const struct tcp_splice_hooks bypass_hooks = {
	.pre_connect = bypass_pre_connect,
	.connected = bypass_connected,
	.dir_idle = bypass_dir_idle,
	.closing = bypass_closing,
};

/* ---- Timer and tick ---- */

void bypass_timer_event(void)
{
	uint64_t expirations, now;
	unsigned i, count;

	if (!by.b)
		return;
	if (read(by.timerfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		debug("BPF bypass: timerfd read: %s", strerror(errno));
	by.armed_ms = 0;
	now = bypass_now_ms();
	/* Walk a copy: what is still waiting afterwards is queued again (and re-arms). */
	count = by.retry_count;
	memcpy(by.walk, by.retry, count * sizeof(*by.retry));
	by.retry_count = 0;
	for (i = 0; i < count; i++) {
		const struct bypass_retry r = by.walk[i];
		struct tcp_splice_conn *conn = tcp_splice_conn_get(by.splice, r.idx);
		uint64_t next = 0;
		int d;

		if (!conn || conn->gen != r.gen || !conn->byp.queued)
			continue;
		conn->byp.queued = false;
		if (!conn->byp.keyed)
			continue;
		if (!conn->byp.ends) {
			bypass_find_ends(r.idx, conn); /* queues itself again if needed */
			continue;
		}
		for (d = 0; d < 2; d++) {
			struct tcp_splice_byp_dir *bd = &conn->byp.dir[d];

			if (bd->state == TCP_SPLICE_BYP_RETRY && bd->retry_ms <= now)
				bypass_check_dir(r.idx, conn, d, true);
			if (bd->state == TCP_SPLICE_BYP_RETRY && (!next || bd->retry_ms < next))
				next = bd->retry_ms;
		}
		if (next)
			bypass_queue(r.idx, conn, next);
	}
}

void bypass_tick(void)
{
	unsigned cap, i;
	uint64_t bypassed = 0;
	int ret;

	if (!by.b)
		return;
	cap = tcp_splice_capacity(by.splice);
	for (i = 0; i < cap; i++) {
		struct tcp_splice_conn *conn = tcp_splice_conn_get(by.splice, i);
		bool redirecting = false;
		int d;

		if (!conn || !conn->byp.keyed || !conn->byp.ends)
			continue;
		for (d = 0; d < 2; d++) {
			uint8_t st = conn->byp.dir[d].state;

			if (st == TCP_SPLICE_BYP_GRANTED || st == TCP_SPLICE_BYP_REDIRECT ||
			    st == TCP_SPLICE_BYP_GAVE_UP)
				bypass_check_dir(i, conn, d, false);
			redirecting |= conn->byp.dir[d].state == TCP_SPLICE_BYP_REDIRECT;
		}
		bypassed += redirecting;
	}
	by.st.bypassed_now = bypassed;
	if (!memcmp(&by.st, &by.st_written, sizeof(by.st)))
		return;
	ret = bp_bypass_daemon_stats_set(by.b, &by.st);
	if (ret < 0) {
		log_ratelimited(LOG_LVL_DEBUG, "BPF bypass: cannot write bypass_daemon: %s",
				strerror(-ret));
		return;
	}
	by.st_written = by.st;
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

static int bypass_listen_one(uint64_t cookie, int af, const void *addr, uint16_t port)
{
	struct bp_bypass_listen k;
	int ret;

	memset(&k, 0, sizeof(k));
	k.netns_cookie = cookie;
	k.family = (__u8)af;
	k.port = port;
	memcpy(k.ip, addr, af == AF_INET ? 4 : 16);
	ret = bp_bypass_listen_add(by.b, &k);
	if (!ret)
		by.listen_count++;
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
			ret = bypass_listen_one(by.cookie[BYPASS_NS_HOST], f ? AF_INET6 : AF_INET,
						addr[f], (uint16_t)p);
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
		int ret = bypass_listen_one(by.cookie[BYPASS_NS_GUEST], l->af,
					    l->af == AF_INET ? (const void *)&lo4
							     : (const void *)&in6addr_loopback,
					    l->port);

		if (ret < 0)
			return ret;
	}
	return 0;
}

static void bypass_close_fds(void)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (by.diag[i] >= 0)
			close(by.diag[i]);
		by.diag[i] = -1;
	}
	if (by.timerfd >= 0)
		close(by.timerfd); /* also leaves the epoll set */
	by.timerfd = -1;
	free(by.retry);
	free(by.walk);
	by.retry = by.walk = NULL;
	by.retry_cap = by.retry_count = 0;
}

static bool bypass_has_forwards(const struct config *c, const struct tcp_splice *s)
{
	return c->tcp_in.mode == FWD_SPEC || c->tcp_in.mode == FWD_ALL ||
		tcp_splice_listeners(s)->count;
}

int bypass_start(const struct config *c, const struct ns_state *ns, struct tcp_splice *s,
		 int epollfd, uid_t run_uid, gid_t run_gid)
{
	struct bp_bypass_params p;
	struct epoll_event ev;
	char line[640];
	int ret, result = 0;

	if (!c->bpf_bypass || by.b)
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
	by.diag[BYPASS_NS_HOST] = sockdiag_open();
	if (by.diag[BYPASS_NS_HOST] < 0) {
		snprintf(line, sizeof(line), "BPF bypass: off: sock_diag socket: %s",
			 strerror(-by.diag[BYPASS_NS_HOST]));
		goto off;
	}
	ret = nsexec_call(ns->netns_fd, ns->userns_fd, bypass_open_diag_in_ns,
			  &by.diag[BYPASS_NS_GUEST], &result);
	if (ret < 0 || result < 0 || by.diag[BYPASS_NS_GUEST] < 0) {
		int e = EBADF;

		if (ret < 0)
			e = -ret;
		else if (result < 0)
			e = -result;
		by.diag[BYPASS_NS_GUEST] = -1;
		snprintf(line, sizeof(line),
			 "BPF bypass: off: sock_diag socket in the namespace: %s", strerror(e));
		goto off;
	}
	ret = bypass_cookie(by.diag[BYPASS_NS_HOST], &by.cookie[BYPASS_NS_HOST]);
	if (!ret)
		ret = bypass_cookie(by.diag[BYPASS_NS_GUEST], &by.cookie[BYPASS_NS_GUEST]);
	if (ret < 0) {
		snprintf(line, sizeof(line), "BPF bypass: off: SO_NETNS_COOKIE: %s",
			 strerror(-ret));
		goto off;
	}
	if (by.cookie[BYPASS_NS_HOST] == by.cookie[BYPASS_NS_GUEST]) {
		snprintf(line, sizeof(line), "BPF bypass: off: the namespace is the host's");
		goto off;
	}
	by.retry_cap = tcp_splice_capacity(s);
	by.retry = calloc(by.retry_cap ? by.retry_cap : 1, sizeof(*by.retry));
	by.walk = calloc(by.retry_cap ? by.retry_cap : 1, sizeof(*by.walk));
	by.timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (!by.retry || !by.walk || by.timerfd < 0) {
		snprintf(line, sizeof(line), "BPF bypass: off: retry timer: %s",
			 by.retry && by.walk ? strerror(errno) : "out of memory");
		goto off;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u64 = epoll_ref_make(EPOLL_KIND_BYPASS, 0);
	if (epoll_ctl(epollfd, EPOLL_CTL_ADD, by.timerfd, &ev) < 0) {
		snprintf(line, sizeof(line), "BPF bypass: off: epoll: %s", strerror(errno));
		goto off;
	}

	memset(&p, 0, sizeof(p));
	snprintf(p.instance, sizeof(p.instance), "%s", c->bpf_name);
	p.pin_uid = run_uid == (uid_t)-1 ? UINT32_MAX : (uint32_t)run_uid;
	p.pin_gid = run_gid == (gid_t)-1 ? UINT32_MAX : (uint32_t)run_gid;
	p.verbose = log_get_level() >= LOG_LVL_DEBUG;
	p.max_conns = tcp_splice_capacity(s);
	by.b = bp_bypass_start(&p, line, sizeof(line));
	if (!by.b)
		goto off;
	by.owner = getpid();
	by.splice = s;
	by.epollfd = epollfd;

	ret = bypass_listen_host(c);
	if (!ret)
		ret = bypass_listen_ns(s);
	if (ret < 0) {
		char why[640];

		snprintf(why, sizeof(why),
			 "BPF bypass: off: cannot register loopback listener %u: %s",
			 by.listen_count + 1, strerror(-ret));
		bp_bypass_stop(by.b);
		by.b = NULL;
		snprintf(line, sizeof(line), "%s", why);
		goto off;
	}
	tcp_splice_set_hooks(s, &bypass_hooks);
	info("%s", line);
	debug("BPF bypass: %u loopback listeners registered, receive hook %s", by.listen_count,
	      bp_bypass_read_tracking(by.b) ? "on" : "off (the budget counts every byte)");
	return 0;
off:
	bypass_close_fds();
	return bypass_off(c, line);
}

/* ---- Stop ---- */

void bypass_stop(void)
{
	struct bp_bypass_counters n;
	const struct bp_bypass_daemon_stats *st = &by.st;
	unsigned cap, i;

	if (!by.b || by.owner != getpid())
		return;
	/* Live connections are about to be reset by tcp_splice_free(): their entries go now. */
	cap = tcp_splice_capacity(by.splice);
	for (i = 0; i < cap; i++) {
		struct tcp_splice_conn *conn = tcp_splice_conn_get(by.splice, i);

		if (conn)
			bypass_closing(NULL, i, conn, true);
	}
	tcp_splice_set_hooks(by.splice, NULL);
	info("BPF bypass: stopping: connections %llu (both ends %llu, no ends %llu), attempts "
	     "%llu, granted %llu, postponed pending %llu count %llu outq %llu rqueue %llu diag "
	     "%llu, gave up %llu, endpoints left to close %llu",
	     (unsigned long long)st->conns_registered, (unsigned long long)st->conns_both_ends,
	     (unsigned long long)st->conns_no_ends, (unsigned long long)st->attempts,
	     (unsigned long long)st->granted, (unsigned long long)st->postponed_pending,
	     (unsigned long long)st->postponed_count, (unsigned long long)st->postponed_outq,
	     (unsigned long long)st->postponed_rqueue, (unsigned long long)st->postponed_diag,
	     (unsigned long long)st->gave_up, (unsigned long long)by.ends_kept);
	if (!bp_bypass_counters(by.b, &n))
		info("BPF bypass: programs: inserted client %llu server %llu failed %llu; "
		     "handovers c2s %llu s2c %llu; bytes redirected c2s %llu s2c %llu; returns "
		     "budget %llu no-peer %llu no-ctl %llu state %llu",
		     (unsigned long long)n.insert_client, (unsigned long long)n.insert_server,
		     (unsigned long long)n.insert_failed, (unsigned long long)n.handover_c2s,
		     (unsigned long long)n.handover_s2c, (unsigned long long)n.bytes_c2s,
		     (unsigned long long)n.bytes_s2c, (unsigned long long)n.return_budget,
		     (unsigned long long)n.return_no_peer, (unsigned long long)n.return_no_ctl,
		     (unsigned long long)n.return_state);
	bp_bypass_stop(by.b);
	by.b = NULL;
	by.splice = NULL;
	bypass_close_fds();
}

bool bypass_active(void)
{
	return by.b != NULL;
}
