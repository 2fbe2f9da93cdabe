/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * packet.h - bounds-checked views of untrusted frames, a frame parser, and frame builders
 *
 * Reading: a struct pkt is a (pointer, length) view of bytes we did not write. Nothing touches
 * those bytes except through pkt_at() (a pointer to len bytes at off, or NULL) and pkt_sub() (a
 * narrower view); a failed check is logged at debug level with the caller's file and line, so a
 * malformed frame can be traced to the check that refused it. No other code does pointer
 * arithmetic on received data.
 *
 * frame_parse() walks an Ethernet frame once: Ethernet, then ARP or IPv4/IPv6 (IPv6 extension
 * headers are walked: hop-by-hop, routing, destination options, fragment), then the L4 header of
 * TCP, UDP, ICMP or ICMPv6. It checks every length field against what was received (IPv4 IHL >= 5,
 * total length >= header and <= buffer, TCP data offset >= 5 and within the segment, UDP length
 * within the datagram) and trims trailing Ethernet padding using the IP length. It fills a struct
 * frame of offsets and copied-out addresses; views of each layer are sub-views of the frame.
 *
 * Writing: a struct frame_builder is an output buffer with a cursor. fb_put() reserves bytes
 * (NULL, and the builder marked overflowed, if they do not fit); eth_push(), ip4_push(),
 * ip6_push() write headers; the payload is appended with fb_put()/fb_append(); ip_finish() then
 * sets the IP length fields and computes the IPv4 header checksum and the L4 checksum (TCP, UDP,
 * ICMP, ICMPv6) over the finished packet. An overflowed builder is never sent.
 */
#ifndef BPASST_PACKET_H
#define BPASST_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "bpasst_wire.h"

/* ---- Views ---- */

struct pkt {
	const uint8_t *data;
	size_t len;
};

static inline struct pkt pkt_make(const void *data, size_t len)
{
	struct pkt p = { .data = (const uint8_t *)data, .len = len };
	return p;
}

const void *pkt_at_(const struct pkt *p, size_t off, size_t len, const char *file, int line);
int pkt_sub_(const struct pkt *p, size_t off, size_t len, struct pkt *out, const char *file,
	     int line);

/* Pointer to len bytes at off inside p, or NULL (logged with the caller's file:line). */
#define pkt_at(p, off, len) pkt_at_((p), (off), (len), __FILE__, __LINE__)
/* Typed variant: const TYPE * at off, or NULL. Structs used this way must be packed or the
 * access must tolerate misalignment (all wire structs in bpasst_wire.h are packed). */
#define PKT_AT(p, off, type) ((const type *)pkt_at((p), (off), sizeof(type)))
/* Narrower view [off, off+len) of p into *out; 0, or -1 (logged) when it does not fit. */
#define pkt_sub(p, off, len, out) pkt_sub_((p), (off), (len), (out), __FILE__, __LINE__)
/* Read big-endian integers; return false (logged) when out of bounds. */
bool pkt_get_u8_(const struct pkt *p, size_t off, uint8_t *v, const char *file, int line);
bool pkt_get_be16_(const struct pkt *p, size_t off, uint16_t *v, const char *file, int line);
bool pkt_get_be32_(const struct pkt *p, size_t off, uint32_t *v, const char *file, int line);
#define pkt_get_u8(p, off, v) pkt_get_u8_((p), (off), (v), __FILE__, __LINE__)
#define pkt_get_be16(p, off, v) pkt_get_be16_((p), (off), (v), __FILE__, __LINE__)
#define pkt_get_be32(p, off, v) pkt_get_be32_((p), (off), (v), __FILE__, __LINE__)
/* Copy len bytes at off into dst; false (logged) when out of bounds. */
bool pkt_copy_(const struct pkt *p, size_t off, void *dst, size_t len, const char *file, int line);
#define pkt_copy(p, off, dst, len) pkt_copy_((p), (off), (dst), (len), __FILE__, __LINE__)

/* ---- Parsed frame ---- */

enum frame_l3 {
	FRAME_L3_OTHER = 0,
	FRAME_L3_ARP,
	FRAME_L3_IP4,
	FRAME_L3_IP6,
};

