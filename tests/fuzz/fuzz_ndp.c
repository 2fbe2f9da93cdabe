// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_ndp.c - libFuzzer target for proto/ndp.c
 *
 * Input: byte 0 config variants (fuzz_common.h); byte 1 addressing: 0x01 source :: (else the
 * guest's link-local address), 0x02 destination the solicited-node address of the target at
 * message offset 8 (else ff02::2), 0x04 hop limit 64 (else 255), 0x08 also build a periodic RA
 * with this config; then the ICMPv6 message (its checksum is recomputed). Every answer must parse
 * back with valid checksums.
 */
#include "fuzz_common.h"
#include "proto/ndp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[FUZZ_FRAME_MAX];
	struct in6_addr src, dst, target;
	struct frame_builder fb;
	uint8_t mac[BP_ETH_ALEN];
	const uint8_t *msg;
	struct config c;
	size_t len;

	if (size < 2)
		return 0;
	msg = data + 2;
	len = size - 2;
	fuzz_setup();
	fuzz_config(&c, data[0]);
	if (data[1] & 0x01)
		memset(&src, 0, sizeof(src));
	else
		fuzz_pton(AF_INET6, "fe80::5054:ff:fe12:3456", &src);
	if ((data[1] & 0x02) && len >= 24) {
		memcpy(&target, msg + 8, sizeof(target));
		ip6_solicited_node(&target, &dst);
	} else {
		fuzz_pton(AF_INET6, "ff02::2", &dst);
	}
	mac_of_ip6_multicast(&dst, mac);
	fb_init(&fb, frame, sizeof(frame));
	eth_push(&fb, mac, fuzz_guest_mac, BP_ETH_P_IPV6);
	ip6_push(&fb, &src, &dst, IPPROTO_ICMPV6, (data[1] & 0x04) ? 64 : 255);
	if (!fb_append(&fb, msg, len) || !ip_finish(&fb))
		return 0;
	fuzz_deliver(ndp_recv, &c, frame, fb.len);

	if (data[1] & 0x08) {
		struct frame a;
		size_t alen;
		const uint8_t *p;

		batch_reset(&fuzz_out);
		if (ndp_ra_build(&c, &fuzz_guest, &fuzz_out)) {
			p = batch_frame(&fuzz_out, 0, &alen);
			if (!p || frame_parse(p, alen, &a) < 0)
				fuzz_die("periodic RA does not parse");
			fuzz_check_sums(&a);
		}
	}
	return 0;
}
