// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_tap.c - the tap egress answerer, run in the kernel on a table of crafted frames
 *
 * Each fixture is an input frame, a configuration (full, minimal, or all zero as the map is
 * created), the expected verdict (TC_ACT_OK: passed to the daemon, TC_ACT_STOLEN: dropped,
 * TC_ACT_REDIRECT: answered), the expected output frame (built here byte by byte from the answer
 * contract in include/bpasst_maps.h, never with the code under test; for pass and drop the
 * output must be the input, untouched), and the counters that must move (EtherType class,
 * outcome, drop reason; all others must stay still). bpf_prog_test_run_opts() runs the program
 * once per fixture; the checksums of every answer are also verified independently
 * (frames.h: t_csums_ok).
 *
 * Needs bpf(): when this process may not use it (not root, kernel.unprivileged_bpf_disabled),
 * the test prints why and exits 77, which meson reports as SKIP, never as a pass. Once bpf() is
 * permitted, any load failure (a verifier rejection included) is a failure.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpasst_maps.h"
#include "bpf_check.h"
#include "bpasst_wire.h"
#include "frames.h"
#include "loader.h"
#include "tap.skel.h"


/* ---- Addresses (documentation ranges only) ---- */

static const uint8_t our_mac[6] = { 0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55 };
static const uint8_t gmac[6] = { 0x02, 0x00, 0x5e, 0x00, 0x53, 0x01 };
static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t zero_mac[6];
static const uint8_t all_nodes_mac[6] = { 0x33, 0x33, 0, 0, 0, 1 };

static const uint8_t g4[4] = { 192, 0, 2, 2 }; /* guest */
static const uint8_t gw4[4] = { 192, 0, 2, 1 }; /* gateway, echo address */
static const uint8_t other4[4] = { 198, 51, 100, 7 };
static const uint8_t zero4[4];

#define A6(...)                                                                                    \
	{                                                                                          \
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, __VA_ARGS__                        \
	}
static const uint8_t g6[16] = A6(0, 0, 0, 2); /* guest's assigned address */
static const uint8_t g6_seen[16] = A6(0, 0, 0, 3); /* another one it was seen using */
static const uint8_t gw6[16] = A6(0, 0, 0, 1); /* gateway, echo address */
static const uint8_t other6[16] = A6(0, 0, 0, 0x99);
static const uint8_t dns6a[16] = A6(0, 0, 0, 0x53);
static const uint8_t dns6b[16] = A6(0, 0, 0, 0x54);
static const uint8_t ll_ours[16] = { 0xfe, 0x80, [15] = 1 };
static const uint8_t ll_guest[16] = { 0xfe, 0x80, [15] = 2 };
static const uint8_t unspec6[16];
static const uint8_t all_nodes[16] = { 0xff, 0x02, [15] = 1 };
static const uint8_t loop6[16] = { [15] = 1 };
static const uint8_t mcast6[16] = { 0xff, 0x02, [15] = 0x16 };

/* The DNSSL option for "example.com" and "test", as the contract spells it (32 bytes). */
static const uint8_t dnssl_opt[32] = { 31,  4,	 0,   0,   0xff, 0xff, 0xff, 0xff, 7,	'e', 'x',
				       'a', 'm', 'p', 'l', 'e',	 3,    'c',  'o',  'm', 0,   4,
				       't', 'e', 's', 't', 0,	 0,    0,    0,	   0,	0 };

enum cfg_kind { CFG_FULL, CFG_MIN, CFG_OFF };

static void config_make(enum cfg_kind kind, struct bp_tap_config *c)
{
	memset(c, 0, sizeof(*c));
	if (kind == CFG_OFF)
		return;
	memcpy(c->our_mac, our_mac, 6);
	memcpy(c->ip4_guest, g4, 4);
	memcpy(c->ip4_gw, gw4, 4);
	memcpy(c->ip6_guest, g6, 16);
	memcpy(c->ip6_guest_seen, g6_seen, 16);
	memcpy(c->ip6_guest_ll_seen, ll_guest, 16);
	memcpy(c->ip6_our_ll, ll_ours, 16);
	memcpy(c->ip6_ra_src, ll_ours, 16);
	c->flags = BP_CFG_ARP | BP_CFG_IP4_GW | BP_CFG_NDP | BP_CFG_RA;
	if (kind == CFG_MIN)
		return;
	c->flags |= BP_CFG_DHCPV6 | BP_CFG_ECHO4 | BP_CFG_ECHO6 | BP_CFG_IP6_GW | BP_CFG_RA_PREFIX;
	memcpy(c->ip4_echo, gw4, 4);
	memcpy(c->ip6_gw, gw6, 16);
	memcpy(c->ip6_echo, gw6, 16);
	memcpy(c->ip6_prefix, g6, 16); /* host bits set: the program must clear them */
	c->ip6_prefix_len = BP_RA_PREFIX_LEN;
	c->mtu = 65520;
	c->rdnss_count = 2;
	memcpy(c->rdnss[0], dns6a, 16);
	memcpy(c->rdnss[1], dns6b, 16);
	memcpy(c->dnssl, dnssl_opt, sizeof(dnssl_opt));
	c->dnssl_len = sizeof(dnssl_opt);
}

/* ---- Frame builders ---- */

