/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bypass.h - the loopback bypass (--bpf-bypass) seen from the daemon: start, hand-over, stop
 *
 * pasta's TCP loopback forwards (-t from the host's loopback, -T from the namespace's) are
 * relayed by flow/tcp_splice.c. With --bpf-bypass and enough privilege, the BPF programs behind
 * loader/bypass.h let the client's and the server's own sockets send straight into each other's
 * receive queues (INGRESS, --bpf-bypass or =ingress) or straight into our socket towards the
 * peer (EGRESS, skipping the daemon, --bpf-bypass=egress), and this module decides, per
 * connection and direction, when that may start without reordering the stream. The protocol is
 * in the theories of operation of bypass.c (connections, map entries) and bypass_grant.c (the
 * policy, per direction).
 *
 * main.c: bypass_start() after tcp_splice_new() and fastpath_start(), before privileges are
 * dropped; EPOLL_KIND_BYPASS -> bypass_timer_event(); the 1 s timer -> bypass_tick();
 * bypass_stop() first thing in the exit path (before the splice table is freed). One bypass per
 * process: the state is kept in bypass.c.
 */
#ifndef BPASST_IO_BYPASS_H
#define BPASST_IO_BYPASS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "bpasst_bypass.h"
#include "core/config.h"
#include "flow/fwd_auto.h"
#include "flow/tcp_splice.h"
#include "io/ns.h"

#define BYPASS_RETRY_FIRST_MS 1 /* first retry of a postponed hand-over */
#define BYPASS_RETRY_MAX_MS 50 /* back-off cap */
#define BYPASS_MAX_ATTEMPTS 40 /* per direction and episode, then gave_up (about 1.5 s) */
/* Extra attempts per episode right after a relay round drained a direction whose sender (or
 * our pipe) was ahead of us (a sender that hardly pauses); not counted in BYPASS_MAX_ATTEMPTS. */
#define BYPASS_IDLE_TRIES 1024
#define BYPASS_REARM_MS 1000 /* a direction that gave up tries again after this, if it moved data */
#define BYPASS_ENDS_TRIES 6 /* looks for the server's endpoint (1, 2, 4, ... ms apart) */

/* Decide (c->bpf_bypass, pasta, c->bpf not off, a TCP splice table with forwards), start the
 * programs (loader/bypass.h), register our loopback listeners and install the splice hooks.
 * Logs one line at info level: "BPF bypass: on (...)" or "BPF bypass: off: <reason>". Returns 0
 * (on, or off with --bpf auto), or -1 when --bpf on and the bypass was asked for but cannot be
 * had (logged as an error: the caller exits). Nothing is done without --bpf-bypass. */
int bypass_start(const struct config *c, const struct ns_state *ns, struct tcp_splice *s,
		 int epollfd, uid_t run_uid, gid_t run_gid);

/* EPOLL_KIND_BYPASS: the retry timer expired. */
void bypass_timer_event(void);

/* From the 1 s timer: refresh each bypassed direction's state, re-arm directions that gave up,
 * recount bypassed_now and relayed_c2s / relayed_s2c, write struct bp_bypass_daemon_stats to its
 * map if it changed. */
void bypass_tick(void);

/* Remove every map entry of live connections, unhook, log the counters, detach and unpin. Safe
 * when off, twice, and in a forked child (does nothing there). */
void bypass_stop(void);

/* Is the bypass on? */
bool bypass_active(void);
/* fwd_auto_tcp_fn for pasta's "auto" forwards (main.c: fwd_auto_set_tcp_hook() once the bypass
 * is on): a -t auto listener on the host registers the host's 127.0.0.1 or ::1 at that port in
 * bypass_listen, a -T auto one the namespace's; a closed one is unregistered. Nothing when the
 * bypass is off. */
void bypass_auto_listener(void *arg, enum fwd_auto_dir_id dir, int af, uint16_t port, bool added);

/* ---- Pure parts, exported for the unit tests ---- */

