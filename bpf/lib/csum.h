/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * csum.h - Internet checksums (RFC 1071) in a BPF program
 *
 * Sums are carried unfolded in 32 bits, as bpf_csum_diff() returns them, and chained through its
 * seed argument, so an answer's checksum is summed piece by piece (pseudo-header, ICMPv6 header,
 * each option) in whatever memory each piece lives in (stack or map value). Each piece must be a
 * multiple of 4 bytes long and start at an even offset of the checksummed data, which holds for
 * every header and NDP option we send. Values are in network order as they sit in the packet;
 * the one's complement sum does not care about byte order, so the folded result is stored as is.
 *
 * bp_csum_replace16() is the incremental update of RFC 1624 (eq. 3) for one changed 16-bit word,
 * computed here rather than with bpf_l4_csum_replace() so that it does not depend on the skb's
 * checksum offload state.
 */
#ifndef BPASST_BPF_CSUM_H
#define BPASST_BPF_CSUM_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* Fold a 32-bit (or wider) one's complement sum to 16 bits, not complemented. */
static __always_inline __u16 bp_csum_fold(__u64 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/* Add len bytes (a multiple of 4, at most 512) at buf to the unfolded sum *sum. 0, or negative
 * when the helper refuses (then *sum is unchanged). */
static __always_inline int bp_csum_add(__u32 *sum, const void *buf, __u32 len)
{
	__s64 r = bpf_csum_diff(NULL, 0, (void *)buf, len, *sum);

	if (r < 0)
		return (int)r;
	*sum = (__u32)r;
	return 0;
}

/* The checksum to store: complement of the folded sum. */
static __always_inline __u16 bp_csum_finish(__u32 sum)
{
	return (__u16)~bp_csum_fold(sum);
}

/* New checksum after the 16-bit word old_word (as stored) became new_word (RFC 1624 eq. 3). */
static __always_inline __u16 bp_csum_replace16(__u16 check, __u16 old_word, __u16 new_word)
{
	__u32 sum = (__u16)~check;

	sum += (__u16)~old_word;
	sum += new_word;
	return (__u16)~bp_csum_fold(sum);
}

/* Unfolded sum of the IPv6 pseudo-header (RFC 8200 s8.1). */
static __always_inline int bp_csum_pseudo6(__u32 *sum, const __u8 *saddr, const __u8 *daddr,
					   __u32 l4_len, __u8 nexthdr)
{
	struct {
		__u8 saddr[16];
		__u8 daddr[16];
		__be32 len;
		__u8 zero[3];
		__u8 nexthdr;
	} ph;

#pragma unroll
	for (int i = 0; i < 16; i++) {
		ph.saddr[i] = saddr[i];
		ph.daddr[i] = daddr[i];
	}
	ph.len = bpf_htonl(l4_len);
	ph.zero[0] = ph.zero[1] = ph.zero[2] = 0;
	ph.nexthdr = nexthdr;
	return bp_csum_add(sum, &ph, sizeof(ph));
}

#endif /* BPASST_BPF_CSUM_H */
