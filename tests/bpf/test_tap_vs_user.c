// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_tap_vs_user.c - the same requests through both paths: BPF fast path and daemon services
 *
 * For each configuration (struct config + struct guest_state, as the daemon has them) and each
 * request frame (ARP, neighbour and router solicitations), the frame is given to the userspace
 * services (frame_parse, then arp_recv / ndp_recv into a frame batch) and to the tap program in
 * the kernel (bpf_prog_test_run_opts, with the bp_tap_config derived from the same config by
 * fastpath_tap_config(), the mapping the daemon uses: user/io/fastpath.c). Both must agree on
 * whether to answer, and when both answer the frames must be identical byte for byte. Echo is
 * left out (host_echo 0): the daemon answers it through ping sockets, not through a service.
 *
 * Needs bpf(): exits 77 (SKIP) with the reason when it is not permitted.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpasst_maps.h"
#include "bpf_check.h"
#include "core/batch.h"
#include "core/config.h"
#include "core/guest.h"
#include "core/packet.h"
#include "frames.h"
#include "io/fastpath.h"
#include "loader.h"
#include "proto/arp.h"
#include "proto/ndp.h"
#include "tap.skel.h"


static const uint8_t gmac[6] = { 0x02, 0x00, 0x5e, 0x00, 0x53, 0x01 };
static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t all_nodes_mac[6] = { 0x33, 0x33, 0, 0, 0, 1 };

static void arp_req(struct tbuf *f, const uint8_t spa[4], const uint8_t tpa[4])
{
	t_eth(f, bcast, gmac, 0x0806);
	t_be16(f, 1);
	t_be16(f, 0x0800);
	t_u8(f, 6);
	t_u8(f, 4);
	t_be16(f, 1);
	t_put(f, gmac, 6);
	t_put(f, spa, 4);
	t_zero(f, 6);
	t_put(f, tpa, 4);
}

static void ns_req(struct tbuf *f, const uint8_t src[16], const uint8_t target[16], bool sllao)
{
	uint8_t dst[16] = { 0xff, 0x02, [11] = 1, [12] = 0xff };
	size_t l4;

	memcpy(dst + 13, target + 13, 3);
	t_eth(f, all_nodes_mac, gmac, 0x86dd);
	t_ip6(f, 0x60000000, src, dst, (uint16_t)(24 + (sllao ? 8 : 0)), 58, 255);
	l4 = f->n;
	t_u8(f, 135);
	t_zero(f, 7);
	t_put(f, target, 16);
	if (sllao) {
		t_u8(f, 1);
		t_u8(f, 1);
		t_put(f, gmac, 6);
	}
	t_icmp6_csum_fill(f, l4);
}

static void rs_req(struct tbuf *f, const uint8_t src[16], bool sllao)
{
	static const uint8_t all_routers[16] = { 0xff, 0x02, [15] = 2 };
	size_t l4;

	t_eth(f, (const uint8_t[6]){ 0x33, 0x33, 0, 0, 0, 2 }, gmac, 0x86dd);
	t_ip6(f, 0x60000000, src, all_routers, (uint16_t)(8 + (sllao ? 8 : 0)), 58, 255);
	l4 = f->n;
	t_u8(f, 133);
	t_zero(f, 7);
	if (sllao) {
		t_u8(f, 1);
		t_u8(f, 1);
		t_put(f, gmac, 6);
	}
	t_icmp6_csum_fill(f, l4);
}

static void config_make(struct config *c, struct guest_state *g, bool full)
{
	config_defaults(c, MODE_PASTA, "test");
	memset(g, 0, sizeof(*g));
	inet_pton(AF_INET, "192.0.2.2", &c->ip4.addr);
	c->ip4.prefix_len = 24;
	inet_pton(AF_INET, "192.0.2.1", &c->ip4.gw);
	c->ip4.have_gw = true;
	inet_pton(AF_INET6, "2001:db8::2", &c->ip6.addr);
	c->ip6.prefix_len = 64;
	inet_pton(AF_INET6, "fe80::1", &c->ip6.our_ll);
	inet_pton(AF_INET6, "2001:db8::1", &c->ip6.gw);
	c->ip6.have_gw = true;
	inet_pton(AF_INET6, "2001:db8::3", &g->addr6_seen);
	inet_pton(AF_INET6, "fe80::2", &g->addr6_ll_seen);
	memcpy(g->mac, gmac, 6);
	g->mac_known = true;
	if (full) {
		c->mtu = 65520;
		inet_pton(AF_INET6, "2001:db8::53", &c->ip6.dns[0]);
		inet_pton(AF_INET6, "2001:db8::54", &c->ip6.dns[1]);
		c->ip6.dns_count = 2;
		snprintf(c->search[0], sizeof(c->search[0]), "example.com");
		snprintf(c->search[1], sizeof(c->search[1]), "test.");
		c->search_count = 2;
	} else {
		c->no_dhcpv6 = c->no_dns = c->no_dns_search = true;
		inet_pton(AF_INET6, "fe80::1", &c->ip6.gw); /* link-local gateway */
	}
}

static int silent_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_WARN)
		return vfprintf(stderr, fmt, ap);
	return 0;
}

static void hexdump(const char *what, const uint8_t *p, size_t n)
{
	fprintf(stderr, "  %s (%zu bytes):", what, n);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%s%02x", i % 16 ? " " : "\n    ", p[i]);
	fputc('\n', stderr);
}