static void arp_frame(struct tbuf *f, const uint8_t edst[6], uint16_t op, const uint8_t sha[6],
		      const uint8_t spa[4], const uint8_t tha[6], const uint8_t tpa[4])
{
	t_eth(f, edst, sha, 0x0806);
	t_be16(f, 1);
	t_be16(f, 0x0800);
	t_u8(f, 6);
	t_u8(f, 4);
	t_be16(f, op);
	t_put(f, sha, 6);
	t_put(f, spa, 4);
	t_put(f, tha, 6);
	t_put(f, tpa, 4);
}

/* The reply the contract prescribes for a request (sha, spa) asking for tpa. */
static void arp_reply(struct tbuf *f, const uint8_t sha[6], const uint8_t spa[4],
		      const uint8_t tpa[4])
{
	t_eth(f, sha, our_mac, 0x0806);
	t_be16(f, 1);
	t_be16(f, 0x0800);
	t_u8(f, 6);
	t_u8(f, 4);
	t_be16(f, 2);
	t_put(f, our_mac, 6);
	t_put(f, tpa, 4);
	t_put(f, sha, 6);
	t_put(f, spa, 4);
}

/* NS from src to dst for target; with a source link-layer option if sllao; hop limit hop. */
static void ns_frame(struct tbuf *f, const uint8_t src[16], const uint8_t dst[16],
		     const uint8_t target[16], bool sllao, uint8_t hop)
{
	size_t l4;

	t_eth(f, all_nodes_mac, gmac, 0x86dd);
	t_ip6(f, 0x60000000, src, dst, (uint16_t)(24 + (sllao ? 8 : 0)), 58, hop);
	l4 = f->n;
	t_u8(f, 135);
	t_u8(f, 0);
	t_be16(f, 0);
	t_be32(f, 0);
	t_put(f, target, 16);
	if (sllao) {
		t_u8(f, 1);
		t_u8(f, 1);
		t_put(f, gmac, 6);
	}
	t_icmp6_csum_fill(f, l4);
}

static void snm_of(const uint8_t a[16], uint8_t out[16])
{
	static const uint8_t base[16] = { 0xff, 0x02, [11] = 1, [12] = 0xff };

	memcpy(out, base, 16);
	memcpy(out + 13, a + 13, 3);
}

static void na_frame(struct tbuf *f, const uint8_t edst[6], const uint8_t target[16],
		     const uint8_t dst[16], uint32_t flags)
{
	size_t l4;

	t_eth(f, edst, our_mac, 0x86dd);
	t_ip6(f, 0x60000000, target, dst, 32, 58, 255);
	l4 = f->n;
	t_u8(f, 136);
	t_u8(f, 0);
	t_be16(f, 0);
	t_be32(f, flags);
	t_put(f, target, 16);
	t_u8(f, 2);
	t_u8(f, 1);
	t_put(f, our_mac, 6);
	t_icmp6_csum_fill(f, l4);
}

static void rs_frame(struct tbuf *f, const uint8_t src[16], bool sllao, uint8_t hop)
{
	size_t l4;

	t_eth(f, all_nodes_mac, gmac, 0x86dd);
	t_ip6(f, 0x60000000, src, (const uint8_t[16]){ 0xff, 0x02, [15] = 2 },
	      (uint16_t)(8 + (sllao ? 8 : 0)), 58, hop);
	l4 = f->n;
	t_u8(f, 133);
	t_u8(f, 0);
	t_be16(f, 0);
	t_be32(f, 0);
	if (sllao) {
		t_u8(f, 1);
		t_u8(f, 1);
		t_put(f, gmac, 6);
	}
	t_icmp6_csum_fill(f, l4);
}

/* The RA of the contract for configuration kind, to dst (Ethernet edst). */
static void ra_frame(struct tbuf *f, enum cfg_kind kind, const uint8_t edst[6],
		     const uint8_t dst[16])
{
	bool full = kind == CFG_FULL;
	size_t l4, len_at;

	t_eth(f, edst, our_mac, 0x86dd);
	len_at = f->n + 4;
	t_ip6(f, 0x60000000, ll_ours, dst, 0, 58, 255);
	l4 = f->n;
	t_u8(f, 134);
	t_u8(f, 0);
	t_be16(f, 0);
	t_u8(f, 255); /* cur hop limit */
	t_u8(f, full ? 0xc0 : 0); /* M|O while DHCPv6 is on */
	t_be16(f, 65535);
	t_be32(f, 0);
	t_be32(f, 0);
	if (full) { /* prefix 2001:db8::/64 */
		t_u8(f, 3);
		t_u8(f, 4);
		t_u8(f, 64);
		t_u8(f, 0xc0);
		t_be32(f, 0xffffffff);
		t_be32(f, 0xffffffff);
		t_be32(f, 0);
		t_put(f, (const uint8_t[16])A6(0, 0, 0, 0), 16);
	}
	t_u8(f, 1); /* source link-layer address */
	t_u8(f, 1);
	t_put(f, our_mac, 6);
	if (full) {
		t_u8(f, 5); /* MTU */
		t_u8(f, 1);
		t_be16(f, 0);
		t_be32(f, 65520);
		t_u8(f, 25); /* RDNSS, two addresses */
		t_u8(f, 5);
		t_be16(f, 0);
		t_be32(f, 0xffffffff);
		t_put(f, dns6a, 16);
		t_put(f, dns6b, 16);
		t_put(f, dnssl_opt, sizeof(dnssl_opt));
	}
	f->b[len_at] = (uint8_t)((f->n - l4) >> 8);
	f->b[len_at + 1] = (uint8_t)(f->n - l4);
	t_icmp6_csum_fill(f, l4);
}

