/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_checksum.c - unit tests for core/checksum.c
 *
 * Known answers (RFC 1071's worked example, a real IPv4 header, RFC 1624's example), the fast
 * csum_partial() against the byte-pair reference for every length 0..600 at every alignment 0..7
 * and for random large buffers, sums over split buffers, RFC 1624 incremental updates against full
 * recomputation (random fields, 0x0000/0xffff edge values, a result of 0x0000), and the
 * pseudo-header sums against explicitly laid-out pseudo-header bytes, then over real UDP, TCP and
 * ICMPv6 segments that must verify (sum over pseudo-header + segment folds to 0xffff).
 *
 * Every check prints the failing expression with file:line and exits 1. A fixed seed keeps runs
 * reproducible; the seed is printed so a failure can be replayed.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/checksum.h"

#include "check.h"

#define RNG_SEED 0x9e3779b97f4a7c15ULL
#include "rng.h"


static uint16_t fold_fast(const void *p, size_t len)
{
	return csum_fold(csum_partial(p, len, 0));
}

static uint16_t fold_ref(const void *p, size_t len)
{
	return csum_fold(csum_partial_ref(p, len, 0));
}

static uint16_t load16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static void store16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static void test_known_answers(void)
{
	/* RFC 1071 section 3: these bytes sum (big-endian words) to 0xddf2. */
	static const uint8_t rfc1071[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	/* A real IPv4 header (UDP, 192.168.0.1 -> 192.168.0.199), checksum 0xb861. */
	uint8_t ip4[20] = { 0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
			    0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7 };
	static const uint8_t one = 0x01;

	CHECK_EQ(fold_fast(rfc1071, sizeof(rfc1071)), htons(0xddf2));
	CHECK_EQ(fold_ref(rfc1071, sizeof(rfc1071)), htons(0xddf2));

	/* A valid header sums to 0xffff (checksum included). */
	CHECK_EQ(fold_fast(ip4, sizeof(ip4)), 0xffff);
	CHECK_EQ(csum(ip4, sizeof(ip4), 0), 0);
	store16(ip4 + 10, 0);
	CHECK_EQ(csum(ip4, sizeof(ip4), 0), htons(0xb861));
	CHECK_EQ(ntohs(csum(ip4, sizeof(ip4), 0)), 0xb861);

	/* An odd last byte is the high-order byte of a word padded with zero (RFC 1071). */
	CHECK_EQ(fold_fast(&one, 1), htons(0x0100));
	CHECK_EQ(fold_ref(&one, 1), htons(0x0100));

	/* Empty and all-zero buffers sum to 0; the initial sum passes through. */
	CHECK_EQ(csum_partial(NULL, 0, 0), 0);
	CHECK_EQ(csum_fold(csum_partial(NULL, 0, 0x1234)), 0x1234);
	CHECK_EQ(csum_fold(0x1ffff), 0x0001);
	CHECK_EQ(csum_fold(0xffffffffu), 0xffff);
	CHECK_EQ(csum_fold(0x0001fffeu), 0xffff);
	CHECK_EQ(csum_fold(0x00010000u), 0x0001);
}

static void test_fixed_patterns(void)
{
	static uint8_t buf[65536 + 16];
	size_t lens[] = { 0, 1, 2, 7, 8, 31, 32, 33, 64, 1499, 1500, 65519, 65520, 65536 };
	size_t i;

	/* All 0xff: maximal carries. 0xffff * n folds to 0xffff for any n > 0. */
	memset(buf, 0xff, sizeof(buf));
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		CHECK_EQ(fold_fast(buf, lens[i]), fold_ref(buf, lens[i]));
		if (lens[i] >= 2)
			CHECK_EQ(fold_fast(buf, lens[i] & ~(size_t)1), 0xffff);
	}
	memset(buf, 0, sizeof(buf));
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		CHECK_EQ(fold_fast(buf, lens[i]), 0);
}

static void test_lengths_alignments(void)
{
	static uint8_t buf[600 + 8];
	size_t len, align;

	for (len = 0; len <= 600; len++) {
		for (align = 0; align < 8; align++) {
			uint32_t seed = (uint32_t)rng();

			rng_fill(buf + align, len);
			CHECK_EQ(fold_fast(buf + align, len), fold_ref(buf + align, len));
			/* A nonzero initial sum is added in, the same way by both. */
			CHECK_EQ(csum_fold(csum_partial(buf + align, len, seed & 0xfffff)),
				 csum_fold(csum_partial_ref(buf + align, len, seed & 0xfffff)));
		}
	}
}

