/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * maps.h - the BPF maps of the tap program, and the helpers that touch them
 *
 * BTF-style definitions (SEC(".maps")) so that libbpf creates the maps with their key and value
 * types and `bpftool map dump` prints field names. Layouts come from include/bpasst_maps.h, which
 * the loader and the tests include too. The loader pins tap_config, tap_counters, flow_mirror and
 * instance under /sys/fs/bpf/bpasst/<instance>/ (docs/bpf.md lists the bpftool command for each).
 *
 * Include once per program file (the definitions are objects, not declarations).
 */
#ifndef BPASST_BPF_MAPS_H
#define BPASST_BPF_MAPS_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "bpasst_maps.h"

/* tap_config: what the tap program answers and the addresses it answers with. Written by the
 * loader before the program is attached (and again when the daemon's view changes); read by the
 * program for every frame. All zero means: answer nothing, pass everything to the daemon. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bp_tap_config);
} tap_config SEC(".maps");

/* tap_counters: what the tap program saw and did with it. One slot per CPU (no atomics on the
 * hot path); readers sum the per-CPU copies. Written by the program, read by the daemon and by
 * bpftool. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bp_tap_counters);
} tap_counters SEC(".maps");

/* flow_mirror: a copy of the daemon's flow table (protocol, addresses, ports, state, byte counts)
 * keyed by the daemon's flow index, for bpftool. Written by the loader on the daemon's behalf
 * (byte counts at most once a second per flow), never read by the program. The loader sizes it
 * before loading. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BP_FLOW_MIRROR_DEFAULT_MAX);
	__type(key, __u32);
	__type(value, struct bp_flow_mirror);
} flow_mirror SEC(".maps");

/* instance: the process that owns this set of maps (PID, its start time, the tap). Written once
 * by the loader; read by the next loader to tell a live instance's pins from a dead one's. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bp_instance);
} instance SEC(".maps");

/* tap_scratch: per-CPU working memory where an answer is assembled before it is stored into the
 * frame (the BPF stack has 512 bytes for the whole call chain). Program-internal: not pinned. */
#define BP_SCRATCH_SIZE 256
struct bp_scratch {
	__u8 bytes[BP_SCRATCH_SIZE];
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bp_scratch);
} tap_scratch SEC(".maps");

/* This CPU's scratch memory, or NULL (never in practice). */
static __always_inline void *bp_scratch(void)
{
	__u32 key = 0;

	return bpf_map_lookup_elem(&tap_scratch, &key);
}

/* The configuration, or NULL (never in practice: an array slot always exists). */
static __always_inline const struct bp_tap_config *bp_config(void)
{
	__u32 key = 0;

	return bpf_map_lookup_elem(&tap_config, &key);
}

/* Add one to counter idx of this CPU's slot. */
static __always_inline void bp_count(enum bp_tap_counter idx)
{
	__u32 key = 0;
	__u64 *slot;

	if ((unsigned int)idx >= BP_TAP_CNT_MAX)
		return;
	slot = bpf_map_lookup_elem(&tap_counters, &key);
	if (slot)
		slot[idx] += 1;
}

#endif /* BPASST_BPF_MAPS_H */