static const uint8_t echo_data[16] = "abcdefghijklmnop";

/* ICMP echo (type 8 request / 0 reply) from src to dst; IPv4 fields as given; pad bytes of
 * Ethernet padding after it. */
static void echo4_frame(struct tbuf *f, const uint8_t edst[6], const uint8_t esrc[6],
			const uint8_t src[4], const uint8_t dst[4], uint8_t type, uint8_t code,
			uint8_t tos, uint16_t id, uint16_t frag, uint8_t ttl, size_t pad)
{
	size_t l4;

	t_eth(f, edst, esrc, 0x0800);
	t_ip4(f, src, dst, 1, 20 + 8 + sizeof(echo_data), tos, id, frag, ttl);
	l4 = f->n;
	t_u8(f, type);
	t_u8(f, code);
	t_be16(f, 0);
	t_be16(f, 0x1234);
	t_be16(f, 7);
	t_put(f, echo_data, sizeof(echo_data));
	t_icmp4_csum_fill(f, l4);
	t_zero(f, pad);
}

static void echo6_frame(struct tbuf *f, const uint8_t edst[6], const uint8_t esrc[6],
			uint32_t vtc_flow, const uint8_t src[16], const uint8_t dst[16],
			uint8_t type, uint8_t hop)
{
	size_t l4;

	t_eth(f, edst, esrc, 0x86dd);
	t_ip6(f, vtc_flow, src, dst, 8 + sizeof(echo_data), 58, hop);
	l4 = f->n;
	t_u8(f, type);
	t_u8(f, 0);
	t_be16(f, 0);
	t_be16(f, 0x1234);
	t_be16(f, 7);
	t_put(f, echo_data, sizeof(echo_data));
	t_icmp6_csum_fill(f, l4);
}

/* ---- The fixtures ---- */

enum fx {
	ARP_GW,
	ARP_OTHER,
	ARP_PADDED,
	ARP_PROBE_GW,
	ARP_GUEST,
	ARP_ANNOUNCE,
	ARP_PROBE_OTHER,
	ARP_REPLY,
	ARP_MCAST_SHA,
	ARP_BCAST_TPA,
	ARP_NOT_IP4,
	ARP_TRUNCATED,
	ARP_CFG_OFF,
	NS_GW,
	NS_OUR_LL,
	NS_OTHER,
	NS_NO_SLLAO,
	NS_DAD_OURS,
	NS_DAD_OTHER,
	NS_DAD_WRONG_DST,
	NS_GUEST,
	NS_GUEST_SEEN,
	NS_GUEST_LL,
	NS_SELF,
	NS_MCAST_TARGET,
	NS_LOOPBACK_TARGET,
	NS_HOP64,
	NS_BAD_OPTION,
	NS_SHORT,
	NS_CODE1,
	NS_CFG_OFF,
	RS_FULL,
	RS_UNSPEC,
	RS_UNSPEC_SLLAO,
	RS_MIN,
	RS_CFG_OFF,
	RS_HOP1,
	NA_FROM_GUEST,
	ECHO4,
	ECHO4_PADDED,
	ECHO4_OTHER_DST,
	ECHO4_FRAG,
	ECHO4_OPTIONS,
	ECHO4_CODE1,
	ECHO4_REPLY,
	ECHO4_CFG_MIN,
	IP4_IHL4,
	IP4_TOTLEN_LONG,
	IP4_BAD_VERSION,
	UDP4,
	ECHO6,
	ECHO6_OTHER_DST,
	ECHO6_CFG_MIN,
	IP6_PLEN_LONG,
	IP6_BAD_VERSION,
	TCP6,
	LLDP,
	FX_COUNT
};

struct fixture {
	enum fx id;
	const char *name;
	enum cfg_kind cfg;
	int verdict; /* TC_ACT_OK, TC_ACT_STOLEN or TC_ACT_REDIRECT */
	enum bp_tap_counter class, outcome, reason; /* reason: BP_TAP_CNT_MAX for none */
};

#define PASS(c) TC_ACT_OK, c, BP_TAP_CNT_PASSED, BP_TAP_CNT_MAX
#define DROP(c, r) TC_ACT_STOLEN, c, BP_TAP_CNT_DROPPED, r
#define ANSWER(c, a) TC_ACT_REDIRECT, c, a, BP_TAP_CNT_MAX
#define C_ARP BP_TAP_CNT_ETH_ARP
#define C_IP4 BP_TAP_CNT_ETH_IP4
#define C_IP6 BP_TAP_CNT_ETH_IP6

