/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_batch.c - unit tests for core/batch.c
 *
 * A batch is initialised, filled frame by frame to full through batch_next()/batch_commit() with
 * real frames (built and checked with core/packet.h), then pushed past full (the frames are
 * refused and counted in dropped). Each slot's headroom and full frame_max are written to prove
 * that slots do not overlap (run under ASan for out-of-bounds detection). Overflowed and foreign
 * builders are refused without counting as dropped; reset starts over at slot 0.
 *
 * Every check prints the failing expression with file:line and exits 1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/batch.h"
#include "core/packet.h"

#include "check.h"

#define N_FRAMES 4
#define FRAME_MAX 150

static const uint8_t mac_a[6] = { 0x52, 0x54, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t mac_b[6] = { 0x52, 0x54, 0x00, 0x00, 0x00, 0x02 };

/* A UDP frame whose payload is n copies of the byte tag. */
static bool build_frame(struct frame_builder *fb, uint8_t tag, size_t n)
{
	static const uint8_t udp[8] = { 0x04, 0x00, 0x04, 0x01 };
	struct in_addr s, d;
	uint8_t *p;

	inet_pton(AF_INET, "192.0.2.1", &s);
	inet_pton(AF_INET, "192.0.2.2", &d);
	if (!eth_push(fb, mac_a, mac_b, BP_ETH_P_IP) || !ip4_push(fb, s, d, IPPROTO_UDP, 64) ||
	    !fb_append(fb, udp, sizeof(udp)))
		return false;
	p = fb_put(fb, n);
	if (!p)
		return false;
	memset(p, tag, n);
	return ip_finish(fb) != 0;
}

static void check_frame(const struct frame_batch *b, unsigned i, uint8_t tag, size_t n)
{
	struct frame f;
	size_t len, k;
	uint8_t *p = batch_frame(b, i, &len);

	CHECK(p != NULL);
	CHECK_EQ(len, 14 + 20 + 8 + n);
	CHECK_EQ(frame_parse(p, len, &f), 0);
	CHECK_EQ(f.payload.len, n);
	for (k = 0; k < n; k++)
		CHECK_EQ(f.payload.data[k], tag);
}

static void test_init_errors(void)
{
	struct frame_batch b;

	CHECK(batch_init(&b, 0, 100) < 0);
	CHECK(b.mem == NULL);
	CHECK(batch_init(&b, 4, 0) < 0);
	CHECK(batch_init(&b, UINT_MAX, SIZE_MAX / 4) < 0);
	CHECK(b.mem == NULL && b.len == NULL);
	/* A batch that failed to initialise refuses everything and counts drops. */
	{
		struct frame_builder fb = batch_next(&b);

		CHECK(!eth_push(&fb, mac_a, mac_b, BP_ETH_P_IP));
		CHECK(!batch_commit(&b, &fb));
		CHECK_EQ(b.count, 0);
	}
	batch_free(&b);
}

static void test_fill_drop_reset(void)
{
	struct frame_batch b;
	struct frame_builder fb;
	unsigned i;
	uint8_t *p;
	size_t len;

	CHECK_EQ(batch_init(&b, N_FRAMES, FRAME_MAX), 0);
	CHECK(b.mem != NULL && b.len != NULL);
	CHECK_EQ(b.max_frames, N_FRAMES);
	CHECK_EQ(b.frame_max, FRAME_MAX);
	CHECK(b.slot_size >= BATCH_HEADROOM + FRAME_MAX);
	CHECK_EQ(b.slot_size % 8, 0);
	CHECK_EQ(b.count, 0);
	CHECK_EQ(b.dropped, 0);
	CHECK(!batch_full(&b));
	CHECK(batch_frame(&b, 0, &len) == NULL && len == 0);

	/* Fill to full; frame i carries tag 'A'+i and i+1 payload bytes. */
	for (i = 0; i < N_FRAMES; i++) {
		fb = batch_next(&b);
		CHECK(fb.buf != NULL);
		CHECK_EQ(fb.cap, FRAME_MAX);
		CHECK_EQ(fb.len, 0);
		CHECK(build_frame(&fb, (uint8_t)('A' + i), i + 1));
		CHECK(batch_commit(&b, &fb));
		CHECK_EQ(b.count, i + 1);
	}
	CHECK(batch_full(&b));
	for (i = 0; i < N_FRAMES; i++) {
		check_frame(&b, i, (uint8_t)('A' + i), i + 1);
		p = batch_frame(&b, i, &len);
		/* The IP header of every slot's frame is 8-byte aligned. */
		CHECK_EQ(((uintptr_t)p + 14) % 8, 0);
	}
	CHECK(batch_frame(&b, N_FRAMES, &len) == NULL);

	/* Full: the builder overflows at once, commit refuses and counts. */
	fb = batch_next(&b);
	CHECK_EQ(fb.cap, 0);
	CHECK(!build_frame(&fb, 'Z', 1));
	CHECK(fb.overflow);
	CHECK(!batch_commit(&b, &fb));
	CHECK_EQ(b.dropped, 1);
	fb = batch_next(&b);
	CHECK(!batch_commit(&b, &fb));
	CHECK_EQ(b.dropped, 2);
	CHECK_EQ(b.count, N_FRAMES);

	/* Headroom in front of every frame is writable and does not touch any frame. */
	for (i = 0; i < N_FRAMES; i++) {
		p = batch_frame(&b, i, &len);
		memset(p - BATCH_HEADROOM, 0xee, BATCH_HEADROOM);
	}
	for (i = 0; i < N_FRAMES; i++)
		check_frame(&b, i, (uint8_t)('A' + i), i + 1);
	/* A frame grown to frame_max does not reach the next slot's headroom or frame. */
	p = batch_frame(&b, 1, &len);
	memset(p + len, 0x77, FRAME_MAX - len);
	check_frame(&b, 2, 'C', 3);
	p = batch_frame(&b, 2, &len);
	CHECK_EQ(p[-1], 0xee);
	CHECK_EQ(p[-BATCH_HEADROOM], 0xee);

	/* Reset: empty again, next frame goes to slot 0. */
	p = batch_frame(&b, 0, &len);
	batch_reset(&b);
	CHECK_EQ(b.count, 0);
	CHECK(!batch_full(&b));
	CHECK(batch_frame(&b, 0, &len) == NULL);
	fb = batch_next(&b);
	CHECK(fb.buf == p);
	CHECK(build_frame(&fb, 'R', 10));
	CHECK(batch_commit(&b, &fb));
	check_frame(&b, 0, 'R', 10);
	CHECK_EQ(b.dropped, 2); /* reset keeps the drop counter */

	/* Overflow inside a non-full batch: refused, not counted as dropped, slot reusable. */
	fb = batch_next(&b);
	CHECK(!build_frame(&fb, 'O', FRAME_MAX));
	CHECK(!batch_commit(&b, &fb));
	CHECK_EQ(b.count, 1);
	CHECK_EQ(b.dropped, 2);
	fb = batch_next(&b);
	CHECK(build_frame(&fb, 'P', FRAME_MAX - 42)); /* exactly frame_max */
	CHECK(batch_commit(&b, &fb));
	check_frame(&b, 1, 'P', FRAME_MAX - 42);

	/* A builder over some other buffer, or over a slot that is not the next one: refused. */
	{
		uint8_t other[FRAME_MAX];
		struct frame_builder foreign;

		fb_init(&foreign, other, sizeof(other));
		CHECK(build_frame(&foreign, 'F', 5));
		CHECK(!batch_commit(&b, &foreign));
		fb_init(&foreign, batch_frame(&b, 0, &len), FRAME_MAX);
		CHECK(build_frame(&foreign, 'F', 5));
		CHECK(!batch_commit(&b, &foreign));
		CHECK_EQ(b.count, 2);
	}

	batch_free(&b);
	CHECK(b.mem == NULL && b.len == NULL && b.count == 0 && b.max_frames == 0);
	batch_free(&b); /* twice is harmless */
}

/* A batch sized like the daemon's: 64 frames of BP_FRAME_MAX, every slot written end to end. */
static void test_large(void)
{
	struct frame_batch b;
	unsigned i;

	CHECK_EQ(batch_init(&b, 64, BP_FRAME_MAX), 0);
	for (i = 0; i < 64; i++) {
		struct frame_builder fb = batch_next(&b);
		uint8_t *p = fb_put(&fb, BP_FRAME_MAX);

		CHECK(p != NULL);
		memset(p - BATCH_HEADROOM, (int)i, BATCH_HEADROOM + BP_FRAME_MAX);
		CHECK(batch_commit(&b, &fb));
	}
	for (i = 0; i < 64; i++) {
		size_t len;
		uint8_t *p = batch_frame(&b, i, &len);

		CHECK_EQ(len, BP_FRAME_MAX);
		CHECK_EQ(p[0], i);
		CHECK_EQ(p[len - 1], i);
		CHECK_EQ(p[-BATCH_HEADROOM], i);
	}
	batch_free(&b);
}

int main(void)
{
	test_init_errors();
	test_fill_drop_reset();
	test_large();
	printf("test_batch: %lu checks passed\n", checks);
	return 0;
}
