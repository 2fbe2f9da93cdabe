/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * proto_harness.h - shared helpers of the service tests (test_arp.c, test_ndp.c, test_dhcp.c,
 * test_dhcpv6.c): a checking macro set, a deterministic random generator, a test config with
 * documentation addresses, request frame builders over the core builders, and the three loops
 * every service goes through: its answers re-parsed with frame_parse() and their checksums
 * verified, every truncation of a valid request, and bounded random mutation of valid requests.
 *
 * Header-only (static functions), included by one test program each. Every check prints the
 * failing expression with file:line and exits 1.
 */
#ifndef BPASST_PROTO_HARNESS_H
#define BPASST_PROTO_HARNESS_H

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/batch.h"
#include "core/checksum.h"
#include "core/config.h"
#include "core/guest.h"
#include "core/log.h"
#include "core/packet.h"

#include "check.h"

#define CHECK_MEM(a, b, len) CHECK(!memcmp((a), (b), (len)))
/* Four bytes at p are the IPv4 address s. */
#define CHECK_IP4(p, s)                                                                            \
	do {                                                                                       \
		struct in_addr want_ = a4(s);                                                      \
		CHECK_MEM((p), &want_, 4);                                                         \
	} while (0)

/* Not every test program uses every helper. */
#define HARNESS_FN static __attribute__((unused))

/* ---- Deterministic randomness ---- */

static uint64_t harness_rng_state = 0x9e3779b97f4a7c15ULL;

HARNESS_FN uint64_t harness_rng(void)
{
	harness_rng_state ^= harness_rng_state >> 12;
	harness_rng_state ^= harness_rng_state << 25;
	harness_rng_state ^= harness_rng_state >> 27;
	return harness_rng_state * 0x2545f4914f6cdd1dULL;
}

/* ---- Addresses (documentation ranges only) ---- */

static const uint8_t guest_mac[BP_ETH_ALEN]
	__attribute__((unused)) = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t our_mac[BP_ETH_ALEN]
	__attribute__((unused)) = { 0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55 };
static const uint8_t bcast_mac[BP_ETH_ALEN]
	__attribute__((unused)) = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t all_nodes_mac[BP_ETH_ALEN]
	__attribute__((unused)) = { 0x33, 0x33, 0, 0, 0, 1 };

HARNESS_FN struct in_addr a4(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1) {
		fprintf(stderr, "bad test address %s\n", s);
		exit(1);
	}
	return a;
}

HARNESS_FN struct in6_addr a6(const char *s)
{
	struct in6_addr a;

	if (inet_pton(AF_INET6, s, &a) != 1) {
		fprintf(stderr, "bad test address %s\n", s);
		exit(1);
	}
	return a;
}

/* The test config: guest 192.0.2.10/24 via 192.0.2.1, 2001:db8:1::10/64 (host bits set on
 * purpose) via fe80::1, our link-local fe80::9855:9aff:fe55:9a55, two resolvers per family, two
 * search domains, MTU 65520, all services on. */
HARNESS_FN void harness_config(struct config *c)
{
	config_defaults(c, MODE_PASTA, "test");
	memcpy(c->our_mac, our_mac, sizeof(our_mac));
	c->mtu = 65520;
	c->ip4.enabled = true;
	c->ip4.addr = a4("192.0.2.10");
	c->ip4.prefix_len = 24;
	c->ip4.gw = a4("192.0.2.1");
	c->ip4.have_gw = true;
	c->ip4.dns[0] = a4("198.51.100.53");
	c->ip4.dns[1] = a4("203.0.113.53");
	c->ip4.dns_count = 2;
	c->ip6.enabled = true;
	c->ip6.addr = a6("2001:db8:1::10");
	c->ip6.prefix_len = 64;
	c->ip6.gw = a6("fe80::1");
	c->ip6.have_gw = true;
	c->ip6.our_ll = a6("fe80::9855:9aff:fe55:9a55");
	c->ip6.dns[0] = a6("2001:db8:53::1");
	c->ip6.dns[1] = a6("2001:db8:53::2");
	c->ip6.dns_count = 2;
	strcpy(c->search[0], "example.com");
	strcpy(c->search[1], "corp.example.org");
	c->search_count = 2;
}

