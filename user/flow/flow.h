/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * flow.h - a fixed-size flow table: slot allocation and hashed lookup by the guest-side 4-tuple
 *
 * A flow is identified, as the guest sees it, by (protocol, guest address, guest port, remote
 * address, remote port); IPv4 addresses are kept as v4-mapped IPv6 addresses so one key type
 * serves both families and can be hashed and compared as plain bytes. The table hands out slot
 * indices in [0, cap): the translator keeps its per-flow state in its own array indexed by them,
 * and the same index travels in the epoll reference of the flow's socket, so a socket event finds
 * its flow without any lookup.
 *
 * State: keys, a free-index stack, a chained hash (bucket heads and a next-index per slot, with
 * a keyed SipHash so the guest cannot aim collisions at one bucket), and a dense array of the
 * slots in use (for iteration in O(flows in use)). Everything is allocated by flow_table_init();
 * nothing afterwards. The table is full at cap flows: flow_insert() then fails with -ENOSPC and
 * existing flows are untouched.
 *
 * flow_siphash() (SipHash-2-4) is exported for other keyed hashes (TCP initial sequence numbers,
 * RFC 6528).
 */
#ifndef BPASST_FLOW_H
#define BPASST_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#define FLOW_NONE UINT32_MAX

/* Guest-side identity of a flow. No implicit padding: hashed and compared with memcmp. */
struct flow_key {
	struct in6_addr gaddr; /* guest address (v4-mapped for IPv4) */
	struct in6_addr raddr; /* remote address as the guest addresses it */
	uint16_t gport, rport; /* host order */
	uint8_t proto; /* IPPROTO_TCP, ... */
	uint8_t pad[3];
};
_Static_assert(sizeof(struct flow_key) == 40, "flow_key has no implicit padding");

struct flow_table {
	unsigned cap; /* slots */
	unsigned count; /* slots in use */
	unsigned bucket_mask; /* buckets - 1 (a power of two, >= 2 * cap) */
	uint32_t *bucket; /* head slot of each bucket's chain, or FLOW_NONE */
	uint32_t *chain; /* next slot in the same bucket, or FLOW_NONE */
	uint32_t *dense; /* slots in use, packed in [0, count) */
	uint32_t *dense_pos; /* position of a used slot in dense[], FLOW_NONE when free */
	uint32_t *free_stack; /* free slots; the top is free_stack[cap - count - 1] */
	struct flow_key *key;
	uint64_t hash_key[2];
};

/* Store an address pair and ports into a key. af: AF_INET (addresses are struct in_addr *) or
 * AF_INET6 (struct in6_addr *). */
void flow_key_set(struct flow_key *k, uint8_t proto, int af, const void *gaddr, uint16_t gport,
		  const void *raddr, uint16_t rport);
/* AF_INET when both addresses are v4-mapped, else AF_INET6. */
int flow_key_af(const struct flow_key *k);
/* The IPv4 address inside a v4-mapped address. */
struct in_addr flow_addr_v4(const struct in6_addr *a);
/* a as a v4-mapped IPv6 address. */
void flow_addr_from_v4(struct in6_addr *out, struct in_addr a);

/* Allocate the table for cap flows (1 .. 2^24). 0, or -errno. A random hash key is drawn from
 * getrandom(). */
int flow_table_init(struct flow_table *t, unsigned cap);
void flow_table_free(struct flow_table *t);

/* Insert k: 0 and *idx set, -ENOSPC when the table is full, -EEXIST (and *idx the existing slot)
 * when k is already in the table. */
int flow_insert(struct flow_table *t, const struct flow_key *k, uint32_t *idx);
/* Slot of k, or FLOW_NONE. */
uint32_t flow_lookup(const struct flow_table *t, const struct flow_key *k);
/* Free slot idx (must be in use). */
void flow_remove(struct flow_table *t, uint32_t idx);
static inline bool flow_in_use(const struct flow_table *t, uint32_t idx)
{
	return idx < t->cap && t->dense_pos[idx] != FLOW_NONE;
}
static inline const struct flow_key *flow_key_at(const struct flow_table *t, uint32_t idx)
{
	return &t->key[idx];
}
/* Iteration: dense[i] for i in [0, count). When flows may be removed while iterating, walk i
 * downwards from count - 1: flow_remove() moves the last entry into the freed position. */
static inline uint32_t flow_nth(const struct flow_table *t, unsigned i)
{
	return t->dense[i];
}

/* SipHash-2-4 of len bytes under a 128-bit key. */
uint64_t flow_siphash(const uint64_t key[2], const void *data, size_t len);

#endif /* BPASST_FLOW_H */
