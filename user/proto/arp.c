// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * arp.c - the ARP responder
 *
 * Theory of operation: the guest (or the namespace) sits on a point-to-point link whose only
 * other end is us. Whatever IPv4 address it wants to reach, other than its own, is reached
 * through us, so we answer every ARP request with our MAC, except:
 *   - requests for the guest's own address (c->ip4.addr): an address conflict probe, or the
 *     guest asking about itself;
 *   - gratuitous ARP (sender address == target address): an announcement, not a question;
 *   - ARP probes (sender address 0.0.0.0, RFC 5227) unless the target is the gateway: a probe
 *     is the guest checking that an address it wants to take is free, and the only addresses on
 *     this link that are really taken are the ones we use as its router;
 *   - targets that no host can own (0.0.0.0, multicast, limited broadcast), and requests whose
 *     sender hardware address is zero or multicast (there is nobody to answer to).
 * Everything that is not an Ethernet/IPv4 request (replies, other hardware or protocol types) is
 * ignored. No state is kept; the dispatcher learns the guest's MAC from the frame.
 *
 * Reply frame, byte for byte the same as the BPF fast path builds (42 bytes, not padded to the
 * 60-byte Ethernet minimum: the tap device and the qemu socket carry short frames as they are):
 *   Ethernet  dst = requester's sender hardware address (sha), src = c->our_mac, type 0x0806
 *   ARP       htype 1, ptype 0x0800, hlen 6, plen 4, op 2 (reply)
 *             sha = c->our_mac, spa = the requested target address (tpa),
 *             tha = requester's sha, tpa = requester's sender address (spa)
 *
 * Data path: dispatcher -> arp_recv(parsed frame) -> one frame appended to the batch -> the edge
 * writes the batch.
 */
#include <string.h>
#include <arpa/inet.h>

#include "core/log.h"
#include "proto/arp.h"

/* An IPv4 address (network order, as four bytes) that no host can own. */
static bool arp_addr_unowned(const uint8_t a[4])
{
	if (!a[0] && !a[1] && !a[2] && !a[3])
		return true; /* 0.0.0.0 */
	if ((a[0] & 0xf0) == 0xe0)
		return true; /* 224.0.0.0/4 multicast */
	return a[0] == 0xff && a[1] == 0xff && a[2] == 0xff && a[3] == 0xff;
}

static bool arp_addr_eq(const uint8_t a[4], struct in_addr b)
{
	return !memcmp(a, &b.s_addr, 4);
}

int arp_recv(const struct config *c, struct guest_state *g, const struct frame *f,
	     struct frame_batch *out)
{
	const struct bp_arp_eth_ip4 *req;
	struct bp_arp_eth_ip4 *rep;
	struct frame_builder fb;
	bool probe;

	(void)g;
	if (f->l3_kind != FRAME_L3_ARP)
		return 0;

	req = PKT_AT(&f->l3, 0, struct bp_arp_eth_ip4);
	if (!req) {
		debug("ARP: body too short (%zu bytes), ignored", f->l3.len);
		return 1;
	}
	if (ntohs(req->htype) != BP_ARPHRD_ETHER || ntohs(req->ptype) != BP_ETH_P_IP ||
	    req->hlen != BP_ETH_ALEN || req->plen != 4) {
		debug("ARP: not Ethernet/IPv4 (htype %u ptype 0x%04x hlen %u plen %u), ignored",
		      ntohs(req->htype), ntohs(req->ptype), req->hlen, req->plen);
		return 1;
	}
	if (ntohs(req->op) != BP_ARPOP_REQUEST)
		return 1;
	if ((req->sha[0] & 1) || mac_is_zero(req->sha)) {
		debug("ARP: request from a multicast or zero hardware address, ignored");
		return 1;
	}
	if (!c->ip4.enabled)
		return 1;

	if (!memcmp(req->spa, req->tpa, 4)) {
		trace("ARP: gratuitous ARP, ignored");
		return 1;
	}
	if (arp_addr_eq(req->tpa, c->ip4.addr)) {
		trace("ARP: request for the guest's own address, ignored");
		return 1;
	}
	if (arp_addr_unowned(req->tpa)) {
		debug("ARP: request for an address no host owns, ignored");
		return 1;
	}
	probe = !req->spa[0] && !req->spa[1] && !req->spa[2] && !req->spa[3];
	if (probe && !(c->ip4.have_gw && arp_addr_eq(req->tpa, c->ip4.gw))) {
		trace("ARP: probe for an address the guest may take, ignored");
		return 1;
	}

	fb = batch_next(out);
	eth_push(&fb, req->sha, c->our_mac, BP_ETH_P_ARP);
	rep = fb_put(&fb, sizeof(*rep));
	if (rep) {
		rep->htype = htons(BP_ARPHRD_ETHER);
		rep->ptype = htons(BP_ETH_P_IP);
		rep->hlen = BP_ETH_ALEN;
		rep->plen = 4;
		rep->op = htons(BP_ARPOP_REPLY);
		memcpy(rep->sha, c->our_mac, BP_ETH_ALEN);
		memcpy(rep->spa, req->tpa, 4);
		memcpy(rep->tha, req->sha, BP_ETH_ALEN);
		memcpy(rep->tpa, req->spa, 4);
	}
	/* Committed even when the builder overflowed: the batch counts the drop. */
	if (!batch_commit(out, &fb))
		debug("ARP: no room for the reply in the batch, dropped");
	return 1;
}
