/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_flow.c - unit tests for flow/flow.c (the flow table) and flow/fwd.c (port translation)
 *
 * SipHash-2-4 against the reference vectors of the SipHash paper; keys built for IPv4 (v4-mapped)
 * and IPv6; insert/lookup/remove; a full table refusing the next insert with -ENOSPC while every
 * existing flow is still found; duplicate inserts; iteration while removing; a randomized run of
 * inserts and removes checked against a shadow array (every key looked up after every step);
 * port translation of single ports, ranges, translated ranges and exclusions.
 *
 * Every check prints the failing expression with file:line and exits 1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow/flow.h"
#include "flow/fwd.h"

#include "check.h"

#define RNG_SEED 0x243f6a8885a308d3ULL
#include "rng.h"

static void test_siphash(void)
{
	/* Key 00..0f; messages 00, 00 01, ... (vectors.h of the reference implementation). */
	static const uint64_t expect[] = {
		0x726fdb47dd0e0e31ULL, /* len 0 */
		0x74f839c593dc67fdULL, /* len 1 */
		0x0d6c8009d9a94f5aULL, /* len 2 */
	};
	uint8_t kb[16], msg[64];
	uint64_t key[2];
	unsigned i;

	for (i = 0; i < 16; i++)
		kb[i] = (uint8_t)i;
	for (i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	memcpy(&key[0], kb, 8); /* little-endian host: k0 = bytes 0..7 */
	memcpy(&key[1], kb + 8, 8);
	for (i = 0; i < 3; i++)
		CHECK_EQ(flow_siphash(key, msg, i), expect[i]);
	CHECK_EQ(flow_siphash(key, msg, 15), 0xa129ca6149be45e5ULL);
	CHECK_EQ(flow_siphash(key, msg, 63), 0x958a324ceb064572ULL);
}

static void key4(struct flow_key *k, uint32_t g, uint16_t gp, uint32_t r, uint16_t rp)
{
	struct in_addr ga = { htonl(g) }, ra = { htonl(r) };

	flow_key_set(k, IPPROTO_TCP, AF_INET, &ga, gp, &ra, rp);
}

static void test_keys(void)
{
	struct in6_addr g6, r6;
	struct flow_key k;
	struct in_addr a;

	key4(&k, 0xc0000202, 40000, 0xcb007101, 80);
	CHECK_EQ(flow_key_af(&k), AF_INET);
	a = flow_addr_v4(&k.gaddr);
	CHECK_EQ(ntohl(a.s_addr), 0xc0000202);
	CHECK(IN6_IS_ADDR_V4MAPPED(&k.raddr));
	CHECK_EQ(k.gport, 40000);
	CHECK_EQ(k.rport, 80);

	inet_pton(AF_INET6, "2001:db8::2", &g6);
	inet_pton(AF_INET6, "2001:db8:1::1", &r6);
	flow_key_set(&k, IPPROTO_TCP, AF_INET6, &g6, 1, &r6, 2);
	CHECK_EQ(flow_key_af(&k), AF_INET6);
	CHECK(!memcmp(&k.gaddr, &g6, 16));
}

static void test_table_basic(void)
{
	struct flow_table t;
	struct flow_key k[5];
	uint32_t idx[5], dup;
	unsigned i;

	CHECK_EQ(flow_table_init(&t, 0), (unsigned long long)-EINVAL);
	CHECK_EQ(flow_table_init(&t, 4), 0);
	for (i = 0; i < 5; i++)
		key4(&k[i], 0xc0000202, (uint16_t)(1000 + i), 0xcb007101, 80);
	for (i = 0; i < 4; i++) {
		CHECK_EQ(flow_insert(&t, &k[i], &idx[i]), 0);
		CHECK(idx[i] < 4);
		CHECK(flow_in_use(&t, idx[i]));
	}
	CHECK_EQ(t.count, 4);
	/* Full: the fifth is refused, the first four still found. */
	CHECK_EQ(flow_insert(&t, &k[4], &idx[4]), (unsigned long long)-ENOSPC);
	for (i = 0; i < 4; i++)
		CHECK_EQ(flow_lookup(&t, &k[i]), idx[i]);
	CHECK_EQ(flow_lookup(&t, &k[4]), FLOW_NONE);
	/* Duplicate. */
	CHECK_EQ(flow_insert(&t, &k[2], &dup), (unsigned long long)-EEXIST);
	CHECK_EQ(dup, idx[2]);
	/* Remove one, the fifth fits now. */
	flow_remove(&t, idx[1]);
	CHECK(!flow_in_use(&t, idx[1]));
	CHECK_EQ(flow_lookup(&t, &k[1]), FLOW_NONE);
	CHECK_EQ(flow_insert(&t, &k[4], &idx[4]), 0);
	CHECK_EQ(idx[4], idx[1]); /* the freed slot is reused */
	CHECK_EQ(flow_lookup(&t, &k[4]), idx[4]);
	CHECK(!memcmp(flow_key_at(&t, idx[4]), &k[4], sizeof(k[4])));
	/* Iterate downwards while removing everything. */
	for (i = t.count; i-- > 0;)
		flow_remove(&t, flow_nth(&t, i));
	CHECK_EQ(t.count, 0);
	for (i = 0; i < 5; i++)
		CHECK_EQ(flow_lookup(&t, &k[i]), FLOW_NONE);
	flow_table_free(&t);
}

#define RAND_CAP 512
#define RAND_KEYS 2048

static void test_table_random(void)
{
	static struct flow_key keys[RAND_KEYS];
	static uint32_t slot[RAND_KEYS];
	struct flow_table t;
	unsigned i, step, in = 0;

	CHECK_EQ(flow_table_init(&t, RAND_CAP), 0);
	for (i = 0; i < RAND_KEYS; i++) {
		/* Few distinct addresses and ports: many keys differ in one field only. */
		key4(&keys[i], 0x0a000000 | (uint32_t)(i % 7), (uint16_t)(i / 7), 0xcb007101,
		     (uint16_t)(80 + i % 3));
		slot[i] = FLOW_NONE;
	}
	for (step = 0; step < 20000; step++) {
		unsigned j = (unsigned)(rng() % RAND_KEYS);

		if (slot[j] == FLOW_NONE) {
			uint32_t idx;
			int ret = flow_insert(&t, &keys[j], &idx);

			if (in == RAND_CAP) {
				CHECK_EQ(ret, (unsigned long long)-ENOSPC);
			} else {
				CHECK_EQ(ret, 0);
				slot[j] = idx;
				in++;
			}
		} else {
			flow_remove(&t, slot[j]);
			slot[j] = FLOW_NONE;
			in--;
		}
		CHECK_EQ(t.count, in);
		if (step % 97 == 0) {
			for (i = 0; i < RAND_KEYS; i++)
				CHECK_EQ(flow_lookup(&t, &keys[i]), slot[i]);
		}
	}
	for (i = 0; i < RAND_KEYS; i++)
		CHECK_EQ(flow_lookup(&t, &keys[i]), slot[i]);
	flow_table_free(&t);
}

static void test_fwd_translate(void)
{
	struct fwd_set s;
	uint16_t to;

	memset(&s, 0, sizeof(s));
	s.mode = FWD_SPEC;
	s.rule[0] = (struct fwd_rule){ .first = 8080, .last = 8080, .to_first = 8080 };
	s.rule[1] = (struct fwd_rule){ .first = 9000, .last = 9009, .to_first = 10000 };
	s.rule[2] = (struct fwd_rule){ .first = 9005, .last = 9005, .exclude = true };
	s.count = 3;
	CHECK(fwd_port_translate(&s, 8080, &to));
	CHECK_EQ(to, 8080);
	CHECK(fwd_port_translate(&s, 9000, &to));
	CHECK_EQ(to, 10000);
	CHECK(fwd_port_translate(&s, 9009, &to));
	CHECK_EQ(to, 10009);
	CHECK(!fwd_port_translate(&s, 9005, &to));
	CHECK(!fwd_port_translate(&s, 8081, &to));
	s.mode = FWD_NONE;
	CHECK(!fwd_port_translate(&s, 8080, &to));
	s.mode = FWD_ALL;
	CHECK(fwd_port_translate(&s, 22, &to));
	CHECK_EQ(to, 22);
	CHECK(!fwd_port_translate(&s, 9005, &to));
	CHECK(!fwd_port_translate(&s, 60000, &to));
}

int main(void)
{
	test_siphash();
	test_keys();
	test_table_basic();
	test_table_random();
	test_fwd_translate();
	printf("test_flow: %lu checks passed\n", checks);
	return 0;
}
