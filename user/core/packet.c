/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * packet.c - bounds-checked views of untrusted frames, the frame parser, and frame builders
 *
 * Views: every access to received bytes goes through pkt_at_()/pkt_sub_() (and the pkt_get_*()
 * and pkt_copy_() wrappers over them). A check that fails returns NULL/-1/false and logs, at debug
 * level, the caller's file:line (passed in by the macros in packet.h) with the offset, length and
 * view size, so that a refused frame can be traced to the check that refused it.
 *
 * Parser: frame_parse() makes one pass over an Ethernet frame and fills a struct frame:
 *   Ethernet -> ARP (fixed header, then the addresses its hlen/plen announce)
 *            -> IPv4 (IHL >= 5, IHL*4 <= total length <= received; the view is trimmed to the
 *               total length, dropping Ethernet padding; fragments are flagged and stop here)
 *            -> IPv6 (payload length <= received, trimmed likewise; up to IP6_EXT_MAX extension
 *               headers walked: hop-by-hop, routing, destination options, fragment; a fragment
 *               that is not atomic is flagged and stops here)
 *            -> TCP (data offset >= 5 and within the segment), UDP (8 <= length <= IP payload,
 *               trimmed to the length), ICMP/ICMPv6 (>= 4 bytes, echo >= 8); other protocols get
 *               an l4 view of the whole IP payload and are not looked into.
 * Each layer's view is a sub-view of the one before, so no later access can reach past the IP
 * length. The parser keeps no state and never writes to the frame.
 *
 * Builders: a struct frame_builder is (buffer, capacity, cursor, overflow flag). fb_put() hands
 * out zeroed space at the cursor or sets the overflow flag; the *_push() helpers write headers
 * through it; ip_finish() reads back the IP header pushed at fb->l3_off, fills the length fields
 * (IPv4 total length or IPv6 payload length, and the UDP length when the payload is UDP) and
 * computes the IPv4 header checksum and the L4 checksum over the finished bytes. Builders
 * only ever touch memory we own, so they use plain pointers into fb->buf.
 */
#include <string.h>
#include <linux/icmp.h>
#include <linux/icmpv6.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>

#include "core/checksum.h"
#include "core/log.h"
#include "core/packet.h"

/* At most this many IPv6 extension headers are walked before the frame is refused. */
#define IP6_EXT_MAX 8

#define IP4_FLAG_MF 0x2000
#define IP4_FLAG_DF 0x4000
#define IP4_OFFSET_MASK 0x1fff
#define IP6_FRAG_OFFSET_MASK 0xfff8
#define IP6_FRAG_MF 0x0001
#define TCP_OPT_EOL 0
#define TCP_OPT_NOP 1

/* ---- Views ---- */

const void *pkt_at_(const struct pkt *p, size_t off, size_t len, const char *file, int line)
{
	if (!p->data || off > p->len || len > p->len - off) {
		debug("%s:%d: packet access [%zu, +%zu) outside view of %zu bytes", file, line, off,
		      len, p->len);
		return NULL;
	}
	return p->data + off;
}

int pkt_sub_(const struct pkt *p, size_t off, size_t len, struct pkt *out, const char *file,
	     int line)
{
	const uint8_t *start = pkt_at_(p, off, len, file, line);

	if (!start)
		return -1;
	out->data = start;
	out->len = len;
	return 0;
}

bool pkt_get_u8_(const struct pkt *p, size_t off, uint8_t *v, const char *file, int line)
{
	const uint8_t *b = pkt_at_(p, off, 1, file, line);

	if (!b)
		return false;
	*v = b[0];
	return true;
}

bool pkt_get_be16_(const struct pkt *p, size_t off, uint16_t *v, const char *file, int line)
{
	const uint8_t *b = pkt_at_(p, off, 2, file, line);

	if (!b)
		return false;
	*v = (uint16_t)((b[0] << 8) | b[1]);
	return true;
}

bool pkt_get_be32_(const struct pkt *p, size_t off, uint32_t *v, const char *file, int line)
{
	const uint8_t *b = pkt_at_(p, off, 4, file, line);

	if (!b)
		return false;
	*v = ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
	return true;
}

