/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * batch.h - the frame batch: where every outgoing frame is built before an edge writes it
 *
 * The rule of the house: a handler never writes to the tap or the qemu socket itself. It is handed
 * a struct frame_batch, builds its answer into the next free slot (batch_next() gives a
 * frame_builder over it, batch_commit() keeps it), and returns. The edge that owns the batch
 * (io/tap.c, io/stream.c) writes all committed frames at once and resets it: that gives batching
 * for free and keeps the edges out of the protocol code.
 *
 * Memory: one block of max_frames slots allocated once at start-up. Each slot has
 * BATCH_HEADROOM bytes in front of the frame, so the qemu stream edge can put its 4-byte length
 * in front and write the slots with a single writev. No allocation after batch_init().
 */
#ifndef BPASST_BATCH_H
#define BPASST_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/packet.h"

#define BATCH_HEADROOM 4

struct frame_batch {
	uint8_t *mem; /* max_frames * slot_size */
	size_t slot_size; /* BATCH_HEADROOM + frame_max, rounded up */
	size_t frame_max;
	unsigned max_frames;
	unsigned count; /* committed frames */
	uint32_t *len; /* per-slot frame length */
	unsigned long dropped; /* frames refused because the batch was full */
};

/* Allocate a batch of max_frames slots of frame_max bytes. 0, or -ENOMEM. */
int batch_init(struct frame_batch *b, unsigned max_frames, size_t frame_max);
void batch_free(struct frame_batch *b);
/* A builder over the next free slot. When the batch is full the builder has cap 0 (every push
 * overflows) and b->dropped counts the frame at commit. */
struct frame_builder batch_next(struct frame_batch *b);
/* Keep the frame built in fb (the one batch_next() returned). false if it overflowed. */
bool batch_commit(struct frame_batch *b, const struct frame_builder *fb);
/* Frame i: pointer and length. The BATCH_HEADROOM bytes before the pointer are writable. */
uint8_t *batch_frame(const struct frame_batch *b, unsigned i, size_t *len);
static inline bool batch_full(const struct frame_batch *b)
{
	return b->count >= b->max_frames;
}
static inline void batch_reset(struct frame_batch *b)
{
	b->count = 0;
}

#endif /* BPASST_BATCH_H */
