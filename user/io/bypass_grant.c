// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bypass_grant.c - the loopback bypass, per direction: when a sender may skip our relay
 *
 * Theory of operation
 *
 * bypass.c found both endpoints of a spliced connection in the maps (C, the client, sends
 * direction 0; S, the server, direction 1; see its theory of operation for the keys and the
 * hooks). From then on, for each direction d (sender E = key[d], receiver R = key[!d], our
 * socket towards R O = sock[!d], relayed_d = bytes our relay wrote into O), this file decides
 * when E may switch from RELAY (over TCP to our A or B, then our splice) to the one mode the
 * daemon grants, and writes the permission that the sk_msg program uses (bpf/bypass.bpf.c).
 *
 * Policy (bypass_run.grant_mode, from --bpf-bypass[=MODE]):
 *   ingress (the default): only RELAY -> INGRESS (straight into R's receive queue). Past the
 *     budget (the unread redirected bytes R may be made to hold) the program returns the
 *     direction to RELAY, whose TCP backpressure holds E until R reads; a new hand-over episode
 *     follows. EGRESS is never granted, and bypass_out is left empty. With the receive hook
 *     (bypass_run.tails) the hand-over goes in two steps through the relay's tail, below.
 *   egress: only RELAY -> EGRESS (into O, which sends over TCP: the daemon and the pipes are
 *     skipped, R's socket is untouched). INGRESS is never granted. No upgrade either way.
 * Both modes exist because each has a cost: INGRESS changes R's socket semantics (docs/bpf.md);
 * EGRESS leaves E's own send buffer empty while O is full, so a non-blocking E is told EAGAIN
 * although poll() says writable, and spins until R reads; its egress byte counts are upper
 * bounds (bytes refused with EAGAIN and sent again count again).
 *
 * Why each switch keeps the order of the direction's bytes (R reads its ingress queue before
 * its TCP queue; egress bytes queue in O behind what our relay wrote into O):
 *   RELAY -> EGRESS: every byte E passed to TCP written by us into O: our pipe of d empty and
 *     E.passed == relayed_d. No look at O or R is needed.
 *   RELAY -> INGRESS: every earlier byte READ by R: the same two checks, then SIOCOUTQ(O) == 0
 *     (R's TCP acknowledged everything we wrote) and R's receive queue empty (sock_diag of R's
 *     exact tuple in R's namespace, io/sockdiag.c). When nothing was ever sent this way
 *     (relayed, passed, egressed and redirected all 0: a connection found at once) nothing can
 *     be overtaken and no probe is asked.
 *   The relay's tail (ingress mode with the receive hook, once the relay carried
 *     BYPASS_TAIL_AFTER bytes of the direction: bulk senders). A sender that never pauses keeps
 *     its send queue full: all four conditions above at one instant are rare (iperf3's data
 *     connection was never handed over in the namespace-bound direction). So the probes are
 *     asked for our own writes only, in any state of E and of our pipe: SIOCOUTQ(O) == 0 and R's
 *     receive queue empty mean R read everything we ever wrote into O, and since we alone write
 *     into O and write nothing until the next relay round, the tail may go on at once
 *     (bypass_tail_on(): O into bypass_tailsock once, bypass_tail mode INGRESS). From then on
 *     our writes into O go into R's ingress queue, and E may switch to INGRESS on the two cheap
 *     checks alone (pipe empty, E.passed == relayed_d): every byte E passed is then in R's
 *     ingress queue, ahead of E's. The tail program sends our writes back to TCP for good (mode
 *     RELAY) past the tail's budget, BYPASS_BUDGET, or without R; every attempt re-reads the
 *     tail entry first (bypass_tail_still_on()), so a tail that went off needs the probes again.
 *     E's own INGRESS budget is then BYPASS_BUDGET / 2: a sender back on the relay over its
 *     budget finds the tail still on, the relay carries its bytes into R's ingress queue while R
 *     catches up, and E is granted again as soon as the relay drained, but not while R has more
 *     than BYPASS_BUDGET / 4 unread (WAIT_UNREAD: granted then, E would be over its budget at
 *     its first send). R never holds more than BYPASS_BUDGET unread: the daemon holds its relay
 *     before a write would pass it (bypass_hold(), at the end of this file, which also keeps
 *     our writes off TCP while R has unread ingress bytes), and the tail program's own check
 *     is a safety net above that.
 *   INGRESS -> RELAY (the budget) and INGRESS or EGRESS -> RELAY (a target missing, the sender's
 *     state): made by the program, always safe: later bytes come over TCP, read after the
 *     ingress queue, or behind what is already in O.
 * bypass_handover_decide() is that rule, pure. A permission (bypass_ctl of E: target, allow =
 * E.passed and allow_egressed = E.egressed read BEFORE any probe, a new gen) is used by the
 * program at E's next sendmsg only if both counts are still equal, compared under E's socket
 * lock: a byte sent after our snapshot makes it stale (the counts only grow), never wrong.
 *
 * Per direction (conn->byp.dir[d], enum tcp_splice_byp_state):
 *  1. bypass_begin(): both directions start an episode and attempt at once (before any byte
 *     moved, INGRESS is granted without probes; EGRESS too).
 *  2. An attempt reads E's entry, then decides: granted (GRANTED; granted, granted_egress), or
 *     postponed by reason (postponed_pending, _count, _outq, _rqueue, _diag, _unread); with
 *     tails, it may first switch the tail on (tails_on) and decide again in the same attempt.
 *  3. Postponed (RETRY): the retry list and the timerfd (EPOLL_KIND_BYPASS) bring it back after
 *     BYPASS_RETRY_FIRST_MS, doubling up to BYPASS_RETRY_MAX_MS, for at most BYPASS_MAX_ATTEMPTS
 *     attempts per episode; then it gave_up and stays on the relay (GAVE_UP), re-armed (a new
 *     episode) after BYPASS_REARM_MS if it carried data meanwhile. Between timer attempts, relay
 *     rounds (dir_idle) attempt too when the last attempt found our side behind the sender
 *     (postponed_count, _pending or _unread): the moment our relay just drained the direction
 *     is the best chance to catch a sender that hardly pauses; at most BYPASS_IDLE_TRIES per
 *     episode, and an attempt that goes on to the probes and fails there stops them until a
 *     timer attempt finds the sender ahead again, so the probes' syscalls stay bounded by the
 *     timer.
 *  4. GRANTED: the sender switches at its next sendmsg. Data arriving on our relay meanwhile
 *     (dir_idle) or the 1 s tick shows the permission stale (E sent before switching): a new
 *     episode at once. Seen switched: REDIRECT (mode INGRESS or EGRESS).
 *  5. REDIRECT: nothing to do until the program returns the direction to RELAY (the budget, in
 *     ingress mode; a missing target): its next bytes come over TCP to us, dir_idle after
 *     relaying them (or the tick) sees E.mode == RELAY and starts a new episode.
 * End of stream and resets stay the relay's: a direction that read end of stream or shut its
 * destination is left alone (NONE).
 *
 * Held relays (bypass_hold()) ride on the same retry list: a check is queued per hold, and the
 * timer walk resumes the relay (tcp_splice_resume()), which asks the hook again.
 *
 * State: the retry list and timer in bypass_run (bypass_int.h), conn->byp.dir[] per direction.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>

#include "core/log.h"
#include "io/bypass.h"
#include "io/bypass_int.h"
#include "io/sockdiag.h"
/* loader/bypass.h, through the loader's include directory (see bypass.c). */
#include <bypass.h>

/* ---- Pure parts ---- */

/* Everything we wrote into our socket towards the receiver has been read by it? GRANT if so. */
static enum bypass_verdict bypass_probe_all(const struct bypass_probes *p)
{
	uint32_t q;

	if (p->outq(p->arg, &q) < 0 || q)
		return BYPASS_WAIT_OUTQ;
	if (p->rqueue(p->arg, &q) < 0)
		return BYPASS_WAIT_DIAG;
	return q ? BYPASS_WAIT_RQUEUE : BYPASS_GRANT;
}

enum bypass_verdict bypass_handover_decide(const struct bypass_dir_counts *n, uint32_t grant_mode,
					   const struct bypass_probes *p, uint32_t *target)
{
	bool probes;

	if (n->mode != BP_BYPASS_MODE_RELAY ||
	    (grant_mode != BP_BYPASS_MODE_INGRESS && grant_mode != BP_BYPASS_MODE_EGRESS))
		return BYPASS_NOTHING;
	probes = grant_mode == BP_BYPASS_MODE_INGRESS && !n->tail &&
		 (n->relayed || n->passed || n->egressed || n->redirected);
	if (probes && n->tail_ok) {
		enum bypass_verdict v = bypass_probe_all(p);

		return v == BYPASS_GRANT ? BYPASS_TAIL : v;
	}
	if (n->pending)
		return BYPASS_WAIT_PENDING;
	if (n->passed != n->relayed)
		return BYPASS_WAIT_COUNT;
	if (probes) {
		enum bypass_verdict v = bypass_probe_all(p);

		if (v != BYPASS_GRANT)
			return v;
	}
	if (grant_mode == BP_BYPASS_MODE_INGRESS && n->unread_max && p->unread &&
	    (n->relayed || n->passed || n->egressed || n->redirected)) {
		uint64_t u;

		if (p->unread(p->arg, &u) < 0)
			return BYPASS_WAIT_DIAG;
		if (u > n->unread_max)
			return BYPASS_WAIT_UNREAD;
	}
	*target = grant_mode;
	return BYPASS_GRANT;
}

const char *bypass_verdict_name(enum bypass_verdict v)
{
	static const char *const names[] = { "grant", "pending", "count", "outq",
					     "rqueue", "diag",	  "tail",  "unread", "nothing" };

	return (unsigned)v < sizeof(names) / sizeof(names[0]) ? names[v] : "?";
}

/* ---- Probes of one attempt (ingress mode) ---- */

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

/* Redirected bytes the receiver keyed k has not read. 0, or -errno (not in bypass_ends). */
static int bypass_receiver_unread(const struct bp_bypass_key *k, uint64_t *bytes)
{
	struct bp_bypass_end r;
	int ret;

	ret = bp_bypass_end_get(bypass_run.b, k, &r);
	if (ret < 0)
		return ret;
	*bytes = r.ingress_in > r.ingress_read ? r.ingress_in - r.ingress_read : 0;
	return 0;
}

static int bypass_probe_unread(void *arg, uint64_t *bytes)
{
	const struct bypass_probe_ctx *p = arg;

	return bypass_receiver_unread(p->receiver, bytes);
}

static int bypass_diag_fd(uint64_t cookie)
{
	if (cookie == bypass_run.cookie[BYPASS_NS_HOST])
		return bypass_run.diag[BYPASS_NS_HOST];
	if (cookie == bypass_run.cookie[BYPASS_NS_GUEST])
		return bypass_run.diag[BYPASS_NS_GUEST];
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

	if (bypass_run.armed_ms && bypass_run.armed_ms <= due_ms)
		return; /* fires earlier (or fired, unread): that walk re-arms for the rest */
	delta = due_ms > now ? due_ms - now : 0;
	if (!delta)
		its.it_value.tv_nsec = 200000; /* due now: as soon as the loop comes back */
	else {
		its.it_value.tv_sec = (time_t)(delta / 1000);
		its.it_value.tv_nsec = (long)(delta % 1000) * 1000000L;
	}
	if (timerfd_settime(bypass_run.timerfd, 0, &its, NULL) < 0) {
		log_ratelimited(LOG_LVL_WARN, "BPF bypass: timerfd: %s", strerror(errno));
		return;
	}
	bypass_run.armed_ms = due_ms > now ? due_ms : now;
}

void bypass_queue(uint32_t idx, struct tcp_splice_conn *conn, uint64_t due_ms)
{
	if (!conn->byp.queued) {
		if (bypass_run.retry_count >= bypass_run.retry_cap)
			return; /* cannot happen: one entry per connection at most */
		bypass_run.retry[bypass_run.retry_count].idx = idx;
		bypass_run.retry[bypass_run.retry_count].gen = conn->gen;
		bypass_run.retry_count++;
		conn->byp.queued = true;
	}
	bypass_timer_arm(due_ms);
}

void bypass_timer_event(void)
{
	uint64_t expirations, now;
	unsigned i, count;

	if (!bypass_run.b)
		return;
	if (read(bypass_run.timerfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		debug("BPF bypass: timerfd read: %s", strerror(errno));
	bypass_run.armed_ms = 0;
	now = bypass_now_ms();
	/* Walk a copy: what is still waiting afterwards is queued again (and re-arms). */
	count = bypass_run.retry_count;
	memcpy(bypass_run.walk, bypass_run.retry, count * sizeof(*bypass_run.retry));
	bypass_run.retry_count = 0;
	for (i = 0; i < count; i++) {
		const struct bypass_retry r = bypass_run.walk[i];
		struct tcp_splice_conn *conn = tcp_splice_conn_get(bypass_run.splice, r.idx);
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
		/* Held relays, last: the relay may end the connection (the slot's generation then
		 * changes), and asks the hold hook again, which queues the next check itself. */
		for (d = 0; d < 2; d++) {
			conn = tcp_splice_conn_get(bypass_run.splice, r.idx);
			if (!conn || conn->gen != r.gen || !conn->dir[d].held)
				continue;
			tcp_splice_resume(bypass_run.splice, r.idx, r.gen, d);
		}
	}
}


/* ---- Hand-over ---- */

static const char *bypass_dir_name(int d)
{
	return d ? "s2c" : "c2s";
}

static const char *bypass_mode_name(uint32_t mode)
{
	if (mode == BP_BYPASS_MODE_INGRESS)
		return "ingress";
	return mode == BP_BYPASS_MODE_EGRESS ? "egress" : "relay";
}

/* A direction starts a hand-over episode on the relay: counters of the back-off reset. */
static void bypass_episode(struct tcp_splice_byp_dir *bd)
{
	bd->state = TCP_SPLICE_BYP_RELAY;
	bd->mode = BP_BYPASS_MODE_RELAY;
	bd->attempts = 0;
	bd->idle_tries = 0;
	bd->last_wait = BYPASS_GRANT;
	bd->delay_ms = BYPASS_RETRY_FIRST_MS;
}

static void bypass_count_wait(enum bypass_verdict v)
{
	switch (v) {
	case BYPASS_WAIT_PENDING:
		bypass_run.st.postponed_pending++;
		break;
	case BYPASS_WAIT_COUNT:
		bypass_run.st.postponed_count++;
		break;
	case BYPASS_WAIT_OUTQ:
		bypass_run.st.postponed_outq++;
		break;
	case BYPASS_WAIT_RQUEUE:
		bypass_run.st.postponed_rqueue++;
		break;
	case BYPASS_WAIT_UNREAD:
		bypass_run.st.postponed_unread++;
		break;
	default:
		bypass_run.st.postponed_diag++;
		break;
	}
}

/* The next delay of a back-off: first, then doubling up to max. */
static uint16_t bypass_backoff(uint16_t cur, uint16_t first, uint16_t max)
{
	if (!cur)
		return first;
	return cur * 2 > max ? max : (uint16_t)(cur * 2);
}

/* A hand-over postponed: count the reason, schedule the next attempt with back-off, or give
 * up. */
static void bypass_postpone(uint32_t idx, struct tcp_splice_conn *conn, int d,
			    enum bypass_verdict v, uint64_t now)
{
	struct tcp_splice_byp_dir *bd = &conn->byp.dir[d];

	bypass_count_wait(v);
	if (bd->attempts >= BYPASS_MAX_ATTEMPTS) {
		bypass_run.st.gave_up++;
		bd->state = TCP_SPLICE_BYP_GAVE_UP;
		bd->allow = conn->dir[d].relayed; /* re-armed only if it moves data */
		bd->retry_ms = now + BYPASS_REARM_MS;
		debug("BPF bypass %u: %s stays on the relay after %u attempts (last: %s)", idx,
		      bypass_dir_name(d), bd->attempts, bypass_verdict_name(v));
		return;
	}
	bd->last_wait = (uint8_t)v;
	bd->state = TCP_SPLICE_BYP_RETRY;
	bd->retry_ms = now + bd->delay_ms;
	bypass_queue(idx, conn, bd->retry_ms);
	bd->delay_ms = bypass_backoff(bd->delay_ms, BYPASS_RETRY_FIRST_MS, BYPASS_RETRY_MAX_MS);
}

/* Write the permission for target with the counts of e. 0, or -errno (logged). */
static int bypass_grant(uint32_t idx, struct tcp_splice_conn *conn, int d, uint32_t target,
			const struct bp_bypass_end *e)
{
	struct tcp_splice_byp_dir *bd = &conn->byp.dir[d];
	struct bp_bypass_ctl ctl;
	int ret;

	memset(&ctl, 0, sizeof(ctl));
	ctl.peer = conn->byp.key[!d];
	ctl.allow = e->passed;
	ctl.allow_egressed = e->egressed;
	ctl.budget = bypass_run.tails ? BYPASS_BUDGET / 2 : BYPASS_BUDGET;
	if (++bypass_run.gen == 0)
		bypass_run.gen = 1;
	ctl.gen = bypass_run.gen;
	ctl.flow_id = idx;
	ctl.target = target;
	ret = bp_bypass_ctl_set(bypass_run.b, &conn->byp.key[d], &ctl);
	if (ret < 0) {
		log_ratelimited(LOG_LVL_WARN, "BPF bypass: cannot write bypass_ctl: %s",
				strerror(-ret));
		return ret;
	}
	bypass_run.st.granted++;
	if (target == BP_BYPASS_MODE_EGRESS)
		bypass_run.st.granted_egress++;
	bd->ingress_ever |= target == BP_BYPASS_MODE_INGRESS;
	bd->state = TCP_SPLICE_BYP_GRANTED;
	bd->gen = ctl.gen;
	bd->target = (uint8_t)target;
	bd->allow = ctl.allow;
	bd->allow_egressed = ctl.allow_egressed;
	trace("BPF bypass %u: %s allowed %s after %llu + %llu bytes (gen %u)", idx,
	      bypass_dir_name(d), bypass_mode_name(target), (unsigned long long)ctl.allow,
	      (unsigned long long)ctl.allow_egressed, ctl.gen);
	return 0;
}

/* Is the tail of direction d still on? The program may have sent it back to TCP (budget, receiver
 * gone) during one of our writes since we last looked; only we switch it on again. */
static bool bypass_tail_still_on(struct tcp_splice_conn *conn, int d)
{
	struct tcp_splice_byp_dir *bd = &conn->byp.dir[d];
	struct bp_bypass_tail t;

	if (!bd->tail)
		return false;
	if (bp_bypass_tail_get(bypass_run.b, &conn->byp.key[!d], &t) < 0 ||
	    t.mode != BP_BYPASS_MODE_INGRESS) {
		bd->tail = false;
		bypass_run.st.tail_returned++;
	}
	return bd->tail;
}

/* Switch the tail of direction d on: our writes into sock[!d] go into the receiver's ingress
 * queue from the next one. Everything we wrote before has been read (the probes just said so),
 * and nothing is written between the probes and this. 0, or -errno (logged). */
static int bypass_tail_on(uint32_t idx, struct tcp_splice_conn *conn, int d)
{
	struct tcp_splice_byp_dir *bd = &conn->byp.dir[d];
	const struct bp_bypass_key *receiver = &conn->byp.key[!d];
	struct bp_bypass_tail t;
	int ret;

	if (!bd->tail_sock) {
		ret = bp_bypass_tail_sock_add(bypass_run.b, receiver, conn->sock[!d]);
		if (ret == -EOPNOTSUPP) {
			/* Only ESTABLISHED sockets go into a sockhash from user space: ours towards
			 * the receiver is in CLOSE_WAIT (the receiver shut its side). No tail for
			 * this direction: the hand-over without it still applies. */
			bd->no_tail = true;
			debug("BPF bypass %u: %s: no tail (our socket is not established)", idx,
			      bypass_dir_name(d));
			return ret;
		}
		if (ret < 0)
			goto fail;
		bd->tail_sock = true;
	}
	if (bp_bypass_tail_get(bypass_run.b, receiver, &t) < 0)
		memset(&t, 0, sizeof(t)); /* the first time: the program's counts start at 0 */
	t.budget = (uint64_t)BYPASS_BUDGET + BYPASS_TAIL_SLACK;
	t.mode = BP_BYPASS_MODE_INGRESS;
	t.flow_id = idx;
	ret = bp_bypass_tail_set(bypass_run.b, receiver, &t);
	if (ret < 0)
		goto fail;
	bd->tail = true;
	bd->ingress_ever = true;
	bypass_run.st.tails_on++;
	trace("BPF bypass %u: %s tail into the receiver on", idx, bypass_dir_name(d));
	return 0;
fail:
	log_ratelimited(LOG_LVL_WARN, "BPF bypass: cannot switch a tail on: %s", strerror(-ret));
	return ret;
}

/* One hand-over attempt for direction d on the relay, the sender's entry already read into e
 * (before any probe: the permission is for those counts). */
static void bypass_attempt_with(uint32_t idx, struct tcp_splice_conn *conn, int d,
				const struct bp_bypass_end *e)
{
	struct tcp_splice_byp_dir *bd = &conn->byp.dir[d];
	struct bypass_probe_ctx pc = { .our_sock = conn->sock[!d], .receiver = &conn->byp.key[!d] };
	struct bypass_probes probes = { bypass_probe_outq, bypass_probe_rqueue, &pc,
					bypass_probe_unread };
	const struct tcp_splice_dir *sd = &conn->dir[d];
	struct bypass_dir_counts n = {
		.pending = sd->pending,
		.relayed = sd->relayed,
		.passed = e->passed,
		.egressed = e->egressed,
		.redirected = e->redirected,
		.mode = e->mode,
		.tail_ok = bypass_run.tails && !bd->no_tail && sd->relayed >= BYPASS_TAIL_AFTER,
		.tail = bypass_run.tails && bypass_tail_still_on(conn, d),
		.unread_max = bypass_run.tails ? BYPASS_BUDGET / 4 : 0,
	};
	uint32_t target = BP_BYPASS_MODE_RELAY;
	enum bypass_verdict v;

	v = bypass_handover_decide(&n, bypass_run.grant_mode, &probes, &target);
	if (v == BYPASS_NOTHING)
		return;
	bypass_run.st.attempts++;
	bd->attempts++;
	if (v == BYPASS_TAIL) {
		if (bypass_tail_on(idx, conn, d) < 0) {
			if (!bd->no_tail) {
				bypass_postpone(idx, conn, d, BYPASS_WAIT_DIAG, bypass_now_ms());
				return;
			}
			n.tail_ok = false; /* decide as without tails: the probes just passed */
		} else {
			n.tail = true;
		}
		v = bypass_handover_decide(&n, bypass_run.grant_mode, &probes, &target);
	}
	if (v == BYPASS_GRANT && !bypass_grant(idx, conn, d, target, e))
		return;
	if (v == BYPASS_GRANT)
		v = BYPASS_WAIT_DIAG; /* the map refused: counted as such */
	bypass_postpone(idx, conn, d, v, bypass_now_ms());
}

void bypass_check_dir(uint32_t idx, struct tcp_splice_conn *conn, int d, bool from_timer)
{
	struct tcp_splice_byp_dir *bd = &conn->byp.dir[d];
	const struct tcp_splice_dir *sd = &conn->dir[d];
	struct bp_bypass_end e;

	if (!conn->byp.ends || conn->connecting || bd->state == TCP_SPLICE_BYP_NONE)
		return;
	if (sd->eof || sd->shut) {
		bd->state = TCP_SPLICE_BYP_NONE; /* finished: nothing more to hand over */
		return;
	}
	switch (bd->state) {
	case TCP_SPLICE_BYP_RETRY:
		/* Our side was behind the sender: the moment our relay just drained the
		 * direction (dir_idle) is the best chance to catch up with a sender that never
		 * pauses; the attempts of the episode still bound it. Otherwise the back-off
		 * decides. */
		if (from_timer)
			break;
		if ((bd->last_wait != BYPASS_WAIT_COUNT && bd->last_wait != BYPASS_WAIT_PENDING &&
		     bd->last_wait != BYPASS_WAIT_UNREAD) ||
		    bd->idle_tries >= BYPASS_IDLE_TRIES)
			return;
		bd->idle_tries++;
		if (bd->attempts)
			bd->attempts--; /* not one of the back-off's (counted again below) */
		break;
	case TCP_SPLICE_BYP_GAVE_UP:
		if (bypass_now_ms() < bd->retry_ms || sd->relayed == bd->allow)
			return;
		bypass_episode(bd); /* it carries data: worth another episode */
		break;
	default:
		break;
	}
	if (bp_bypass_end_get(bypass_run.b, &conn->byp.key[d], &e) < 0) {
		bd->state = TCP_SPLICE_BYP_NONE; /* the sender is gone (closed) */
		return;
	}
	if (bd->state == TCP_SPLICE_BYP_GRANTED && e.used_gen != bd->gen && e.passed == bd->allow &&
	    e.egressed == bd->allow_egressed)
		return; /* not used yet, still valid: the sender has not sent since */
	if (e.mode != BP_BYPASS_MODE_RELAY) {
		/* switched (or, after a return, switched again with a later permission) */
		if (bd->state != TCP_SPLICE_BYP_REDIRECT)
			trace("BPF bypass %u: %s is in %s", idx, bypass_dir_name(d),
			      bypass_mode_name(e.mode));
		bd->state = TCP_SPLICE_BYP_REDIRECT;
		bd->mode = (uint8_t)e.mode;
		return;
	}
	/* On the relay: GRANTED and stale (the sender sent before switching), or REDIRECT and
	 * returned since (the budget, a missing target): a new episode. */
	if (bd->state == TCP_SPLICE_BYP_GRANTED || bd->state == TCP_SPLICE_BYP_REDIRECT)
		bypass_episode(bd);
	bypass_attempt_with(idx, conn, d, &e);
}

void bypass_begin(uint32_t idx, struct tcp_splice_conn *conn, const struct bp_bypass_end e[2])
{
	int x;

	for (x = 0; x < 2; x++) {
		bypass_episode(&conn->byp.dir[x]);
		bypass_attempt_with(idx, conn, x, &e[x]);
	}
}

/* ---- Holding the relay ---- */

/*
 * bypass_hold() is the relay's hold hook: called before the relay writes its pipe of direction
 * d into sock[!d], towards the receiver R. Once anything was ever put into R's ingress queue
 * (bd->ingress_ever), a write over TCP would queue behind what R has not read of that queue, and
 * a receiver blocked in a TCP read (MSG_WAITALL, SO_RCVLOWAT: tcp_bpf hands such a read to plain
 * TCP, which is not woken by ingress data) would read the later bytes first. So, with read
 * tracking (bypass_run.tails):
 *   - the tail on (our writes go into R's ingress queue): hold while R's unread bytes plus our
 *     pipe would exceed BYPASS_BUDGET. That is the budget of the whole direction; the tail
 *     program's own check (BYPASS_BUDGET + BYPASS_TAIL_SLACK) then never sends a write of a
 *     healthy connection over TCP;
 *   - no tail: hold while R has unread ingress bytes at all, after trying to switch the tail on
 *     (bypass_tail_try()).
 * A held direction keeps its bytes in the pipe and stops reading its source (flow/tcp_splice.c),
 * so TCP's backpressure holds the sender, which may be the sender E itself, back from INGRESS
 * over its budget. The retry timer resumes it (tcp_splice_resume()), checked after
 * BYPASS_HOLD_FIRST_MS, doubling to BYPASS_HOLD_MAX_MS; the relay then asks again. Without read
 * tracking, nothing is held (unread bytes are not known).
 */

/* Switch the tail of direction d on now if the probes allow (everything we wrote into sock[!d]
 * has been read by the receiver); bd->tail says whether it is on. */
static void bypass_tail_try(uint32_t idx, struct tcp_splice_conn *conn, int d)
{
	struct tcp_splice_byp_dir *bd = &conn->byp.dir[d];
	struct bypass_probe_ctx pc = { .our_sock = conn->sock[!d], .receiver = &conn->byp.key[!d] };
	struct bypass_probes probes = { bypass_probe_outq, bypass_probe_rqueue, &pc, NULL };

	if (!bd->tail && !bd->no_tail && bypass_probe_all(&probes) == BYPASS_GRANT)
		bypass_tail_on(idx, conn, d);
}

bool bypass_hold(void *ctx, uint32_t idx, struct tcp_splice_conn *conn, int d)
{
	struct tcp_splice_byp_dir *bd = &conn->byp.dir[d];
	uint64_t unread;
	bool write;

	(void)ctx;
	if (!bypass_run.b || !bypass_run.tails || !conn->byp.ends || !bd->ingress_ever)
		return false;
	if (bypass_receiver_unread(&conn->byp.key[!d], &unread) < 0)
		return false; /* the receiver is gone: nothing of its queue to keep order with */
	if (unread && !bd->tail)
		bypass_tail_try(idx, conn, d);
	if (bd->tail) /* into its ingress queue: up to the budget */
		write = unread + conn->dir[d].pending <= BYPASS_BUDGET;
	else /* over TCP: only with nothing unread to overtake */
		write = !unread;
	if (write) {
		bd->hold_ms = 0;
		return false;
	}
	bd->hold_ms = bypass_backoff(bd->hold_ms, BYPASS_HOLD_FIRST_MS, BYPASS_HOLD_MAX_MS);
	bypass_run.st.held++;
	bypass_queue(idx, conn, bypass_now_ms() + bd->hold_ms);
	return true;
}
