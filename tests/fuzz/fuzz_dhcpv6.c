// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_dhcpv6.c - libFuzzer target for proto/dhcpv6.c
 *
 * Input: byte 0 config variants (fuzz_common.h); byte 1 addressing: 0x01 to our link-local
 * address (else ff02::1:2), 0x02 from :: (else the guest's link-local address); then the DHCPv6
 * message (type, transaction id, options), sent UDP 546 -> 547. Every answer must parse back with
 * valid checksums.
 */
#include "fuzz_common.h"
#include "proto/dhcpv6.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[FUZZ_FRAME_MAX];
	struct in6_addr src, dst;
	struct frame_builder fb;
	uint8_t mac[BP_ETH_ALEN];
	struct config c;
	uint8_t *udp;

	if (size < 2 || size - 2 > 0xffff - 8)
		return 0;
	fuzz_setup();
	fuzz_config(&c, data[0]);
	if (data[1] & 0x01)
		dst = c.ip6.our_ll;
	else
		fuzz_pton(AF_INET6, "ff02::1:2", &dst);
	if (data[1] & 0x02)
		memset(&src, 0, sizeof(src));
	else
		fuzz_pton(AF_INET6, "fe80::5054:ff:fe12:3456", &src);
	mac_of_ip6_multicast(&dst, mac);
	fb_init(&fb, frame, sizeof(frame));
	eth_push(&fb, mac, fuzz_guest_mac, BP_ETH_P_IPV6);
	ip6_push(&fb, &src, &dst, IPPROTO_UDP, 1);
	udp = fb_put(&fb, 8);
	if (!udp || !fb_append(&fb, data + 2, size - 2))
		return 0;
	udp[0] = 546 >> 8;
	udp[1] = 546 & 0xff;
	udp[2] = 547 >> 8;
	udp[3] = 547 & 0xff;
	udp[4] = (uint8_t)((size - 2 + 8) >> 8);
	udp[5] = (uint8_t)(size - 2 + 8);
	if (!ip_finish(&fb))
		return 0;
	fuzz_deliver(dhcpv6_recv, &c, frame, fb.len);
	return 0;
}
