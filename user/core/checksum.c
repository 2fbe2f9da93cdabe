/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * checksum.c - the Internet checksum (RFC 1071), incremental updates (RFC 1624), pseudo-headers
 *
 * Convention: a "sum" is the one's complement sum of the buffer's 16-bit words as they are loaded
 * from memory in host order (memcpy of two bytes). Because the one's complement sum commutes with
 * byte swapping, folding and complementing such a sum gives a 16-bit value that is stored back
 * into the packet as-is (again host-order memcpy), with no htons() anywhere. Sums are kept
 * unfolded so that pieces can be added: each piece except the last must have an even length.
 *
 * csum_partial() is the hot path (every TCP/UDP segment built by the daemon): it loads 8 bytes at a
 * time with memcpy (alignment safe, compiled to plain loads) and adds the two 32-bit halves of
 * each word into a 64-bit accumulator, four words per iteration. Adding 32-bit halves instead of
 * whole 64-bit words needs no carry handling: each add contributes < 2^33, so the accumulator
 * cannot overflow within a chunk of CSUM_CHUNK bytes, after which it is folded. Since 2^32 and
 * 2^16 are both 1 modulo 0xffff, the result is congruent to the 16-bit word sum, and it is zero
 * only if every byte was, exactly like the reference; so fold(fast) == fold(ref) bit for bit.
 * The tail (< 8 bytes) is summed by 16-bit words, and an odd last byte is added as the first
 * byte of a word padded with a zero byte (RFC 1071).
 *
 * csum_partial_ref() is the obvious byte-pair loop, kept for tests and the benchmark.
 *
 * No state is kept.
 */
#include <string.h>

#include "core/checksum.h"

/* Bytes summed before the 64-bit accumulator is folded (far below 2^31 words). */
#define CSUM_CHUNK (1UL << 30)

/* The 16-bit word holding byte b first and a zero byte second, as loaded in host order. */
static inline uint32_t csum_odd_byte(uint8_t b)
{
	uint8_t w[2] = { b, 0 };
	uint16_t v;

	memcpy(&v, w, sizeof(v));
	return v;
}

static inline uint64_t csum_fold64(uint64_t acc)
{
	acc = (acc & 0xffffffffULL) + (acc >> 32);
	acc = (acc & 0xffffffffULL) + (acc >> 32);
	return acc;
}

static inline uint32_t csum_fold64_to16(uint64_t acc)
{
	acc = csum_fold64(acc);
	acc = (acc & 0xffff) + (acc >> 16);
	acc = (acc & 0xffff) + (acc >> 16);
	acc = (acc & 0xffff) + (acc >> 16);
	return (uint32_t)acc;
}

static inline uint64_t csum_add_halves(uint64_t acc, uint64_t w)
{
	return acc + (w & 0xffffffffULL) + (w >> 32);
}

static uint64_t csum_chunk(const uint8_t *p, size_t len, uint64_t acc)
{
	uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
	uint16_t w16;

	while (len >= 32) {
		uint64_t w0, w1, w2, w3;

		memcpy(&w0, p, 8);
		memcpy(&w1, p + 8, 8);
		memcpy(&w2, p + 16, 8);
		memcpy(&w3, p + 24, 8);
		a0 = csum_add_halves(a0, w0);
		a1 = csum_add_halves(a1, w1);
		a2 = csum_add_halves(a2, w2);
		a3 = csum_add_halves(a3, w3);
		p += 32;
		len -= 32;
	}
	while (len >= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		a0 = csum_add_halves(a0, w);
		p += 8;
		len -= 8;
	}
	acc += csum_fold64(a0) + csum_fold64(a1) + csum_fold64(a2) + csum_fold64(a3);
	while (len >= 2) {
		memcpy(&w16, p, 2);
		acc += w16;
		p += 2;
		len -= 2;
	}
	if (len)
		acc += csum_odd_byte(*p);
	return acc;
}

uint32_t csum_partial(const void *buf, size_t len, uint32_t sum)
{
	const uint8_t *p = buf;
	uint64_t acc = sum;

	while (len > CSUM_CHUNK) {
		acc = csum_fold64(csum_chunk(p, CSUM_CHUNK, acc));
		p += CSUM_CHUNK;
		len -= CSUM_CHUNK;
	}
	return csum_fold64_to16(csum_chunk(p, len, acc));
}

uint32_t csum_partial_ref(const void *buf, size_t len, uint32_t sum)
{
	const uint8_t *p = buf;
	uint64_t acc = sum;
	size_t i;

	for (i = 0; i + 1 < len; i += 2) {
		uint8_t w[2] = { p[i], p[i + 1] };
		uint16_t v;

		memcpy(&v, w, sizeof(v));
		acc += v;
		if (acc >> 32)
			acc = (acc & 0xffffffffULL) + (acc >> 32);
	}
	if (len & 1)
		acc += csum_odd_byte(p[len - 1]);
	return csum_fold64_to16(acc);
}

uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

uint16_t csum(const void *buf, size_t len, uint32_t sum)
{
	return (uint16_t)~csum_fold(csum_partial(buf, len, sum));
}

/* Sum of the 16-bit words of a field of even length, loaded in host order. */
static uint32_t csum_words(const void *field, size_t len)
{
	const uint8_t *p = field;
	uint32_t sum = 0;
	uint16_t w;
	size_t i;

	for (i = 0; i + 1 < len; i += 2) {
		memcpy(&w, p + i, 2);
		sum += w;
	}
	return sum;
}

uint32_t csum_pseudo4(struct in_addr src, struct in_addr dst, uint8_t proto, uint16_t l4_len)
{
	uint32_t sum;

	sum = csum_words(&src.s_addr, 4) + csum_words(&dst.s_addr, 4);
	sum += htons(proto);
	sum += htons(l4_len);
	return sum;
}

uint32_t csum_pseudo6(const struct in6_addr *src, const struct in6_addr *dst, uint8_t nexthdr,
		      uint32_t l4_len)
{
	uint32_t len_be = htonl(l4_len);
	uint32_t sum;

	sum = csum_words(src->s6_addr, 16) + csum_words(dst->s6_addr, 16);
	sum += csum_words(&len_be, 4);
	sum += htons(nexthdr);
	return sum;
}

/* RFC 1624 eq. 3: HC' = ~(~HC + ~m + m'), m and m' as sequences of 16-bit words. */
uint16_t csum_update(uint16_t check, const void *old_field, const void *new_field, size_t len)
{
	const uint8_t *o = old_field, *n = new_field;
	uint32_t sum = (uint16_t)~check;
	uint16_t ow, nw;
	size_t i;

	for (i = 0; i + 1 < len; i += 2) {
		memcpy(&ow, o + i, 2);
		memcpy(&nw, n + i, 2);
		sum += (uint16_t)~ow;
		sum += nw;
	}
	return (uint16_t)~csum_fold(sum);
}

uint16_t csum_update16(uint16_t check, uint16_t old_field, uint16_t new_field)
{
	uint32_t sum = (uint32_t)(uint16_t)~check + (uint16_t)~old_field + new_field;

	return (uint16_t)~csum_fold(sum);
}

uint16_t csum_update32(uint16_t check, uint32_t old_field, uint32_t new_field)
{
	return csum_update(check, &old_field, &new_field, sizeof(old_field));
}