bool pkt_copy_(const struct pkt *p, size_t off, void *dst, size_t len, const char *file, int line)
{
	const void *src = pkt_at_(p, off, len, file, line);

	if (!src)
		return false;
	if (len)
		memcpy(dst, src, len);
	return true;
}

/* ---- Parser ---- */

/* The rest of view p from off on (off <= p->len), or -1. */
static int pkt_rest(const struct pkt *p, size_t off, struct pkt *out)
{
	if (off > p->len) {
		debug("packet: offset %zu past view of %zu bytes", off, p->len);
		return -1;
	}
	return pkt_sub(p, off, p->len - off, out);
}

static int frame_parse_arp(struct frame *f, const struct pkt *body)
{
	uint8_t hlen, plen;
	size_t arp_len;

	/* htype(2) ptype(2) hlen(1) plen(1) op(2), then sender/target hardware and protocol. */
	if (!pkt_get_u8(body, 4, &hlen) || !pkt_get_u8(body, 5, &plen))
		return -1;
	arp_len = 8 + 2 * ((size_t)hlen + plen);
	if (pkt_sub(body, 0, arp_len, &f->l3) < 0)
		return -1;
	f->l3_hdr_len = arp_len;
	return 0;
}

static int frame_parse_tcp(struct frame *f)
{
	uint8_t doff_byte;
	size_t hdr_len;

	if (!pkt_get_be16(&f->l4, 0, &f->sport) || !pkt_get_be16(&f->l4, 2, &f->dport) ||
	    !pkt_get_u8(&f->l4, 12, &doff_byte))
		return -1;
	if (f->l4.len < sizeof(struct tcphdr)) {
		debug("TCP: segment of %zu bytes shorter than a header", f->l4.len);
		return -1;
	}
	hdr_len = (size_t)(doff_byte >> 4) * 4;
	if (hdr_len < sizeof(struct tcphdr) || hdr_len > f->l4.len) {
		debug("TCP: data offset %zu invalid in a segment of %zu bytes", hdr_len, f->l4.len);
		return -1;
	}
	f->l4_hdr_len = hdr_len;
	return pkt_rest(&f->l4, hdr_len, &f->payload);
}

static int frame_parse_udp(struct frame *f)
{
	uint16_t udp_len;
	struct pkt dgram;

	if (!pkt_get_be16(&f->l4, 0, &f->sport) || !pkt_get_be16(&f->l4, 2, &f->dport) ||
	    !pkt_get_be16(&f->l4, 4, &udp_len))
		return -1;
	if (udp_len < sizeof(struct udphdr) || udp_len > f->l4.len) {
		debug("UDP: length %u invalid in an IP payload of %zu bytes", udp_len, f->l4.len);
		return -1;
	}
	if (pkt_sub(&f->l4, 0, udp_len, &dgram) < 0)
		return -1;
	f->l4 = dgram;
	f->l4_hdr_len = sizeof(struct udphdr);
	return pkt_rest(&f->l4, sizeof(struct udphdr), &f->payload);
}

static int frame_parse_icmp(struct frame *f, bool echo)
{
	if (f->l4.len < 4 || (echo && f->l4.len < 8)) {
		debug("ICMP: message of %zu bytes too short", f->l4.len);
		return -1;
	}
	f->l4_hdr_len = echo ? 8 : 4;
	return pkt_rest(&f->l4, 4, &f->payload);
}

/* L4 header of an unfragmented IP packet: f->l4 is the IP payload, f->l4_proto its protocol. */
static int frame_parse_l4(struct frame *f)
{
	uint8_t type;

	switch (f->l4_proto) {
	case IPPROTO_TCP:
		return frame_parse_tcp(f);
	case IPPROTO_UDP:
		return frame_parse_udp(f);
	case IPPROTO_ICMP:
		if (f->l3_kind != FRAME_L3_IP4)
			return 0;
		if (!pkt_get_u8(&f->l4, 0, &type))
			return -1;
		return frame_parse_icmp(f, type == ICMP_ECHO || type == ICMP_ECHOREPLY);
	case IPPROTO_ICMPV6:
		if (f->l3_kind != FRAME_L3_IP6)
			return 0;
		if (!pkt_get_u8(&f->l4, 0, &type))
			return -1;
		return frame_parse_icmp(f,
					type == ICMPV6_ECHO_REQUEST || type == ICMPV6_ECHO_REPLY);
	default:
		return 0;
	}
}

