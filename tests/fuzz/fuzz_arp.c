// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_arp.c - libFuzzer target for proto/arp.c
 *
 * Input: byte 0 config variants (fuzz_common.h), byte 1 unused, then the ARP body (any length),
 * sent from the guest's MAC to the Ethernet broadcast address. Every answer must parse back.
 */
#include "fuzz_common.h"
#include "proto/arp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t bcast[BP_ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static uint8_t frame[FUZZ_FRAME_MAX];
	struct frame_builder fb;
	struct config c;

	if (size < 2)
		return 0;
	fuzz_setup();
	fuzz_config(&c, data[0]);
	fb_init(&fb, frame, sizeof(frame));
	eth_push(&fb, bcast, fuzz_guest_mac, BP_ETH_P_ARP);
	if (!fb_append(&fb, data + 2, size - 2))
		return 0;
	fuzz_deliver(arp_recv, &c, frame, fb.len);
	return 0;
}