static const struct fixture fixtures[] = {
	{ ARP_GW, "arp request for the gateway", CFG_FULL, ANSWER(C_ARP, BP_TAP_CNT_ANSWERED_ARP) },
	{ ARP_OTHER, "arp request for a remote address", CFG_FULL,
	  ANSWER(C_ARP, BP_TAP_CNT_ANSWERED_ARP) },
	{ ARP_PADDED, "arp request padded to 60 bytes", CFG_FULL,
	  ANSWER(C_ARP, BP_TAP_CNT_ANSWERED_ARP) },
	{ ARP_PROBE_GW, "arp probe for the gateway", CFG_FULL,
	  ANSWER(C_ARP, BP_TAP_CNT_ANSWERED_ARP) },
	{ ARP_GUEST, "arp request for the guest's address", CFG_FULL, PASS(C_ARP) },
	{ ARP_ANNOUNCE, "gratuitous arp", CFG_FULL, PASS(C_ARP) },
	{ ARP_PROBE_OTHER, "arp probe for a free address", CFG_FULL, PASS(C_ARP) },
	{ ARP_REPLY, "arp reply from the guest", CFG_FULL, PASS(C_ARP) },
	{ ARP_MCAST_SHA, "arp request from a multicast sha", CFG_FULL, PASS(C_ARP) },
	{ ARP_BCAST_TPA, "arp request for 255.255.255.255", CFG_FULL, PASS(C_ARP) },
	{ ARP_NOT_IP4, "arp for another protocol type", CFG_FULL, PASS(C_ARP) },
	{ ARP_TRUNCATED, "truncated arp request", CFG_FULL,
	  DROP(C_ARP, BP_TAP_CNT_DROP_ARP_TRUNCATED) },
	{ ARP_CFG_OFF, "arp request, empty configuration", CFG_OFF, PASS(C_ARP) },

	{ NS_GW, "ns for the gateway", CFG_FULL, ANSWER(C_IP6, BP_TAP_CNT_ANSWERED_NA) },
	{ NS_OUR_LL, "ns for our link-local address", CFG_FULL,
	  ANSWER(C_IP6, BP_TAP_CNT_ANSWERED_NA) },
	{ NS_OTHER, "ns for a remote address", CFG_FULL, ANSWER(C_IP6, BP_TAP_CNT_ANSWERED_NA) },
	{ NS_NO_SLLAO, "ns without options", CFG_FULL, ANSWER(C_IP6, BP_TAP_CNT_ANSWERED_NA) },
	{ NS_DAD_OURS, "dad ns for the gateway", CFG_FULL, ANSWER(C_IP6, BP_TAP_CNT_ANSWERED_NA) },
	{ NS_DAD_OTHER, "dad ns for a free address", CFG_FULL, PASS(C_IP6) },
	{ NS_DAD_WRONG_DST, "dad ns not to the solicited-node address", CFG_FULL, PASS(C_IP6) },
	{ NS_GUEST, "ns for the guest's address", CFG_FULL, PASS(C_IP6) },
	{ NS_GUEST_SEEN, "ns for an address the guest uses", CFG_FULL, PASS(C_IP6) },
	{ NS_GUEST_LL, "ns for the guest's link-local address", CFG_FULL, PASS(C_IP6) },
	{ NS_SELF, "ns for its own source address", CFG_FULL, PASS(C_IP6) },
	{ NS_MCAST_TARGET, "ns for a multicast target", CFG_FULL, PASS(C_IP6) },
	{ NS_LOOPBACK_TARGET, "ns for ::1", CFG_FULL, PASS(C_IP6) },
	{ NS_HOP64, "ns with hop limit 64", CFG_FULL, DROP(C_IP6, BP_TAP_CNT_DROP_NDP_HOP_LIMIT) },
	{ NS_BAD_OPTION, "ns with a zero-length option", CFG_FULL, PASS(C_IP6) },
	{ NS_SHORT, "ns of 16 bytes", CFG_FULL, PASS(C_IP6) },
	{ NS_CODE1, "ns with code 1", CFG_FULL, PASS(C_IP6) },
	{ NS_CFG_OFF, "ns, empty configuration", CFG_OFF, PASS(C_IP6) },

	{ RS_FULL, "rs, full configuration", CFG_FULL, ANSWER(C_IP6, BP_TAP_CNT_ANSWERED_RA) },
	{ RS_UNSPEC, "rs from ::", CFG_FULL, ANSWER(C_IP6, BP_TAP_CNT_ANSWERED_RA) },
	{ RS_UNSPEC_SLLAO, "rs from :: with a link-layer option", CFG_FULL, PASS(C_IP6) },
	{ RS_MIN, "rs, minimal configuration", CFG_MIN, ANSWER(C_IP6, BP_TAP_CNT_ANSWERED_RA) },
	{ RS_CFG_OFF, "rs, empty configuration", CFG_OFF, PASS(C_IP6) },
	{ RS_HOP1, "rs with hop limit 1", CFG_FULL, DROP(C_IP6, BP_TAP_CNT_DROP_NDP_HOP_LIMIT) },
	{ NA_FROM_GUEST, "na from the guest", CFG_FULL, PASS(C_IP6) },

	{ ECHO4, "echo request to the gateway", CFG_FULL,
	  ANSWER(C_IP4, BP_TAP_CNT_ANSWERED_ECHO4) },
	{ ECHO4_PADDED, "echo request with ethernet padding", CFG_FULL,
	  ANSWER(C_IP4, BP_TAP_CNT_ANSWERED_ECHO4) },
	{ ECHO4_OTHER_DST, "echo request to a remote address", CFG_FULL, PASS(C_IP4) },
	{ ECHO4_FRAG, "fragmented echo request", CFG_FULL, PASS(C_IP4) },
	{ ECHO4_OPTIONS, "echo request with ip options", CFG_FULL, PASS(C_IP4) },
	{ ECHO4_CODE1, "echo request with code 1", CFG_FULL, PASS(C_IP4) },
	{ ECHO4_REPLY, "echo reply from the guest", CFG_FULL, PASS(C_IP4) },
	{ ECHO4_CFG_MIN, "echo request, echo not configured", CFG_MIN, PASS(C_IP4) },
	{ IP4_IHL4, "ipv4 with ihl 4", CFG_FULL, DROP(C_IP4, BP_TAP_CNT_DROP_IP4_HEADER) },
	{ IP4_TOTLEN_LONG, "ipv4 longer than the frame", CFG_FULL,
	  DROP(C_IP4, BP_TAP_CNT_DROP_IP4_HEADER) },
	{ IP4_BAD_VERSION, "ipv4 ethertype, version 6", CFG_FULL,
	  DROP(C_IP4, BP_TAP_CNT_DROP_IP4_HEADER) },
	{ UDP4, "udp datagram", CFG_FULL, PASS(C_IP4) },

	{ ECHO6, "icmpv6 echo request to the gateway", CFG_FULL,
	  ANSWER(C_IP6, BP_TAP_CNT_ANSWERED_ECHO6) },
	{ ECHO6_OTHER_DST, "icmpv6 echo request to a remote address", CFG_FULL, PASS(C_IP6) },
	{ ECHO6_CFG_MIN, "icmpv6 echo request, echo not configured", CFG_MIN, PASS(C_IP6) },
	{ IP6_PLEN_LONG, "ipv6 longer than the frame", CFG_FULL,
	  DROP(C_IP6, BP_TAP_CNT_DROP_IP6_HEADER) },
	{ IP6_BAD_VERSION, "ipv6 ethertype, version 4", CFG_FULL,
	  DROP(C_IP6, BP_TAP_CNT_DROP_IP6_HEADER) },
	{ TCP6, "tcp segment over ipv6", CFG_FULL, PASS(C_IP6) },

	{ LLDP, "lldp frame", CFG_FULL, PASS(BP_TAP_CNT_ETH_OTHER) },
};
_Static_assert(sizeof(fixtures) / sizeof(fixtures[0]) == FX_COUNT, "one fixture per id");

