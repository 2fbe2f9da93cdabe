/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz_common.h - shared part of the service fuzz targets (fuzz_arp.c, fuzz_ndp.c, fuzz_dhcp.c,
 * fuzz_dhcpv6.c)
 *
 * Input layout, the same for every target: byte 0 selects config variants (bits below), byte 1
 * selects addressing variants the target defines (source, destination), the rest is the
 * service's own message (ARP body, ICMPv6 NDP message, DHCP message, DHCPv6 message). The target
 * wraps that message into a well-formed Ethernet frame with the core builders (so that the fuzzer
 * spends its time in the service's parser, not in finding valid IP headers), parses it with
 * frame_parse() and hands it to the service. Every answer must parse back (frame_parse) with
 * valid checksums and come from our MAC, or the target aborts: a malformed answer is a bug just
 * like a crash.
 *
 * State: one batch and one config, set up on the first input; nothing else survives an input.
 */
#ifndef BPASST_FUZZ_COMMON_H
#define BPASST_FUZZ_COMMON_H

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/batch.h"
#include "core/checksum.h"
#include "core/config.h"
#include "core/guest.h"
#include "core/log.h"
#include "core/packet.h"

/* Config variant bits (input byte 0). */
#define FUZZ_CONF_NO_DNS 0x01
#define FUZZ_CONF_NO_SEARCH 0x02
#define FUZZ_CONF_NO_GW 0x04
#define FUZZ_CONF_PREFIX32 0x08 /* IPv4 /32: the gateway is off the subnet */
#define FUZZ_CONF_NO_MTU 0x10
#define FUZZ_CONF_DNS_FWD 0x20
#define FUZZ_CONF_NO_DHCPV6 0x40
#define FUZZ_CONF_LONG_SEARCH 0x80 /* eight long search domains */

#define FUZZ_FRAME_MAX 4096

static const uint8_t fuzz_guest_mac[BP_ETH_ALEN] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

static struct frame_batch fuzz_out;
static struct config fuzz_base;
static struct guest_state fuzz_guest;

static void fuzz_die(const char *what)
{
	fprintf(stderr, "fuzz: %s\n", what);
	abort();
}

static void fuzz_pton(int af, const char *s, void *dst)
{
	if (inet_pton(af, s, dst) != 1)
		fuzz_die("bad address");
}

static void fuzz_setup(void)
{
	static int done;
	struct config *c = &fuzz_base;

	if (done)
		return;
	done = 1;
	log_init("fuzz", getenv("FUZZ_DEBUG") ? LOG_LVL_TRACE : LOG_LVL_ERR);
	if (batch_init(&fuzz_out, 4, BP_FRAME_MAX) < 0)
		fuzz_die("batch_init");
	config_defaults(c, MODE_PASTA, "fuzz");
	c->mtu = 65520;
	fuzz_pton(AF_INET, "192.0.2.10", &c->ip4.addr);
	c->ip4.prefix_len = 24;
	fuzz_pton(AF_INET, "192.0.2.1", &c->ip4.gw);
	c->ip4.have_gw = true;
	fuzz_pton(AF_INET, "198.51.100.53", &c->ip4.dns[0]);
	fuzz_pton(AF_INET, "203.0.113.53", &c->ip4.dns[1]);
	c->ip4.dns_count = 2;
	fuzz_pton(AF_INET6, "2001:db8:1::10", &c->ip6.addr);
	c->ip6.prefix_len = 64;
	fuzz_pton(AF_INET6, "fe80::1", &c->ip6.gw);
	c->ip6.have_gw = true;
	fuzz_pton(AF_INET6, "fe80::9855:9aff:fe55:9a55", &c->ip6.our_ll);
	fuzz_pton(AF_INET6, "2001:db8:53::1", &c->ip6.dns[0]);
	c->ip6.dns_count = 1;
	strcpy(c->search[0], "example.com");
	strcpy(c->search[1], "corp.example.org");
	c->search_count = 2;

	memcpy(fuzz_guest.mac, fuzz_guest_mac, BP_ETH_ALEN);
	fuzz_guest.mac_known = true;
}

/* The config for this input, from its first byte. */
static void fuzz_config(struct config *c, uint8_t bits)
{
	unsigned i;

	*c = fuzz_base;
	c->no_dns = bits & FUZZ_CONF_NO_DNS;
	c->no_dns_search = bits & FUZZ_CONF_NO_SEARCH;
	if (bits & FUZZ_CONF_NO_GW) {
		c->ip4.have_gw = false;
		c->ip6.have_gw = false;
	}
	if (bits & FUZZ_CONF_PREFIX32)
		c->ip4.prefix_len = 32;
	if (bits & FUZZ_CONF_NO_MTU)
		c->mtu = 0;
	if (bits & FUZZ_CONF_DNS_FWD) {
		fuzz_pton(AF_INET, "192.0.2.53", &c->ip4.dns_forward);
		fuzz_pton(AF_INET6, "2001:db8:1::53", &c->ip6.dns_forward);
	}
	c->no_dhcpv6 = bits & FUZZ_CONF_NO_DHCPV6;
	if (bits & FUZZ_CONF_LONG_SEARCH) {
		for (i = 0; i < CONF_MAX_SEARCH; i++) {
			char label[64];

			memset(label, 'a' + (int)i, 63);
			label[63] = 0;
			snprintf(c->search[i], CONF_DOMAIN_MAX, "%s.%s.%s", label, label, label);
		}
		c->search_count = CONF_MAX_SEARCH;
	}
}

static void fuzz_check_sums(const struct frame *f)
{
	uint32_t pseudo = 0;

	if (f->l3_kind == FRAME_L3_IP4) {
		if (csum_fold(csum_partial(f->l3.data, f->l3_hdr_len, 0)) != 0xffff)
			fuzz_die("bad IPv4 header checksum in an answer");
		pseudo = csum_pseudo4(f->src.v4, f->dst.v4, f->l4_proto, (uint16_t)f->l4.len);
	} else if (f->l3_kind == FRAME_L3_IP6) {
		pseudo = csum_pseudo6(&f->src.v6, &f->dst.v6, f->l4_proto, (uint32_t)f->l4.len);
	} else {
		return;
	}
	if (csum_fold(csum_partial(f->l4.data, f->l4.len, pseudo)) != 0xffff)
		fuzz_die("bad L4 checksum in an answer");
}

typedef int (*fuzz_service_fn)(const struct config *c, struct guest_state *g, const struct frame *f,
			       struct frame_batch *out);

/* Hand a built frame to the service and check what comes out. */
static void fuzz_deliver(fuzz_service_fn fn, const struct config *c, const uint8_t *frame,
			 size_t len)
{
	struct frame f;
	unsigned i;
	int ret;

	if (!len || frame_parse(frame, len, &f) < 0)
		return;
	batch_reset(&fuzz_out);
	ret = fn(c, &fuzz_guest, &f, &fuzz_out);
	if (ret != 0 && ret != 1)
		fuzz_die("service returned neither 0 nor 1");
	if (fuzz_out.count > 1 || (ret == 0 && fuzz_out.count))
		fuzz_die("more than one answer, or an answer to a frame that was not ours");
	for (i = 0; i < fuzz_out.count; i++) {
		struct frame a;
		size_t alen;
		const uint8_t *p = batch_frame(&fuzz_out, i, &alen);

		if (!p || frame_parse(p, alen, &a) < 0)
			fuzz_die("answer does not parse");
		if (memcmp(a.src_mac, c->our_mac, BP_ETH_ALEN))
			fuzz_die("answer not from our MAC");
		fuzz_check_sums(&a);
	}
}

#endif /* BPASST_FUZZ_COMMON_H */