static void test_random_large(void)
{
	static uint8_t buf[65536 + 8];
	int round;

	for (round = 0; round < 200; round++) {
		size_t len = rng() % 65537, align = rng() % 8;

		rng_fill(buf + align, len);
		CHECK_EQ(fold_fast(buf + align, len), fold_ref(buf + align, len));
	}
}

static void test_split_sums(void)
{
	static uint8_t buf[4096];
	int round;

	for (round = 0; round < 500; round++) {
		size_t len = rng() % sizeof(buf), cut = (rng() % (len + 1)) & ~(size_t)1;
		uint32_t part;

		rng_fill(buf, len);
		part = csum_partial(buf, cut, 0);
		part = csum_partial(buf + cut, len - cut, part);
		CHECK_EQ(csum_fold(part), fold_ref(buf, len));
	}
}

/* Buffer of n_words with its checksum at word 0; recompute it from scratch. */
static uint16_t full_check(uint8_t *buf, size_t len)
{
	store16(buf, 0);
	return csum(buf, len, 0);
}

static void test_incremental(void)
{
	uint8_t buf[64];
	int round;

	/* RFC 1624 section 4: eq. 3 gives 0x0000 here (eq. 2 would wrongly give 0xffff). */
	CHECK_EQ(csum_update16(htons(0xdd2f), htons(0x5555), htons(0x3285)), htons(0x0000));

	for (round = 0; round < 20000; round++) {
		size_t len = 8 + 2 * (rng() % 28), off = 2 + 2 * (rng() % ((len - 2) / 2));
		uint16_t check, old16, new16;
		uint32_t old32, new32;

		rng_fill(buf, len);
		buf[2] |= 0x40; /* nonzero data, like a real header's version byte */
		check = full_check(buf, len);
		store16(buf, check);

		/* 16-bit field; new values biased toward the edges 0x0000 and 0xffff. */
		old16 = load16(buf + off);
		switch (rng() % 4) {
		case 0:
			new16 = 0x0000;
			break;
		case 1:
			new16 = 0xffff;
			break;
		default:
			new16 = (uint16_t)rng();
		}
		if (off == 2)
			new16 |= htons(0x4000); /* keep the data nonzero */
		check = csum_update16(check, old16, new16);
		store16(buf + off, new16);
		CHECK_EQ(check, full_check(buf, len));
		store16(buf, check);

		/* 32-bit field (e.g. an IPv4 address), possibly unaligned in the buffer. */
		if (off + 4 <= len && off != 2) {
			memcpy(&old32, buf + off, 4);
			new32 = (rng() % 3) ? (uint32_t)rng() : (rng() & 1 ? 0 : 0xffffffffu);
			check = csum_update32(check, old32, new32);
			memcpy(buf + off, &new32, 4);
			CHECK_EQ(check, full_check(buf, len));
			store16(buf, check);
		}

		/* 16-byte field (an IPv6 address) through the generic update. */
		if (len >= 4 + 16) {
			uint8_t old_field[16], new_field[16];
			size_t foff = 4 + 2 * (rng() % ((len - 4 - 16) / 2 + 1));

			memcpy(old_field, buf + foff, 16);
			rng_fill(new_field, 16);
			if (rng() % 4 == 0)
				memset(new_field, rng() & 1 ? 0xff : 0x00, 16);
			check = csum_update(check, old_field, new_field, 16);
			memcpy(buf + foff, new_field, 16);
			CHECK_EQ(check, full_check(buf, len));
		}
	}

	/* Edge: a change that makes the correct checksum 0x0000 (data summing to 0xffff). */
	memset(buf, 0, sizeof(buf));
	store16(buf + 2, htons(0x1234));
	store16(buf + 4, htons(0x5555));
	store16(buf, full_check(buf, 6));
	{
		uint16_t check = csum_update16(load16(buf), htons(0x5555), htons(0xedcb));

		store16(buf + 4, htons(0xedcb));
		CHECK_EQ(full_check(buf, 6), 0x0000);
		CHECK_EQ(check, 0x0000);
	}
	/* Edge: fields changing from and to 0xffff/0x0000 around a 0xffff checksum's neighbour. */
	memset(buf, 0, sizeof(buf));
	store16(buf + 2, htons(0x4500));
	store16(buf + 4, 0xffff);
	store16(buf, full_check(buf, 6));
	{
		uint16_t check = csum_update16(load16(buf), 0xffff, 0x0000);

		store16(buf + 4, 0x0000);
		CHECK_EQ(check, full_check(buf, 6));
		store16(buf, check);
		check = csum_update16(check, 0x0000, 0xffff);
		store16(buf + 4, 0xffff);
		CHECK_EQ(check, full_check(buf, 6));
	}
}

