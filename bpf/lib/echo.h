/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * echo.h - the ICMP and ICMPv6 echo answerers of the tap program
 *
 * An echo request to the configured echo address (the gateway, when the host answers pings to
 * it) is turned into the reply in place: MACs and IP addresses swapped, our MAC as source, the IP
 * header normalised as the daemon writes its own (IPv4: TOS 0, ID 0, DF, TTL BP_REPLY_TTL, header
 * checksum recomputed; IPv6: traffic class and flow label 0, hop limit BP_REPLY_TTL), the type
 * changed to reply with the ICMP checksum updated incrementally (the swap of the addresses does
 * not change the IPv6 pseudo-header sum), identifier, sequence and data untouched, and any
 * Ethernet padding after the IP packet cut off.
 *
 * Only the simple shapes are answered here: IPv4 without options and not fragmented, IPv6 with
 * ICMPv6 directly after the fixed header. The caller has validated the IP header lengths.
 */
#ifndef BPASST_BPF_ECHO_H
#define BPASST_BPF_ECHO_H

#include "lib/csum.h"
#include "lib/parse.h"
#include "lib/verdict.h"

#define BP_ICMP_ECHO_REPLY 0
#define BP_ICMP_ECHO_REQUEST 8

/* Swap the Ethernet addresses: dst = requester, src = our MAC. */
static __always_inline int bp_echo_store_eth(struct __sk_buff *skb, const struct bp_tap_config *cfg)
{
	struct bp_eth_hdr eth;

	if (bp_load(skb, 0, &eth, sizeof(eth)))
		return -1;
	bp_copy6(eth.dst, eth.src);
	bp_copy6(eth.src, cfg->our_mac);
	return bpf_skb_store_bytes(skb, 0, &eth, 12, 0) ? -1 : 0;
}

/* Type byte to reply, checksum updated: the first four bytes of the ICMP header at off. */
static __always_inline int bp_echo_store_icmp(struct __sk_buff *skb, __u32 off,
					      struct bp_icmp_hdr *icmp, __u8 reply_type)
{
	__u16 old_word = *(__u16 *)icmp; /* type and code, as stored */
	__u16 new_word;

	icmp->type = reply_type;
	new_word = *(__u16 *)icmp;
	icmp->check = bp_csum_replace16(icmp->check, old_word, new_word);
	return bpf_skb_store_bytes(skb, off, icmp, sizeof(*icmp), 0) ? -1 : 0;
}

static __noinline int bp_echo4_answer(struct __sk_buff *skb, const struct bp_tap_config *cfg,
				      const struct bp_ip4_hdr *req)
{
	__u32 tot_len = bpf_ntohs(req->tot_len), sum = 0;
	struct bp_icmp_hdr icmp;
	struct bp_ip4_hdr rep;

	if (!(cfg->flags & BP_CFG_ECHO4) || req->protocol != BP_IPPROTO_ICMP)
		return BP_NOT_MINE;
	if (req->ver_ihl != 0x45 || (bpf_ntohs(req->frag_off) & BP_IP4_FRAG_MASK))
		return BP_NOT_MINE;
	if (!bp_addr4_eq(req->daddr, cfg->ip4_echo) || tot_len < 20 + 8)
		return BP_NOT_MINE;
	if (bp_load(skb, BP_IP4_L4_OFF, &icmp, sizeof(icmp)))
		return BP_NOT_MINE;
	if (icmp.type != BP_ICMP_ECHO_REQUEST || icmp.code != 0)
		return BP_NOT_MINE;

	rep.ver_ihl = 0x45;
	rep.tos = 0;
	rep.tot_len = req->tot_len;
	rep.id = 0;
	rep.frag_off = bpf_htons(BP_IP4_FLAG_DF);
	rep.ttl = BP_REPLY_TTL;
	rep.protocol = BP_IPPROTO_ICMP;
	rep.check = 0;
	__builtin_memcpy(rep.saddr, req->daddr, 4);
	__builtin_memcpy(rep.daddr, req->saddr, 4);
	if (bp_csum_add(&sum, &rep, sizeof(rep)))
		return BP_NOT_MINE;
	rep.check = bp_csum_finish(sum);

	if (skb->len > ETH_HLEN + tot_len && bpf_skb_change_tail(skb, ETH_HLEN + tot_len, 0))
		return BP_NOT_MINE;
	if (bp_echo_store_eth(skb, cfg) ||
	    bpf_skb_store_bytes(skb, BP_L3_OFF, &rep, sizeof(rep), 0) ||
	    bp_echo_store_icmp(skb, BP_IP4_L4_OFF, &icmp, BP_ICMP_ECHO_REPLY))
		return BP_TAP_CNT_DROP_ANSWER_FAILED;
	return BP_DONE;
}

static __noinline int bp_echo6_answer(struct __sk_buff *skb, const struct bp_tap_config *cfg,
				      const struct bp_ip6_hdr *req)
{
	__u32 payload_len = bpf_ntohs(req->payload_len);
	struct bp_icmp_hdr icmp;
	struct bp_ip6_hdr rep;

	if (!(cfg->flags & BP_CFG_ECHO6) || !bp_addr6_eq(req->daddr, cfg->ip6_echo))
		return BP_NOT_MINE;
	if (payload_len < 8 || bp_load(skb, BP_IP6_L4_OFF, &icmp, sizeof(icmp)))
		return BP_NOT_MINE;
	if (icmp.type != BP_ICMPV6_ECHO_REQUEST || icmp.code != 0)
		return BP_NOT_MINE;

	rep.vtc_flow = bpf_htonl(0x60000000);
	rep.payload_len = req->payload_len;
	rep.nexthdr = BP_IPPROTO_ICMPV6;
	rep.hop_limit = BP_REPLY_TTL;
	bp_copy16(rep.saddr, req->daddr);
	bp_copy16(rep.daddr, req->saddr);

	if (skb->len > BP_IP6_L4_OFF + payload_len &&
	    bpf_skb_change_tail(skb, BP_IP6_L4_OFF + payload_len, 0))
		return BP_NOT_MINE;
	if (bp_echo_store_eth(skb, cfg) ||
	    bpf_skb_store_bytes(skb, BP_L3_OFF, &rep, sizeof(rep), 0) ||
	    bp_echo_store_icmp(skb, BP_IP6_L4_OFF, &icmp, BP_ICMPV6_ECHO_REPLY))
		return BP_TAP_CNT_DROP_ANSWER_FAILED;
	return BP_DONE;
}

#endif /* BPASST_BPF_ECHO_H */
