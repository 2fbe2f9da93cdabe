/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mirror.h - the daemon's TCP and UDP flows, copied once a second into the pinned flow_mirror map
 *
 * With the BPF fast path on, main.c calls mirror_tick() from its 1 s timer; it walks both flow
 * tables (read-only, through tcp_flow_foreach() and udp_flow_foreach()), writes the entry of
 * every flow that is new or changed, and deletes the entries of flows that ended since the last
 * walk. Nothing else touches the map: never a syscall per packet. See mirror.c and docs/bpf.md.
 *
 * Flow ids (the map's key): a TCP flow's slot index, in [0, MIRROR_UDP_BASE); a UDP flow's slot
 * index plus MIRROR_UDP_BASE. fastpath_start() sizes the map for MIRROR_FLOW_IDS entries.
 */
#ifndef BPASST_MIRROR_H
#define BPASST_MIRROR_H

#include "flow/tcp.h"
#include "flow/udp.h"

#define MIRROR_UDP_BASE TCP_FLOWS_DEFAULT /* flow id of UDP slot 0 */
#define MIRROR_FLOW_IDS (TCP_FLOWS_DEFAULT + UDP_FLOWS_DEFAULT)

/* One walk over both tables (either may be NULL), if the fast path is on and the previous walk
 * was not in the last MIRROR_MIN_INTERVAL_MS. Cheap when nothing changed: no syscall. */
void mirror_tick(const struct tcp_ctx *t, const struct udp_ctx *u);

#endif /* BPASST_MIRROR_H */