/* Input frame and expected output (out->n == 0: the input, untouched) of fixture id. */
static void fixture_frames(enum fx id, struct tbuf *in, struct tbuf *out)
{
	uint8_t snm[16];

	in->n = out->n = 0;
	switch (id) {
	case ARP_GW:
		arp_frame(in, bcast, 1, gmac, g4, zero_mac, gw4);
		arp_reply(out, gmac, g4, gw4);
		break;
	case ARP_OTHER:
		arp_frame(in, bcast, 1, gmac, g4, zero_mac, other4);
		arp_reply(out, gmac, g4, other4);
		break;
	case ARP_PADDED:
		arp_frame(in, bcast, 1, gmac, g4, zero_mac, other4);
		t_zero(in, 18);
		arp_reply(out, gmac, g4, other4);
		break;
	case ARP_PROBE_GW:
		arp_frame(in, bcast, 1, gmac, zero4, zero_mac, gw4);
		arp_reply(out, gmac, zero4, gw4);
		break;
	case ARP_GUEST:
		arp_frame(in, bcast, 1, gmac, gw4, zero_mac, g4);
		break;
	case ARP_ANNOUNCE:
		arp_frame(in, bcast, 1, gmac, g4, zero_mac, g4);
		break;
	case ARP_PROBE_OTHER:
		arp_frame(in, bcast, 1, gmac, zero4, zero_mac, other4);
		break;
	case ARP_REPLY:
		arp_frame(in, our_mac, 2, gmac, g4, our_mac, gw4);
		break;
	case ARP_MCAST_SHA:
		arp_frame(in, bcast, 1, (const uint8_t[6]){ 0x01, 0, 0x5e, 0, 0, 1 }, g4, zero_mac,
			  gw4);
		break;
	case ARP_BCAST_TPA:
		arp_frame(in, bcast, 1, gmac, g4, zero_mac,
			  (const uint8_t[4]){ 255, 255, 255, 255 });
		break;
	case ARP_NOT_IP4:
		arp_frame(in, bcast, 1, gmac, g4, zero_mac, gw4);
		in->b[16] = 0x86, in->b[17] = 0xdd; /* ptype IPv6 */
		break;
	case ARP_TRUNCATED:
		arp_frame(in, bcast, 1, gmac, g4, zero_mac, gw4);
		in->n = 14 + 20;
		break;
	case ARP_CFG_OFF:
		arp_frame(in, bcast, 1, gmac, g4, zero_mac, gw4);
		break;

	case NS_GW:
		snm_of(gw6, snm);
		ns_frame(in, ll_guest, snm, gw6, true, 255);
		na_frame(out, gmac, gw6, ll_guest,
			 BP_NA_FLAG_SOLICITED | BP_NA_FLAG_OVERRIDE | BP_NA_FLAG_ROUTER);
		break;
	case NS_OUR_LL:
		snm_of(ll_ours, snm);
		ns_frame(in, ll_guest, snm, ll_ours, true, 255);
		na_frame(out, gmac, ll_ours, ll_guest,
			 BP_NA_FLAG_SOLICITED | BP_NA_FLAG_OVERRIDE | BP_NA_FLAG_ROUTER);
		break;
	case NS_OTHER:
		snm_of(other6, snm);
		ns_frame(in, g6, snm, other6, true, 255);
		na_frame(out, gmac, other6, g6, BP_NA_FLAG_SOLICITED | BP_NA_FLAG_OVERRIDE);
		break;
	case NS_NO_SLLAO:
		ns_frame(in, g6, other6, other6, false, 255);
		na_frame(out, gmac, other6, g6, BP_NA_FLAG_SOLICITED | BP_NA_FLAG_OVERRIDE);
		break;
	case NS_DAD_OURS:
		snm_of(gw6, snm);
		ns_frame(in, unspec6, snm, gw6, false, 255);
		na_frame(out, all_nodes_mac, gw6, all_nodes,
			 BP_NA_FLAG_OVERRIDE | BP_NA_FLAG_ROUTER);
		break;
	case NS_DAD_OTHER:
		snm_of(other6, snm);
		ns_frame(in, unspec6, snm, other6, false, 255);
		break;
	case NS_DAD_WRONG_DST:
		ns_frame(in, unspec6, all_nodes, gw6, false, 255);
		break;
	case NS_GUEST:
		ns_frame(in, ll_guest, all_nodes, g6, true, 255);
		break;
	case NS_GUEST_SEEN:
		ns_frame(in, ll_guest, all_nodes, g6_seen, true, 255);
		break;
	case NS_GUEST_LL:
		ns_frame(in, g6, all_nodes, ll_guest, true, 255);
		break;
	case NS_SELF:
		ns_frame(in, other6, all_nodes, other6, true, 255);
		break;
	case NS_MCAST_TARGET:
		ns_frame(in, ll_guest, all_nodes, mcast6, true, 255);
		break;
	case NS_LOOPBACK_TARGET:
		ns_frame(in, ll_guest, all_nodes, loop6, true, 255);
		break;
	case NS_HOP64:
		ns_frame(in, ll_guest, all_nodes, gw6, true, 64);
		break;
	case NS_BAD_OPTION:
		ns_frame(in, ll_guest, all_nodes, gw6, true, 255);
		in->b[54 + 24 + 1] = 0; /* option length 0 */
		t_icmp6_csum_fill(in, 54);
		break;
	case NS_SHORT:
		ns_frame(in, ll_guest, all_nodes, gw6, false, 255);
		in->n -= 8;
		in->b[19] = 16; /* payload length */
		t_icmp6_csum_fill(in, 54);
		break;
	case NS_CODE1:
		ns_frame(in, ll_guest, all_nodes, gw6, true, 255);
		in->b[55] = 1;
		t_icmp6_csum_fill(in, 54);
		break;
	case NS_CFG_OFF:
		ns_frame(in, ll_guest, all_nodes, gw6, true, 255);
		break;

	case RS_FULL:
		rs_frame(in, ll_guest, true, 255);
		ra_frame(out, CFG_FULL, gmac, ll_guest);
		break;
	case RS_UNSPEC:
		rs_frame(in, unspec6, false, 255);
		ra_frame(out, CFG_FULL, all_nodes_mac, all_nodes);
		break;
	case RS_UNSPEC_SLLAO:
		rs_frame(in, unspec6, true, 255);
		break;
	case RS_MIN:
		rs_frame(in, ll_guest, true, 255);
		ra_frame(out, CFG_MIN, gmac, ll_guest);
		break;
	case RS_CFG_OFF:
		rs_frame(in, ll_guest, true, 255);
		break;
	case RS_HOP1:
		rs_frame(in, ll_guest, true, 1);
		break;
	case NA_FROM_GUEST:
		na_frame(in, all_nodes_mac, g6, all_nodes, BP_NA_FLAG_OVERRIDE);
		memcpy(in->b + 6, gmac, 6);
		break;

	case ECHO4:
		echo4_frame(in, our_mac, gmac, g4, gw4, 8, 0, 0x10, 0x4321, 0x4000, 32, 0);
		echo4_frame(out, gmac, our_mac, gw4, g4, 0, 0, 0, 0, 0x4000, 64, 0);
		break;
	case ECHO4_PADDED:
		echo4_frame(in, our_mac, gmac, g4, gw4, 8, 0, 0, 1, 0, 64, 10);
		echo4_frame(out, gmac, our_mac, gw4, g4, 0, 0, 0, 0, 0x4000, 64, 0);
		break;
	case ECHO4_OTHER_DST:
		echo4_frame(in, our_mac, gmac, g4, other4, 8, 0, 0, 1, 0, 64, 0);
		break;
	case ECHO4_FRAG:
		echo4_frame(in, our_mac, gmac, g4, gw4, 8, 0, 0, 1, 0x2000, 64, 0);
		break;
	case ECHO4_OPTIONS: {
		struct tbuf e = { .n = 0 };

		/* IHL 6: a 4-byte NOP/EOL option before the ICMP header */
		echo4_frame(&e, our_mac, gmac, g4, gw4, 8, 0, 0, 1, 0, 64, 0);
		t_put(in, e.b, 34);
		t_be32(in, 0x01010100);
		t_put(in, e.b + 34, e.n - 34);
		in->b[14] = 0x46;
		in->b[17] = (uint8_t)(in->b[17] + 4);
		in->b[24] = in->b[25] = 0;
		uint16_t c = (uint16_t)~t_fold(t_sum(in->b + 14, 24, 0));
		in->b[24] = (uint8_t)(c >> 8), in->b[25] = (uint8_t)c;
		break;
	}
	case ECHO4_CODE1:
		echo4_frame(in, our_mac, gmac, g4, gw4, 8, 1, 0, 1, 0, 64, 0);
		break;
	case ECHO4_REPLY:
		echo4_frame(in, our_mac, gmac, g4, gw4, 0, 0, 0, 1, 0, 64, 0);
		break;
	case ECHO4_CFG_MIN:
		echo4_frame(in, our_mac, gmac, g4, gw4, 8, 0, 0, 1, 0, 64, 0);
		break;
	case IP4_IHL4:
		echo4_frame(in, our_mac, gmac, g4, gw4, 8, 0, 0, 1, 0, 64, 0);
		in->b[14] = 0x44;
		break;
	case IP4_TOTLEN_LONG:
		echo4_frame(in, our_mac, gmac, g4, gw4, 8, 0, 0, 1, 0, 64, 0);
		in->b[16] = 0x01; /* 256 + 44 bytes */
		break;
	case IP4_BAD_VERSION:
		echo4_frame(in, our_mac, gmac, g4, gw4, 8, 0, 0, 1, 0, 64, 0);
		in->b[14] = 0x65;
		break;
	case UDP4:
		t_eth(in, our_mac, gmac, 0x0800);
		t_ip4(in, g4, other4, 17, 32, 0, 1, 0x4000, 64);
		t_be16(in, 1000);
		t_be16(in, 53);
		t_be16(in, 12);
		t_be16(in, 0);
		t_put(in, "abcd", 4);
		break;

	case ECHO6:
		echo6_frame(in, our_mac, gmac, 0x6abcdef1, g6, gw6, 128, 32);
		echo6_frame(out, gmac, our_mac, 0x60000000, gw6, g6, 129, 64);
		break;
	case ECHO6_OTHER_DST:
		echo6_frame(in, our_mac, gmac, 0x60000000, g6, other6, 128, 64);
		break;
	case ECHO6_CFG_MIN:
		echo6_frame(in, our_mac, gmac, 0x60000000, g6, gw6, 128, 64);
		break;
	case IP6_PLEN_LONG:
		echo6_frame(in, our_mac, gmac, 0x60000000, g6, gw6, 128, 64);
		in->b[18] = 0x02; /* 512 + 24 */
		break;
	case IP6_BAD_VERSION:
		echo6_frame(in, our_mac, gmac, 0x40000000, g6, gw6, 128, 64);
		break;
	case TCP6:
		t_eth(in, our_mac, gmac, 0x86dd);
		t_ip6(in, 0x60000000, g6, other6, 20, 6, 64);
		t_be16(in, 40000);
		t_be16(in, 80);
		t_be32(in, 1);
		t_be32(in, 0);
		t_be16(in, 0x5002); /* SYN */
		t_be16(in, 65535);
		t_be32(in, 0);
		break;

	case LLDP:
		t_eth(in, (const uint8_t[6]){ 0x01, 0x80, 0xc2, 0, 0, 0x0e }, gmac, 0x88cc);
		t_zero(in, 46);
		break;
	case FX_COUNT:
		break;
	}
}

