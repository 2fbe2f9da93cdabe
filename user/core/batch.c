/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * batch.c - the frame batch: fixed slots that handlers build outgoing frames into
 *
 * State: struct frame_batch (core/batch.h) owns one block of max_frames slots, allocated once by
 * batch_init(), and an array of committed frame lengths. A slot is laid out as
 *
 *   | pad (6) | headroom (BATCH_HEADROOM = 4) | frame (frame_max) ... |
 *   0         6                              10
 *
 * so that the frame starts 2 bytes past an 8-byte boundary: the 14-byte Ethernet header then
 * ends, and the IP header starts, on an 8-byte boundary (slot_size is a multiple of 8 and the
 * block is 16-byte aligned). The 4 headroom bytes right before the frame are for the qemu stream
 * edge's length prefix.
 *
 * Path: a handler calls batch_next() for a frame_builder over slot b->count (or a builder with no
 * buffer, which overflows at once, when the batch is full), builds into it, and calls
 * batch_commit(), which records the length and advances count. The edge walks batch_frame(0..count)
 * to write them and then batch_reset(). Nothing is allocated after batch_init().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/batch.h"

/* Offset of the frame inside a slot; the headroom sits just before it. */
#define BATCH_FRAME_OFF 10
#define BATCH_SLOT_ALIGN 8

_Static_assert(BATCH_FRAME_OFF >= BATCH_HEADROOM, "headroom fits before the frame");
_Static_assert((BATCH_FRAME_OFF + 14) % BATCH_SLOT_ALIGN == 0, "IP header aligned in a slot");

static uint8_t *batch_slot_frame(const struct frame_batch *b, unsigned i)
{
	return b->mem + (size_t)i * b->slot_size + BATCH_FRAME_OFF;
}

int batch_init(struct frame_batch *b, unsigned max_frames, size_t frame_max)
{
	size_t slot_size;

	memset(b, 0, sizeof(*b));
	if (!max_frames || !frame_max || frame_max > UINT32_MAX ||
	    frame_max > SIZE_MAX / 2 - BATCH_FRAME_OFF - BATCH_SLOT_ALIGN)
		return -EINVAL;
	slot_size = (BATCH_FRAME_OFF + frame_max + BATCH_SLOT_ALIGN - 1) &
		~(size_t)(BATCH_SLOT_ALIGN - 1);
	if (slot_size > SIZE_MAX / max_frames)
		return -ENOMEM;

	b->mem = calloc(max_frames, slot_size);
	b->len = calloc(max_frames, sizeof(*b->len));
	if (!b->mem || !b->len) {
		free(b->mem);
		free(b->len);
		memset(b, 0, sizeof(*b));
		return -ENOMEM;
	}
	b->slot_size = slot_size;
	b->frame_max = frame_max;
	b->max_frames = max_frames;
	return 0;
}

void batch_free(struct frame_batch *b)
{
	free(b->mem);
	free(b->len);
	memset(b, 0, sizeof(*b));
}

struct frame_builder batch_next(struct frame_batch *b)
{
	struct frame_builder fb;

	if (!b->mem || batch_full(b))
		fb_init(&fb, NULL, 0);
	else
		fb_init(&fb, batch_slot_frame(b, b->count), b->frame_max);
	return fb;
}

bool batch_commit(struct frame_batch *b, const struct frame_builder *fb)
{
	if (!b->mem || batch_full(b)) {
		b->dropped++;
		return false;
	}
	if (fb->overflow || fb->buf != batch_slot_frame(b, b->count) || fb->len > b->frame_max)
		return false;
	b->len[b->count++] = (uint32_t)fb->len;
	return true;
}

uint8_t *batch_frame(const struct frame_batch *b, unsigned i, size_t *len)
{
	if (i >= b->count) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = b->len[i];
	return batch_slot_frame(b, i);
}
