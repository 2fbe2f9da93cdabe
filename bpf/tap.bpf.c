// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tap.bpf.c - the tap egress answerer: a TC classifier on the namespace side of pasta's tap
 *
 * Attached at TC egress of the tap (clsact, direct action) by the loader: every frame that the
 * namespace sends through the tap passes here before the daemon reads it from the tap fd. What
 * needs no daemon is answered here and sent straight back into the namespace (ARP requests,
 * neighbour and router solicitations, echo requests to the gateway: lib/arp.h, lib/ndp.h,
 * lib/echo.h); everything else goes on to the daemon untouched. Frames that the daemon would
 * discard anyway (runts, broken IP headers, truncated ARP, NDP with a hop limit other than 255)
 * are dropped here. Every frame is counted once by EtherType class and once by outcome
 * (lib/verdict.h) in the per-CPU tap_counters map.
 *
 * State: none besides the maps (lib/maps.h). What is answered, and with which addresses, comes
 * from tap_config; all zero (as created) answers nothing.
 *
 * Path of a frame: EtherType -> ARP: bp_arp_answer | IPv4: header checks -> ICMP echo |
 * IPv6: header checks -> ICMPv6 (NS, RS, echo) | other: pass.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/csum.h"
#include "lib/verdict.h"
#include "lib/arp.h"
#include "lib/ndp.h"
#include "lib/echo.h"

char LICENSE[] SEC("license") = "GPL";

static __always_inline int bp_ip4(struct __sk_buff *skb, const struct bp_tap_config *cfg)
{
	struct bp_ip4_hdr ip4;
	__u32 ihl_bytes, tot_len;

	if (skb->gso_size)
		return BP_NOT_MINE; /* a GSO super-packet: the stack built it, nothing to answer */
	if (bp_load(skb, BP_L3_OFF, &ip4, sizeof(ip4)))
		return BP_TAP_CNT_DROP_IP4_HEADER;
	ihl_bytes = (ip4.ver_ihl & 0x0f) * 4;
	tot_len = bpf_ntohs(ip4.tot_len);
	if ((ip4.ver_ihl >> 4) != 4 || ihl_bytes < 20 || tot_len < ihl_bytes ||
	    ETH_HLEN + tot_len > skb->len)
		return BP_TAP_CNT_DROP_IP4_HEADER;
	return bp_echo4_answer(skb, cfg, &ip4);
}

static __always_inline int bp_ip6(struct __sk_buff *skb, const struct bp_tap_config *cfg)
{
	struct bp_icmp_hdr icmp;
	struct bp_ip6_hdr ip6;

	if (skb->gso_size)
		return BP_NOT_MINE;
	if (bp_load(skb, BP_L3_OFF, &ip6, sizeof(ip6)))
		return BP_TAP_CNT_DROP_IP6_HEADER;
	if ((bpf_ntohl(ip6.vtc_flow) >> 28) != 6 ||
	    BP_IP6_L4_OFF + bpf_ntohs(ip6.payload_len) > skb->len)
		return BP_TAP_CNT_DROP_IP6_HEADER;
	if (ip6.nexthdr != BP_IPPROTO_ICMPV6 || bp_load(skb, BP_IP6_L4_OFF, &icmp, sizeof(icmp)))
		return BP_NOT_MINE;

	switch (icmp.type) {
	case BP_NDP_NEIGH_SOLICIT:
	case BP_NDP_ROUTER_SOLICIT:
	case BP_NDP_NEIGH_ADVERT:
	case BP_NDP_ROUTER_ADVERT:
		if (ip6.hop_limit != BP_NDP_HOP_LIMIT)
			return BP_TAP_CNT_DROP_NDP_HOP_LIMIT;
		if (icmp.type == BP_NDP_NEIGH_SOLICIT)
			return bp_ns_answer(skb, cfg, &ip6);
		if (icmp.type == BP_NDP_ROUTER_SOLICIT)
			return bp_rs_answer(skb, cfg, &ip6);
		return BP_NOT_MINE;
	case BP_ICMPV6_ECHO_REQUEST:
		return bp_echo6_answer(skb, cfg, &ip6);
	default:
		return BP_NOT_MINE;
	}
}

SEC("tc")
int bp_tap_egress(struct __sk_buff *skb)
{
	const struct bp_tap_config *cfg;
	enum bp_tap_counter answered;
	struct bp_eth_hdr eth;
	int r;

	if (skb->len < ETH_HLEN || bp_load(skb, 0, &eth, sizeof(eth))) {
		bp_count(BP_TAP_CNT_ETH_RUNT);
		return bp_drop(BP_TAP_CNT_DROP_RUNT);
	}
	cfg = bp_config();

	switch (bpf_ntohs(eth.proto)) {
	case ETH_P_ARP:
		bp_count(BP_TAP_CNT_ETH_ARP);
		answered = BP_TAP_CNT_ANSWERED_ARP;
		r = cfg ? bp_arp_answer(skb, cfg) : BP_NOT_MINE;
		break;
	case ETH_P_IP:
		bp_count(BP_TAP_CNT_ETH_IP4);
		answered = BP_TAP_CNT_ANSWERED_ECHO4;
		r = cfg ? bp_ip4(skb, cfg) : BP_NOT_MINE;
		break;
	case ETH_P_IPV6:
		bp_count(BP_TAP_CNT_ETH_IP6);
		r = cfg ? bp_ip6(skb, cfg) : BP_NOT_MINE;
		/* Which answer it was: the frame now holds it. */
		answered = BP_TAP_CNT_ANSWERED_ECHO6;
		if (r == BP_DONE) {
			struct bp_icmp_hdr icmp;

			if (!bp_load(skb, BP_IP6_L4_OFF, &icmp, sizeof(icmp))) {
				if (icmp.type == BP_NDP_NEIGH_ADVERT)
					answered = BP_TAP_CNT_ANSWERED_NA;
				else if (icmp.type == BP_NDP_ROUTER_ADVERT)
					answered = BP_TAP_CNT_ANSWERED_RA;
			}
		}
		break;
	default:
		bp_count(BP_TAP_CNT_ETH_OTHER);
		r = BP_NOT_MINE;
		answered = BP_TAP_CNT_MAX;
		break;
	}

	if (r == BP_NOT_MINE)
		return bp_pass();
	if (r == BP_DONE)
		return bp_answer(skb, answered);
	return bp_drop((enum bp_tap_counter)r);
}
