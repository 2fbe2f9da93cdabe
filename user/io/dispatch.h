/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dispatch.h - hands each frame read from the guest to the floor that handles it
 *
 * The edges (io/tap.c for pasta, io/stream.c for passt) read frames in batches and call
 * dispatch_frame() for each. It parses the frame once (core/packet.h), learns the guest's MAC and
 * addresses, and calls the service (floor 2: ARP, NDP, DHCP, DHCPv6) or the translator (floor 3:
 * ping, later TCP/UDP) by EtherType and protocol. Answers are appended to d->out; the edge that
 * called flushes that batch once its read batch is done.
 */
#ifndef BPASST_DISPATCH_H
#define BPASST_DISPATCH_H

#include <stddef.h>

#include "core/batch.h"
#include "core/config.h"
#include "core/guest.h"

struct ping_table;
struct udp_ctx;
struct tcp_ctx;

struct dispatch_ctx {
	const struct config *c;
	struct guest_state *guest;
	struct frame_batch *out; /* answers to the guest */
	int epollfd; /* where translators register their sockets */
	struct ping_table *ping; /* ICMP/ICMPv6 echo flows (flow/ping.h) */
	struct udp_ctx *udp; /* UDP flows (flow/udp.h), or NULL: UDP not translated */
	struct tcp_ctx *tcp; /* TCP flows (flow/tcp.h), or NULL */
	unsigned long frames_in, frames_malformed, frames_unhandled;
};

/* Handle one frame sent by the guest. Never writes to the guest-facing fd. */
void dispatch_frame(struct dispatch_ctx *d, const void *buf, size_t len);

#endif /* BPASST_DISPATCH_H */
