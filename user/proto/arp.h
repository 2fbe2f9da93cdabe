/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * arp.h - the ARP responder (floor 2)
 *
 * We are the only other host on the guest's link: every IPv4 address but the guest's own is
 * reached through us, so we answer ARP requests for all of them with our MAC (proxy ARP for the
 * whole Internet). The reply layout is shared byte for byte with the BPF fast path; see the
 * comment at the top of arp.c.
 */
#ifndef BPASST_ARP_H
#define BPASST_ARP_H

#include "core/batch.h"
#include "core/config.h"
#include "core/guest.h"
#include "core/packet.h"

/* Length of the ARP reply frame we build: Ethernet header + 28-byte ARP body, not padded. */
#define ARP_REPLY_LEN (BP_ETH_HLEN + 28)

/* Handle one parsed frame from the guest. Returns 0 if it is not ARP (not ours); 1 if it is ARP,
 * answered (one reply appended to out) or deliberately ignored (replies, gratuitous ARP, probes
 * and requests for the guest's own address, malformed bodies). Learns nothing: the dispatcher
 * learns the guest's MAC. */
int arp_recv(const struct config *c, struct guest_state *g, const struct frame *f,
	     struct frame_batch *out);

#endif /* BPASST_ARP_H */
