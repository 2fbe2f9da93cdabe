// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_arp.c - unit tests for proto/arp.c
 *
 * Requests are built byte by byte, parsed with frame_parse() and handed to arp_recv(). The reply
 * to a request for the gateway is compared byte for byte with the 42-byte frame the BPF fast path
 * builds; then each rule is checked on its own (any other address answered; the guest's own
 * address, gratuitous ARP, probes, replies, impossible targets, multicast senders, other hardware
 * or protocol types, IPv4 disabled: not answered), the batch-full path, every truncation of a
 * request and a bounded random mutation loop (fixed seed) in which every answer must be a
 * well-formed reply.
 */
#include "proto/arp.h"

#include "proto_harness.h"

static struct config conf;
static struct guest_state guest;
static struct frame_batch out;

/* An ARP request frame from the guest: sender 192.0.2.10 unless spa says otherwise. */
static size_t arp_request(uint8_t *buf, const uint8_t *eth_dst, uint16_t op, const char *spa,
			  const char *tpa)
{
	struct in_addr s = a4(spa), t = a4(tpa);

	memcpy(buf, eth_dst, 6);
	memcpy(buf + 6, guest_mac, 6);
	put_be16(buf + 12, BP_ETH_P_ARP);
	put_be16(buf + 14, BP_ARPHRD_ETHER);
	put_be16(buf + 16, BP_ETH_P_IP);
	buf[18] = 6;
	buf[19] = 4;
	put_be16(buf + 20, op);
	memcpy(buf + 22, guest_mac, 6);
	memcpy(buf + 28, &s, 4);
	memset(buf + 32, 0, 6);
	memcpy(buf + 38, &t, 4);
	return 42;
}

/* Any answer must be a reply from us to the guest. */
static void arp_answer_check(const struct config *c, const struct frame *f)
{
	const uint8_t *b = f->eth.data;

	CHECK_EQ(f->eth.len, ARP_REPLY_LEN);
	CHECK_EQ(f->l3_kind, FRAME_L3_ARP);
	CHECK_EQ(get_be16(b + 20), BP_ARPOP_REPLY);
	CHECK_MEM(b + 22, c->our_mac, 6);
	CHECK(memcmp(b + 28, &c->ip4.addr, 4) != 0); /* never claims the guest's address */
	CHECK_MEM(b, b + 32, 6); /* Ethernet dst == tha */
}

static void test_gateway_reply_bytes(void)
{
	uint8_t req[64], expect[ARP_REPLY_LEN];
	struct frame f;
	size_t len = arp_request(req, bcast_mac, BP_ARPOP_REQUEST, "192.0.2.10", "192.0.2.1");
	const uint8_t *p;
	size_t plen;

	CHECK_EQ(deliver(arp_recv, &conf, &guest, &out, req, len), 1);
	CHECK_EQ(out.count, 1);
	p = answer(&out, 0, &f, &plen);

	/* The BPF fast path's reply, written out. */
	memcpy(expect, guest_mac, 6);
	memcpy(expect + 6, our_mac, 6);
	put_be16(expect + 12, BP_ETH_P_ARP);
	put_be16(expect + 14, 1);
	put_be16(expect + 16, 0x0800);
	expect[18] = 6;
	expect[19] = 4;
	put_be16(expect + 20, 2);
	memcpy(expect + 22, our_mac, 6);
	memcpy(expect + 28, "\xc0\x00\x02\x01", 4); /* 192.0.2.1 */
	memcpy(expect + 32, guest_mac, 6);
	memcpy(expect + 38, "\xc0\x00\x02\x0a", 4); /* 192.0.2.10 */
	CHECK_EQ(plen, sizeof(expect));
	CHECK_MEM(p, expect, sizeof(expect));

	/* Unicast request (ARP cache refresh): same answer. */
	len = arp_request(req, our_mac, BP_ARPOP_REQUEST, "192.0.2.10", "192.0.2.1");
	CHECK_EQ(deliver(arp_recv, &conf, &guest, &out, req, len), 1);
	CHECK_EQ(out.count, 1);
	p = answer(&out, 0, &f, &plen);
	CHECK_MEM(p, expect, sizeof(expect));

	/* A padded request (60 bytes) gets the same unpadded answer. */
	len = arp_request(req, bcast_mac, BP_ARPOP_REQUEST, "192.0.2.10", "192.0.2.1");
	memset(req + len, 0xaa, 60 - len);
	CHECK_EQ(deliver(arp_recv, &conf, &guest, &out, req, 60), 1);
	CHECK_EQ(out.count, 1);
	p = answer(&out, 0, &f, &plen);
	CHECK_EQ(plen, sizeof(expect));
	CHECK_MEM(p, expect, sizeof(expect));
}

static void test_any_address(void)
{
	static const char *targets[] = { "203.0.113.7", "192.0.2.99", "198.51.100.1", "127.0.0.1",
					 "10.0.0.1" };
	uint8_t req[64];
	unsigned i;

	for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		struct in_addr t = a4(targets[i]);
		struct frame f;
		const uint8_t *p;
		size_t len =
			arp_request(req, bcast_mac, BP_ARPOP_REQUEST, "192.0.2.10", targets[i]);

		CHECK_EQ(deliver(arp_recv, &conf, &guest, &out, req, len), 1);
		CHECK_EQ(out.count, 1);
		p = answer(&out, 0, &f, NULL);
		arp_answer_check(&conf, &f);
		CHECK_MEM(p + 28, &t, 4);
		CHECK_IP4(p + 38, "192.0.2.10");
	}

	/* A guest using another address than the one given is answered at that address. */
	{
		struct frame f;
		const uint8_t *p;
		size_t len =
			arp_request(req, bcast_mac, BP_ARPOP_REQUEST, "192.0.2.77", "192.0.2.1");

		CHECK_EQ(deliver(arp_recv, &conf, &guest, &out, req, len), 1);
		CHECK_EQ(out.count, 1);
		p = answer(&out, 0, &f, NULL);
		CHECK_IP4(p + 38, "192.0.2.77");
	}
}