/* ---- Running ---- */

static int silent_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_WARN)
		return vfprintf(stderr, fmt, ap);
	return 0;
}

/* Counters summed over all possible CPUs. */
static int read_counters(int map_fd, uint64_t sum[BP_TAP_CNT_MAX])
{
	int ncpu = libbpf_num_possible_cpus();
	struct bp_tap_counters *percpu;
	__u32 key = 0;

	if (ncpu <= 0)
		return -1;
	percpu = calloc((size_t)ncpu, sizeof(*percpu));
	if (!percpu)
		return -1;
	if (bpf_map_lookup_elem(map_fd, &key, percpu)) {
		free(percpu);
		return -1;
	}
	memset(sum, 0, BP_TAP_CNT_MAX * sizeof(sum[0]));
	for (int cpu = 0; cpu < ncpu; cpu++) {
		const __u64 *v = (const __u64 *)&percpu[cpu];

		for (int i = 0; i < BP_TAP_CNT_MAX; i++)
			sum[i] += v[i];
	}
	free(percpu);
	return 0;
}

static void hexdump(const char *what, const uint8_t *p, size_t n)
{
	fprintf(stderr, "  %s (%zu bytes):", what, n);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%s%02x", i % 16 ? " " : "\n    ", p[i]);
	fputc('\n', stderr);
}

