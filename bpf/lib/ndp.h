/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ndp.h - the NDP answerers of the tap program: neighbour and router solicitations
 *
 * The rules and the layouts are the answer contract in include/bpasst_maps.h, the same as
 * user/proto/ndp.c follows; in short:
 *
 * Neighbour solicitation -> neighbour advertisement. Every address but the guest's own is
 * reached through us, so a unicast-sourced NS gets our MAC for any target except the guest's
 * addresses and the solicitor's own. An NS from :: (duplicate address detection) is answered only
 * for addresses that really are taken, by us (the gateway, our link-local address), so the
 * guest's own addresses pass DAD. The advertisement (86 bytes) is built on the stack and replaces
 * the solicitation in one store.
 *
 * Router solicitation -> router advertisement, to the solicitor (or all nodes if it came from
 * ::), its content from tap_config: Managed|Other while DHCPv6 is on, prefix with the host bits
 * cleared, our MAC, MTU, RDNSS, and the ready-made DNSSL option. The frame is resized to the
 * advertisement's length and written piece by piece at increasing offsets (headers and small
 * options from the stack, the addresses and the DNSSL option straight from the map value in
 * constant-size pieces the verifier can check); the ICMPv6 checksum is summed over the same
 * pieces and stored last.
 *
 * Both require ICMPv6 directly after the IPv6 header and hop limit 255 (the caller checks), code
 * 0, and well-formed options (bp_ndp_opts_check); anything else is left to the daemon.
 */
#ifndef BPASST_BPF_NDP_H
#define BPASST_BPF_NDP_H

#include "lib/csum.h"
#include "lib/parse.h"
#include "lib/verdict.h"

#define BP_NDP_MAX_OPTS 8 /* options walked; a message with more is left to the daemon */
#define BP_NS_FIXED_LEN 24 /* ICMPv6 header + reserved/flags + target */
#define BP_RS_FIXED_LEN 8 /* ICMPv6 header + reserved */

struct bp_na_frame {
	struct bp_eth_hdr eth;
	struct bp_ip6_hdr ip6;
	struct bp_icmp_hdr icmp;
	struct bp_ndp_ns_na na;
	struct bp_ndp_opt_lladdr tlla;
} __attribute__((packed));
_Static_assert(sizeof(struct bp_na_frame) == 86, "NA frame layout");

#define BP_NA_ICMP_LEN (sizeof(struct bp_na_frame) - BP_IP6_L4_OFF)

/* Ethernet, IPv6 and the RA's own 16 bytes: the part of every RA that is built on the stack. */
struct bp_ra_head {
	struct bp_eth_hdr eth;
	struct bp_ip6_hdr ip6;
	struct bp_icmp_hdr icmp;
	struct bp_ndp_ra ra;
} __attribute__((packed));
_Static_assert(sizeof(struct bp_ra_head) == BP_IP6_L4_OFF + 16, "RA head layout");

/* RDNSS option header (RFC 8106): type, length, reserved, lifetime; addresses follow. */
struct bp_ndp_opt_rdnss_hdr {
	__u8 type;
	__u8 len;
	__u16 reserved;
	__be32 lifetime;
} __attribute__((packed));

/* Constant addresses are written by code, not kept in static arrays: clang would place those in
 * mergeable .rodata.cst* sections that libbpf 1.1 cannot give BTF to. */
static __always_inline void bp_all_nodes_fill(__u8 a[16])
{
#pragma unroll
	for (int i = 0; i < 16; i++)
		a[i] = 0;
	a[0] = 0xff;
	a[1] = 0x02;
	a[15] = 1;
}

static __always_inline void bp_all_nodes_mac_fill(__u8 m[6])
{
	m[0] = m[1] = 0x33;
	m[2] = m[3] = m[4] = 0;
	m[5] = 1;
}

static __always_inline int bp_addr6_is_loopback(const __u8 *a)
{
	__u8 bits = 0;

#pragma unroll
	for (int i = 0; i < 15; i++)
		bits |= a[i];
	return !bits && a[15] == 1;
}

/* Walk the options of the ICMPv6 message from off to end (offsets from the ICMPv6 header): each
 * must have a non-zero length and end inside the message. 0 (with *has_sllao set when a source
 * link-layer address option is present), or -1. */
static __always_inline int bp_ndp_opts_check(struct __sk_buff *skb, __u32 off, __u32 end,
					     int *has_sllao)
{
	*has_sllao = 0;
	for (int i = 0; i < BP_NDP_MAX_OPTS; i++) {
		__u8 opt[2];

		if (off >= end)
			return 0;
		if (end - off < 2 || bp_load(skb, BP_IP6_L4_OFF + (off & 0xffff), opt, 2))
			return -1;
		if (!opt[1] || off + opt[1] * 8u > end)
			return -1;
		if (opt[0] == BP_NDP_OPT_SRC_LLADDR)
			*has_sllao = 1;
		off += opt[1] * 8u;
	}
	return off >= end ? 0 : -1;
}