HARNESS_FN void harness_guest(struct guest_state *g)
{
	memset(g, 0, sizeof(*g));
	memcpy(g->mac, guest_mac, sizeof(guest_mac));
	g->mac_known = true;
}

HARNESS_FN void harness_init(struct frame_batch *out)
{
	log_init("test", getenv("HARNESS_DEBUG") ? LOG_LVL_TRACE : LOG_LVL_ERR);
	if (batch_init(out, 8, BP_FRAME_MAX) < 0) {
		fprintf(stderr, "batch_init failed\n");
		exit(1);
	}
}

/* ---- Request builders ---- */

HARNESS_FN void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

HARNESS_FN uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

HARNESS_FN uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

HARNESS_FN size_t build_udp4(uint8_t *buf, size_t cap, const uint8_t *eth_dst, struct in_addr src,
			     struct in_addr dst, uint16_t sport, uint16_t dport,
			     const void *payload, size_t len)
{
	struct frame_builder fb;
	uint8_t *udp;

	fb_init(&fb, buf, cap);
	eth_push(&fb, eth_dst, guest_mac, BP_ETH_P_IP);
	ip4_push(&fb, src, dst, IPPROTO_UDP, 64);
	udp = fb_put(&fb, 8);
	fb_append(&fb, payload, len);
	if (!udp)
		return 0;
	put_be16(udp, sport);
	put_be16(udp + 2, dport);
	put_be16(udp + 4, (uint16_t)(8 + len));
	return ip_finish(&fb);
}

HARNESS_FN size_t build_udp6(uint8_t *buf, size_t cap, const uint8_t *eth_dst,
			     const struct in6_addr *src, const struct in6_addr *dst, uint16_t sport,
			     uint16_t dport, const void *payload, size_t len)
{
	struct frame_builder fb;
	uint8_t *udp;

	fb_init(&fb, buf, cap);
	eth_push(&fb, eth_dst, guest_mac, BP_ETH_P_IPV6);
	ip6_push(&fb, src, dst, IPPROTO_UDP, 1);
	udp = fb_put(&fb, 8);
	fb_append(&fb, payload, len);
	if (!udp)
		return 0;
	put_be16(udp, sport);
	put_be16(udp + 2, dport);
	put_be16(udp + 4, (uint16_t)(8 + len));
	return ip_finish(&fb);
}

/* ICMPv6 message (type, code, zero checksum, then body) from src to dst with a hop limit. */
HARNESS_FN size_t build_icmp6(uint8_t *buf, size_t cap, const uint8_t *eth_dst,
			      const struct in6_addr *src, const struct in6_addr *dst, uint8_t hop,
			      const void *msg, size_t len)
{
	struct frame_builder fb;

	fb_init(&fb, buf, cap);
	eth_push(&fb, eth_dst, guest_mac, BP_ETH_P_IPV6);
	ip6_push(&fb, src, dst, IPPROTO_ICMPV6, hop);
	fb_append(&fb, msg, len);
	return ip_finish(&fb);
}

/* ---- Answers ---- */

/* Verify the IPv4 header checksum and the L4 checksum of a parsed frame. */
HARNESS_FN void check_sums(const struct frame *f)
{
	uint32_t pseudo = 0;

	if (f->l3_kind == FRAME_L3_IP4) {
		CHECK_EQ(csum_fold(csum_partial(f->l3.data, f->l3_hdr_len, 0)), 0xffff);
		if (f->l4_proto != IPPROTO_ICMP)
			pseudo = csum_pseudo4(f->src.v4, f->dst.v4, f->l4_proto,
					      (uint16_t)f->l4.len);
	} else if (f->l3_kind == FRAME_L3_IP6) {
		pseudo = csum_pseudo6(&f->src.v6, &f->dst.v6, f->l4_proto, (uint32_t)f->l4.len);
	} else {
		return;
	}
	CHECK_EQ(csum_fold(csum_partial(f->l4.data, f->l4.len, pseudo)), 0xffff);
}

/* Answer i of the batch: parsed (it must parse), checksums verified, from our MAC. */
HARNESS_FN const uint8_t *answer(const struct frame_batch *out, unsigned i, struct frame *f,
				 size_t *len)
{
	size_t l;
	const uint8_t *p = batch_frame(out, i, &l);

	CHECK(p != NULL);
	CHECK_EQ(frame_parse(p, l, f), 0);
	CHECK_MEM(f->src_mac, our_mac, BP_ETH_ALEN);
	check_sums(f);
	if (len)
		*len = l;
	return p;
}