static void run_fixture(int prog_fd, int cfg_fd, int cnt_fd, const struct fixture *fx)
{
	uint64_t before[BP_TAP_CNT_MAX], after[BP_TAP_CNT_MAX];
	struct tbuf in, want;
	struct bp_tap_config cfg;
	int failures_before = failures, err;
	uint8_t out[2048];
	__u32 key = 0;

	fixture_frames(fx->id, &in, &want);
	if (!want.n)
		want = in;
	config_make(fx->cfg, &cfg);
	CHECK(bpf_map_update_elem(cfg_fd, &key, &cfg, BPF_ANY) == 0, "%s: config", fx->name);
	CHECK(read_counters(cnt_fd, before) == 0, "%s: read counters", fx->name);

	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in.b, .data_size_in = (__u32)in.n,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);
	err = bpf_prog_test_run_opts(prog_fd, &opts);
	CHECK(err == 0, "%s: test_run failed: %d", fx->name, err);
	CHECK((int)opts.retval == fx->verdict, "%s: verdict %u, expected %d", fx->name, opts.retval,
	      fx->verdict);
	if (opts.data_size_out != want.n || memcmp(out, want.b, want.n)) {
		CHECK(0, "%s: output frame differs from the expected one", fx->name);
		hexdump("expected", want.b, want.n);
		hexdump("got", out, opts.data_size_out);
	}
	if (fx->verdict == TC_ACT_REDIRECT)
		CHECK(t_csums_ok(out, opts.data_size_out), "%s: answer has a bad checksum",
		      fx->name);

	CHECK(read_counters(cnt_fd, after) == 0, "%s: read counters", fx->name);
	for (int k = 0; k < BP_TAP_CNT_MAX; k++) {
		uint64_t delta = after[k] - before[k];
		uint64_t want_delta =
			(k == (int)fx->class || k == (int)fx->outcome || k == (int)fx->reason) ? 1
											       : 0;

		CHECK(delta == want_delta, "%s: counter %d moved by %llu, expected %llu", fx->name,
		      k, (unsigned long long)delta, (unsigned long long)want_delta);
	}
	printf("%s %s\n", failures > failures_before ? "not ok" : "ok", fx->name);
}

