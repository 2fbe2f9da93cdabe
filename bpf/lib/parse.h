/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * parse.h - reading the frame of a TC program: header layouts, bounded loads, address tests
 *
 * Headers are copied out of the skb with bpf_skb_load_bytes() into stack structs: the helper
 * checks the offset and length against the whole frame (linear or not) at run time, so no
 * pointer into the packet is ever held and a short frame fails the load instead of being read
 * past its end. The layouts here are packed byte-exact copies of the wire formats (addresses as
 * byte arrays), so they can be used for both reading and building frames.
 *
 * Offsets: the answers only ever concern an Ethernet header followed directly by ARP, by an IPv4
 * header without options, or by an IPv6 header without extension headers, so every offset we
 * use is a constant (BP_L3_OFF, BP_IP4_L4_OFF, BP_IP6_L4_OFF).
 */
#ifndef BPASST_BPF_PARSE_H
#define BPASST_BPF_PARSE_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "bpasst_wire.h"

#define BP_L3_OFF ETH_HLEN
#define BP_IP4_L4_OFF (ETH_HLEN + 20)
#define BP_IP6_L4_OFF (ETH_HLEN + 40)

#define BP_IPPROTO_ICMP 1
#define BP_IPPROTO_ICMPV6 58

struct bp_eth_hdr {
	__u8 dst[ETH_ALEN];
	__u8 src[ETH_ALEN];
	__be16 proto;
} __attribute__((packed));

struct bp_ip4_hdr {
	__u8 ver_ihl;
	__u8 tos;
	__be16 tot_len;
	__be16 id;
	__be16 frag_off;
	__u8 ttl;
	__u8 protocol;
	__u16 check;
	__u8 saddr[4];
	__u8 daddr[4];
} __attribute__((packed));

struct bp_ip6_hdr {
	__be32 vtc_flow; /* version 4 bits, traffic class 8, flow label 20 */
	__be16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	__u8 saddr[16];
	__u8 daddr[16];
} __attribute__((packed));

/* The first four bytes of ICMP and ICMPv6, and the echo identifier and sequence after them. */
struct bp_icmp_hdr {
	__u8 type;
	__u8 code;
	__u16 check;
} __attribute__((packed));

_Static_assert(sizeof(struct bp_eth_hdr) == 14, "Ethernet layout");
_Static_assert(sizeof(struct bp_ip4_hdr) == 20, "IPv4 layout");
_Static_assert(sizeof(struct bp_ip6_hdr) == 40, "IPv6 layout");

#define BP_IP4_FLAG_DF 0x4000
#define BP_IP4_FRAG_MASK 0x3fff /* MF and the fragment offset */

/* Copy len bytes at off out of the frame; 0, or negative when the frame is too short. */
static __always_inline int bp_load(struct __sk_buff *skb, __u32 off, void *to, __u32 len)
{
	return bpf_skb_load_bytes(skb, off, to, len);
}

static __always_inline int bp_mac_is_zero(const __u8 *m)
{
	return !(m[0] | m[1] | m[2] | m[3] | m[4] | m[5]);
}

static __always_inline int bp_addr4_eq(const __u8 *a, const __u8 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

static __always_inline int bp_addr4_is_zero(const __u8 *a)
{
	return !(a[0] | a[1] | a[2] | a[3]);
}

static __always_inline int bp_addr6_eq(const __u8 *a, const __u8 *b)
{
	__u8 diff = 0;

#pragma unroll
	for (int i = 0; i < 16; i++)
		diff |= a[i] ^ b[i];
	return !diff;
}

static __always_inline int bp_addr6_is_zero(const __u8 *a)
{
	__u8 bits = 0;

#pragma unroll
	for (int i = 0; i < 16; i++)
		bits |= a[i];
	return !bits;
}

static __always_inline void bp_copy6(__u8 *dst, const __u8 *src)
{
#pragma unroll
	for (int i = 0; i < 6; i++)
		dst[i] = src[i];
}

static __always_inline void bp_copy16(__u8 *dst, const __u8 *src)
{
#pragma unroll
	for (int i = 0; i < 16; i++)
		dst[i] = src[i];
}

#endif /* BPASST_BPF_PARSE_H */