/* The gateway or our link-local address: addresses that are taken, by us. */
static __always_inline int bp_ip6_is_ours(const struct bp_tap_config *cfg, const __u8 *a)
{
	if ((cfg->flags & BP_CFG_IP6_GW) && !bp_addr6_is_zero(cfg->ip6_gw) &&
	    bp_addr6_eq(a, cfg->ip6_gw))
		return 1;
	return !bp_addr6_is_zero(cfg->ip6_our_ll) && bp_addr6_eq(a, cfg->ip6_our_ll);
}

static __always_inline void bp_ip6_hdr_fill(struct bp_ip6_hdr *h, const __u8 *saddr,
					    const __u8 *daddr, __u32 payload_len)
{
	h->vtc_flow = bpf_htonl(0x60000000);
	h->payload_len = bpf_htons((__u16)payload_len);
	h->nexthdr = BP_IPPROTO_ICMPV6;
	h->hop_limit = BP_NDP_HOP_LIMIT;
	bp_copy16(h->saddr, saddr);
	bp_copy16(h->daddr, daddr);
}

static __noinline int bp_ns_answer(struct __sk_buff *skb, const struct bp_tap_config *cfg,
				   const struct bp_ip6_hdr *ip6)
{
	__u32 icmp_len = bpf_ntohs(ip6->payload_len), sum = 0, flags;
	int has_sllao, dad, ours;
	struct bp_icmp_hdr icmp;
	struct bp_na_frame *na = bp_scratch();
	struct bp_ndp_ns_na ns;
	struct bp_eth_hdr eth;

	if (!na || !(cfg->flags & BP_CFG_NDP) || icmp_len < BP_NS_FIXED_LEN)
		return BP_NOT_MINE;
	if (bp_load(skb, BP_IP6_L4_OFF, &icmp, sizeof(icmp)) ||
	    bp_load(skb, BP_IP6_L4_OFF + sizeof(icmp), &ns, sizeof(ns)) ||
	    bp_load(skb, 0, &eth, sizeof(eth)))
		return BP_NOT_MINE;
	if (icmp.code != 0 || bp_ndp_opts_check(skb, BP_NS_FIXED_LEN, icmp_len, &has_sllao))
		return BP_NOT_MINE;
	if (ns.target[0] == 0xff || bp_addr6_is_zero(ns.target))
		return BP_NOT_MINE; /* multicast or unspecified target */
	if (bp_addr6_is_loopback(ns.target))
		return BP_NOT_MINE; /* ::1 */

	ours = bp_ip6_is_ours(cfg, ns.target);
	dad = bp_addr6_is_zero(ip6->saddr);
	if (dad) {
		/* Must go to the target's solicited-node address ff02::1:ffXX:XXXX. */
		__u8 snm[16] = { 0xff, 0x02, [11] = 1, [12] = 0xff };

		snm[13] = ns.target[13];
		snm[14] = ns.target[14];
		snm[15] = ns.target[15];
		if (has_sllao || !bp_addr6_eq(ip6->daddr, snm) || !ours)
			return BP_NOT_MINE;
	} else if (bp_addr6_eq(ns.target, cfg->ip6_guest) ||
		   bp_addr6_eq(ns.target, cfg->ip6_guest_seen) ||
		   bp_addr6_eq(ns.target, cfg->ip6_guest_ll_seen) ||
		   bp_addr6_eq(ns.target, ip6->saddr)) {
		return BP_NOT_MINE;
	}

	flags = BP_NA_FLAG_OVERRIDE;
	if (!dad)
		flags |= BP_NA_FLAG_SOLICITED;
	if (ours)
		flags |= BP_NA_FLAG_ROUTER;

	if (dad)
		bp_all_nodes_mac_fill(na->eth.dst);
	else
		bp_copy6(na->eth.dst, eth.src);
	bp_copy6(na->eth.src, cfg->our_mac);
	na->eth.proto = bpf_htons(ETH_P_IPV6);
	bp_ip6_hdr_fill(&na->ip6, ns.target, ip6->saddr, BP_NA_ICMP_LEN);
	if (dad)
		bp_all_nodes_fill(na->ip6.daddr);
	na->icmp.type = BP_NDP_NEIGH_ADVERT;
	na->icmp.code = 0;
	na->icmp.check = 0;
	na->na.flags = bpf_htonl(flags);
	bp_copy16(na->na.target, ns.target);
	na->tlla.type = BP_NDP_OPT_TGT_LLADDR;
	na->tlla.len = 1;
	bp_copy6(na->tlla.addr, cfg->our_mac);

	if (bp_csum_pseudo6(&sum, na->ip6.saddr, na->ip6.daddr, BP_NA_ICMP_LEN,
			    BP_IPPROTO_ICMPV6) ||
	    bp_csum_add(&sum, &na->icmp, BP_NA_ICMP_LEN))
		return BP_NOT_MINE;
	na->icmp.check = bp_csum_finish(sum);

	if (skb->len != sizeof(*na) && bpf_skb_change_tail(skb, sizeof(*na), 0))
		return BP_NOT_MINE;
	if (bpf_skb_store_bytes(skb, 0, na, sizeof(*na), 0))
		return BP_TAP_CNT_DROP_ANSWER_FAILED;
	return BP_DONE;
}

