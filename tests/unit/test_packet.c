/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_packet.c - unit tests for core/packet.c: views, frame_parse(), tcp_opts_walk(), builders
 *
 * Valid frames of every kind the parser knows (ARP, IPv4 and IPv6 with UDP, TCP, ICMP/ICMPv6,
 * IPv6 extension headers) are built with the builders or written out byte by byte, parsed, and
 * their fields compared. Then each is cut at every length and lied about (IHL, total length, IPv6
 * payload length, extension header chains, TCP data offset and options, UDP length, short ICMP):
 * every such frame must be refused, padded frames must be trimmed, short frames accepted. Built
 * frames must parse back and carry valid IPv4 header and L4 checksums, at odd buffer alignments
 * too. A bounded random-mutation loop checks that whatever the parser accepts stays inside the
 * buffer (run it under ASan/UBSan for the full effect).
 *
 * Every check prints the failing expression with file:line and exits 1.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/checksum.h"
#include "core/log.h"
#include "core/packet.h"

#include "check.h"

#define ETH_OFF 14
#define IP4_L4 (ETH_OFF + 20)
#define IP6_L4 (ETH_OFF + 40)

static const uint8_t mac_guest[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t mac_host[6] = { 0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55 };
static struct in_addr a4_guest, a4_host;
static struct in6_addr a6_guest, a6_host;

#define RNG_SEED 0x243f6a8885a308d3ULL
#include "rng.h"

static void put16(uint8_t *p, uint16_t host)
{
	p[0] = (uint8_t)(host >> 8);
	p[1] = (uint8_t)host;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Is view v inside [base, base+len)? */
static bool view_inside(const struct pkt *v, const void *base, size_t len)
{
	const uint8_t *b = base;

	if (!v->len)
		return true;
	return v->data >= b && v->data <= b + len && v->len <= (size_t)(b + len - v->data);
}

static bool view_inside_view(const struct pkt *in, const struct pkt *out)
{
	return view_inside(in, out->data, out->len);
}

/* ---- Frame builders used by the tests ---- */

/* Ethernet + IPv4 + L4 header of l4_hdr_len bytes (caller's bytes) + payload. */
static size_t build4(uint8_t *buf, size_t cap, uint8_t proto, const void *l4_hdr, size_t l4_hdr_len,
		     const void *payload, size_t payload_len)
{
	struct frame_builder fb;

	fb_init(&fb, buf, cap);
	eth_push(&fb, mac_host, mac_guest, BP_ETH_P_IP);
	ip4_push(&fb, a4_guest, a4_host, proto, 64);
	fb_append(&fb, l4_hdr, l4_hdr_len);
	fb_append(&fb, payload, payload_len);
	return ip_finish(&fb);
}

static size_t build6(uint8_t *buf, size_t cap, uint8_t nexthdr, const void *l4_hdr,
		     size_t l4_hdr_len, const void *payload, size_t payload_len)
{
	struct frame_builder fb;

	fb_init(&fb, buf, cap);
	eth_push(&fb, mac_host, mac_guest, BP_ETH_P_IPV6);
	ip6_push(&fb, &a6_guest, &a6_host, nexthdr, 255);
	fb_append(&fb, l4_hdr, l4_hdr_len);
	fb_append(&fb, payload, payload_len);
	return ip_finish(&fb);
}

static const uint8_t udp_hdr[8] = { 0x30, 0x39, 0x00, 0x35 }; /* 12345 -> 53 */
static const uint8_t icmp_echo[8] = { 8, 0, 0, 0, 0x12, 0x34, 0x00, 0x01 };
static const uint8_t icmp6_echo[8] = { 128, 0, 0, 0, 0x12, 0x34, 0x00, 0x01 };
/* TCP 40000 -> 80, SYN, data offset 8: MSS 1460, NOP, NOP, SACK-permitted, NOP, wscale 7. */
static const uint8_t tcp_syn[32] = {
	0x9c, 0x40, 0x00, 0x50, 0, 0, 0,    1,	  0, 0, 0, 0, 0x80, 0x02, 0xff, 0xff,
	0,    0,    0,	  0,	2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1,    3,	  3,	7,
};

/* Verify the IPv4 header checksum and the L4 checksum of a parsed frame. */
static void check_sums(const struct frame *f)
{
	uint32_t pseudo = 0;

	if (f->l3_kind == FRAME_L3_IP4) {
		CHECK_EQ(csum_fold(csum_partial(f->l3.data, f->l3_hdr_len, 0)), 0xffff);
		if (f->l4_proto != IPPROTO_ICMP)
			pseudo = csum_pseudo4(f->src.v4, f->dst.v4, f->l4_proto,
					      (uint16_t)(f->l3.len - f->l3_hdr_len));
	} else {
		pseudo = csum_pseudo6(&f->src.v6, &f->dst.v6, f->l4_proto,
				      (uint32_t)(f->l3.len - f->l3_hdr_len));
	}
	/* Over the whole IP payload (for UDP that equals the datagram once trimmed). */
	CHECK_EQ(csum_fold(csum_partial_ref(f->l4.data, f->l4.len, pseudo)), 0xffff);
}

/* ---- Views ---- */

static void test_views(void)
{
	static const uint8_t bytes[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct pkt p = pkt_make(bytes, sizeof(bytes)), sub, empty = pkt_make(NULL, 0);
	uint8_t v8, copy[4];
	uint16_t v16;
	uint32_t v32;

	CHECK(pkt_at(&p, 0, 8) == bytes);
	CHECK(pkt_at(&p, 8, 0) == bytes + 8);
	CHECK(pkt_at(&p, 7, 1) == bytes + 7);
	CHECK(pkt_at(&p, 7, 2) == NULL);
	CHECK(pkt_at(&p, 9, 0) == NULL);
	CHECK(pkt_at(&p, 0, 9) == NULL);
	CHECK(pkt_at(&p, SIZE_MAX, 2) == NULL);
	CHECK(pkt_at(&p, 2, SIZE_MAX - 1) == NULL);
	CHECK(pkt_at(&empty, 0, 0) == NULL);
	CHECK(pkt_at(&empty, 0, 1) == NULL);

	CHECK_EQ(pkt_sub(&p, 2, 4, &sub), 0);
	CHECK(sub.data == bytes + 2 && sub.len == 4);
	CHECK_EQ(pkt_sub(&sub, 1, 4, &sub), -1);
	CHECK(sub.data == bytes + 2 && sub.len == 4); /* untouched on failure */
	CHECK(pkt_get_u8(&sub, 3, &v8) && v8 == 6);
	CHECK(!pkt_get_u8(&sub, 4, &v8));
	CHECK(pkt_get_be16(&p, 0, &v16) && v16 == 0x0102);
	CHECK(!pkt_get_be16(&p, 7, &v16));
	CHECK(pkt_get_be32(&p, 4, &v32) && v32 == 0x05060708);
	CHECK(!pkt_get_be32(&p, 5, &v32));
	CHECK(pkt_copy(&p, 4, copy, 4) && !memcmp(copy, bytes + 4, 4));
	CHECK(!pkt_copy(&p, 5, copy, 4));
	CHECK(pkt_copy(&p, 8, copy, 0));
}

/* A failed check logs the caller's file:line at debug level. */
static void test_view_log(void)
{
	char path[] = "/tmp/test_packet_log.XXXXXX", text[4096] = "", want[64];
	static const uint8_t bytes[4];
	struct pkt p = pkt_make(bytes, sizeof(bytes));
	ssize_t n;
	int fd, line;

	fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK_EQ(log_open_file(path, 0), 0);
	log_to_stderr(false);
	log_set_level(LOG_LVL_DEBUG);
	line = __LINE__ + 1;
	CHECK(pkt_at(&p, 3, 2) == NULL);
	log_set_level(LOG_LVL_INFO);
	log_to_stderr(true);
	n = read(fd, text, sizeof(text) - 1);
	CHECK(n > 0);
	text[n] = '\0';
	snprintf(want, sizeof(want), "test_packet.c:%d:", line);
	CHECK(strstr(text, want) != NULL);
	close(fd);
	unlink(path);
}

/* ---- ARP ---- */

static void test_arp(void)
{
	/* Who has 192.0.2.1? Tell 192.0.2.2 (from the guest), as received: 42 bytes. */
	static const uint8_t arp[42] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x06,
		0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
		192,  0,    2,	  2,	0,    0,    0,	  0,	0,    0,    192,  0,	2,    1,
	};
	const struct bp_arp_eth_ip4 *body;
	uint8_t padded[60] = { 0 };
	struct frame f;
	size_t len;

	CHECK_EQ(frame_parse(arp, sizeof(arp), &f), 0);
	CHECK_EQ(f.l3_kind, FRAME_L3_ARP);
	CHECK_EQ(f.ethertype, BP_ETH_P_ARP);
	CHECK(mac_is_broadcast(f.dst_mac));
	CHECK(!memcmp(f.src_mac, mac_guest, 6));
	CHECK_EQ(f.l3.len, 28);
	CHECK_EQ(f.l3_hdr_len, 28);
	body = PKT_AT(&f.l3, 0, struct bp_arp_eth_ip4);
	CHECK(body != NULL);
	CHECK_EQ(ntohs(body->op), BP_ARPOP_REQUEST);
	CHECK(!memcmp(body->tpa, (uint8_t[]){ 192, 0, 2, 1 }, 4));

	/* Padded to 60: the ARP view stays 28 bytes, eth keeps all 60. */
	memcpy(padded, arp, sizeof(arp));
	memset(padded + sizeof(arp), 0xee, sizeof(padded) - sizeof(arp));
	CHECK_EQ(frame_parse(padded, sizeof(padded), &f), 0);
	CHECK_EQ(f.l3.len, 28);
	CHECK_EQ(f.eth.len, 60);

	for (len = 0; len < sizeof(arp); len++)
		CHECK_EQ(frame_parse(arp, len, &f), -1);
}

/* ---- IPv4 ---- */

static void test_ip4_udp(void)
{
	uint8_t buf[128], padded[60];
	struct frame f;
	size_t len, i;

	len = build4(buf, sizeof(buf), IPPROTO_UDP, udp_hdr, sizeof(udp_hdr), "hello", 5);
	CHECK_EQ(len, 14 + 20 + 8 + 5);
	CHECK_EQ(frame_parse(buf, len, &f), 0); /* shorter than 60: accepted */
	CHECK_EQ(f.l3_kind, FRAME_L3_IP4);
	CHECK_EQ(f.l4_proto, IPPROTO_UDP);
	CHECK_EQ(f.ttl, 64);
	CHECK(!f.fragment);
	CHECK_EQ(f.src.v4.s_addr, a4_guest.s_addr);
	CHECK_EQ(f.dst.v4.s_addr, a4_host.s_addr);
	CHECK(!memcmp(f.dst_mac, mac_host, 6) && !memcmp(f.src_mac, mac_guest, 6));
	CHECK_EQ(f.l3_hdr_len, 20);
	CHECK_EQ(f.l3.len, 33);
	CHECK_EQ(f.l4.len, 13);
	CHECK_EQ(f.l4_hdr_len, 8);
	CHECK_EQ(f.sport, 12345);
	CHECK_EQ(f.dport, 53);
	CHECK(f.payload.len == 5 && !memcmp(f.payload.data, "hello", 5));
	CHECK_EQ(get16(buf + IP4_L4 + 4), 13); /* UDP length set by ip_finish */
	check_sums(&f);

	/* Ethernet padding to 60 bytes is trimmed from every layer. */
	memcpy(padded, buf, len);
	memset(padded + len, 0xa5, sizeof(padded) - len);
	CHECK_EQ(frame_parse(padded, sizeof(padded), &f), 0);
	CHECK_EQ(f.eth.len, 60);
	CHECK_EQ(f.l3.len, 33);
	CHECK_EQ(f.l4.len, 13);
	CHECK_EQ(f.payload.len, 5);

	/* Every truncation is refused (the total length no longer fits). */
	for (i = 0; i < len; i++)
		CHECK_EQ(frame_parse(buf, i, &f), -1);

	/* UDP length shorter than the IP payload: trimmed to it. */
	put16(buf + IP4_L4 + 4, 10);
	CHECK_EQ(frame_parse(buf, len, &f), 0);
	CHECK_EQ(f.l4.len, 10);
	CHECK(f.payload.len == 2 && !memcmp(f.payload.data, "he", 2));
	/* UDP length < 8, or past the IP payload: refused. */
	put16(buf + IP4_L4 + 4, 7);
	CHECK_EQ(frame_parse(buf, len, &f), -1);
	put16(buf + IP4_L4 + 4, 0);
	CHECK_EQ(frame_parse(buf, len, &f), -1);
	put16(buf + IP4_L4 + 4, 14);
	CHECK_EQ(frame_parse(buf, len, &f), -1);
	put16(buf + IP4_L4 + 4, 8);
	CHECK_EQ(frame_parse(buf, len, &f), 0);
	CHECK_EQ(f.payload.len, 0);
	/* The padded copy with a UDP length into the padding: refused (past the IP length). */
	put16(padded + IP4_L4 + 4, 20);
	CHECK_EQ(frame_parse(padded, sizeof(padded), &f), -1);
}

static void test_ip4_lies(void)
{
	uint8_t buf[128], opt[128];
	struct frame f;
	size_t len;

	len = build4(buf, sizeof(buf), IPPROTO_UDP, udp_hdr, sizeof(udp_hdr), "hello", 5);
	CHECK(len);

	/* IHL < 5, on a protocol we do not look into (so no L4 check can refuse it instead) */
	{
		uint8_t other[64];
		size_t olen = build4(other, sizeof(other), 253, "0123456789abcdef", 16, NULL, 0);

		CHECK_EQ(frame_parse(other, olen, &f), 0);
		CHECK_EQ(f.l4_proto, 253);
		CHECK_EQ(f.l4.len, 16);
		for (uint8_t ihl = 0; ihl < 5; ihl++) {
			other[ETH_OFF] = (uint8_t)(0x40 | ihl);
			CHECK_EQ(frame_parse(other, olen, &f), -1);
		}
	}
	for (uint8_t ihl = 0; ihl < 5; ihl++) {
		buf[ETH_OFF] = (uint8_t)(0x40 | ihl);
		CHECK_EQ(frame_parse(buf, len, &f), -1);
	}
	/* IHL past the total length and past the buffer */
	buf[ETH_OFF] = 0x4f;
	CHECK_EQ(frame_parse(buf, len, &f), -1);
	put16(buf + ETH_OFF + 2, (uint16_t)(len - ETH_OFF + 40));
	CHECK_EQ(frame_parse(buf, len, &f), -1);
	buf[ETH_OFF] = 0x45;
	/* total length > buffer */
	put16(buf + ETH_OFF + 2, (uint16_t)(len - ETH_OFF + 1));
	CHECK_EQ(frame_parse(buf, len, &f), -1);
	put16(buf + ETH_OFF + 2, 0xffff);
	CHECK_EQ(frame_parse(buf, len, &f), -1);
	/* total length < IHL*4 */
	put16(buf + ETH_OFF + 2, 19);
	CHECK_EQ(frame_parse(buf, len, &f), -1);
	put16(buf + ETH_OFF + 2, 0);
	CHECK_EQ(frame_parse(buf, len, &f), -1);
	/* total length == header: no room for UDP */
	put16(buf + ETH_OFF + 2, 20);
	CHECK_EQ(frame_parse(buf, len, &f), -1);
	put16(buf + ETH_OFF + 2, (uint16_t)(len - ETH_OFF));
	CHECK_EQ(frame_parse(buf, len, &f), 0);
	/* wrong version */
	buf[ETH_OFF] = 0x65;
	CHECK_EQ(frame_parse(buf, len, &f), -1);
	buf[ETH_OFF] = 0x45;

	/* IHL 6 with 4 bytes of options: L4 starts at 24. */
	memcpy(opt, buf, IP4_L4);
	memset(opt + IP4_L4, 1, 4); /* NOP options */
	memcpy(opt + IP4_L4 + 4, buf + IP4_L4, len - IP4_L4);
	opt[ETH_OFF] = 0x46;
	put16(opt + ETH_OFF + 2, (uint16_t)(len - ETH_OFF + 4));
	CHECK_EQ(frame_parse(opt, len + 4, &f), 0);
	CHECK_EQ(f.l3_hdr_len, 24);
	CHECK_EQ(f.dport, 53);
	CHECK_EQ(f.payload.len, 5);

	/* Fragments: flagged, L4 not parsed (even with a lying UDP length inside). */
	put16(buf + IP4_L4 + 4, 0xffff);
	put16(buf + ETH_OFF + 6, 0x2000); /* MF */
	CHECK_EQ(frame_parse(buf, len, &f), 0);
	CHECK(f.fragment);
	CHECK_EQ(f.l4.len, 0);
	CHECK_EQ(f.sport, 0);
	put16(buf + ETH_OFF + 6, 0x0001); /* offset 8 */
	CHECK_EQ(frame_parse(buf, len, &f), 0);
	CHECK(f.fragment);
	put16(buf + ETH_OFF + 6, 0x4000); /* DF only: not a fragment */
	CHECK_EQ(frame_parse(buf, len, &f), -1);
}

static void test_ip4_tcp(void)
{
	uint8_t buf[128];
	struct frame f;
	size_t len, i;

	len = build4(buf, sizeof(buf), IPPROTO_TCP, tcp_syn, sizeof(tcp_syn), "data", 4);
	CHECK_EQ(len, 14 + 20 + 32 + 4);
	CHECK_EQ(frame_parse(buf, len, &f), 0);
	CHECK_EQ(f.l4_proto, IPPROTO_TCP);
	CHECK_EQ(f.sport, 40000);
	CHECK_EQ(f.dport, 80);
	CHECK_EQ(f.l4_hdr_len, 32);
	CHECK(f.payload.len == 4 && !memcmp(f.payload.data, "data", 4));
	check_sums(&f);

	for (i = 0; i < len; i++)
		CHECK_EQ(frame_parse(buf, i, &f), -1);

	/* data offset < 5 */
	for (uint8_t doff = 0; doff < 5; doff++) {
		buf[IP4_L4 + 12] = (uint8_t)(doff << 4);
		CHECK_EQ(frame_parse(buf, len, &f), -1);
	}
	/* data offset past the segment (36 bytes): 10 = 40 bytes */
	buf[IP4_L4 + 12] = 0xa0;
	CHECK_EQ(frame_parse(buf, len, &f), -1);
	buf[IP4_L4 + 12] = 0x90; /* 36: exactly the segment, no payload */
	CHECK_EQ(frame_parse(buf, len, &f), 0);
	CHECK_EQ(f.payload.len, 0);
	buf[IP4_L4 + 12] = 0x80;

	/* TCP segment shorter than 20 bytes inside a consistent IP packet */
	put16(buf + ETH_OFF + 2, 20 + 19);
	CHECK_EQ(frame_parse(buf, 14 + 20 + 19, &f), -1);
}

static void test_ip4_icmp(void)
{
	uint8_t buf[128];
	static const uint8_t unreach[8] = { 3, 3, 0, 0, 0, 0, 0, 0 };
	struct frame f;
	size_t len;

	len = build4(buf, sizeof(buf), IPPROTO_ICMP, icmp_echo, sizeof(icmp_echo), "ping", 4);
	CHECK_EQ(frame_parse(buf, len, &f), 0);
	CHECK_EQ(f.l4_proto, IPPROTO_ICMP);
	CHECK_EQ(f.l4_hdr_len, 8);
	CHECK_EQ(f.l4.len, 12);
	CHECK_EQ(f.payload.len, 8); /* after the 4-byte header: id, seq, data */
	CHECK_EQ(get16(f.payload.data), 0x1234);
	check_sums(&f);

	/* echo shorter than 8 bytes, ICMP shorter than 4 */
	put16(buf + ETH_OFF + 2, 20 + 6);
	CHECK_EQ(frame_parse(buf, 14 + 26, &f), -1);
	put16(buf + ETH_OFF + 2, 20 + 3);
	CHECK_EQ(frame_parse(buf, len, &f), -1);

	/* a 4-byte ICMP message of another type is fine */
	len = build4(buf, sizeof(buf), IPPROTO_ICMP, unreach, 4, NULL, 0);
	CHECK_EQ(frame_parse(buf, len, &f), 0);
	CHECK_EQ(f.l4_hdr_len, 4);
	CHECK_EQ(f.payload.len, 0);
	check_sums(&f);
}

/* ---- IPv6 ---- */

static void test_ip6_basic(void)
{
	uint8_t buf[160];
	struct frame f;
	size_t len, i;

	len = build6(buf, sizeof(buf), IPPROTO_UDP, udp_hdr, sizeof(udp_hdr), "hello6", 6);
	CHECK_EQ(len, 14 + 40 + 8 + 6);
	CHECK_EQ(frame_parse(buf, len, &f), 0);
	CHECK_EQ(f.l3_kind, FRAME_L3_IP6);
	CHECK_EQ(f.l4_proto, IPPROTO_UDP);
	CHECK_EQ(f.ttl, 255);
	CHECK(!memcmp(&f.src.v6, &a6_guest, 16) && !memcmp(&f.dst.v6, &a6_host, 16));
	CHECK_EQ(f.l3_hdr_len, 40);
	CHECK_EQ(f.l3.len, 54);
	CHECK(f.payload.len == 6 && !memcmp(f.payload.data, "hello6", 6));
	check_sums(&f);
	for (i = 0; i < len; i++)
		CHECK_EQ(frame_parse(buf, i, &f), -1);

	/* trailing bytes past the payload length are trimmed */
	memset(buf + len, 0x5a, 10);
	CHECK_EQ(frame_parse(buf, len + 10, &f), 0);
	CHECK_EQ(f.l3.len, 54);
	CHECK_EQ(f.payload.len, 6);
	/* payload length > buffer */
	put16(buf + ETH_OFF + 4, 15);
	CHECK_EQ(frame_parse(buf, len, &f), -1);
	put16(buf + ETH_OFF + 4, 0xffff);
	CHECK_EQ(frame_parse(buf, len, &f), -1);
	put16(buf + ETH_OFF + 4, 14);
	/* wrong version */
	buf[ETH_OFF] = 0x40;
	CHECK_EQ(frame_parse(buf, len, &f), -1);
	buf[ETH_OFF] = 0x60;
	CHECK_EQ(frame_parse(buf, len, &f), 0);

	len = build6(buf, sizeof(buf), IPPROTO_TCP, tcp_syn, sizeof(tcp_syn), NULL, 0);
	CHECK_EQ(frame_parse(buf, len, &f), 0);
	CHECK_EQ(f.l4_hdr_len, 32);
	CHECK_EQ(f.dport, 80);
	check_sums(&f);

	len = build6(buf, sizeof(buf), IPPROTO_ICMPV6, icmp6_echo, sizeof(icmp6_echo), "p", 1);
	CHECK_EQ(frame_parse(buf, len, &f), 0);
	CHECK_EQ(f.l4_proto, IPPROTO_ICMPV6);
	CHECK_EQ(f.l4_hdr_len, 8);
	CHECK_EQ(f.payload.len, 5);
	check_sums(&f);
	put16(buf + ETH_OFF + 4, 3);
	CHECK_EQ(frame_parse(buf, len, &f), -1);
	put16(buf + ETH_OFF + 4, 7); /* echo of 7 bytes */
	CHECK_EQ(frame_parse(buf, len, &f), -1);

	/* No next header (59): accepted, nothing parsed past IPv6 */
	len = build6(buf, sizeof(buf), 59, NULL, 0, NULL, 0);
	CHECK_EQ(frame_parse(buf, len, &f), 0);
	CHECK_EQ(f.l4_proto, 59);
	CHECK_EQ(f.l4.len, 0);
}

/* Ethernet + IPv6 + the given extension headers (each 8*(units+1) bytes) + UDP "x". */
static size_t build6_ext(uint8_t *buf, size_t cap, const uint8_t *types, const uint8_t *units,
			 size_t n)
{
	struct frame_builder fb;
	size_t i, len;

	fb_init(&fb, buf, cap);
	eth_push(&fb, mac_host, mac_guest, BP_ETH_P_IPV6);
	ip6_push(&fb, &a6_guest, &a6_host, n ? types[0] : IPPROTO_UDP, 64);
	for (i = 0; i < n; i++) {
		size_t ext_len = types[i] == IPPROTO_FRAGMENT ? 8 : ((size_t)units[i] + 1) * 8;
		uint8_t *ext = fb_put(&fb, ext_len);

		if (!ext)
			return 0;
		ext[0] = i + 1 < n ? types[i + 1] : IPPROTO_UDP;
		ext[1] = types[i] == IPPROTO_FRAGMENT ? 0 : units[i];
	}
	fb_append(&fb, udp_hdr, sizeof(udp_hdr));
	fb_append(&fb, "x", 1);
	len = ip_finish(&fb);
	CHECK(len);
	/* ip_finish() only knows plain IPv6 + L4: fill the UDP length ourselves. */
	put16(buf + len - 9 + 4, 9);
	return len;
}

static void test_ip6_ext(void)
{
	static const uint8_t chain[] = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS, IPPROTO_ROUTING,
					 IPPROTO_FRAGMENT, IPPROTO_DSTOPTS };
	static const uint8_t chain_units[] = { 0, 1, 0, 0, 0 };
	uint8_t types[16], units[16] = { 0 };
	uint8_t buf[512];
	struct frame f;
	size_t len, i, n;

	len = build6_ext(buf, sizeof(buf), chain, chain_units, 5);
	CHECK_EQ(len, 14 + 40 + 8 + 16 + 8 + 8 + 8 + 9);
	/* the fragment header is atomic (offset 0, no MF): walked through */
	CHECK_EQ(frame_parse(buf, len, &f), 0);
	CHECK(!f.fragment);
	CHECK_EQ(f.l3_hdr_len, 40 + 48);
	CHECK_EQ(f.l4_proto, IPPROTO_UDP);
	CHECK_EQ(f.dport, 53);
	CHECK(f.payload.len == 1 && f.payload.data[0] == 'x');
	for (i = 0; i < len; i++)
		CHECK_EQ(frame_parse(buf, i, &f), -1);

	/* A real fragment (MF set at the fragment header at 14+40+8+16+8): flagged, stops. */
	buf[14 + 40 + 32 + 3] = 0x01;
	CHECK_EQ(frame_parse(buf, len, &f), 0);
	CHECK(f.fragment);
	CHECK_EQ(f.l3_hdr_len, 40 + 40);
	CHECK_EQ(f.l4_proto, IPPROTO_DSTOPTS);
	CHECK_EQ(f.l4.len, 0);
	buf[14 + 40 + 32 + 3] = 0;
	buf[14 + 40 + 32 + 2] = 0x01; /* offset 256 */
	CHECK_EQ(frame_parse(buf, len, &f), 0);
	CHECK(f.fragment);
	buf[14 + 40 + 32 + 2] = 0;

	/* An extension header whose length runs past the payload (and past the buffer). */
	buf[14 + 40 + 1] = 20;
	CHECK_EQ(frame_parse(buf, len, &f), -1);
	buf[14 + 40 + 1] = 0;
	buf[14 + 40 + 8 + 1] = 255;
	CHECK_EQ(frame_parse(buf, len, &f), -1);
	buf[14 + 40 + 8 + 1] = 1;
	CHECK_EQ(frame_parse(buf, len, &f), 0);

	/* Payload length ending inside the chain */
	put16(buf + ETH_OFF + 4, 8 + 4);
	CHECK_EQ(frame_parse(buf, len, &f), -1);

	/* 8 extension headers are walked; 9 are too many. */
	for (n = 8; n <= 9; n++) {
		for (i = 0; i < n; i++)
			types[i] = IPPROTO_DSTOPTS;
		len = build6_ext(buf, sizeof(buf), types, units, n);
		CHECK_EQ(frame_parse(buf, len, &f), n == 8 ? 0 : -1);
		if (n == 8)
			CHECK_EQ(f.l3_hdr_len, 40 + 64);
	}
}

static void test_other(void)
{
	uint8_t buf[64] = { 0 };
	struct frame f;

	put16(buf + 12, 0x88cc); /* LLDP */
	CHECK_EQ(frame_parse(buf, 60, &f), 0);
	CHECK_EQ(f.l3_kind, FRAME_L3_OTHER);
	CHECK_EQ(f.ethertype, 0x88cc);
	CHECK_EQ(f.l3.len, 46);
	CHECK_EQ(frame_parse(buf, 14, &f), 0);
	CHECK_EQ(frame_parse(buf, 13, &f), -1);
	CHECK_EQ(frame_parse(buf, 0, &f), -1);
	CHECK_EQ(frame_parse(NULL, 0, &f), -1);
}

/* ---- TCP options ---- */

struct opt_seen {
	int n;
	uint8_t kinds[16];
	size_t lens[16];
	uint16_t mss;
};

static void opt_collect(uint8_t kind, const struct pkt *data, void *arg)
{
	struct opt_seen *s = arg;

	if (s->n < 16) {
		s->kinds[s->n] = kind;
		s->lens[s->n] = data->len;
		s->n++;
	}
	if (kind == 2)
		pkt_get_be16(data, 0, &s->mss);
}

static int walk(const uint8_t *hdr, size_t len, struct opt_seen *s)
{
	struct pkt p = pkt_make(hdr, len);

	memset(s, 0, sizeof(*s));
	return tcp_opts_walk(&p, opt_collect, s);
}

static void test_tcp_opts(void)
{
	uint8_t hdr[64];
	struct opt_seen s;

	CHECK_EQ(walk(tcp_syn, sizeof(tcp_syn), &s), 0);
	CHECK_EQ(s.n, 3);
	CHECK(s.kinds[0] == 2 && s.lens[0] == 2 && s.mss == 1460);
	CHECK(s.kinds[1] == 4 && s.lens[1] == 0);
	CHECK(s.kinds[2] == 3 && s.lens[2] == 1);
	/* A view longer than the header (payload after it): options stop at the data offset. */
	memcpy(hdr, tcp_syn, sizeof(tcp_syn));
	memset(hdr + 32, 2, 32);
	CHECK_EQ(walk(hdr, 64, &s), 0);
	CHECK_EQ(s.n, 3);
	/* data offset past the view */
	CHECK_EQ(walk(tcp_syn, 31, &s), -1);
	/* no options */
	memcpy(hdr, tcp_syn, 20);
	hdr[12] = 0x50;
	CHECK_EQ(walk(hdr, 20, &s), 0);
	CHECK_EQ(s.n, 0);
	CHECK_EQ(walk(hdr, 19, &s), -1);
	hdr[12] = 0x40;
	CHECK_EQ(walk(hdr, 20, &s), -1);

	/* An option whose length runs past the header: wscale (at 29) claiming 4 bytes, 3 left */
	memcpy(hdr, tcp_syn, sizeof(tcp_syn));
	hdr[30] = 4;
	CHECK_EQ(walk(hdr, sizeof(tcp_syn), &s), -1);
	/* ... also when the view goes on past the header (payload follows) */
	memset(hdr + 32, 0, 32);
	CHECK_EQ(walk(hdr, 64, &s), -1);
	/* Its length byte missing: a timestamp kind at the very last byte */
	hdr[28] = 1;
	hdr[29] = 1;
	hdr[30] = 1;
	hdr[31] = 8;
	CHECK_EQ(walk(hdr, sizeof(tcp_syn), &s), -1);
	/* Length < 2 */
	hdr[30] = 3;
	hdr[31] = 1;
	CHECK_EQ(walk(hdr, sizeof(tcp_syn), &s), -1);
	hdr[31] = 0;
	CHECK_EQ(walk(hdr, sizeof(tcp_syn), &s), -1);
	/* EOL stops the walk: the broken option after it is ignored */
	hdr[26] = 0;
	CHECK_EQ(walk(hdr, sizeof(tcp_syn), &s), 0);
	CHECK_EQ(s.n, 1);
	CHECK_EQ(s.mss, 1460);
	/* NULL callback is allowed (validation only) */
	{
		struct pkt p = pkt_make(tcp_syn, sizeof(tcp_syn));

		CHECK_EQ(tcp_opts_walk(&p, NULL, NULL), 0);
	}
}

/* ---- Builders ---- */

static void test_builder_overflow(void)
{
	uint8_t buf[64];
	struct frame_builder fb;
	uint8_t *p;

	memset(buf, 0xaa, sizeof(buf));
	fb_init(&fb, buf, 30);
	p = fb_put(&fb, 4);
	CHECK(p == buf && p[0] == 0 && p[3] == 0 && buf[4] == 0xaa); /* zeroed, no more */
	CHECK(fb_append(&fb, "abcd", 4));
	CHECK(eth_push(&fb, mac_host, mac_guest, BP_ETH_P_IP));
	CHECK_EQ(fb.len, 22);
	CHECK(!ip4_push(&fb, a4_guest, a4_host, IPPROTO_UDP, 64));
	CHECK(fb.overflow);
	CHECK(fb_put(&fb, 1) == NULL); /* once overflowed, always overflowed */
	CHECK(!fb_append(&fb, "x", 1));
	CHECK_EQ(ip_finish(&fb), 0);
	CHECK(buf[30] == 0xaa); /* nothing written past the capacity */

	/* IPv4 header fits, L4 does not */
	fb_init(&fb, buf, 14 + 20 + 4);
	CHECK(eth_push(&fb, mac_host, mac_guest, BP_ETH_P_IP));
	CHECK(ip4_push(&fb, a4_guest, a4_host, IPPROTO_UDP, 64));
	CHECK(!fb_append(&fb, udp_hdr, sizeof(udp_hdr)));
	CHECK_EQ(ip_finish(&fb), 0);

	/* IPv6 the same way */
	fb_init(&fb, buf, 14 + 39);
	CHECK(eth_push(&fb, mac_host, mac_guest, BP_ETH_P_IPV6));
	CHECK(!ip6_push(&fb, &a6_guest, &a6_host, IPPROTO_UDP, 64));
	CHECK_EQ(ip_finish(&fb), 0);

	/* Exactly full is fine */
	CHECK_EQ(build4(buf, 14 + 20 + 8, IPPROTO_UDP, udp_hdr, 8, NULL, 0), 42);
	CHECK_EQ(build4(buf, 14 + 20 + 7, IPPROTO_UDP, udp_hdr, 8, NULL, 0), 0);

	/* L4 too short to hold its checksum field: refused */
	CHECK_EQ(build4(buf, sizeof(buf), IPPROTO_TCP, tcp_syn, 10, NULL, 0), 0);
	CHECK_EQ(build6(buf, sizeof(buf), IPPROTO_UDP, udp_hdr, 4, NULL, 0), 0);
	/* No IP header pushed */
	fb_init(&fb, buf, sizeof(buf));
	CHECK(eth_push(&fb, mac_host, mac_guest, BP_ETH_P_IP));
	CHECK_EQ(ip_finish(&fb), 0);
	/* A builder without a buffer (what a full batch hands out) */
	fb_init(&fb, NULL, 0);
	CHECK(fb_put(&fb, 0) == NULL && fb.overflow);
	CHECK_EQ(ip_finish(&fb), 0);
}

/* Build at odd alignments, parse back, verify checksums and header fields. */
static void test_builder_roundtrip(void)
{
	static uint8_t mem[2048 + 8];
	uint8_t payload[1400];
	struct frame f;
	size_t align, i;

	for (i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 3);

	for (align = 0; align < 8; align++) {
		uint8_t *buf = mem + align;
		size_t plen = (align * 173) % sizeof(payload), len;
		int kind;

		for (kind = 0; kind < 6; kind++) {
			switch (kind) {
			case 0:
				len = build4(buf, 2048, IPPROTO_UDP, udp_hdr, 8, payload, plen);
				break;
			case 1:
				len = build4(buf, 2048, IPPROTO_TCP, tcp_syn, 32, payload, plen);
				break;
			case 2:
				len = build4(buf, 2048, IPPROTO_ICMP, icmp_echo, 8, payload, plen);
				break;
			case 3:
				len = build6(buf, 2048, IPPROTO_UDP, udp_hdr, 8, payload, plen);
				break;
			case 4:
				len = build6(buf, 2048, IPPROTO_TCP, tcp_syn, 32, payload, plen);
				break;
			default:
				len = build6(buf, 2048, IPPROTO_ICMPV6, icmp6_echo, 8, payload,
					     plen);
				break;
			}
			CHECK(len > 0);
			CHECK_EQ(frame_parse(buf, len, &f), 0);
			CHECK_EQ(f.l3_kind, kind < 3 ? FRAME_L3_IP4 : FRAME_L3_IP6);
			CHECK_EQ(f.payload.len, plen + (kind % 3 == 2 ? 4 : 0));
			CHECK(!memcmp(f.payload.data + (kind % 3 == 2 ? 4 : 0), payload, plen));
			CHECK_EQ(f.l3.len, len - 14);
			if (kind < 3) {
				CHECK_EQ(get16(buf + ETH_OFF + 2), len - 14);
				CHECK_EQ(get16(buf + ETH_OFF + 6), 0x4000); /* DF */
				CHECK_EQ(f.ttl, 64);
			} else {
				CHECK_EQ(get16(buf + ETH_OFF + 4), len - 14 - 40);
				CHECK_EQ(f.ttl, 255);
			}
			check_sums(&f);
			/* a flipped payload bit must break the L4 checksum */
			if (plen) {
				uint32_t pseudo = kind < 3
					? (kind == 2 ? 0
						     : csum_pseudo4(f.src.v4, f.dst.v4, f.l4_proto,
								    (uint16_t)f.l4.len))
					: csum_pseudo6(&f.src.v6, &f.dst.v6, f.l4_proto,
						       (uint32_t)f.l4.len);

				buf[len - 1] ^= 0x10;
				CHECK(csum_fold(csum_partial(f.l4.data, f.l4.len, pseudo)) !=
				      0xffff);
			}
		}
	}
}

/* UDP: a computed checksum of 0 goes out as 0xffff (0 means "no checksum"). */
static void test_udp_zero_checksum(void)
{
	uint8_t buf[128];
	struct frame f;
	size_t len;
	int v6;

	for (v6 = 0; v6 < 2; v6++) {
		size_t l4 = v6 ? IP6_L4 : IP4_L4;
		uint8_t word[2] = { 0, 0 };
		uint16_t check;

		len = v6 ? build6(buf, sizeof(buf), IPPROTO_UDP, udp_hdr, 8, word, 2)
			 : build4(buf, sizeof(buf), IPPROTO_UDP, udp_hdr, 8, word, 2);
		CHECK(len);
		/* The payload word equal to this checksum makes the new sum fold to 0xffff. */
		memcpy(&check, buf + l4 + 6, 2);
		CHECK(check != 0);
		memcpy(word, &check, 2);
		len = v6 ? build6(buf, sizeof(buf), IPPROTO_UDP, udp_hdr, 8, word, 2)
			 : build4(buf, sizeof(buf), IPPROTO_UDP, udp_hdr, 8, word, 2);
		CHECK(len);
		CHECK_EQ(get16(buf + l4 + 6), 0xffff);
		CHECK_EQ(frame_parse(buf, len, &f), 0);
		check_sums(&f);
	}
}

static void test_addr_helpers(void)
{
	uint8_t zero[6] = { 0 }, bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, mac[6];
	struct in6_addr a, sn, want;

	CHECK(mac_is_zero(zero) && !mac_is_zero(mac_guest));
	CHECK(mac_is_broadcast(bcast) && !mac_is_broadcast(mac_guest));
	bcast[5] = 0xfe;
	CHECK(!mac_is_broadcast(bcast));

	inet_pton(AF_INET6, "2001:db8::1:2:3", &a);
	ip6_solicited_node(&a, &sn);
	inet_pton(AF_INET6, "ff02::1:ff02:3", &want);
	CHECK(!memcmp(&sn, &want, 16));
	ip6_solicited_node(&a, &a); /* in place */
	CHECK(!memcmp(&a, &want, 16));
	mac_of_ip6_multicast(&sn, mac);
	CHECK(!memcmp(mac, (uint8_t[]){ 0x33, 0x33, 0xff, 0x02, 0x00, 0x03 }, 6));

	inet_pton(AF_INET6, "fe80::1", &a);
	CHECK(ip6_is_linklocal(&a));
	inet_pton(AF_INET6, "fec0::1", &a);
	CHECK(!ip6_is_linklocal(&a));
}

/* Random mutations of valid frames: whatever is accepted must stay inside the buffer. */
static void test_mutations(void)
{
	static const uint8_t chain[] = { IPPROTO_HOPOPTS, IPPROTO_FRAGMENT, IPPROTO_DSTOPTS };
	static const uint8_t units[] = { 0, 0, 1 };
	uint8_t seeds[6][256], buf[256];
	size_t seed_len[6];
	unsigned accepted = 0;
	struct frame f;
	int round;

	seed_len[0] = build4(seeds[0], 256, IPPROTO_UDP, udp_hdr, 8, "abc", 3);
	seed_len[1] = build4(seeds[1], 256, IPPROTO_TCP, tcp_syn, 32, "abc", 3);
	seed_len[2] = build4(seeds[2], 256, IPPROTO_ICMP, icmp_echo, 8, "abc", 3);
	seed_len[3] = build6(seeds[3], 256, IPPROTO_TCP, tcp_syn, 32, "abc", 3);
	seed_len[4] = build6(seeds[4], 256, IPPROTO_ICMPV6, icmp6_echo, 8, "abc", 3);
	seed_len[5] = build6_ext(seeds[5], 256, chain, units, 3);

	for (round = 0; round < 200000; round++) {
		int s = (int)(rng() % 6), flips = 1 + (int)(rng() % 4), i;
		size_t len = seed_len[s];

		memcpy(buf, seeds[s], sizeof(buf));
		for (i = 0; i < flips; i++)
			buf[rng() % len] = (uint8_t)rng();
		if (rng() % 4 == 0)
			len = rng() % (sizeof(buf) + 1);
		if (frame_parse(buf, len, &f) < 0)
			continue;
		accepted++;
		CHECK(view_inside(&f.eth, buf, len));
		CHECK(view_inside_view(&f.l3, &f.eth));
		CHECK(view_inside_view(&f.l4, &f.l3));
		CHECK(view_inside_view(&f.payload, &f.l4));
		CHECK(f.l3_hdr_len <= f.l3.len);
		if (f.l3_kind != FRAME_L3_ARP && f.l3_kind != FRAME_L3_OTHER && !f.fragment &&
		    f.l4.len && (f.l4_proto == IPPROTO_TCP || f.l4_proto == IPPROTO_UDP))
			CHECK(f.l4_hdr_len <= f.l4.len);
	}
	CHECK(accepted > 1000); /* the loop really exercised the accepting paths */
}

int main(void)
{
	log_init("test_packet", LOG_LVL_INFO);
	inet_pton(AF_INET, "192.0.2.2", &a4_guest);
	inet_pton(AF_INET, "192.0.2.1", &a4_host);
	inet_pton(AF_INET6, "2001:db8::2", &a6_guest);
	inet_pton(AF_INET6, "2001:db8::1", &a6_host);

	test_views();
	test_view_log();
	test_arp();
	test_ip4_udp();
	test_ip4_lies();
	test_ip4_tcp();
	test_ip4_icmp();
	test_ip6_basic();
	test_ip6_ext();
	test_other();
	test_tcp_opts();
	test_builder_overflow();
	test_builder_roundtrip();
	test_udp_zero_checksum();
	test_addr_helpers();
	test_mutations();

	printf("test_packet: %lu checks passed\n", checks);
	return 0;
}