/* The outcome of one hand-over attempt for one direction. */
enum bypass_verdict {
	BYPASS_GRANT = 0, /* write the permission (for the target decided) */
	BYPASS_WAIT_PENDING, /* our pipe still holds bytes of the direction */
	BYPASS_WAIT_COUNT, /* the sender sent more than we relayed (in flight towards us) */
	BYPASS_WAIT_OUTQ, /* our socket towards the receiver has unacknowledged bytes */
	BYPASS_WAIT_RQUEUE, /* the receiver has not read everything */
	BYPASS_WAIT_DIAG, /* the receiver's queue could not be read (sock_diag failed) */
	BYPASS_TAIL, /* switch our relay's tail into the receiver on, then decide again */
	BYPASS_WAIT_UNREAD, /* the receiver has too much redirected data unread */
	BYPASS_NOTHING, /* nothing to attempt: the sender is not on the relay (INGRESS or EGRESS
			 * already: there are no upgrades), or no mode may be granted */
};

/* The two queries that cost a syscall, asked only for INGRESS and only when the cheap checks
 * passed and something was sent, in this order. Each returns 0 and the byte count, or -errno. */
struct bypass_probes {
	int (*outq)(void *arg, uint32_t *bytes); /* SIOCOUTQ of our socket towards the receiver */
	int (*rqueue)(void *arg, uint32_t *bytes); /* the receiver's idiag_rqueue */
	void *arg;
	/* Redirected bytes the receiver has not read (its ingress_in - ingress_read); NULL: not
	 * asked. Asked last, only for INGRESS with something sent and unread_max set. */
	int (*unread)(void *arg, uint64_t *bytes);
};

/* What one attempt looks at: ours (pending = bytes in our pipe, relayed = bytes we wrote to the
 * receiver's side) and the sender's bp_bypass_end as read just before (passed, egressed,
 * redirected, mode). */
struct bypass_dir_counts {
	uint32_t pending;
	uint64_t relayed;
	uint64_t passed;
	uint64_t egressed;
	uint64_t redirected;
	uint32_t mode; /* enum bp_bypass_mode */
	bool tail_ok; /* tails may be used (the receive hook counts what receivers read) */
	bool tail; /* our relay's tail into the receiver is on */
	uint64_t unread_max; /* INGRESS waits while the receiver has more unread; 0: no check */
};

/* The hand-over rule for one direction. grant_mode: the only mode the daemon grants,
 * BP_BYPASS_MODE_INGRESS (--bpf-bypass, =ingress) or BP_BYPASS_MODE_EGRESS (=egress).
 *   mode not RELAY, or grant_mode neither: NOTHING (no probe);
 *   pending != 0 -> WAIT_PENDING; passed != relayed -> WAIT_COUNT (no probe);
 *   EGRESS: GRANT, no probe (egress data queues behind what we relayed into our socket);
 *   INGRESS: GRANT without probe when nothing was ever sent (relayed, passed, egressed and
 *     redirected all 0) or when the tail is on; else the probes: outq != 0 (or failing) ->
 *     WAIT_OUTQ, then rqueue failing -> WAIT_DIAG, != 0 -> WAIT_RQUEUE, else GRANT.
 *   With tail_ok, an INGRESS direction that needs the probes and has no tail asks them first,
 *     before pending and the counts (only our writes must have been read for the tail), and
 *     on success returns TAIL: the caller switches the tail on and decides again with tail set.
 *   Last, for INGRESS with something sent and unread_max set: unread failing -> WAIT_DIAG,
 *     > unread_max -> WAIT_UNREAD (a sender granted now would be back over its budget at once).
 * *target is written (= grant_mode) on GRANT only. */
enum bypass_verdict bypass_handover_decide(const struct bypass_dir_counts *n, uint32_t grant_mode,
					   const struct bypass_probes *p, uint32_t *target);

const char *bypass_verdict_name(enum bypass_verdict v);

/* An endpoint's key from what it sees as its own address (local) and its peer's (remote): the
 * other way round from our socket's getpeername()/getsockname(). IPv4-mapped IPv6 addresses
 * become AF_INET keys. 0, or -EAFNOSUPPORT. */
int bypass_key_from_addrs(struct bp_bypass_key *k, uint64_t netns_cookie,
			  const struct sockaddr *local, const struct sockaddr *remote);

#endif /* BPASST_IO_BYPASS_H */