int main(void)
{
	uint64_t before[BP_TAP_CNT_MAX], after[BP_TAP_CNT_MAX];
	int prog_fd, cfg_fd, cnt_fd, err;
	uint8_t runt[10], out[64];
	char reason[256];
	struct tap *skel;

	libbpf_set_print(silent_print);
	err = bp_loader_probe_bpf(reason, sizeof(reason));
	if (err) {
		printf("SKIP: %s\n", reason);
		return BPF_TEST_SKIP;
	}
	if (libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SCHED_CLS, NULL) != 1) {
		printf("SKIP: the kernel cannot load TC (sched_cls) programs\n");
		return BPF_TEST_SKIP;
	}
	skel = tap__open_and_load();
	if (!skel) {
		fprintf(stderr, "FAIL: tap__open_and_load: %s\n", strerror(errno));
		return 1;
	}
	prog_fd = bpf_program__fd(skel->progs.bp_tap_egress);
	cfg_fd = bpf_map__fd(skel->maps.tap_config);
	cnt_fd = bpf_map__fd(skel->maps.tap_counters);

	for (size_t i = 0; i < FX_COUNT; i++) {
		CHECK(fixtures[i].id == (enum fx)i, "fixture %zu out of order", i);
		run_fixture(prog_fd, cfg_fd, cnt_fd, &fixtures[i]);
	}

	/* 10 bytes: not even an EtherType. bpf_prog_test_run refuses frames shorter than an
	 * Ethernet header (EINVAL) before the program runs, so no counter may move. */
	memset(runt, 0xab, sizeof(runt));
	CHECK(read_counters(cnt_fd, before) == 0, "runt: read counters");
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = runt, .data_size_in = sizeof(runt),
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);
	err = bpf_prog_test_run_opts(prog_fd, &opts);
	CHECK(err == -EINVAL, "runt: test_run returned %d, expected %d", err, -EINVAL);
	CHECK(read_counters(cnt_fd, after) == 0, "runt: read counters");
	CHECK(!memcmp(before, after, sizeof(before)), "runt: counters moved");
	printf("%s 10-byte runt refused\n", err == -EINVAL ? "ok" : "not ok");

	/* Totals: every frame counted once by class and once by outcome. */
	CHECK(after[BP_TAP_CNT_ETH_IP4] + after[BP_TAP_CNT_ETH_IP6] + after[BP_TAP_CNT_ETH_ARP] +
			      after[BP_TAP_CNT_ETH_OTHER] + after[BP_TAP_CNT_ETH_RUNT] ==
		      FX_COUNT,
	      "class totals");
	CHECK(after[BP_TAP_CNT_ANSWERED_ARP] + after[BP_TAP_CNT_ANSWERED_NA] +
			      after[BP_TAP_CNT_ANSWERED_RA] + after[BP_TAP_CNT_ANSWERED_ECHO4] +
			      after[BP_TAP_CNT_ANSWERED_ECHO6] + after[BP_TAP_CNT_PASSED] +
			      after[BP_TAP_CNT_DROPPED] ==
		      FX_COUNT,
	      "outcome totals");

	tap__destroy(skel);
	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("all %d fixtures ok\n", FX_COUNT);
	return 0;
}