typedef int (*service_fn)(const struct config *c, struct guest_state *g, const struct frame *f,
			  struct frame_batch *out);

/* Parse a request (it must parse), reset the batch, hand it to the service: its return value. */
HARNESS_FN int deliver(service_fn fn, const struct config *c, struct guest_state *g,
		       struct frame_batch *out, const uint8_t *frame, size_t len)
{
	struct frame f;

	CHECK(len > 0);
	CHECK_EQ(frame_parse(frame, len, &f), 0);
	batch_reset(out);
	return fn(c, g, &f, out);
}

/* Called on every answer to a damaged request: checks what any answer of the service must be. */
typedef void (*answer_check_fn)(const struct config *c, const struct frame *f);

/* Run one damaged request (copied into a buffer of exactly its length, so that ASan sees any
 * read past it) through the service; any answer must be valid. */
HARNESS_FN void deliver_damaged(service_fn fn, answer_check_fn check, const struct config *c,
				struct guest_state *g, struct frame_batch *out,
				const uint8_t *frame, size_t len, unsigned long *answered)
{
	uint8_t *copy = malloc(len ? len : 1);
	struct frame f;
	unsigned i;

	CHECK(copy != NULL);
	memcpy(copy, frame, len);
	batch_reset(out);
	if (frame_parse(copy, len, &f) == 0) {
		int ret = fn(c, g, &f, out);

		CHECK(ret == 0 || ret == 1);
		CHECK(ret == 1 || out->count == 0);
		CHECK(out->count <= 1);
		for (i = 0; i < out->count; i++) {
			struct frame a;

			answer(out, i, &a, NULL);
			check(c, &a);
		}
		*answered += out->count;
	}
	free(copy);
}

/* Every truncation of a valid request: no crash, and no answer or a valid one. */
HARNESS_FN void harness_truncations(service_fn fn, answer_check_fn check, const struct config *c,
				    struct guest_state *g, struct frame_batch *out,
				    const uint8_t *frame, size_t len)
{
	unsigned long answered = 0;
	size_t cut;

	for (cut = 0; cut <= len; cut++)
		deliver_damaged(fn, check, c, g, out, frame, cut, &answered);
	CHECK(answered >= 1); /* the whole request, at least, is answered */
}

/* Random damage to a valid request: bytes overwritten (most often inside the L4 payload, where the
 * service parses), sometimes cut short or extended with garbage; fixed count, fixed seed. */
HARNESS_FN void harness_mutations(service_fn fn, answer_check_fn check, const struct config *c,
				  struct guest_state *g, struct frame_batch *out,
				  const uint8_t *frame, size_t len, size_t payload_off,
				  unsigned iterations)
{
	static uint8_t buf[2048];
	unsigned long answered = 0;
	unsigned it;

	CHECK(len + 64 <= sizeof(buf));
	for (it = 0; it < iterations; it++) {
		size_t n = len, k, flips = 1 + harness_rng() % 6;

		memcpy(buf, frame, len);
		for (k = 0; k < flips; k++) {
			size_t span = payload_off < n ? n - payload_off : n;
			size_t pos = (harness_rng() % 8) ? payload_off + harness_rng() % span
							 : harness_rng() % n;
			uint64_t r = harness_rng();

			if (pos >= n)
				pos = n - 1;
			switch (r % 4) {
			case 0:
				buf[pos] = (uint8_t)(r >> 8);
				break;
			case 1:
				buf[pos] ^= (uint8_t)(1u << ((r >> 8) % 8));
				break;
			case 2:
				buf[pos] = (r >> 8) & 1 ? 0xff : 0;
				break;
			default:
				buf[pos] = (uint8_t)(buf[pos] + 1);
				break;
			}
		}
		if (harness_rng() % 8 == 0)
			n = payload_off + harness_rng() % (len - payload_off + 1);
		else if (harness_rng() % 16 == 0)
			for (k = 0; k < 32; k++)
				buf[n++] = (uint8_t)harness_rng();
		deliver_damaged(fn, check, c, g, out, buf, n, &answered);
	}
	CHECK(answered >= 1);
}

#endif /* BPASST_PROTO_HARNESS_H */