struct frame {
	struct pkt eth; /* the whole frame as received (padding included) */
	uint8_t dst_mac[BP_ETH_ALEN];
	uint8_t src_mac[BP_ETH_ALEN];
	uint16_t ethertype; /* host order */
	enum frame_l3 l3_kind;
	struct pkt l3; /* ARP body, or IP header + payload trimmed to the IP length */
	size_t l3_hdr_len; /* IPv4 IHL*4, IPv6 40 + extension headers */
	/* IP only: */
	uint8_t l4_proto; /* IPPROTO_*, after IPv6 extension headers */
	uint8_t ttl; /* IPv4 TTL or IPv6 hop limit */
	bool fragment; /* IPv4 MF/offset or IPv6 fragment header: l4 is not parsed */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} src, dst;
	struct pkt l4; /* L4 header + payload */
	/* TCP/UDP only (host order): */
	uint16_t sport, dport;
	/* TCP only: */
	size_t l4_hdr_len; /* TCP data offset*4, UDP 8, ICMP/ICMPv6 4 (or 8 for echo) */
	struct pkt payload; /* L4 payload (TCP data, UDP data, ICMP body after the 4-byte header) */
};

/* Parse an Ethernet frame. Returns 0 on success (ARP, IP with a valid L4 header, or an EtherType
 * we do not parse further: l3_kind OTHER), or -1 when the frame is malformed (logged at debug). */
int frame_parse(const void *buf, size_t len, struct frame *f);

/* Walk TCP options in a header (view of the TCP header incl. options). Calls fn for each option
 * (kind, view of its data). Returns 0, or -1 if the options run past the header. */
int tcp_opts_walk(const struct pkt *tcp_hdr,
		  void (*fn)(uint8_t kind, const struct pkt *data, void *arg), void *arg);

/* ---- Builders ---- */

struct frame_builder {
	uint8_t *buf;
	size_t cap;
	size_t len;
	bool overflow;
	size_t l3_off; /* set by ip4_push/ip6_push, used by ip_finish */
	uint8_t l4_proto;
};

static inline void fb_init(struct frame_builder *fb, void *buf, size_t cap)
{
	fb->buf = (uint8_t *)buf;
	fb->cap = cap;
	fb->len = 0;
	fb->overflow = false;
	fb->l3_off = 0;
	fb->l4_proto = 0;
}

/* Reserve len zeroed bytes at the cursor: pointer to them, or NULL and fb->overflow set. */
void *fb_put(struct frame_builder *fb, size_t len);
/* Append a copy of len bytes. false on overflow. */
bool fb_append(struct frame_builder *fb, const void *data, size_t len);
/* Ethernet header. false on overflow. */
bool eth_push(struct frame_builder *fb, const uint8_t dst[BP_ETH_ALEN],
	      const uint8_t src[BP_ETH_ALEN], uint16_t ethertype);
/* IPv4 header without options (length and checksum filled by ip_finish). */
bool ip4_push(struct frame_builder *fb, struct in_addr src, struct in_addr dst, uint8_t proto,
	      uint8_t ttl);
/* IPv6 header (payload length filled by ip_finish). */
bool ip6_push(struct frame_builder *fb, const struct in6_addr *src, const struct in6_addr *dst,
	      uint8_t nexthdr, uint8_t hop_limit);
/* After the L4 header and payload are appended: set lengths and checksums (IPv4 header, and the
 * TCP/UDP/ICMP/ICMPv6 checksum). Returns the total frame length, or 0 on overflow. */
size_t ip_finish(struct frame_builder *fb);

/* Address helpers */
static inline bool ip6_is_linklocal(const struct in6_addr *a)
{
	return a->s6_addr[0] == 0xfe && (a->s6_addr[1] & 0xc0) == 0x80;
}
bool mac_is_zero(const uint8_t mac[BP_ETH_ALEN]);
bool mac_is_broadcast(const uint8_t mac[BP_ETH_ALEN]);
/* 33:33:xx:xx:xx:xx multicast MAC of an IPv6 multicast address. */
void mac_of_ip6_multicast(const struct in6_addr *a, uint8_t mac[BP_ETH_ALEN]);
/* Solicited-node multicast address ff02::1:ffXX:XXXX of a. */
void ip6_solicited_node(const struct in6_addr *a, struct in6_addr *out);

#endif /* BPASST_PACKET_H */