/* The prefix information option for cfg->ip6_prefix, host bits cleared. */
static __always_inline void bp_ra_prefix_fill(struct bp_ndp_opt_prefix *p,
					      const struct bp_tap_config *cfg)
{
	int plen = cfg->ip6_prefix_len;

	p->type = BP_NDP_OPT_PREFIX_INFO;
	p->len = 4;
	p->prefix_len = (__u8)plen;
	p->flags = BP_RA_PREFIX_FLAGS;
	p->valid_lifetime = bpf_htonl(BP_RA_PREFIX_VALID_LIFETIME);
	p->preferred_lifetime = bpf_htonl(BP_RA_PREFIX_PREFERRED_LIFETIME);
	p->reserved = 0;
#pragma unroll
	for (int i = 0; i < 16; i++) {
		int bits = plen - 8 * i;
		__u8 mask;

		if (bits >= 8)
			mask = 0xff;
		else if (bits <= 0)
			mask = 0;
		else
			mask = (__u8)(0xff << (8 - bits));
		p->prefix[i] = cfg->ip6_prefix[i] & mask;
	}
}

/* Store len bytes at *off, add them to the checksum, advance *off; 0 or -1. */
static __always_inline int bp_ra_put(struct __sk_buff *skb, __u32 *off, __u32 *sum,
				     const void *from, __u32 len)
{
	if (bpf_skb_store_bytes(skb, *off, from, len, 0))
		return -1;
	if (bp_csum_add(sum, from, len))
		return -1;
	*off += len;
	return 0;
}

