/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fastpath.h - the daemon's side of the BPF fast path: start, keep configured, stop
 *
 * Glue between the daemon (struct config, the namespace of pasta, struct guest_state) and the
 * loader (loader/loader.h). pasta only: passt has no tap in a namespace of ours. main.c calls
 * fastpath_start() once, while still privileged, after the namespace and its tap exist;
 * fastpath_sync() after each round of frames from the tap (cheap: a comparison, and a map write
 * only when the guest's addresses changed); fastpath_stop() on every exit path.
 *
 * One fast path per process: the state is kept in fastpath.c.
 */
#ifndef BPASST_FASTPATH_H
#define BPASST_FASTPATH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bpasst_maps.h"
#include "core/config.h"
#include "core/guest.h"
#include "io/ns.h"

struct bp_loader;

/* fastpath_tap_config() echo argument: the host answers echo requests on its loopback. */
#define FASTPATH_HOST_ECHO4 (1u << 0)
#define FASTPATH_HOST_ECHO6 (1u << 1)

/* What the tap program answers for this configuration and guest (struct config + guest_state
 * -> struct bp_tap_config): the same answers as user/proto/arp.c and ndp.c. host_echo
 * (FASTPATH_HOST_ECHO*) says which families' echo requests to the gateway-mapped address get an
 * answer from the host (see fastpath.c); 0 leaves echo to the daemon. */
void fastpath_tap_config(const struct config *c, const struct guest_state *g, unsigned host_echo,
			 struct bp_tap_config *t);

/* Decide, load and attach (c->bpf: auto, on, off), and log the one line "BPF fast path: on (...)"
 * or "BPF fast path: off: <reason>" at info level. ns: pasta's namespace state (tap ifindex and
 * namespace fd), NULL in passt mode. run_uid/run_gid: the ids main will switch to when it drops
 * privileges ((uid_t)-1 / (gid_t)-1: it keeps them), to own the pins. Returns 0 (on, or off with
 * --bpf auto/off), or -1 when --bpf on and the fast path cannot be had (logged as an error: the
 * caller exits). */
int fastpath_start(const struct config *c, const struct ns_state *ns, const struct guest_state *g,
		   uid_t run_uid, gid_t run_gid);

/* Rewrite the program's configuration if the guest's addresses changed since the last call. */
void fastpath_sync(const struct config *c, const struct guest_state *g);

/* Log the counters, detach the program, unpin and close everything. Safe to call when the fast
 * path is off, twice, and from a forked child (does nothing there). */
void fastpath_stop(void);

/* The loader handle while the fast path is on (e.g. for the flow mirror), else NULL. */
struct bp_loader *fastpath_loader(void);

#endif /* BPASST_FASTPATH_H */