static int frame_parse_ip4(struct frame *f, const struct pkt *body)
{
	struct iphdr ip4_copy, *ip4 = &ip4_copy; /* copied out: the frame may be misaligned */
	size_t hdr_len, tot_len;
	uint16_t frag;

	if (!pkt_copy(body, 0, ip4, sizeof(*ip4)))
		return -1;
	hdr_len = (size_t)ip4->ihl * 4;
	tot_len = ntohs(ip4->tot_len);
	if (ip4->version != 4 || hdr_len < sizeof(*ip4)) {
		debug("IPv4: version %u, header length %zu", (unsigned)ip4->version, hdr_len);
		return -1;
	}
	if (tot_len < hdr_len || tot_len > body->len) {
		debug("IPv4: total length %zu, header %zu, received %zu", tot_len, hdr_len,
		      body->len);
		return -1;
	}
	if (pkt_sub(body, 0, tot_len, &f->l3) < 0)
		return -1;
	f->l3_hdr_len = hdr_len;
	f->l4_proto = ip4->protocol;
	f->ttl = ip4->ttl;
	f->src.v4.s_addr = ip4->saddr;
	f->dst.v4.s_addr = ip4->daddr;
	frag = ntohs(ip4->frag_off);
	if (frag & (IP4_FLAG_MF | IP4_OFFSET_MASK)) {
		f->fragment = true;
		return 0;
	}
	if (pkt_rest(&f->l3, hdr_len, &f->l4) < 0)
		return -1;
	return frame_parse_l4(f);
}

/* Walk the IPv6 extension headers from offset 40: sets l3_hdr_len, l4_proto and fragment. */
static int frame_parse_ip6_ext(struct frame *f, uint8_t nexthdr)
{
	size_t off = sizeof(struct ipv6hdr);
	unsigned n;

	for (n = 0;; n++) {
		uint8_t hdr_units, next;
		uint16_t frag;
		size_t ext_len;

		if (nexthdr != IPPROTO_HOPOPTS && nexthdr != IPPROTO_ROUTING &&
		    nexthdr != IPPROTO_DSTOPTS && nexthdr != IPPROTO_FRAGMENT)
			break;
		if (n >= IP6_EXT_MAX) {
			debug("IPv6: more than %d extension headers", IP6_EXT_MAX);
			return -1;
		}
		if (!pkt_get_u8(&f->l3, off, &next) || !pkt_get_u8(&f->l3, off + 1, &hdr_units))
			return -1;
		if (nexthdr == IPPROTO_FRAGMENT) {
			/* next(1) reserved(1) offset+flags(2) identification(4) */
			if (!pkt_get_be16(&f->l3, off + 2, &frag) || !pkt_at(&f->l3, off, 8))
				return -1;
			ext_len = 8;
			if (frag & (IP6_FRAG_OFFSET_MASK | IP6_FRAG_MF)) {
				f->fragment = true;
				f->l3_hdr_len = off + ext_len;
				f->l4_proto = next;
				return 0;
			}
			/* Atomic fragment (RFC 6946): the whole packet, keep walking. */
		} else {
			ext_len = ((size_t)hdr_units + 1) * 8;
			if (!pkt_at(&f->l3, off, ext_len))
				return -1;
		}
		off += ext_len;
		nexthdr = next;
	}
	f->l3_hdr_len = off;
	f->l4_proto = nexthdr;
	return 0;
}

