/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bpasst_wire.h - wire formats shared by the BPF programs and the daemon
 *
 * Floor 0 of the house: fixed-width layouts and protocol constants only, no logic, nothing from
 * libc beyond the kernel UAPI types, so that both clang -target bpf and the userspace compilers
 * can include it. Every layout here is checked by a _Static_assert on its size.
 *
 * The kernel UAPI already gives us ethhdr, iphdr, ipv6hdr, tcphdr, udphdr, icmphdr and icmp6hdr
 * (<linux/if_ether.h>, <linux/ip.h>, ...); what it lacks (ARP for Ethernet/IPv4 with its
 * addresses, NDP option layouts, DHCP's fixed header) is defined here.
 */
#ifndef BPASST_WIRE_H
#define BPASST_WIRE_H

#include <linux/types.h>

#define BP_ETH_ALEN 6
#define BP_ETH_HLEN 14
#define BP_ETH_ZLEN 60 /* minimum frame without FCS; guests may send less (virtio) */
#define BP_ETH_MAX_MTU 65520 /* pasta's default MTU, the largest we ever use */
#define BP_FRAME_MAX (BP_ETH_MAX_MTU + BP_ETH_HLEN)

#define BP_ETH_P_IP 0x0800
#define BP_ETH_P_ARP 0x0806
#define BP_ETH_P_IPV6 0x86dd

#define BP_ARPHRD_ETHER 1
#define BP_ARPOP_REQUEST 1
#define BP_ARPOP_REPLY 2

/* ARP for Ethernet and IPv4 (RFC 826), as it sits after the Ethernet header. */
struct bp_arp_eth_ip4 {
	__be16 htype;
	__be16 ptype;
	__u8 hlen;
	__u8 plen;
	__be16 op;
	__u8 sha[BP_ETH_ALEN];
	__u8 spa[4]; /* byte arrays: the IPv4 addresses are not 4-byte aligned here */
	__u8 tha[BP_ETH_ALEN];
	__u8 tpa[4];
} __attribute__((packed));
_Static_assert(sizeof(struct bp_arp_eth_ip4) == 28, "ARP layout");

/* ICMPv6 types used by NDP (RFC 4861) and echo. */
#define BP_ICMPV6_ECHO_REQUEST 128
#define BP_ICMPV6_ECHO_REPLY 129
#define BP_NDP_ROUTER_SOLICIT 133
#define BP_NDP_ROUTER_ADVERT 134
#define BP_NDP_NEIGH_SOLICIT 135
#define BP_NDP_NEIGH_ADVERT 136

/* NDP option types (RFC 4861, 8106). */
#define BP_NDP_OPT_SRC_LLADDR 1
#define BP_NDP_OPT_TGT_LLADDR 2
#define BP_NDP_OPT_PREFIX_INFO 3
#define BP_NDP_OPT_MTU 5
#define BP_NDP_OPT_RDNSS 25
#define BP_NDP_OPT_DNSSL 31

/* Neighbour solicitation / advertisement body after the 4-byte ICMPv6 header. */
struct bp_ndp_ns_na {
	__be32 flags; /* NA: R (0x80000000), S (0x40000000), O (0x20000000); NS: reserved */
	__u8 target[16];
} __attribute__((packed));
_Static_assert(sizeof(struct bp_ndp_ns_na) == 20, "NS/NA layout");

#define BP_NA_FLAG_ROUTER 0x80000000u
#define BP_NA_FLAG_SOLICITED 0x40000000u
#define BP_NA_FLAG_OVERRIDE 0x20000000u

/* Link-layer address option for Ethernet: type, length in units of 8 bytes (1), address. */
struct bp_ndp_opt_lladdr {
	__u8 type;
	__u8 len;
	__u8 addr[BP_ETH_ALEN];
} __attribute__((packed));
_Static_assert(sizeof(struct bp_ndp_opt_lladdr) == 8, "lladdr option layout");

/* Router advertisement body after the 4-byte ICMPv6 header. */
struct bp_ndp_ra {
	__u8 cur_hop_limit;
	__u8 flags; /* M 0x80, O 0x40 */
	__be16 router_lifetime;
	__be32 reachable_time;
	__be32 retrans_timer;
} __attribute__((packed));
_Static_assert(sizeof(struct bp_ndp_ra) == 12, "RA layout");

#define BP_RA_FLAG_MANAGED 0x80
#define BP_RA_FLAG_OTHER 0x40

struct bp_ndp_opt_prefix {
	__u8 type;
	__u8 len; /* 4 */
	__u8 prefix_len;
	__u8 flags; /* L 0x80, A 0x40 */
	__be32 valid_lifetime;
	__be32 preferred_lifetime;
	__be32 reserved;
	__u8 prefix[16];
} __attribute__((packed));
_Static_assert(sizeof(struct bp_ndp_opt_prefix) == 32, "prefix option layout");

struct bp_ndp_opt_mtu {
	__u8 type;
	__u8 len; /* 1 */
	__be16 reserved;
	__be32 mtu;
} __attribute__((packed));
_Static_assert(sizeof(struct bp_ndp_opt_mtu) == 8, "MTU option layout");

/* DHCP (RFC 2131) fixed part; options follow the magic cookie. */
#define BP_DHCP_SERVER_PORT 67
#define BP_DHCP_CLIENT_PORT 68
#define BP_DHCPV6_CLIENT_PORT 546
#define BP_DHCPV6_SERVER_PORT 547
#define BP_DHCP_MAGIC 0x63825363u

struct bp_dhcp_fixed {
	__u8 op;
	__u8 htype;
	__u8 hlen;
	__u8 hops;
	__be32 xid;
	__be16 secs;
	__be16 flags;
	__u8 ciaddr[4];
	__u8 yiaddr[4];
	__u8 siaddr[4];
	__u8 giaddr[4];
	__u8 chaddr[16];
	__u8 sname[64];
	__u8 file[128];
	__be32 magic;
} __attribute__((packed));
_Static_assert(sizeof(struct bp_dhcp_fixed) == 240, "DHCP fixed layout");

#endif /* BPASST_WIRE_H */
