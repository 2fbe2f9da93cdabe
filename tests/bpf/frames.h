/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * frames.h - building test frames byte by byte, and checking their checksums, for the BPF tests
 *
 * Independent of both the BPF code and user/core: a frame is a byte buffer with a cursor, filled
 * with big-endian puts; checksums are computed with a plain byte-pair loop here, so that a bug in
 * the code under test cannot hide in a shared helper. Header-only (static functions), used by
 * test_tap.c and test_loader.c.
 */
#ifndef BPASST_TEST_FRAMES_H
#define BPASST_TEST_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct tbuf {
	uint8_t b[1024];
	size_t n;
};

static inline void t_put(struct tbuf *f, const void *p, size_t n)
{
	memcpy(f->b + f->n, p, n);
	f->n += n;
}

static inline void t_u8(struct tbuf *f, uint8_t v)
{
	f->b[f->n++] = v;
}

static inline void t_be16(struct tbuf *f, uint16_t v)
{
	t_u8(f, (uint8_t)(v >> 8));
	t_u8(f, (uint8_t)v);
}

static inline void t_be32(struct tbuf *f, uint32_t v)
{
	t_be16(f, (uint16_t)(v >> 16));
	t_be16(f, (uint16_t)v);
}

static inline void t_zero(struct tbuf *f, size_t n)
{
	memset(f->b + f->n, 0, n);
	f->n += n;
}

static inline uint16_t t_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* One's complement sum of n bytes as big-endian 16-bit words, added to sum (unfolded). */
static inline uint32_t t_sum(const uint8_t *p, size_t n, uint32_t sum)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)(p[n - 1] << 8);
	return sum;
}

static inline uint16_t t_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static inline void t_eth(struct tbuf *f, const uint8_t dst[6], const uint8_t src[6], uint16_t type)
{
	t_put(f, dst, 6);
	t_put(f, src, 6);
	t_be16(f, type);
}

/* IPv4 header without options at the cursor, header checksum filled. */
static inline void t_ip4(struct tbuf *f, const uint8_t src[4], const uint8_t dst[4], uint8_t proto,
			 uint16_t tot_len, uint8_t tos, uint16_t id, uint16_t frag, uint8_t ttl)
{
	size_t h = f->n;

	t_u8(f, 0x45);
	t_u8(f, tos);
	t_be16(f, tot_len);
	t_be16(f, id);
	t_be16(f, frag);
	t_u8(f, ttl);
	t_u8(f, proto);
	t_be16(f, 0);
	t_put(f, src, 4);
	t_put(f, dst, 4);
	uint16_t c = (uint16_t)~t_fold(t_sum(f->b + h, 20, 0));
	f->b[h + 10] = (uint8_t)(c >> 8);
	f->b[h + 11] = (uint8_t)c;
}

static inline void t_ip6(struct tbuf *f, uint32_t vtc_flow, const uint8_t src[16],
			 const uint8_t dst[16], uint16_t payload_len, uint8_t nexthdr, uint8_t hop)
{
	t_be32(f, vtc_flow);
	t_be16(f, payload_len);
	t_u8(f, nexthdr);
	t_u8(f, hop);
	t_put(f, src, 16);
	t_put(f, dst, 16);
}

/* Fill the ICMPv6 checksum of the message at l4 (IPv6 header right before it, 40 bytes). */
static inline void t_icmp6_csum_fill(struct tbuf *f, size_t l4)
{
	const uint8_t *ip6 = f->b + l4 - 40;
	size_t len = f->n - l4;
	uint32_t sum;
	uint16_t c;

	f->b[l4 + 2] = f->b[l4 + 3] = 0;
	sum = t_sum(ip6 + 8, 32, 0);
	sum += (uint32_t)(len >> 16) + (uint32_t)(len & 0xffff) + 58;
	sum = t_sum(f->b + l4, len, sum);
	c = (uint16_t)~t_fold(sum);
	f->b[l4 + 2] = (uint8_t)(c >> 8);
	f->b[l4 + 3] = (uint8_t)c;
}

/* Fill the ICMP checksum of the message from l4 to the end. */
static inline void t_icmp4_csum_fill(struct tbuf *f, size_t l4)
{
	uint16_t c;

	f->b[l4 + 2] = f->b[l4 + 3] = 0;
	c = (uint16_t)~t_fold(t_sum(f->b + l4, f->n - l4, 0));
	f->b[l4 + 2] = (uint8_t)(c >> 8);
	f->b[l4 + 3] = (uint8_t)c;
}

/*
 * Independent check of every checksum in an Ethernet frame we received from the code under test:
 * IPv4 header checksum, and ICMP (IPv4) or ICMPv6 over the IP payload length. true when each one
 * present verifies (sums to 0xffff), or the frame carries none.
 */
static inline bool t_csums_ok(const uint8_t *p, size_t n)
{
	uint16_t type;

	if (n < 14)
		return false;
	type = t_get16(p + 12);
	if (type == 0x0800) {
		size_t ihl, tot;

		if (n < 34)
			return false;
		ihl = (size_t)(p[14] & 0x0f) * 4;
		tot = t_get16(p + 16);
		if (ihl < 20 || tot < ihl || 14 + tot > n)
			return false;
		if (t_fold(t_sum(p + 14, ihl, 0)) != 0xffff)
			return false;
		if (p[23] == 1 && t_fold(t_sum(p + 14 + ihl, tot - ihl, 0)) != 0xffff)
			return false;
	} else if (type == 0x86dd) {
		size_t plen;
		uint32_t sum;

		if (n < 54)
			return false;
		plen = t_get16(p + 18);
		if (54 + plen > n)
			return false;
		if (p[20] == 58) {
			sum = t_sum(p + 22, 32, 0);
			sum += (uint32_t)plen + 58;
			sum = t_sum(p + 54, plen, sum);
			if (t_fold(sum) != 0xffff)
				return false;
		}
	}
	return true;
}

#endif /* BPASST_TEST_FRAMES_H */