/* One request through both paths. */
static void compare(int prog_fd, const struct config *c, struct guest_state *g,
		    struct frame_batch *b, const char *name, const struct tbuf *req)
{
	const uint8_t *user_out = NULL;
	size_t user_len = 0;
	uint8_t bpf_out[2048];
	struct frame f;
	int err;

	batch_reset(b);
	if (frame_parse(req->b, req->n, &f) == 0) {
		if (f.l3_kind == FRAME_L3_ARP)
			arp_recv(c, g, &f, b);
		else
			ndp_recv(c, g, &f, b);
	}
	if (b->count)
		user_out = batch_frame(b, 0, &user_len);

	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = req->b, .data_size_in = (__u32)req->n,
		    .data_out = bpf_out, .data_size_out = sizeof(bpf_out), .repeat = 1);
	err = bpf_prog_test_run_opts(prog_fd, &opts);
	CHECK(err == 0, "%s: test_run: %d", name, err);

	bool bpf_answered = opts.retval == TC_ACT_REDIRECT;
	CHECK(bpf_answered == (user_out != NULL), "%s: BPF %s, daemon %s", name,
	      bpf_answered ? "answered" : "did not answer",
	      user_out ? "answered" : "did not answer");
	if (bpf_answered && user_out &&
	    (opts.data_size_out != user_len || memcmp(bpf_out, user_out, user_len))) {
		CHECK(0, "%s: answers differ", name);
		hexdump("daemon", user_out, user_len);
		hexdump("bpf", bpf_out, opts.data_size_out);
	}
	printf("%s %s (%s)\n", failures ? "not ok" : "ok", name,
	       user_out ? "answered by both" : "answered by neither");
}

int main(void)
{
	static const uint8_t g4[4] = { 192, 0, 2, 2 }, gw4[4] = { 192, 0, 2, 1 };
	static const uint8_t other4[4] = { 198, 51, 100, 7 }, zero4[4];
	static const uint8_t gw6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	static const uint8_t g6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };
	static const uint8_t g6_seen[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 3 };
	static const uint8_t other6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x99 };
	static const uint8_t ll_ours[16] = { 0xfe, 0x80, [15] = 1 };
	static const uint8_t ll_guest[16] = { 0xfe, 0x80, [15] = 2 };
	static const uint8_t unspec[16];
	struct bp_tap_config tc;
	struct frame_batch b;
	struct guest_state g;
	struct config c;
	char reason[256];
	struct tap *skel;
	__u32 key = 0;
	int prog_fd;

	libbpf_set_print(silent_print);
	if (bp_loader_probe_bpf(reason, sizeof(reason))) {
		printf("SKIP: %s\n", reason);
		return BPF_TEST_SKIP;
	}
	skel = tap__open_and_load();
	if (!skel) {
		fprintf(stderr, "FAIL: tap__open_and_load: %s\n", strerror(errno));
		return 1;
	}
	prog_fd = bpf_program__fd(skel->progs.bp_tap_egress);
	if (batch_init(&b, 4, 4096)) {
		fprintf(stderr, "FAIL: batch_init\n");
		return 1;
	}

	for (int full = 1; full >= 0; full--) {
		struct tbuf r;

		config_make(&c, &g, full);
		fastpath_tap_config(&c, &g, 0, &tc);
		CHECK(bpf_map_update_elem(bpf_map__fd(skel->maps.tap_config), &key, &tc, BPF_ANY) ==
			      0,
		      "config");
		printf("# %s configuration\n", full ? "full" : "minimal");

#define CASE(name, build)                                                                          \
	do {                                                                                       \
		r.n = 0;                                                                           \
		build;                                                                             \
		compare(prog_fd, &c, &g, &b, name, &r);                                            \
	} while (0)
		CASE("arp for the gateway", arp_req(&r, g4, gw4));
		CASE("arp for a remote address", arp_req(&r, g4, other4));
		CASE("arp padded", (arp_req(&r, g4, other4), t_zero(&r, 18)));
		CASE("arp probe for the gateway", arp_req(&r, zero4, gw4));
		CASE("arp probe for a free address", arp_req(&r, zero4, other4));
		CASE("arp for the guest", arp_req(&r, gw4, g4));
		CASE("gratuitous arp", arp_req(&r, g4, g4));
		CASE("ns for the gateway", ns_req(&r, ll_guest, gw6, true));
		CASE("ns for our link-local address", ns_req(&r, ll_guest, ll_ours, true));
		CASE("ns for a remote address", ns_req(&r, g6, other6, true));
		CASE("ns without options", ns_req(&r, g6, other6, false));
		CASE("dad ns for the gateway", ns_req(&r, unspec, gw6, false));
		CASE("dad ns for our link-local address", ns_req(&r, unspec, ll_ours, false));
		CASE("dad ns for a free address", ns_req(&r, unspec, other6, false));
		CASE("ns for the guest's address", ns_req(&r, ll_guest, g6, true));
		CASE("ns for an address the guest uses", ns_req(&r, ll_guest, g6_seen, true));
		CASE("ns for the guest's link-local address", ns_req(&r, g6, ll_guest, true));
		CASE("rs from a link-local address", rs_req(&r, ll_guest, true));
		CASE("rs without options", rs_req(&r, ll_guest, false));
		CASE("rs from ::", rs_req(&r, unspec, false));
		CASE("rs from :: with a link-layer option", rs_req(&r, unspec, true));
#undef CASE
	}

	batch_free(&b);
	tap__destroy(skel);
	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("both paths agree\n");
	return 0;
}