static void expect_ignored(const uint8_t *req, size_t len)
{
	CHECK_EQ(deliver(arp_recv, &conf, &guest, &out, req, len), 1);
	CHECK_EQ(out.count, 0);
}

static void test_ignored(void)
{
	uint8_t req[64];
	size_t len;

	/* the guest's own address: conflict probe or announcement, never claimed */
	expect_ignored(req, arp_request(req, bcast_mac, 1, "192.0.2.10", "192.0.2.10"));
	expect_ignored(req, arp_request(req, bcast_mac, 1, "0.0.0.0", "192.0.2.10"));
	expect_ignored(req, arp_request(req, bcast_mac, 1, "192.0.2.77", "192.0.2.10"));
	/* gratuitous ARP of another address */
	expect_ignored(req, arp_request(req, bcast_mac, 1, "192.0.2.77", "192.0.2.77"));
	/* probes for addresses the guest may take */
	expect_ignored(req, arp_request(req, bcast_mac, 1, "0.0.0.0", "192.0.2.77"));
	expect_ignored(req, arp_request(req, bcast_mac, 1, "0.0.0.0", "203.0.113.7"));
	/* replies */
	expect_ignored(req, arp_request(req, bcast_mac, 2, "192.0.2.10", "192.0.2.1"));
	/* other op codes (RARP 3) */
	expect_ignored(req, arp_request(req, bcast_mac, 3, "192.0.2.10", "192.0.2.1"));
	/* no host owns these */
	expect_ignored(req, arp_request(req, bcast_mac, 1, "192.0.2.10", "0.0.0.0"));
	expect_ignored(req, arp_request(req, bcast_mac, 1, "192.0.2.10", "224.0.0.251"));
	expect_ignored(req, arp_request(req, bcast_mac, 1, "192.0.2.10", "255.255.255.255"));

	/* sender hardware address multicast or zero */
	len = arp_request(req, bcast_mac, 1, "192.0.2.10", "192.0.2.1");
	req[22] = 0x01;
	expect_ignored(req, len);
	memset(req + 22, 0, 6);
	expect_ignored(req, len);

	/* not Ethernet/IPv4 */
	len = arp_request(req, bcast_mac, 1, "192.0.2.10", "192.0.2.1");
	put_be16(req + 14, 6); /* IEEE 802 */
	expect_ignored(req, len);
	len = arp_request(req, bcast_mac, 1, "192.0.2.10", "192.0.2.1");
	put_be16(req + 16, BP_ETH_P_IPV6);
	expect_ignored(req, len);

	/* IPv4 off */
	conf.ip4.enabled = false;
	expect_ignored(req, arp_request(req, bcast_mac, 1, "192.0.2.10", "192.0.2.1"));
	conf.ip4.enabled = true;
}

static void test_probe_for_gateway(void)
{
	uint8_t req[64];
	struct frame f;
	const uint8_t *p;
	size_t len = arp_request(req, bcast_mac, 1, "0.0.0.0", "192.0.2.1");

	/* The gateway is really taken: a guest probing for it must learn so. */
	CHECK_EQ(deliver(arp_recv, &conf, &guest, &out, req, len), 1);
	CHECK_EQ(out.count, 1);
	p = answer(&out, 0, &f, NULL);
	arp_answer_check(&conf, &f);
	CHECK_IP4(p + 28, "192.0.2.1");
	CHECK_IP4(p + 38, "0.0.0.0");

	conf.ip4.have_gw = false;
	expect_ignored(req, len);
	conf.ip4.have_gw = true;
}

static void test_not_arp(void)
{
	uint8_t buf[128];
	struct in_addr g4 = a4("192.0.2.10"), gw = a4("192.0.2.1");
	size_t len = build_udp4(buf, sizeof(buf), our_mac, g4, gw, 5000, 53, "x", 1);

	CHECK_EQ(deliver(arp_recv, &conf, &guest, &out, buf, len), 0);
	CHECK_EQ(out.count, 0);
}

static void test_batch_full(void)
{
	uint8_t req[64];
	struct frame f;
	size_t len = arp_request(req, bcast_mac, 1, "192.0.2.10", "192.0.2.1");
	unsigned long dropped;

	CHECK_EQ(frame_parse(req, len, &f), 0);
	batch_reset(&out);
	while (!batch_full(&out))
		CHECK_EQ(arp_recv(&conf, &guest, &f, &out), 1);
	dropped = out.dropped;
	CHECK_EQ(arp_recv(&conf, &guest, &f, &out), 1);
	CHECK_EQ(out.dropped, dropped + 1);
	CHECK_EQ(out.count, out.max_frames);
}

static void test_damage(void)
{
	uint8_t req[64];
	size_t len = arp_request(req, bcast_mac, 1, "192.0.2.10", "192.0.2.1");

	harness_truncations(arp_recv, arp_answer_check, &conf, &guest, &out, req, len);
	harness_mutations(arp_recv, arp_answer_check, &conf, &guest, &out, req, len, BP_ETH_HLEN,
			  20000);
}

int main(void)
{
	harness_init(&out);
	harness_config(&conf);
	harness_guest(&guest);

	test_gateway_reply_bytes();
	test_any_address();
	test_ignored();
	test_probe_for_gateway();
	test_not_arp();
	test_batch_full();
	test_damage();

	batch_free(&out);
	printf("test_arp: %lu checks passed\n", checks);
	return 0;
}