/* Verify a segment: folded sum over pseudo-header + segment must be 0xffff. */
static void test_pseudo_headers(void)
{
	struct in_addr s4, d4;
	struct in6_addr s6, d6;
	uint8_t pseudo4[12], pseudo6[40], seg[1500];
	uint16_t len16;
	uint32_t len32, sum;
	int round;

	for (round = 0; round < 2000; round++) {
		size_t seg_len = 8 + rng() % (sizeof(seg) - 8);
		uint8_t proto = (uint8_t)rng();
		uint16_t check;

		s4.s_addr = (uint32_t)rng();
		d4.s_addr = (uint32_t)rng();
		rng_fill(s6.s6_addr, 16);
		rng_fill(d6.s6_addr, 16);

		/* IPv4 pseudo-header (RFC 768/793): src, dst, zero, protocol, length. */
		memcpy(pseudo4, &s4.s_addr, 4);
		memcpy(pseudo4 + 4, &d4.s_addr, 4);
		pseudo4[8] = 0;
		pseudo4[9] = proto;
		len16 = htons((uint16_t)seg_len);
		memcpy(pseudo4 + 10, &len16, 2);
		CHECK_EQ(csum_fold(csum_pseudo4(s4, d4, proto, (uint16_t)seg_len)),
			 fold_ref(pseudo4, sizeof(pseudo4)));

		/* IPv6 pseudo-header (RFC 8200 8.1): src, dst, 32-bit length, 3 zero, next. */
		memcpy(pseudo6, s6.s6_addr, 16);
		memcpy(pseudo6 + 16, d6.s6_addr, 16);
		len32 = htonl((uint32_t)seg_len);
		memcpy(pseudo6 + 32, &len32, 4);
		memset(pseudo6 + 36, 0, 3);
		pseudo6[39] = proto;
		CHECK_EQ(csum_fold(csum_pseudo6(&s6, &d6, proto, (uint32_t)seg_len)),
			 fold_ref(pseudo6, sizeof(pseudo6)));

		/* A UDP datagram over IPv4: header (ports, length, checksum at 6) + data. */
		rng_fill(seg, seg_len);
		store16(seg + 4, len16);
		store16(seg + 6, 0);
		check = csum(seg, seg_len, csum_pseudo4(s4, d4, IPPROTO_UDP, (uint16_t)seg_len));
		store16(seg + 6, check);
		sum = csum_partial(seg, seg_len,
				   csum_pseudo4(s4, d4, IPPROTO_UDP, (uint16_t)seg_len));
		CHECK_EQ(csum_fold(sum), 0xffff);
		/* and verified through the explicit pseudo-header bytes */
		pseudo4[9] = IPPROTO_UDP;
		sum = csum_partial_ref(seg, seg_len, csum_partial_ref(pseudo4, sizeof(pseudo4), 0));
		CHECK_EQ(csum_fold(sum), 0xffff);

		/* A TCP segment over IPv6 (checksum at 16). */
		if (seg_len >= 20) {
			store16(seg + 16, 0);
			check = csum(seg, seg_len,
				     csum_pseudo6(&s6, &d6, IPPROTO_TCP, (uint32_t)seg_len));
			store16(seg + 16, check);
			pseudo6[39] = IPPROTO_TCP;
			sum = csum_partial_ref(seg, seg_len,
					       csum_partial_ref(pseudo6, sizeof(pseudo6), 0));
			CHECK_EQ(csum_fold(sum), 0xffff);
		}

		/* An ICMPv6 message (checksum at 2). */
		store16(seg + 2, 0);
		check = csum(seg, seg_len,
			     csum_pseudo6(&s6, &d6, IPPROTO_ICMPV6, (uint32_t)seg_len));
		store16(seg + 2, check);
		pseudo6[39] = IPPROTO_ICMPV6;
		sum = csum_partial_ref(seg, seg_len, csum_partial_ref(pseudo6, sizeof(pseudo6), 0));
		CHECK_EQ(csum_fold(sum), 0xffff);
		/* A corrupted byte must fail verification. */
		seg[seg_len - 1] ^= 0x01;
		sum = csum_partial_ref(seg, seg_len, csum_partial_ref(pseudo6, sizeof(pseudo6), 0));
		CHECK(csum_fold(sum) != 0xffff);
	}
}

int main(void)
{
	const char *seed = getenv("TEST_SEED");

	if (seed)
		rng_state = strtoull(seed, NULL, 0) | 1;
	printf("test_checksum: seed 0x%llx\n", (unsigned long long)rng_state);

	test_known_answers();
	test_fixed_patterns();
	test_lengths_alignments();
	test_random_large();
	test_split_sums();
	test_incremental();
	test_pseudo_headers();

	printf("test_checksum: %lu checks passed\n", checks);
	return 0;
}
