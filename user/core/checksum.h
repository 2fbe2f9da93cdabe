/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * checksum.h - the Internet checksum (RFC 1071), incremental updates (RFC 1624), pseudo-headers
 *
 * Sums are carried unfolded in a uint32_t (or uint64_t inside the fast loop) and folded to 16 bits
 * only at the end, so that pieces (pseudo-header, header, payload) can be summed separately and
 * added. All values are in network byte order as they sit in the packet, so no byte swapping is
 * needed: the one's complement sum is byte-order independent.
 */
#ifndef BPASST_CHECKSUM_H
#define BPASST_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

/* Add len bytes at buf to the unfolded sum. Any alignment, any length (odd included). */
uint32_t csum_partial(const void *buf, size_t len, uint32_t sum);
/* Fold to 16 bits (not complemented). */
uint16_t csum_fold(uint32_t sum);
/* Complete checksum of a buffer: ~fold(partial). Result in network order, ready to store. */
uint16_t csum(const void *buf, size_t len, uint32_t sum);

/* Unfolded sum of the IPv4 pseudo-header (addresses in network order). */
uint32_t csum_pseudo4(struct in_addr src, struct in_addr dst, uint8_t proto, uint16_t l4_len);
/* Unfolded sum of the IPv6 pseudo-header. */
uint32_t csum_pseudo6(const struct in6_addr *src, const struct in6_addr *dst, uint8_t nexthdr,
		      uint32_t l4_len);

/* RFC 1624 eq. 3: new checksum after a 16-bit field changed from old_field to new_field.
 * All three values as stored in the packet (network order). */
uint16_t csum_update16(uint16_t check, uint16_t old_field, uint16_t new_field);
/* The same for a 32-bit field (e.g. an IPv4 address). */
uint16_t csum_update32(uint16_t check, uint32_t old_field, uint32_t new_field);
/* The same for an arbitrary-length field of even length (e.g. an IPv6 address). */
uint16_t csum_update(uint16_t check, const void *old_field, const void *new_field, size_t len);

/* Reference byte-at-a-time implementation, for tests and the benchmark. */
uint32_t csum_partial_ref(const void *buf, size_t len, uint32_t sum);

#endif /* BPASST_CHECKSUM_H */
