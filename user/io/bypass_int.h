/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bypass_int.h - private to user/io/bypass.c and user/io/bypass_grant.c
 *
 * The loopback bypass's daemon side is two files along one seam:
 *   bypass.c        start and stop, listener registration, the splice hooks (a connection's map
 *                   entries, from offering it to closing it), the 1 s tick and the counters;
 *   bypass_grant.c  what happens per direction once both endpoints are known: the hand-over
 *                   policy (which mode may be granted, and when), the permissions, the retry
 *                   list with its timerfd and back-off.
 * Both share the one state of the running bypass, struct bypass_state (bypass_run), defined in
 * bypass.c. Nothing here is for other modules: their interface is io/bypass.h.
 */
#ifndef BPASST_IO_BYPASS_INT_H
#define BPASST_IO_BYPASS_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bpasst_bypass.h"
#include "flow/tcp_splice.h"

/* The unread redirected bytes a receiver may be made to hold, per direction (ctl.budget). A
 * build may override it (-DBYPASS_BUDGET=...) for measurements. */
#ifndef BYPASS_BUDGET
#define BYPASS_BUDGET BP_BYPASS_BUDGET_DEFAULT
#endif
/* The tail program's own budget is BYPASS_BUDGET plus this: the daemon holds its relay before
 * a write would take the receiver past BYPASS_BUDGET (bypass_hold()), so the program's check is
 * only a safety net, never what limits a healthy connection (which would send our writes over
 * TCP behind unread ingress data). One relay write at most: a grown pipe. */
#define BYPASS_TAIL_SLACK (TCP_SPLICE_PIPE_SIZE * 2u)
/* A direction uses the relay's tail only once our relay carried this much of it: the tail costs
 * a sockhash insertion and three map operations, which short request/response connections,
 * handed over at their first pause anyway, do not need. */
#define BYPASS_TAIL_AFTER (256u * 1024)
#define BYPASS_HOLD_FIRST_MS 1 /* first check of a held relay */
#define BYPASS_HOLD_MAX_MS 20 /* back-off cap of those checks */

enum { BYPASS_NS_HOST = 0, BYPASS_NS_GUEST = 1 };

struct bypass_retry {
	uint32_t idx; /* connection slot */
	uint32_t gen; /* its generation when queued */
};

struct bp_bypass;

/* The running bypass (one per process). */
struct bypass_state {
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
	uint32_t gen; /* of the last permission written */
	unsigned listen_count;
	struct bp_bypass_daemon_stats st, st_written;
	uint64_t ends_kept; /* endpoints left to the program at a clean close (unread data) */
	uint64_t relayed_closed[2]; /* relayed bytes of closed offered connections, per direction */
	uint32_t grant_mode; /* the only mode granted: BP_BYPASS_MODE_INGRESS or _EGRESS */
	bool tails; /* the relay's tails may be used (ingress mode with the receive hook) */
};

extern struct bypass_state bypass_run;

/* CLOCK_MONOTONIC in ms. */
uint64_t bypass_now_ms(void);

/* bypass.c: are both endpoints of conn in bypass_ends? Starts both directions (bypass_begin())
 * when they are, queues another look, or leaves the connection to the splice path. */
void bypass_find_ends(uint32_t idx, struct tcp_splice_conn *conn);

/* bypass_grant.c */
/* Put conn on the retry list (once), the timer armed for due_ms at the latest. */
void bypass_queue(uint32_t idx, struct tcp_splice_conn *conn, uint64_t due_ms);
/* Both endpoints were found (their entries in e[]): first hand-over attempt of each direction. */
void bypass_begin(uint32_t idx, struct tcp_splice_conn *conn, const struct bp_bypass_end e[2]);
/* Look at direction d and act on what its sender's entry says. from_timer: a due retry. */
void bypass_check_dir(uint32_t idx, struct tcp_splice_conn *conn, int d, bool from_timer);
/* The relay's hold hook (struct tcp_splice_hooks): see bypass_grant.c. */
bool bypass_hold(void *ctx, uint32_t idx, struct tcp_splice_conn *conn, int d);

#endif /* BPASST_IO_BYPASS_INT_H */
