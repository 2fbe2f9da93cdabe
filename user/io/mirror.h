/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mirror.h - the daemon's flows, copied once a second into the pinned flow_mirror map
 *
 * With the BPF fast path on, main.c calls mirror_tick() from its 1 s timer; it walks the flow
 * tables (read-only: tcp_flow_foreach(), udp_flow_foreach(), ping_flow_foreach(), and pasta's
 * spliced TCP connections through tcp_splice_conn_at()), writes the entry of every flow that is
 * new or changed, and deletes the entries of flows that ended since the last walk. Nothing else
 * touches the map: never a syscall per packet. See mirror.c and docs/bpf.md.
 *
 * Flow ids (the map's key), one range per table, in this order:
 *   [0, MIRROR_UDP_BASE)                       TCP flow slot
 *   [MIRROR_UDP_BASE, MIRROR_SPLICE_BASE)      MIRROR_UDP_BASE + UDP flow slot
 *   [MIRROR_SPLICE_BASE, MIRROR_PING_BASE)     MIRROR_SPLICE_BASE + spliced connection slot
 *                                              (BP_FLOW_F_SPLICED, and BP_FLOW_F_BYPASS_* per
 *                                              direction handed over to the loopback bypass)
 *   [MIRROR_PING_BASE, MIRROR_FLOW_IDS)        MIRROR_PING_BASE + ICMP echo flow slot
 * fastpath_start() sizes the map for MIRROR_FLOW_IDS entries.
 */
#ifndef BPASST_MIRROR_H
#define BPASST_MIRROR_H

#include "flow/ping.h"
#include "flow/tcp.h"
#include "flow/tcp_splice.h"
#include "flow/udp.h"

#define MIRROR_UDP_BASE TCP_FLOWS_DEFAULT /* flow id of UDP slot 0 */
#define MIRROR_SPLICE_BASE (MIRROR_UDP_BASE + UDP_FLOWS_DEFAULT) /* spliced connection 0 */
#define MIRROR_PING_BASE (MIRROR_SPLICE_BASE + TCP_SPLICE_CONNS_DEFAULT) /* echo flow 0 */
#define MIRROR_FLOW_IDS (MIRROR_PING_BASE + PING_FLOWS_DEFAULT)

/* One walk over the tables (any may be NULL), if the fast path is on and the previous walk
 * was not in the last MIRROR_MIN_INTERVAL_MS. Cheap when nothing changed: no syscall. */
void mirror_tick(const struct tcp_ctx *t, const struct udp_ctx *u, const struct tcp_splice *sp,
		 const struct ping_table *p);

#endif /* BPASST_MIRROR_H */
