/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bpasst_maps.h - layouts of the BPF maps, and the answers that the BPF path and the daemon share
 *
 * Floor 0 of the house: fixed-width types from <linux/types.h> only, no logic, so that both
 * clang -target bpf and the userspace compilers include the same definitions. Every layout has a
 * _Static_assert on its size (and the counters on each field's index), because a silent layout
 * difference between the two sides would corrupt the map contents without any error.
 *
 * Maps (defined in bpf/lib/maps.h; docs/bpf.md gives the bpftool command that reads each):
 *   tap_config    array, 1 slot: struct bp_tap_config, what the tap program answers and with what
 *   tap_counters  per-CPU array, 1 slot: struct bp_tap_counters, frames seen/answered/passed/dropped
 *   flow_mirror   hash, flow index -> struct bp_flow_mirror, a read-only copy of the daemon's flows
 *   instance      array, 1 slot: struct bp_instance, which process owns the pinned maps
 *
 * The answer contract (BP_RA_*, BP_REPLY_*, the rules below) is the one place where the BPF fast
 * path and the userspace services (user/proto/arp.c, ndp.c, the echo path) agree on what they
 * send, so that an answer is the same byte for byte whichever path gives it.
 */
#ifndef BPASST_MAPS_H
#define BPASST_MAPS_H

#include <linux/types.h>

/* ---- What the tap program answers: struct bp_tap_config (map tap_config) ---- */

/*
 * Answer contract, both paths (the userspace side is user/proto/arp.c, ndp.c and flow/ping.c;
 * their theory-of-operation comments say the same):
 *
 * ARP (Ethernet/IPv4 request), answered unless: the sender hardware address is zero or
 *   multicast; sender address == target address (announcement); the target is the guest's
 *   address; the target is 0.0.0.0, multicast or 255.255.255.255; the sender address is 0.0.0.0
 *   (probe) and the target is not the gateway. Reply, 42 bytes, not padded: Ethernet dst =
 *   requester's sha, src = our MAC, type 0x0806; ARP 1/0x0800/6/4, op 2, sha = our MAC,
 *   spa = requested tpa, tha = requester's sha, tpa = requester's spa.
 *
 * NDP messages (ICMPv6 133..137) must have hop limit 255 and code 0, and every option a non-zero
 *   length inside the message; anything else gets no answer.
 *
 * Neighbour solicitation (at least 24 bytes; target not multicast, :: or ::1):
 *   - from a unicast source: answered unless the target is one of the guest's addresses
 *     (assigned, or seen in use, global or link-local) or the NS source itself;
 *   - from :: (duplicate address detection): only without a source link-layer option, sent to
 *     the target's solicited-node address, and only when the target is ours (the gateway or our
 *     link-local address), so that the guest's own addresses pass DAD.
 *   Neighbour advertisement, 86 bytes: Ethernet dst = the NS's Ethernet source
 *   (33:33:00:00:00:01 for DAD), src = our MAC; IPv6 traffic class 0, flow label 0, hop limit
 *   255, src = the target, dst = the NS source (ff02::1 for DAD); ICMPv6 136/0, flags Override,
 *   | Solicited unless DAD, | Router when the target is ours; the target; one option: target
 *   link-layer address (type 2, length 1, our MAC).
 *
 * Router solicitation (at least 8 bytes; from :: only without a source link-layer option):
 *   router advertisement to the RS source and its Ethernet source (ff02::1 and
 *   33:33:00:00:00:01 when the RS came from ::); src = our MAC and the RA source address;
 *   IPv6 traffic class 0, flow label 0, hop limit 255; ICMPv6 134/0, cur hop limit
 *   BP_RA_CUR_HOP_LIMIT, flags Managed|Other while DHCPv6 is on (else 0), router lifetime
 *   BP_RA_ROUTER_LIFETIME, reachable time and retrans timer 0; then the options in this order,
 *   each only when present:
 *     prefix information (type 3, length 4): prefix length (64), flags BP_RA_PREFIX_FLAGS,
 *       lifetimes BP_RA_PREFIX_VALID/PREFERRED_LIFETIME, reserved 0, the guest's address with
 *       the host bits cleared                                (when BP_CFG_RA_PREFIX)
 *     source link-layer address (type 1, length 1, our MAC)  (always)
 *     MTU (type 5, length 1, reserved 0)                    (when mtu >= BP_RA_MTU_MIN)
 *     RDNSS (type 25, length 1 + 2n, reserved 0): lifetime BP_RA_DNS_LIFETIME, n addresses
 *     DNSSL (type 31): reserved 0, lifetime BP_RA_DNS_LIFETIME, the search domains in DNS wire
 *       format, uncompressed, zero-padded to a multiple of 8   (when dnssl_len != 0)
 *
 * Echo (ICMP type 8 / ICMPv6 type 128, code 0) to the configured echo address, answered here only
 *   for an IPv4 header without options and not fragmented, or ICMPv6 directly after the IPv6
 *   header (the daemon answers the rest through its ping sockets, in the same shape). Reply:
 *   Ethernet dst = the requester's source, src = our MAC; IPv4: TOS 0, ID 0, flags DF,
 *   TTL BP_REPLY_TTL, addresses swapped; IPv6: traffic class 0, flow label 0, hop limit
 *   BP_REPLY_TTL, addresses swapped; ICMP type 0 / ICMPv6 type 129, code 0, identifier,
 *   sequence and data as received; no Ethernet padding.
 */
#define BP_RA_CUR_HOP_LIMIT 255 /* upstream passt's value */
#define BP_RA_ROUTER_LIFETIME 65535 /* seconds (RFC 8319 allows up to 65535) */
#define BP_RA_REACHABLE_TIME 0 /* unspecified */
#define BP_RA_RETRANS_TIMER 0 /* unspecified */
#define BP_RA_PREFIX_LEN 64
#define BP_RA_PREFIX_FLAGS 0xc0 /* on-link (L) and autonomous (A) */
#define BP_RA_PREFIX_VALID_LIFETIME 0xffffffffu /* infinity */
#define BP_RA_PREFIX_PREFERRED_LIFETIME 0xffffffffu
#define BP_RA_DNS_LIFETIME 0xffffffffu /* RDNSS and DNSSL */
#define BP_RA_MTU_MIN 1280 /* smaller MTUs are not advertised */
#define BP_NDP_HOP_LIMIT 255 /* sent and required on every NDP message (RFC 4861) */
#define BP_REPLY_TTL 64 /* IPv4 TTL / IPv6 hop limit of echo replies (as flow/ping.c) */

#define BP_RA_MAX_RDNSS 4
#define BP_RA_DNSSL_MAX 256 /* bytes of the whole DNSSL option, header included */

/* bp_tap_config.flags */
#define BP_CFG_ARP (1u << 0) /* answer ARP requests (IPv4 is on) */
#define BP_CFG_IP4_GW (1u << 1) /* ip4_gw is valid (ARP probes for it are answered) */
#define BP_CFG_NDP (1u << 2) /* answer neighbour solicitations (IPv6 on, NDP not disabled) */
#define BP_CFG_RA (1u << 3) /* answer router solicitations (needs BP_CFG_NDP, ip6_ra_src) */
#define BP_CFG_DHCPV6 (1u << 4) /* DHCPv6 is on: RAs carry the Managed and Other flags */
#define BP_CFG_ECHO4 (1u << 5) /* answer ICMP echo requests to ip4_echo */
#define BP_CFG_ECHO6 (1u << 6) /* answer ICMPv6 echo requests to ip6_echo */
#define BP_CFG_IP6_GW (1u << 7) /* ip6_gw is valid: the gateway is "ours" (NA Router flag) */
#define BP_CFG_RA_PREFIX (1u << 8) /* RAs carry a prefix information option for ip6_prefix */

/*
 * Value of the single slot of tap_config. All zero (as created) answers nothing: every frame goes
 * to the daemon. Addresses are byte arrays in network order, as they sit in packets; an all-zero
 * address means "none".
 */
struct bp_tap_config {
	__u32 flags; /* BP_CFG_* */
	__u32 mtu; /* RA MTU option, sent when >= BP_RA_MTU_MIN */
	__u8 our_mac[6]; /* the MAC we answer with (config.our_mac) */
	__u8 ip6_prefix_len; /* prefix information option (BP_RA_PREFIX_LEN) */
	__u8 rdnss_count; /* addresses in rdnss[], 0..BP_RA_MAX_RDNSS */
	__u8 ip4_guest[4]; /* the guest's address: never answered for */
	__u8 ip4_gw[4]; /* the gateway (with BP_CFG_IP4_GW) */
	__u8 ip4_echo[4]; /* echo requests to this address are answered (with BP_CFG_ECHO4) */
	__u32 dnssl_len; /* bytes used in dnssl[]: a multiple of 8, 0 for no DNSSL option */
	__u8 ip6_our_ll[16]; /* config ip6.our_ll: "ours" (NA Router flag, DAD answered) */
	__u8 ip6_ra_src[16]; /* the link-local address RAs come from; zero: no RA here */
	__u8 ip6_gw[16]; /* the gateway (with BP_CFG_IP6_GW): "ours" too */
	__u8 ip6_guest[16]; /* the guest's assigned address: never answered for */
	__u8 ip6_guest_seen[16]; /* global address the guest was seen using: never answered for */
	__u8 ip6_guest_ll_seen[16]; /* its link-local address, likewise */
	__u8 ip6_echo[16]; /* echo requests to this address are answered (with BP_CFG_ECHO6) */
	__u8 ip6_prefix[16]; /* RA prefix; host bits are cleared by the program */
	__u8 rdnss[BP_RA_MAX_RDNSS][16]; /* RDNSS option addresses */
	__u8 dnssl[BP_RA_DNSSL_MAX]; /* the whole DNSSL option as sent (type 31 ... padding) */
};
_Static_assert(sizeof(struct bp_tap_config) == 480, "bp_tap_config layout");
_Static_assert(__builtin_offsetof(struct bp_tap_config, ip6_our_ll) == 32, "bp_tap_config layout");
_Static_assert(__builtin_offsetof(struct bp_tap_config, dnssl) == 224, "bp_tap_config layout");

/* ---- Counters (map tap_counters) ---- */

/*
 * The map value is one struct of named __u64 fields, so that `bpftool map dump` prints the names;
 * enum bp_tap_counter gives each field's index, so that code can treat the value as an array (the
 * BPF side increments by index, userspace sums the per-CPU copies in a loop). The two must agree:
 * see the _Static_asserts below.
 *
 * Every frame counts once in one eth_* class and once in exactly one outcome: one answered_*,
 * passed, or dropped; every drop also counts once in one drop_* reason.
 */
enum bp_tap_counter {
	/* Every frame seen, by EtherType class. */
	BP_TAP_CNT_ETH_IP4 = 0,
	BP_TAP_CNT_ETH_IP6,
	BP_TAP_CNT_ETH_ARP,
	BP_TAP_CNT_ETH_OTHER,
	BP_TAP_CNT_ETH_RUNT, /* shorter than an Ethernet header: no EtherType */
	/* Outcomes. */
	BP_TAP_CNT_ANSWERED_ARP,
	BP_TAP_CNT_ANSWERED_NA,
	BP_TAP_CNT_ANSWERED_RA,
	BP_TAP_CNT_ANSWERED_ECHO4,
	BP_TAP_CNT_ANSWERED_ECHO6,
	BP_TAP_CNT_PASSED, /* to the daemon, untouched */
	BP_TAP_CNT_DROPPED, /* sum of the drop reasons */
	/* Drop reasons: frames that the daemon would discard too. */
	BP_TAP_CNT_DROP_RUNT, /* shorter than an Ethernet header */
	BP_TAP_CNT_DROP_IP4_HEADER, /* IPv4 header truncated, IHL < 5, or length past the frame */
	BP_TAP_CNT_DROP_IP6_HEADER, /* IPv6 header truncated, or payload length past the frame */
	BP_TAP_CNT_DROP_ARP_TRUNCATED, /* Ethernet/IPv4 ARP shorter than 28 bytes */
	BP_TAP_CNT_DROP_NDP_HOP_LIMIT, /* NDP message with hop limit != 255 (RFC 4861) */
	BP_TAP_CNT_DROP_ANSWER_FAILED, /* a helper failed half way through rewriting the frame */
	BP_TAP_CNT_MAX
};

struct bp_tap_counters {
	__u64 eth_ip4;
	__u64 eth_ip6;
	__u64 eth_arp;
	__u64 eth_other;
	__u64 eth_runt;
	__u64 answered_arp;
	__u64 answered_na;
	__u64 answered_ra;
	__u64 answered_echo4;
	__u64 answered_echo6;
	__u64 passed;
	__u64 dropped;
	__u64 drop_runt;
	__u64 drop_ip4_header;
	__u64 drop_ip6_header;
	__u64 drop_arp_truncated;
	__u64 drop_ndp_hop_limit;
	__u64 drop_answer_failed;
};

#define BP_TAP_CNT_CHECK_(field, idx)                                                              \
	_Static_assert(__builtin_offsetof(struct bp_tap_counters, field) == (idx) * sizeof(__u64), \
		       "counter " #field " index")
BP_TAP_CNT_CHECK_(eth_ip4, BP_TAP_CNT_ETH_IP4);
BP_TAP_CNT_CHECK_(eth_ip6, BP_TAP_CNT_ETH_IP6);
BP_TAP_CNT_CHECK_(eth_arp, BP_TAP_CNT_ETH_ARP);
BP_TAP_CNT_CHECK_(eth_other, BP_TAP_CNT_ETH_OTHER);
BP_TAP_CNT_CHECK_(eth_runt, BP_TAP_CNT_ETH_RUNT);
BP_TAP_CNT_CHECK_(answered_arp, BP_TAP_CNT_ANSWERED_ARP);
BP_TAP_CNT_CHECK_(answered_na, BP_TAP_CNT_ANSWERED_NA);
BP_TAP_CNT_CHECK_(answered_ra, BP_TAP_CNT_ANSWERED_RA);
BP_TAP_CNT_CHECK_(answered_echo4, BP_TAP_CNT_ANSWERED_ECHO4);
BP_TAP_CNT_CHECK_(answered_echo6, BP_TAP_CNT_ANSWERED_ECHO6);
BP_TAP_CNT_CHECK_(passed, BP_TAP_CNT_PASSED);
BP_TAP_CNT_CHECK_(dropped, BP_TAP_CNT_DROPPED);
BP_TAP_CNT_CHECK_(drop_runt, BP_TAP_CNT_DROP_RUNT);
BP_TAP_CNT_CHECK_(drop_ip4_header, BP_TAP_CNT_DROP_IP4_HEADER);
BP_TAP_CNT_CHECK_(drop_ip6_header, BP_TAP_CNT_DROP_IP6_HEADER);
BP_TAP_CNT_CHECK_(drop_arp_truncated, BP_TAP_CNT_DROP_ARP_TRUNCATED);
BP_TAP_CNT_CHECK_(drop_ndp_hop_limit, BP_TAP_CNT_DROP_NDP_HOP_LIMIT);
BP_TAP_CNT_CHECK_(drop_answer_failed, BP_TAP_CNT_DROP_ANSWER_FAILED);
_Static_assert(sizeof(struct bp_tap_counters) == BP_TAP_CNT_MAX * sizeof(__u64),
	       "one __u64 per counter index");

/* ---- Flow table mirror (map flow_mirror) ---- */

/* Written by the daemon only (the programs do not read it): a view for bpftool and for later
 * programs. Key (__u32): a TCP flow's slot, 4096 + a UDP flow's slot, 5120 + a spliced (loopback)
 * TCP connection's slot, 7168 + an ICMP echo flow's slot (user/io/mirror.h, docs/bpf.md). */
enum bp_flow_state {
	BP_FLOW_STATE_NONE = 0,
	BP_FLOW_STATE_NEW, /* opening: TCP handshake in progress, UDP/ICMP first packet */
	BP_FLOW_STATE_ESTABLISHED,
	BP_FLOW_STATE_CLOSING, /* one side closed (TCP FIN seen), or timing out */
	BP_FLOW_STATE_CLOSED, /* about to be freed */
};

/* One side of a flow. IPv4 addresses are IPv4-mapped (::ffff:a.b.c.d); ports in host order
 * (ICMP: the echo identifier in both). */
struct bp_flow_side {
	__u8 src_addr[16];
	__u8 dst_addr[16];
	__u16 src_port;
	__u16 dst_port;
};
_Static_assert(sizeof(struct bp_flow_side) == 36, "bp_flow_side layout");

/* bp_flow_mirror.flags */
#define BP_FLOW_F_SPLICED (1u << 0) /* pasta's loopback path: no tap side, two sockets of ours */
#define BP_FLOW_F_BYPASS_C2S (1u << 1) /* loopback bypass: the client's data skips the relay */
#define BP_FLOW_F_BYPASS_S2C (1u << 2) /* ... and the server's */
#define BP_FLOW_F_EGRESS_C2S (1u << 3) /* with BYPASS_C2S: through our socket (egress mode) */
#define BP_FLOW_F_EGRESS_S2C (1u << 4) /* with BYPASS_S2C: the same */

struct bp_flow_mirror {
	__u8 proto; /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6 */
	__u8 flags; /* BP_FLOW_F_* */
	__u8 pad[2];
	enum bp_flow_state state;
	struct bp_flow_side tap; /* as the guest sees it: src = the guest */
	struct bp_flow_side host; /* our socket: src = our local end, dst = the peer */
	__u64 bytes_from_guest;
	__u64 bytes_to_guest;
	__u64 updated_ns; /* CLOCK_MONOTONIC when the loader last wrote this entry */
};
_Static_assert(sizeof(enum bp_flow_state) == 4, "enum bp_flow_state size");
_Static_assert(sizeof(struct bp_flow_mirror) == 104, "bp_flow_mirror layout");

#define BP_FLOW_MIRROR_DEFAULT_MAX 4096 /* entries when the loader is not told */

/* ---- Owner of the pinned maps (map instance) ---- */

/* Tells a live instance's pin directory from one left by a killed process: the loader removes a
 * directory whose pid is gone or now belongs to a process that started at another time. */
struct bp_instance {
	__u32 pid;
	__u32 tap_ifindex; /* in the namespace of the tap */
	__u64 pid_start_time; /* field 22 of /proc/PID/stat (clock ticks since boot) */
	__u64 netns_ino; /* inode of the tap's network namespace */
	char tap_name[16];
	char name[64]; /* the instance name: the pin directory's name */
};
_Static_assert(sizeof(struct bp_instance) == 104, "bp_instance layout");

#endif /* BPASST_MAPS_H */
