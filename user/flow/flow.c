/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * flow.c - the fixed-size flow table: slot allocation and hashed lookup by guest-side 4-tuple
 *
 * Layout (all arrays allocated once by flow_table_init(), sized by cap):
 *   key[cap]         the key of each slot in use
 *   bucket[nb]       head of each hash chain (nb: power of two >= 2 * cap, so chains stay short)
 *   chain[cap]       next slot in the same chain
 *   dense[cap]       slots in use, packed; dense_pos[slot] is the position, FLOW_NONE when free
 *   free_stack[cap]  free slots, popped on insert and pushed on remove
 *
 * Insert: pop a free slot, link it at the head of its bucket, append it to dense[]. Remove: unlink
 * it from its chain (chains are singly linked and short: walk from the head), move the last dense
 * entry into its position, push it on the free stack. Lookup: hash, walk one chain, memcmp keys.
 *
 * The hash is SipHash-2-4 (Aumasson and Bernstein) under a random key drawn at start, so a guest
 * choosing its ports cannot predict which bucket a flow lands in.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/log.h"
#include "flow/flow.h"

#define FLOW_CAP_MAX (1u << 24)

void flow_addr_from_v4(struct in6_addr *out, struct in_addr a)
{
	memset(out, 0, sizeof(*out));
	out->s6_addr[10] = 0xff;
	out->s6_addr[11] = 0xff;
	memcpy(&out->s6_addr[12], &a.s_addr, 4);
}

struct in_addr flow_addr_v4(const struct in6_addr *a)
{
	struct in_addr v4;

	memcpy(&v4.s_addr, &a->s6_addr[12], 4);
	return v4;
}

void flow_key_set(struct flow_key *k, uint8_t proto, int af, const void *gaddr, uint16_t gport,
		  const void *raddr, uint16_t rport)
{
	memset(k, 0, sizeof(*k));
	if (af == AF_INET) {
		flow_addr_from_v4(&k->gaddr, *(const struct in_addr *)gaddr);
		flow_addr_from_v4(&k->raddr, *(const struct in_addr *)raddr);
	} else {
		memcpy(&k->gaddr, gaddr, sizeof(k->gaddr));
		memcpy(&k->raddr, raddr, sizeof(k->raddr));
	}
	k->gport = gport;
	k->rport = rport;
	k->proto = proto;
}

int flow_key_af(const struct flow_key *k)
{
	return IN6_IS_ADDR_V4MAPPED(&k->gaddr) && IN6_IS_ADDR_V4MAPPED(&k->raddr) ? AF_INET
										  : AF_INET6;
}

/* ---- SipHash-2-4 ---- */

static inline uint64_t rotl64(uint64_t x, unsigned b)
{
	return (x << b) | (x >> (64 - b));
}

static inline uint64_t load_le64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

#define SIPROUND                                                                                   \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = rotl64(v1, 13);                                                               \
		v1 ^= v0;                                                                          \
		v0 = rotl64(v0, 32);                                                               \
		v2 += v3;                                                                          \
		v3 = rotl64(v3, 16);                                                               \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = rotl64(v3, 21);                                                               \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = rotl64(v1, 17);                                                               \
		v1 ^= v2;                                                                          \
		v2 = rotl64(v2, 32);                                                               \
	} while (0)

