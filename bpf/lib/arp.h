/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * arp.h - the ARP answerer of the tap program
 *
 * The namespace's only neighbour is us: every IPv4 address other than the guest's own is reached
 * through us, so a request for any of them gets our MAC. The rules and the reply layout are the
 * answer contract in include/bpasst_maps.h, the same as user/proto/arp.c: a request is answered
 * unless its sender hardware address is zero or multicast, it is an announcement (sender address
 * == target), it asks for the guest's address or for an address no host owns, or it is a probe
 * (sender 0.0.0.0) for anything but the gateway. Anything else is left to the daemon.
 *
 * The reply (42 bytes) is built on the stack and replaces the request: the frame is resized to
 * 42 bytes (dropping any Ethernet padding) and overwritten in one store.
 */
#ifndef BPASST_BPF_ARP_H
#define BPASST_BPF_ARP_H

#include "lib/parse.h"
#include "lib/verdict.h"

struct bp_arp_frame {
	struct bp_eth_hdr eth;
	struct bp_arp_eth_ip4 arp;
} __attribute__((packed));
_Static_assert(sizeof(struct bp_arp_frame) == 42, "ARP frame layout");

/* An IPv4 address (as four bytes) that no host can own: 0.0.0.0, multicast, broadcast. */
static __always_inline int bp_addr4_unowned(const __u8 *a)
{
	if (bp_addr4_is_zero(a))
		return 1;
	if ((a[0] & 0xf0) == 0xe0)
		return 1;
	return a[0] == 0xff && a[1] == 0xff && a[2] == 0xff && a[3] == 0xff;
}

static __noinline int bp_arp_answer(struct __sk_buff *skb, const struct bp_tap_config *cfg)
{
	struct bp_arp_eth_ip4 req;
	struct bp_arp_frame rep;

	if (skb->len < sizeof(rep)) {
		struct {
			__be16 htype, ptype;
			__u8 hlen, plen;
		} fixed;

		/* Too short for Ethernet/IPv4: the daemon would ignore it as well, unless it is
		 * some other kind of ARP we do not know. */
		if (bp_load(skb, BP_L3_OFF, &fixed, sizeof(fixed)))
			return BP_TAP_CNT_DROP_ARP_TRUNCATED;
		if (fixed.htype == bpf_htons(BP_ARPHRD_ETHER) &&
		    fixed.ptype == bpf_htons(BP_ETH_P_IP) && fixed.hlen == ETH_ALEN &&
		    fixed.plen == 4)
			return BP_TAP_CNT_DROP_ARP_TRUNCATED;
		return BP_NOT_MINE;
	}
	if (bp_load(skb, BP_L3_OFF, &req, sizeof(req)))
		return BP_NOT_MINE;
	if (req.htype != bpf_htons(BP_ARPHRD_ETHER) || req.ptype != bpf_htons(BP_ETH_P_IP) ||
	    req.hlen != ETH_ALEN || req.plen != 4 || req.op != bpf_htons(BP_ARPOP_REQUEST))
		return BP_NOT_MINE;
	if ((req.sha[0] & 1) || bp_mac_is_zero(req.sha))
		return BP_NOT_MINE;
	if (!(cfg->flags & BP_CFG_ARP))
		return BP_NOT_MINE;
	if (bp_addr4_eq(req.spa, req.tpa))
		return BP_NOT_MINE; /* announcement */
	if (bp_addr4_eq(req.tpa, cfg->ip4_guest))
		return BP_NOT_MINE;
	if (bp_addr4_unowned(req.tpa))
		return BP_NOT_MINE;
	if (bp_addr4_is_zero(req.spa) &&
	    !((cfg->flags & BP_CFG_IP4_GW) && bp_addr4_eq(req.tpa, cfg->ip4_gw)))
		return BP_NOT_MINE; /* probe for an address the guest may take */

	bp_copy6(rep.eth.dst, req.sha);
	bp_copy6(rep.eth.src, cfg->our_mac);
	rep.eth.proto = bpf_htons(ETH_P_ARP);
	rep.arp.htype = bpf_htons(BP_ARPHRD_ETHER);
	rep.arp.ptype = bpf_htons(BP_ETH_P_IP);
	rep.arp.hlen = ETH_ALEN;
	rep.arp.plen = 4;
	rep.arp.op = bpf_htons(BP_ARPOP_REPLY);
	bp_copy6(rep.arp.sha, cfg->our_mac);
	__builtin_memcpy(rep.arp.spa, req.tpa, 4);
	bp_copy6(rep.arp.tha, req.sha);
	__builtin_memcpy(rep.arp.tpa, req.spa, 4);

	if (skb->len != sizeof(rep) && bpf_skb_change_tail(skb, sizeof(rep), 0))
		return BP_NOT_MINE; /* nothing written yet: the daemon answers instead */
	if (bpf_skb_store_bytes(skb, 0, &rep, sizeof(rep), 0))
		return BP_TAP_CNT_DROP_ANSWER_FAILED;
	return BP_DONE;
}

#endif /* BPASST_BPF_ARP_H */
