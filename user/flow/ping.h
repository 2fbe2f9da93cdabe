/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ping.h - ICMP/ICMPv6 echo: the guest's pings, sent from unprivileged ping sockets
 *
 * A flow is one (family, guest echo identifier, destination) triple with its own
 * SOCK_DGRAM/IPPROTO_ICMP(V6) socket, kept in a fixed table sized at start-up. The guest's echo
 * requests go out through the flow's socket; replies read from it are rebuilt as frames to the
 * guest (source: the address the guest pinged, identifier: the guest's own). Flows idle for
 * PING_IDLE_SEC are closed by ping_expire() (called from the 1 s timer).
 */
#ifndef BPASST_PING_H
#define BPASST_PING_H

#include <stdint.h>
#include <time.h>

#include "core/batch.h"
#include "core/config.h"
#include "core/guest.h"
#include "core/packet.h"
#include "flow/flow_view.h"

#define PING_FLOWS_DEFAULT 128
#define PING_IDLE_SEC 60

struct ping_table;

/* Allocate a table of max_flows flows (done once at start-up). NULL on allocation failure. */
struct ping_table *ping_table_new(unsigned max_flows);
/* Close every flow's socket and free the table. */
void ping_table_free(struct ping_table *t);

/* A frame from the guest: if it is an ICMP/ICMPv6 echo request, send it through its flow's ping
 * socket (opened and registered in epollfd as EPOLL_KIND_PING on first use) and return 1; return 0
 * if it is not an echo request (the caller handles or ignores it). */
int ping_recv_guest(struct ping_table *t, const struct config *c, int epollfd,
		    const struct frame *f);

/* The socket of flow `index` is readable: read the replies and append them to out as frames to
 * the guest. */
void ping_sock_ready(struct ping_table *t, const struct config *c, const struct guest_state *g,
		     uint32_t index, struct frame_batch *out);

/* Close flows idle for PING_IDLE_SEC or more (now: CLOCK_MONOTONIC seconds). */
void ping_expire(struct ping_table *t, time_t now);

/* Number of open flows (for tests and the debug log). */
unsigned ping_flow_count(const struct ping_table *t);
/* Slots in the table (flow indexes are below it); 0 for NULL. */
unsigned ping_table_size(const struct ping_table *t);

/* Call fn for each open flow with a read-only view (flow/flow_view.h): proto IPPROTO_ICMP or
 * IPPROTO_ICMPV6, state established, the guest's address and the address it pinged, the guest's
 * echo identifier as both ports, the flow's ping socket; no byte counts (0). t may be NULL. */
void ping_flow_foreach(const struct ping_table *t, flow_view_fn fn, void *arg);

#endif /* BPASST_PING_H */