static int frame_parse_ip6(struct frame *f, const struct pkt *body)
{
	struct ipv6hdr ip6_copy, *ip6 = &ip6_copy; /* copied out: the frame may be misaligned */
	size_t payload_len;

	if (!pkt_copy(body, 0, ip6, sizeof(*ip6)))
		return -1;
	payload_len = ntohs(ip6->payload_len);
	if (ip6->version != 6) {
		debug("IPv6: version %u", (unsigned)ip6->version);
		return -1;
	}
	if (payload_len > body->len - sizeof(*ip6)) {
		debug("IPv6: payload length %zu, received %zu", payload_len,
		      body->len - sizeof(*ip6));
		return -1;
	}
	if (pkt_sub(body, 0, sizeof(*ip6) + payload_len, &f->l3) < 0)
		return -1;
	f->ttl = ip6->hop_limit;
	memcpy(&f->src.v6, &ip6->saddr, sizeof(f->src.v6));
	memcpy(&f->dst.v6, &ip6->daddr, sizeof(f->dst.v6));
	if (frame_parse_ip6_ext(f, ip6->nexthdr) < 0)
		return -1;
	if (f->fragment)
		return 0;
	if (pkt_rest(&f->l3, f->l3_hdr_len, &f->l4) < 0)
		return -1;
	return frame_parse_l4(f);
}

int frame_parse(const void *buf, size_t len, struct frame *f)
{
	struct pkt body;
	int ret;

	memset(f, 0, sizeof(*f));
	f->eth = pkt_make(buf, len);
	if (!pkt_copy(&f->eth, 0, f->dst_mac, BP_ETH_ALEN) ||
	    !pkt_copy(&f->eth, BP_ETH_ALEN, f->src_mac, BP_ETH_ALEN) ||
	    !pkt_get_be16(&f->eth, 2 * BP_ETH_ALEN, &f->ethertype))
		return -1;
	if (pkt_rest(&f->eth, BP_ETH_HLEN, &body) < 0)
		return -1;

	switch (f->ethertype) {
	case BP_ETH_P_ARP:
		f->l3_kind = FRAME_L3_ARP;
		ret = frame_parse_arp(f, &body);
		break;
	case BP_ETH_P_IP:
		f->l3_kind = FRAME_L3_IP4;
		ret = frame_parse_ip4(f, &body);
		break;
	case BP_ETH_P_IPV6:
		f->l3_kind = FRAME_L3_IP6;
		ret = frame_parse_ip6(f, &body);
		break;
	default:
		f->l3_kind = FRAME_L3_OTHER;
		f->l3 = body;
		ret = 0;
		break;
	}
	if (ret < 0)
		debug("frame of %zu bytes, EtherType 0x%04x: malformed, dropped", len,
		      f->ethertype);
	return ret;
}

int tcp_opts_walk(const struct pkt *tcp_hdr,
		  void (*fn)(uint8_t kind, const struct pkt *data, void *arg), void *arg)
{
	size_t off = sizeof(struct tcphdr), end;
	uint8_t doff_byte;

	if (!pkt_get_u8(tcp_hdr, 12, &doff_byte))
		return -1;
	end = (size_t)(doff_byte >> 4) * 4;
	if (end < sizeof(struct tcphdr) || end > tcp_hdr->len) {
		debug("TCP options: data offset %zu invalid for a view of %zu", end, tcp_hdr->len);
		return -1;
	}
	while (off < end) {
		uint8_t kind, opt_len;
		struct pkt data;

		if (!pkt_get_u8(tcp_hdr, off, &kind))
			return -1;
		if (kind == TCP_OPT_EOL)
			return 0;
		if (kind == TCP_OPT_NOP) {
			off++;
			continue;
		}
		if (off + 1 >= end) {
			debug("TCP options: kind %u has no length byte", kind);
			return -1;
		}
		if (!pkt_get_u8(tcp_hdr, off + 1, &opt_len))
			return -1;
		if (opt_len < 2 || opt_len > end - off) {
			debug("TCP options: kind %u length %u runs past the header", kind, opt_len);
			return -1;
		}
		if (pkt_sub(tcp_hdr, off + 2, (size_t)opt_len - 2, &data) < 0)
			return -1;
		if (fn)
			fn(kind, &data, arg);
		off += opt_len;
	}
	return 0;
}

/* ---- Builders ---- */

