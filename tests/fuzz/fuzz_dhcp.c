// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_dhcp.c - libFuzzer target for proto/dhcp.c
 *
 * Input: byte 0 config variants (fuzz_common.h); byte 1 addressing: 0x01 unicast from
 * 192.0.2.10 to the gateway (a renewing client), else 0.0.0.0 to 255.255.255.255; then the DHCP
 * message (fixed part, magic cookie, options), sent UDP 68 -> 67. Every answer must parse back
 * with valid checksums.
 */
#include "fuzz_common.h"
#include "proto/dhcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t bcast[BP_ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static uint8_t frame[FUZZ_FRAME_MAX];
	struct in_addr src, dst;
	struct frame_builder fb;
	struct config c;
	uint8_t *udp;

	if (size < 2 || size - 2 > 0xffff - 8)
		return 0;
	fuzz_setup();
	fuzz_config(&c, data[0]);
	if (data[1] & 0x01) {
		src = c.ip4.addr;
		fuzz_pton(AF_INET, "192.0.2.1", &dst);
	} else {
		src.s_addr = 0;
		dst.s_addr = INADDR_BROADCAST;
	}
	fb_init(&fb, frame, sizeof(frame));
	eth_push(&fb, bcast, fuzz_guest_mac, BP_ETH_P_IP);
	ip4_push(&fb, src, dst, IPPROTO_UDP, 64);
	udp = fb_put(&fb, 8);
	if (!udp || !fb_append(&fb, data + 2, size - 2))
		return 0;
	udp[0] = 0;
	udp[1] = 68;
	udp[2] = 0;
	udp[3] = 67;
	udp[4] = (uint8_t)((size - 2 + 8) >> 8);
	udp[5] = (uint8_t)(size - 2 + 8);
	if (!ip_finish(&fb))
		return 0;
	fuzz_deliver(dhcp_recv, &c, frame, fb.len);
	return 0;
}