static __noinline int bp_rs_answer(struct __sk_buff *skb, const struct bp_tap_config *cfg,
				   const struct bp_ip6_hdr *ip6)
{
	__u32 rdnss_count, dnssl_len, icmp_len, off, sum = 0;
	union { /* one option at a time: they share the stack */
		struct bp_ndp_opt_rdnss_hdr rdnss;
		struct bp_ndp_opt_prefix prefix;
		struct bp_ndp_opt_lladdr slla;
		struct bp_ndp_opt_mtu mtu;
	} o;
	struct bp_ra_head *head = bp_scratch();
	struct bp_icmp_hdr icmp;
	struct bp_eth_hdr eth;
	int has_sllao, unspec, with_prefix, with_mtu;

	if (!head || !(cfg->flags & BP_CFG_NDP) || bpf_ntohs(ip6->payload_len) < BP_RS_FIXED_LEN)
		return BP_NOT_MINE;
	if (bp_load(skb, BP_IP6_L4_OFF, &icmp, sizeof(icmp)) || bp_load(skb, 0, &eth, sizeof(eth)))
		return BP_NOT_MINE;
	if (icmp.code != 0 ||
	    bp_ndp_opts_check(skb, BP_RS_FIXED_LEN, bpf_ntohs(ip6->payload_len), &has_sllao))
		return BP_NOT_MINE;
	unspec = bp_addr6_is_zero(ip6->saddr);
	if (unspec && has_sllao)
		return BP_NOT_MINE;
	if (!(cfg->flags & BP_CFG_RA) || bp_addr6_is_zero(cfg->ip6_ra_src))
		return BP_NOT_MINE;

	/* Lengths first: every piece is bounded here, where the verifier can see it. */
	with_prefix = !!(cfg->flags & BP_CFG_RA_PREFIX);
	with_mtu = cfg->mtu >= BP_RA_MTU_MIN;
	rdnss_count = cfg->rdnss_count;
	if (rdnss_count > BP_RA_MAX_RDNSS)
		rdnss_count = BP_RA_MAX_RDNSS;
	dnssl_len = cfg->dnssl_len;
	if (dnssl_len > BP_RA_DNSSL_MAX || (dnssl_len & 7))
		dnssl_len = 0; /* not a valid option: leave it out */
	icmp_len = 16 + (with_prefix ? sizeof(o.prefix) : 0) + sizeof(o.slla) +
		(with_mtu ? sizeof(o.mtu) : 0) +
		(rdnss_count ? sizeof(o.rdnss) + rdnss_count * 16 : 0) + dnssl_len;

	if (unspec)
		bp_all_nodes_mac_fill(head->eth.dst);
	else
		bp_copy6(head->eth.dst, eth.src);
	bp_copy6(head->eth.src, cfg->our_mac);
	head->eth.proto = bpf_htons(ETH_P_IPV6);
	bp_ip6_hdr_fill(&head->ip6, cfg->ip6_ra_src, ip6->saddr, icmp_len);
	if (unspec)
		bp_all_nodes_fill(head->ip6.daddr);
	head->icmp.type = BP_NDP_ROUTER_ADVERT;
	head->icmp.code = 0;
	head->icmp.check = 0;
	head->ra.cur_hop_limit = BP_RA_CUR_HOP_LIMIT;
	head->ra.flags = (cfg->flags & BP_CFG_DHCPV6) ? BP_RA_FLAG_MANAGED | BP_RA_FLAG_OTHER : 0;
	head->ra.router_lifetime = bpf_htons(BP_RA_ROUTER_LIFETIME);
	head->ra.reachable_time = bpf_htonl(BP_RA_REACHABLE_TIME);
	head->ra.retrans_timer = bpf_htonl(BP_RA_RETRANS_TIMER);

	if (bp_csum_pseudo6(&sum, head->ip6.saddr, head->ip6.daddr, icmp_len, BP_IPPROTO_ICMPV6))
		return BP_NOT_MINE;
	if (bpf_skb_change_tail(skb, BP_IP6_L4_OFF + icmp_len, 0))
		return BP_NOT_MINE;

	/* From here on the frame is being overwritten: a failure drops it. */
	if (bpf_skb_store_bytes(skb, 0, head, BP_IP6_L4_OFF, 0))
		return BP_TAP_CNT_DROP_ANSWER_FAILED;
	off = BP_IP6_L4_OFF;
	if (bp_ra_put(skb, &off, &sum, &head->icmp, 16))
		return BP_TAP_CNT_DROP_ANSWER_FAILED;
	if (with_prefix) {
		bp_ra_prefix_fill(&o.prefix, cfg);
		if (bp_ra_put(skb, &off, &sum, &o.prefix, sizeof(o.prefix)))
			return BP_TAP_CNT_DROP_ANSWER_FAILED;
	}
	o.slla.type = BP_NDP_OPT_SRC_LLADDR;
	o.slla.len = 1;
	bp_copy6(o.slla.addr, cfg->our_mac);
	if (bp_ra_put(skb, &off, &sum, &o.slla, sizeof(o.slla)))
		return BP_TAP_CNT_DROP_ANSWER_FAILED;
	if (with_mtu) {
		o.mtu.type = BP_NDP_OPT_MTU;
		o.mtu.len = 1;
		o.mtu.reserved = 0;
		o.mtu.mtu = bpf_htonl(cfg->mtu);
		if (bp_ra_put(skb, &off, &sum, &o.mtu, sizeof(o.mtu)))
			return BP_TAP_CNT_DROP_ANSWER_FAILED;
	}
	if (rdnss_count) {
		o.rdnss.type = BP_NDP_OPT_RDNSS;
		o.rdnss.len = (__u8)(1 + 2 * rdnss_count);
		o.rdnss.reserved = 0;
		o.rdnss.lifetime = bpf_htonl(BP_RA_DNS_LIFETIME);
		if (bp_ra_put(skb, &off, &sum, &o.rdnss, sizeof(o.rdnss)))
			return BP_TAP_CNT_DROP_ANSWER_FAILED;
		/* One address at a time: constant lengths, which the verifier can check against
		 * the map value without tracking a variable one. */
		for (__u32 i = 0; i < BP_RA_MAX_RDNSS; i++) {
			if (i >= rdnss_count)
				break;
			if (bp_ra_put(skb, &off, &sum, cfg->rdnss[i], 16))
				return BP_TAP_CNT_DROP_ANSWER_FAILED;
		}
	}
	/* The ready-made DNSSL option, in 8-byte pieces for the same reason. */
	for (__u32 i = 0; i < BP_RA_DNSSL_MAX / 8; i++) {
		if (i * 8 >= dnssl_len)
			break;
		if (bp_ra_put(skb, &off, &sum, &cfg->dnssl[i * 8], 8))
			return BP_TAP_CNT_DROP_ANSWER_FAILED;
	}

	head->icmp.check = bp_csum_finish(sum);
	if (bpf_skb_store_bytes(skb, BP_IP6_L4_OFF + 2, &head->icmp.check, 2, 0))
		return BP_TAP_CNT_DROP_ANSWER_FAILED;
	return BP_DONE;
}

#endif /* BPASST_BPF_NDP_H */