void *fb_put(struct frame_builder *fb, size_t len)
{
	uint8_t *p;

	if (fb->overflow || !fb->buf || fb->len > fb->cap || len > fb->cap - fb->len) {
		fb->overflow = true;
		return NULL;
	}
	p = fb->buf + fb->len;
	memset(p, 0, len);
	fb->len += len;
	return p;
}

bool fb_append(struct frame_builder *fb, const void *data, size_t len)
{
	void *p = fb_put(fb, len);

	if (!p)
		return false;
	if (len)
		memcpy(p, data, len);
	return true;
}

bool eth_push(struct frame_builder *fb, const uint8_t dst[BP_ETH_ALEN],
	      const uint8_t src[BP_ETH_ALEN], uint16_t ethertype)
{
	struct ethhdr eth;

	memcpy(eth.h_dest, dst, BP_ETH_ALEN);
	memcpy(eth.h_source, src, BP_ETH_ALEN);
	eth.h_proto = htons(ethertype);
	return fb_append(fb, &eth, sizeof(eth));
}

bool ip4_push(struct frame_builder *fb, struct in_addr src, struct in_addr dst, uint8_t proto,
	      uint8_t ttl)
{
	size_t off = fb->len;
	struct iphdr ip4;

	memset(&ip4, 0, sizeof(ip4));
	ip4.version = 4;
	ip4.ihl = sizeof(ip4) / 4;
	ip4.frag_off = htons(IP4_FLAG_DF);
	ip4.ttl = ttl;
	ip4.protocol = proto;
	ip4.saddr = src.s_addr;
	ip4.daddr = dst.s_addr;
	if (!fb_append(fb, &ip4, sizeof(ip4)))
		return false;
	fb->l3_off = off;
	fb->l4_proto = proto;
	return true;
}

bool ip6_push(struct frame_builder *fb, const struct in6_addr *src, const struct in6_addr *dst,
	      uint8_t nexthdr, uint8_t hop_limit)
{
	size_t off = fb->len;
	struct ipv6hdr ip6;

	memset(&ip6, 0, sizeof(ip6));
	ip6.version = 6;
	ip6.nexthdr = nexthdr;
	ip6.hop_limit = hop_limit;
	memcpy(&ip6.saddr, src, sizeof(ip6.saddr));
	memcpy(&ip6.daddr, dst, sizeof(ip6.daddr));
	if (!fb_append(fb, &ip6, sizeof(ip6)))
		return false;
	fb->l3_off = off;
	fb->l4_proto = nexthdr;
	return true;
}

/* Offset of the checksum field inside the L4 header of proto, or -1 if we do not fill one. */
static int l4_check_offset(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return 16;
	case IPPROTO_UDP:
		return 6;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		return 2;
	default:
		return -1;
	}
}

/* Fill the L4 checksum of the l4_len bytes at l4, given the pseudo-header sum. */
static bool l4_checksum_fill(uint8_t *l4, size_t l4_len, uint8_t proto, uint32_t pseudo)
{
	int check_off = l4_check_offset(proto);
	uint16_t check;

	if (check_off < 0)
		return true;
	if (l4_len < (size_t)check_off + 2)
		return false;
	memset(l4 + check_off, 0, 2);
	check = csum(l4, l4_len, pseudo);
	if (proto == IPPROTO_UDP && check == 0)
		check = 0xffff; /* 0 means "no checksum" in UDP */
	memcpy(l4 + check_off, &check, 2);
	return true;
}

/* UDP: the length field covers header and data, i.e. the whole IP payload. */
static bool udp_length_fill(uint8_t *l4, size_t l4_len, uint8_t proto)
{
	uint16_t len_be;

	if (proto != IPPROTO_UDP)
		return true;
	if (l4_len < sizeof(struct udphdr) || l4_len > 0xffff)
		return false;
	len_be = htons((uint16_t)l4_len);
	memcpy(l4 + 4, &len_be, 2);
	return true;
}