uint64_t flow_siphash(const uint64_t key[2], const void *data, size_t len)
{
	uint64_t v0 = key[0] ^ 0x736f6d6570736575ULL;
	uint64_t v1 = key[1] ^ 0x646f72616e646f6dULL;
	uint64_t v2 = key[0] ^ 0x6c7967656e657261ULL;
	uint64_t v3 = key[1] ^ 0x7465646279746573ULL;
	const uint8_t *p = data;
	size_t full = len & ~(size_t)7, i;
	uint64_t m, last = (uint64_t)(len & 0xff) << 56;

	for (i = 0; i < full; i += 8) {
		m = load_le64(p + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (i = 0; i < (len & 7); i++)
		last |= (uint64_t)p[full + i] << (8 * i);
	v3 ^= last;
	SIPROUND;
	SIPROUND;
	v0 ^= last;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- The table ---- */

static unsigned flow_bucket_of(const struct flow_table *t, const struct flow_key *k)
{
	return (unsigned)(flow_siphash(t->hash_key, k, sizeof(*k)) & t->bucket_mask);
}

int flow_table_init(struct flow_table *t, unsigned cap)
{
	unsigned nb = 1, i;

	memset(t, 0, sizeof(*t));
	if (!cap || cap > FLOW_CAP_MAX)
		return -EINVAL;
	while (nb < 2 * cap)
		nb <<= 1;

	t->bucket = calloc(nb, sizeof(*t->bucket));
	t->chain = calloc(cap, sizeof(*t->chain));
	t->dense = calloc(cap, sizeof(*t->dense));
	t->dense_pos = calloc(cap, sizeof(*t->dense_pos));
	t->free_stack = calloc(cap, sizeof(*t->free_stack));
	t->key = calloc(cap, sizeof(*t->key));
	if (!t->bucket || !t->chain || !t->dense || !t->dense_pos || !t->free_stack || !t->key) {
		flow_table_free(t);
		return -ENOMEM;
	}
	if (getrandom(t->hash_key, sizeof(t->hash_key), 0) != sizeof(t->hash_key)) {
		flow_table_free(t);
		return -EIO;
	}
	t->cap = cap;
	t->bucket_mask = nb - 1;
	for (i = 0; i < nb; i++)
		t->bucket[i] = FLOW_NONE;
	for (i = 0; i < cap; i++) {
		t->chain[i] = FLOW_NONE;
		t->dense_pos[i] = FLOW_NONE;
		/* Pop order: slot 0 first. */
		t->free_stack[i] = cap - 1 - i;
	}
	return 0;
}

void flow_table_free(struct flow_table *t)
{
	free(t->bucket);
	free(t->chain);
	free(t->dense);
	free(t->dense_pos);
	free(t->free_stack);
	free(t->key);
	memset(t, 0, sizeof(*t));
}

uint32_t flow_lookup(const struct flow_table *t, const struct flow_key *k)
{
	uint32_t i;

	if (!t->cap)
		return FLOW_NONE;
	for (i = t->bucket[flow_bucket_of(t, k)]; i != FLOW_NONE; i = t->chain[i]) {
		if (!memcmp(&t->key[i], k, sizeof(*k)))
			return i;
	}
	return FLOW_NONE;
}

int flow_insert(struct flow_table *t, const struct flow_key *k, uint32_t *idx)
{
	uint32_t existing = flow_lookup(t, k), slot;
	unsigned b;

	if (existing != FLOW_NONE) {
		*idx = existing;
		return -EEXIST;
	}
	if (t->count >= t->cap)
		return -ENOSPC;
	slot = t->free_stack[t->cap - t->count - 1];
	b = flow_bucket_of(t, k);
	t->key[slot] = *k;
	t->chain[slot] = t->bucket[b];
	t->bucket[b] = slot;
	t->dense_pos[slot] = t->count;
	t->dense[t->count] = slot;
	t->count++;
	*idx = slot;
	return 0;
}

void flow_remove(struct flow_table *t, uint32_t idx)
{
	uint32_t *link, pos, last;

	if (!flow_in_use(t, idx)) {
		warn("flow: removing slot %u that is not in use", idx);
		return;
	}
	for (link = &t->bucket[flow_bucket_of(t, &t->key[idx])]; *link != FLOW_NONE;
	     link = &t->chain[*link]) {
		if (*link == idx) {
			*link = t->chain[idx];
			break;
		}
	}
	t->chain[idx] = FLOW_NONE;

	pos = t->dense_pos[idx];
	last = t->dense[t->count - 1];
	t->dense[pos] = last;
	t->dense_pos[last] = pos;
	t->dense_pos[idx] = FLOW_NONE;
	t->count--;
	t->free_stack[t->cap - t->count - 1] = idx;
	memset(&t->key[idx], 0, sizeof(t->key[idx]));
}
