/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tap.h - pasta's edge: the tap device in the namespace
 *
 * A tap fd reads and writes exactly one Ethernet frame per read()/write(). tap_read_batch() reads
 * up to max frames into a fixed receive area and hands each to dispatch_frame(); tap_flush() writes
 * every frame of a batch (one write each: a tap takes no more per syscall) and resets it.
 */
#ifndef BPASST_TAP_H
#define BPASST_TAP_H

#include <stddef.h>
#include <stdint.h>

#include "core/batch.h"
#include "io/dispatch.h"

/* Create (or attach to) tap device `name` in the CURRENT network namespace (call it from inside,
 * e.g. via ns_call_in_netns), set its MAC and MTU, bring it and lo up. Returns an O_NONBLOCK fd,
 * or -errno; *ifindex receives the interface index. */
int tap_create(const char *name, const uint8_t mac[BP_ETH_ALEN], int mtu, int *ifindex);
/* tap_create() in two steps: tap_open() creates it with its MAC (NULL or all-zero: random),
 * MTU (0: the kernel's) and queue length but leaves it down (so per-interface sysctls can be set
 * before the kernel configures IPv6 on it); tap_bring_up() brings lo and the tap up. */
int tap_open(const char *name, const uint8_t mac[BP_ETH_ALEN], int mtu, int *ifindex);
int tap_bring_up(const char *name);
/* A random unicast, locally administered MAC address. */
void tap_random_mac(uint8_t mac[BP_ETH_ALEN]);
/* Read up to max frames and dispatch each. Returns frames read (0: nothing pending), -errno on a
 * fatal error (e.g. the tap went away). */
int tap_read_batch(int fd, struct dispatch_ctx *d, unsigned max);
/* Write all frames of b, then reset it. Returns frames written; frames that would block are
 * dropped and counted in b->dropped. */
int tap_flush(int fd, struct frame_batch *b);

#endif /* BPASST_TAP_H */
