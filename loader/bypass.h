/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bypass.h - the loopback bypass's BPF side (--bpf-bypass) as seen from the daemon and the tests
 *
 * Everything libbpf for the bypass lives behind this header (loader/bypass.c over the skeleton of
 * bpf/bypass.bpf.c); the map layouts are in include/bpasst_bypass.h.
 *
 * Life cycle: bp_bypass_start() while privileged (CAP_BPF + CAP_NET_ADMIN + CAP_PERFMON, or
 * CAP_SYS_ADMIN): load, attach the sock_ops program to the cgroup v2 hierarchy's root (found
 * in /proc/self/mountinfo, never assumed), attach the sk_msg programs to the sockhashes, attach the
 * receive hook (fexit on the kernel's sk_msg receive function; optional: without it the budget
 * counts every redirected byte as unread, so a direction returns to the relay after `budget`
 * bytes and must be handed over again), pin the maps in <bpffs>/bpasst/<instance>/ (the same
 * directory as the tap program's maps; created if needed). It returns a handle, or NULL when the
 * bypass is off, and always writes one line:
 *   "BPF bypass: on (sock_ops on cgroup <path>, maps in <dir>, receive hook: <hook>)",
 *   "BPF bypass: on (sock_ops on cgroup <path>, maps in <dir>, no receive hook: <why>)"  or
 *   "BPF bypass: off: <reason>"
 * (<hook>: "fexit __sk_msg_recvmsg", "fexit sk_msg_recvmsg" or "tracepoint sock_recv_length",
 * the first that loads and attaches). With the tap fast path too, call bp_loader_start() first
 * (the bypass joins its pin directory; the tap loader would refuse a directory the bypass made)
 * and bp_bypass_stop() before bp_loader_stop(). The *_del functions return 0 when there was
 * nothing to delete.
 * The programs' links are not pinned: they go away with the daemon's descriptors, so a killed
 * daemon leaves no program acting on the machine's sockets.
 */
#ifndef BPASST_LOADER_BYPASS_H
#define BPASST_LOADER_BYPASS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpasst_bypass.h"

struct bp_bypass_params {
	char instance[64]; /* pin directory name; "": our PID */
	uint32_t pin_uid; /* BP_LOADER_NO_CHOWN (UINT32_MAX) or the pins' owner */
	uint32_t pin_gid;
	uint32_t verbose; /* non-zero: libbpf's messages to stderr */
	uint32_t max_conns; /* size of the hash maps in connections (2 ends each); 0: 4096 */
	char cgroup_path[256]; /* "" : the root of the cgroup v2 hierarchy */
};

struct bp_bypass;

struct bp_bypass *bp_bypass_start(const struct bp_bypass_params *p, char *line, size_t line_len);
/* Detach, unpin the bypass maps (the directory goes if empty), free. NULL allowed. */
void bp_bypass_stop(struct bp_bypass *b);

/* true when the receive hook is attached (the budget then counts unread bytes exactly) */
bool bp_bypass_read_tracking(const struct bp_bypass *b);

/* All return 0 or -errno. */
int bp_bypass_listen_add(struct bp_bypass *b, const struct bp_bypass_listen *k);
int bp_bypass_listen_del(struct bp_bypass *b, const struct bp_bypass_listen *k);
int bp_bypass_expect_add(struct bp_bypass *b, const struct bp_bypass_key *server, uint32_t flow_id);
int bp_bypass_expect_del(struct bp_bypass *b, const struct bp_bypass_key *server);
/* Our B's socket cookie (getsockopt SO_COOKIE), before B connects: the sock_ops program turns it
 * into the bypass_expect entry of the server endpoint when B becomes established. _del is for the
 * failure paths (the program deletes the entry it used). */
int bp_bypass_expect_cookie_add(struct bp_bypass *b, uint64_t cookie, uint32_t flow_id);
int bp_bypass_expect_cookie_del(struct bp_bypass *b, uint64_t cookie);
/* Egress target of a sender endpoint: our socket towards its peer (C's key -> B, S's key -> A),
 * by descriptor (bpf_map_update_elem on the sockhash bypass_out). A closed socket leaves the map
 * by itself; _del returns 0 when there was nothing to delete. */
int bp_bypass_out_add(struct bp_bypass *b, const struct bp_bypass_key *sender, int our_fd);
int bp_bypass_out_del(struct bp_bypass *b, const struct bp_bypass_key *sender);
/* The relay's tail into a receiving endpoint (struct bp_bypass_tail in include/bpasst_bypass.h):
 * our socket towards it goes into bypass_tailsock by descriptor (once: a closed socket leaves
 * the map by itself), and its bypass_tail entry says whether our writes are redirected into the
 * receiver's ingress queue. _get: -ENOENT when there is no entry. _del removes both. */
int bp_bypass_tail_sock_add(struct bp_bypass *b, const struct bp_bypass_key *receiver, int our_fd);
int bp_bypass_tail_set(struct bp_bypass *b, const struct bp_bypass_key *receiver,
		       const struct bp_bypass_tail *tail);
int bp_bypass_tail_get(const struct bp_bypass *b, const struct bp_bypass_key *receiver,
		       struct bp_bypass_tail *out);
int bp_bypass_tail_del(struct bp_bypass *b, const struct bp_bypass_key *receiver);
/* -ENOENT when the endpoint is not (or no longer) in bypass_ends */
int bp_bypass_end_get(const struct bp_bypass *b, const struct bp_bypass_key *k,
		      struct bp_bypass_end *out);
/* Remove an endpoint entry and its socket from the maps (a connection we ended), and its egress
 * target from bypass_out. */
int bp_bypass_end_del(struct bp_bypass *b, const struct bp_bypass_key *k);
/* The same for an endpoint whose entry the caller just read (end: no second lookup), and
 * without the bypass_out delete unless out (only egress mode fills bypass_out). */
int bp_bypass_end_forget(struct bp_bypass *b, const struct bp_bypass_key *k,
			 const struct bp_bypass_end *end, bool out);
int bp_bypass_ctl_set(struct bp_bypass *b, const struct bp_bypass_key *sender,
		      const struct bp_bypass_ctl *ctl);
int bp_bypass_ctl_del(struct bp_bypass *b, const struct bp_bypass_key *sender);
int bp_bypass_counters(const struct bp_bypass *b, struct bp_bypass_counters *sum);
int bp_bypass_daemon_stats_set(struct bp_bypass *b, const struct bp_bypass_daemon_stats *s);
const char *bp_bypass_pin_dir(const struct bp_bypass *b);

#endif /* BPASST_LOADER_BYPASS_H */