static size_t ip4_finish(struct frame_builder *fb, uint8_t *l3, size_t l3_len)
{
	struct iphdr ip4;
	size_t hdr_len;
	uint32_t pseudo = 0;

	if (l3_len < sizeof(ip4) || l3_len > 0xffff)
		return 0;
	memcpy(&ip4, l3, sizeof(ip4));
	hdr_len = (size_t)ip4.ihl * 4;
	if (hdr_len < sizeof(ip4) || hdr_len > l3_len)
		return 0;
	ip4.tot_len = htons((uint16_t)l3_len);
	ip4.check = 0;
	memcpy(l3, &ip4, sizeof(ip4));
	ip4.check = csum(l3, hdr_len, 0);
	memcpy(l3, &ip4, sizeof(ip4));

	if (ip4.protocol == IPPROTO_ICMPV6)
		return fb->len; /* no ICMPv6 over IPv4: leave it alone */
	if (!udp_length_fill(l3 + hdr_len, l3_len - hdr_len, ip4.protocol))
		return 0;
	if (ip4.protocol != IPPROTO_ICMP) {
		struct in_addr src = { ip4.saddr }, dst = { ip4.daddr };

		pseudo = csum_pseudo4(src, dst, ip4.protocol, (uint16_t)(l3_len - hdr_len));
	}
	if (!l4_checksum_fill(l3 + hdr_len, l3_len - hdr_len, ip4.protocol, pseudo))
		return 0;
	return fb->len;
}

static size_t ip6_finish(struct frame_builder *fb, uint8_t *l3, size_t l3_len)
{
	struct ipv6hdr ip6;
	size_t payload_len;
	uint32_t pseudo;

	if (l3_len < sizeof(ip6) || l3_len - sizeof(ip6) > 0xffff)
		return 0;
	memcpy(&ip6, l3, sizeof(ip6));
	payload_len = l3_len - sizeof(ip6);
	ip6.payload_len = htons((uint16_t)payload_len);
	memcpy(l3, &ip6, sizeof(ip6));

	/* ip6_push() writes no extension headers: the L4 header follows directly. */
	if (ip6.nexthdr == IPPROTO_ICMP)
		return fb->len; /* no ICMPv4 over IPv6: leave it alone */
	if (!udp_length_fill(l3 + sizeof(ip6), payload_len, ip6.nexthdr))
		return 0;
	pseudo = csum_pseudo6(&ip6.saddr, &ip6.daddr, ip6.nexthdr, (uint32_t)payload_len);
	if (!l4_checksum_fill(l3 + sizeof(ip6), payload_len, ip6.nexthdr, pseudo))
		return 0;
	return fb->len;
}

size_t ip_finish(struct frame_builder *fb)
{
	uint8_t *l3;

	if (fb->overflow || !fb->buf || fb->len > fb->cap || fb->l3_off >= fb->len)
		return 0;
	l3 = fb->buf + fb->l3_off;
	switch (l3[0] >> 4) {
	case 4:
		return ip4_finish(fb, l3, fb->len - fb->l3_off);
	case 6:
		return ip6_finish(fb, l3, fb->len - fb->l3_off);
	default:
		return 0;
	}
}

/* ---- Address helpers ---- */

bool mac_is_zero(const uint8_t mac[BP_ETH_ALEN])
{
	static const uint8_t zero[BP_ETH_ALEN];

	return !memcmp(mac, zero, BP_ETH_ALEN);
}

bool mac_is_broadcast(const uint8_t mac[BP_ETH_ALEN])
{
	static const uint8_t bcast[BP_ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	return !memcmp(mac, bcast, BP_ETH_ALEN);
}

void mac_of_ip6_multicast(const struct in6_addr *a, uint8_t mac[BP_ETH_ALEN])
{
	mac[0] = 0x33;
	mac[1] = 0x33;
	memcpy(mac + 2, &a->s6_addr[12], 4);
}

void ip6_solicited_node(const struct in6_addr *a, struct in6_addr *out)
{
	static const uint8_t prefix[13] = { 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff };
	struct in6_addr r;

	memcpy(r.s6_addr, prefix, sizeof(prefix));
	memcpy(&r.s6_addr[13], &a->s6_addr[13], 3);
	*out = r;
}
