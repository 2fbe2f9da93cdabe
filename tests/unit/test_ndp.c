// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_ndp.c - unit tests for proto/ndp.c
 *
 * Neighbour and router solicitations are built as a Linux guest sends them, parsed with
 * frame_parse() and handed to ndp_recv(). The NA for the gateway is compared byte for byte with
 * the 86-byte frame the BPF fast path builds (checksum verified separately); then the NS rules
 * (other targets, the guest's own addresses, DAD, RFC 4861 validation), the RA (header values of
 * ndp.h, M/O flags, prefix with host bits cleared, source link-layer address, MTU, RDNSS, DNSSL
 * decoded back), the switches (--no-ra, --no-ndp, --no-dhcpv6, -D none, -S none, --dns-forward),
 * ndp_ra_build(), every truncation of an NS and an RS, and a bounded random mutation loop.
 */
#include "proto/ndp.h"

#include "proto_harness.h"

static struct config base, conf;
static struct guest_state guest;
static struct frame_batch out;
static struct in6_addr guest_ll;

/* NS for target, with a source link-layer option unless from :: */
static size_t ns_msg(uint8_t *m, const char *target, bool sllao)
{
	struct in6_addr t = a6(target);
	size_t n = 24;

	memset(m, 0, 32);
	m[0] = 135;
	memcpy(m + 8, &t, 16);
	if (sllao) {
		m[n++] = 1;
		m[n++] = 1;
		memcpy(m + n, guest_mac, 6);
		n += 6;
	}
	return n;
}

/* The NS frame a guest sends: to the solicited-node address of the target, or unicast. */
static size_t ns_frame(uint8_t *buf, const struct in6_addr *src, const char *target, bool unicast)
{
	struct in6_addr t = a6(target), dst;
	uint8_t m[64], mac[6];
	bool dad = !memcmp(src, &in6addr_any, 16);
	size_t len = ns_msg(m, target, !dad);

	if (unicast) {
		dst = t;
		memcpy(mac, our_mac, 6);
	} else {
		ip6_solicited_node(&t, &dst);
		mac_of_ip6_multicast(&dst, mac);
	}
	return build_icmp6(buf, 256, mac, src, &dst, 255, m, len);
}

static int send_frame(const uint8_t *buf, size_t len)
{
	return deliver(ndp_recv, &conf, &guest, &out, buf, len);
}

/* Any NA must be a well-formed advertisement from us. */
static void na_check(const struct config *c, const struct frame *f)
{
	const uint8_t *l4 = f->l4.data;

	CHECK_EQ(f->eth.len, NDP_NA_LEN);
	CHECK_EQ(f->l3_kind, FRAME_L3_IP6);
	CHECK_EQ(f->l4_proto, IPPROTO_ICMPV6);
	CHECK_EQ(f->ttl, 255);
	CHECK_EQ(f->l4.len, 32);
	CHECK_EQ(l4[0], 136);
	CHECK_EQ(l4[1], 0);
	CHECK_MEM(l4 + 8, &f->src.v6, 16); /* target == IPv6 source */
	CHECK_EQ(l4[24], 2);
	CHECK_EQ(l4[25], 1);
	CHECK_MEM(l4 + 26, c->our_mac, 6);
	CHECK(memcmp(&f->src.v6, &c->ip6.addr, 16) != 0); /* never the guest's address */
	CHECK(get_be32(l4 + 4) & BP_NA_FLAG_OVERRIDE);
	CHECK_EQ(get_be32(l4 + 4) & 0x1fffffff, 0);
}

static void test_na_gateway_bytes(void)
{
	uint8_t buf[256], expect[NDP_NA_LEN];
	struct frame f;
	const uint8_t *p;
	size_t plen, len = ns_frame(buf, &guest_ll, "fe80::1", false);

	CHECK_EQ(send_frame(buf, len), 1);
	CHECK_EQ(out.count, 1);
	p = answer(&out, 0, &f, &plen);
	na_check(&conf, &f);

	/* The BPF fast path's NA, written out; the checksum (verified above) copied. */
	memset(expect, 0, sizeof(expect));
	memcpy(expect, guest_mac, 6);
	memcpy(expect + 6, our_mac, 6);
	put_be16(expect + 12, BP_ETH_P_IPV6);
	expect[14] = 0x60;
	put_be16(expect + 18, 32);
	expect[20] = 58;
	expect[21] = 255;
	memcpy(expect + 22, &base.ip6.gw, 16);
	memcpy(expect + 38, &guest_ll, 16);
	expect[54] = 136;
	memcpy(expect + 56, p + 56, 2);
	expect[58] = 0xe0; /* R | S | O */
	memcpy(expect + 62, &base.ip6.gw, 16);
	expect[78] = 2;
	expect[79] = 1;
	memcpy(expect + 80, our_mac, 6);
	CHECK_EQ(plen, sizeof(expect));
	CHECK_MEM(p, expect, sizeof(expect));

	/* unicast NS (reachability confirmation) for our link-local: same shape, R set */
	len = ns_frame(buf, &guest_ll, "fe80::9855:9aff:fe55:9a55", true);
	CHECK_EQ(send_frame(buf, len), 1);
	CHECK_EQ(out.count, 1);
	p = answer(&out, 0, &f, NULL);
	na_check(&conf, &f);
	CHECK_EQ(get_be32(p + 58), 0xe0000000u);
	CHECK_MEM(&f.src.v6, &base.ip6.our_ll, 16);
	CHECK_MEM(f.dst_mac, guest_mac, 6);
}

static void test_na_other_targets(void)
{
	static const char *targets[] = { "2001:db8:2::1", "2001:db8:1::1", "fe80::42",
					 "2001:db8:1::11" };
	struct in6_addr g6 = a6("2001:db8:1::10");
	uint8_t buf[256];
	unsigned i;

	for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		struct in6_addr t = a6(targets[i]);
		struct frame f;
		const uint8_t *p;
		size_t len = ns_frame(buf, i % 2 ? &g6 : &guest_ll, targets[i], false);

		CHECK_EQ(send_frame(buf, len), 1);
		CHECK_EQ(out.count, 1);
		p = answer(&out, 0, &f, NULL);
		na_check(&conf, &f);
		CHECK_EQ(get_be32(p + 58), 0x60000000u); /* S | O, not a router */
		CHECK_MEM(&f.src.v6, &t, 16);
		CHECK_MEM(&f.dst.v6, i % 2 ? &g6 : &guest_ll, 16);
		CHECK_MEM(f.dst_mac, guest_mac, 6);
	}
}

static void expect_ignored(const uint8_t *buf, size_t len)
{
	CHECK_EQ(send_frame(buf, len), 1);
	CHECK_EQ(out.count, 0);
}

static void test_ns_not_answered(void)
{
	struct in6_addr any = IN6ADDR_ANY_INIT, g6 = a6("2001:db8:1::10");
	uint8_t buf[256], m[64];
	struct in6_addr dst;
	size_t len;

	/* the guest's own addresses */
	expect_ignored(buf, ns_frame(buf, &guest_ll, "2001:db8:1::10", false));
	guest.addr6_seen = a6("2001:db8:1:0:5054:ff:fe12:3456");
	guest.addr6_ll_seen = guest_ll;
	expect_ignored(buf, ns_frame(buf, &g6, "2001:db8:1:0:5054:ff:fe12:3456", false));
	expect_ignored(buf, ns_frame(buf, &g6, "fe80::5054:ff:fe12:3456", false));
	memset(&guest.addr6_seen, 0, 16);
	memset(&guest.addr6_ll_seen, 0, 16);
	/* the NS's own source */
	expect_ignored(buf, ns_frame(buf, &guest_ll, "fe80::5054:ff:fe12:3456", false));

	/* DAD for the guest's addresses (given, SLAAC, link-local, anything not ours) */
	expect_ignored(buf, ns_frame(buf, &any, "2001:db8:1::10", false));
	expect_ignored(buf, ns_frame(buf, &any, "2001:db8:1:0:5054:ff:fe12:3456", false));
	expect_ignored(buf, ns_frame(buf, &any, "fe80::5054:ff:fe12:3456", false));
	expect_ignored(buf, ns_frame(buf, &any, "2001:db8:2::1", false));

	/* RFC 4861 7.1.1 validation */
	len = ns_frame(buf, &guest_ll, "fe80::1", false);
	buf[21] = 64; /* hop limit */
	expect_ignored(buf, len);
	len = ns_frame(buf, &guest_ll, "fe80::1", false);
	buf[55] = 1; /* code (checksum left wrong: we do not verify it, the code is enough) */
	expect_ignored(buf, len);
	expect_ignored(buf, ns_frame(buf, &guest_ll, "ff02::1", false));
	expect_ignored(buf, ns_frame(buf, &guest_ll, "::", false));
	expect_ignored(buf, ns_frame(buf, &guest_ll, "::1", false));
	/* option of length 0, option past the end */
	len = ns_msg(m, "fe80::1", true);
	m[25] = 0;
	ip6_solicited_node(&base.ip6.gw, &dst);
	expect_ignored(buf, build_icmp6(buf, 256, our_mac, &guest_ll, &dst, 255, m, len));
	len = ns_msg(m, "fe80::1", true);
	m[25] = 2;
	expect_ignored(buf, build_icmp6(buf, 256, our_mac, &guest_ll, &dst, 255, m, len));
	/* truncated option header */
	len = ns_msg(m, "fe80::1", false);
	m[len++] = 1;
	expect_ignored(buf, build_icmp6(buf, 256, our_mac, &guest_ll, &dst, 255, m, len));
	/* too short for a target */
	len = ns_msg(m, "fe80::1", false);
	expect_ignored(buf, build_icmp6(buf, 256, our_mac, &guest_ll, &dst, 255, m, 23));
	/* DAD with a source link-layer option, DAD not to the solicited-node address */
	len = ns_msg(m, "fe80::1", true);
	expect_ignored(buf, build_icmp6(buf, 256, our_mac, &any, &dst, 255, m, len));
	len = ns_msg(m, "fe80::1", false);
	expect_ignored(buf, build_icmp6(buf, 256, our_mac, &any, &base.ip6.gw, 255, m, len));

	/* unknown options are fine: answered */
	len = ns_msg(m, "fe80::1", true);
	memcpy(m + len, "\x0e\x01\x00\x00\x00\x00\x00\x00", 8); /* nonce */
	len += 8;
	CHECK_EQ(send_frame(buf, build_icmp6(buf, 256, our_mac, &guest_ll, &dst, 255, m, len)), 1);
	CHECK_EQ(out.count, 1);
}

static void test_dad_for_our_addresses(void)
{
	struct in6_addr any = IN6ADDR_ANY_INIT, all = a6("ff02::1");
	uint8_t buf[256];
	struct frame f;
	const uint8_t *p;
	size_t len;

	/* the gateway and our link-local are taken: the guest must hear so (to ff02::1) */
	len = ns_frame(buf, &any, "fe80::1", false);
	CHECK_EQ(send_frame(buf, len), 1);
	CHECK_EQ(out.count, 1);
	p = answer(&out, 0, &f, NULL);
	na_check(&conf, &f);
	CHECK_EQ(get_be32(p + 58), 0xa0000000u); /* R | O, not solicited */
	CHECK_MEM(&f.dst.v6, &all, 16);
	CHECK_MEM(f.dst_mac, all_nodes_mac, 6);
	CHECK_MEM(&f.src.v6, &base.ip6.gw, 16);

	len = ns_frame(buf, &any, "fe80::9855:9aff:fe55:9a55", false);
	CHECK_EQ(send_frame(buf, len), 1);
	CHECK_EQ(out.count, 1);
	p = answer(&out, 0, &f, NULL);
	CHECK_EQ(get_be32(p + 58), 0xa0000000u);
}

/* A parsed RA. */
struct ra {
	struct frame f;
	const uint8_t *l4;
	size_t len;
	const uint8_t *opt[32]; /* first option of each type */
	unsigned opt_count[32];
	uint8_t order[16];
	unsigned n;
};

static void ra_parse(struct ra *r)
{
	size_t off = 16;

	memset(r, 0, sizeof(*r));
	CHECK_EQ(out.count, 1);
	answer(&out, 0, &r->f, NULL);
	CHECK_EQ(r->f.l3_kind, FRAME_L3_IP6);
	CHECK_EQ(r->f.l4_proto, IPPROTO_ICMPV6);
	CHECK_EQ(r->f.ttl, 255);
	CHECK_MEM(&r->f.src.v6, &conf.ip6.our_ll, 16);
	r->l4 = r->f.l4.data;
	r->len = r->f.l4.len;
	CHECK(r->len <= 1280 - 40);
	CHECK_EQ(r->l4[0], 134);
	CHECK_EQ(r->l4[1], 0);
	CHECK_EQ(r->l4[4], NDP_RA_CUR_HOP_LIMIT);
	CHECK_EQ(get_be16(r->l4 + 6), NDP_RA_ROUTER_LIFETIME);
	CHECK_EQ(get_be32(r->l4 + 8), NDP_RA_REACHABLE_TIME);
	CHECK_EQ(get_be32(r->l4 + 12), NDP_RA_RETRANS_TIMER);
	while (off < r->len) {
		uint8_t type = r->l4[off], units;

		CHECK(off + 2 <= r->len);
		units = r->l4[off + 1];
		CHECK(units > 0);
		CHECK(off + units * 8u <= r->len);
		CHECK(type < 32);
		CHECK(r->n < sizeof(r->order));
		r->order[r->n++] = type;
		if (!r->opt[type])
			r->opt[type] = r->l4 + off;
		r->opt_count[type]++;
		off += units * 8u;
	}
	CHECK_EQ(off, r->len);
	/* source link-layer address, always */
	CHECK_EQ(r->opt_count[1], 1);
	CHECK_EQ(r->opt[1][1], 1);
	CHECK_MEM(r->opt[1] + 2, our_mac, 6);
}

/* DNSSL names as "a.b,c.d" */
static void dnssl_decode(const uint8_t *o, char *s, size_t cap)
{
	size_t end = o[1] * 8u, off = 8, w = 0;

	s[0] = 0;
	while (off < end && o[off]) {
		while (off < end && o[off]) {
			uint8_t l = o[off++];

			CHECK(l <= 63 && off + l <= end);
			CHECK(w + l + 2 < cap);
			memcpy(s + w, o + off, l);
			w += l;
			off += l;
			s[w++] = '.';
		}
		CHECK(off < end);
		off++; /* root label */
		s[w - 1] = ',';
	}
	for (; off < end; off++)
		CHECK_EQ(o[off], 0); /* padding */
	if (w)
		w--;
	s[w] = 0;
}

static void check_ra_full(const struct ra *r)
{
	struct in6_addr prefix = a6("2001:db8:1::");
	char s[512];

	CHECK_EQ(r->l4[5], BP_RA_FLAG_MANAGED | BP_RA_FLAG_OTHER);
	CHECK_EQ(r->n, 5);
	CHECK_EQ(r->order[0], 3);
	CHECK_EQ(r->order[1], 1);
	CHECK_EQ(r->order[2], 5);
	CHECK_EQ(r->order[3], 25);
	CHECK_EQ(r->order[4], 31);
	/* prefix: /64, host bits cleared, L and A, infinite */
	CHECK_EQ(r->opt[3][1], 4);
	CHECK_EQ(r->opt[3][2], 64);
	CHECK_EQ(r->opt[3][3], 0xc0);
	CHECK_EQ(get_be32(r->opt[3] + 4), 0xffffffffu);
	CHECK_EQ(get_be32(r->opt[3] + 8), 0xffffffffu);
	CHECK_EQ(get_be32(r->opt[3] + 12), 0);
	CHECK_MEM(r->opt[3] + 16, &prefix, 16);
	/* MTU */
	CHECK_EQ(r->opt[5][1], 1);
	CHECK_EQ(get_be16(r->opt[5] + 2), 0);
	CHECK_EQ(get_be32(r->opt[5] + 4), 65520);
	/* RDNSS */
	CHECK_EQ(r->opt[25][1], 5);
	CHECK_EQ(get_be16(r->opt[25] + 2), 0);
	CHECK_EQ(get_be32(r->opt[25] + 4), NDP_RA_RDNSS_LIFETIME);
	CHECK_MEM(r->opt[25] + 8, &base.ip6.dns[0], 16);
	CHECK_MEM(r->opt[25] + 24, &base.ip6.dns[1], 16);
	/* DNSSL: 13 + 18 bytes of names, padded to 32 */
	CHECK_EQ(r->opt[31][1], 5);
	CHECK_EQ(get_be16(r->opt[31] + 2), 0);
	CHECK_EQ(get_be32(r->opt[31] + 4), NDP_RA_DNSSL_LIFETIME);
	dnssl_decode(r->opt[31], s, sizeof(s));
	CHECK(!strcmp(s, "example.com,corp.example.org"));
}

static void test_rs_ra(void)
{
	struct in6_addr any = IN6ADDR_ANY_INIT, all_routers = a6("ff02::2"), all = a6("ff02::1");
	uint8_t buf[256], m[16] = { 133 }, mac[6];
	struct ra r;
	size_t len;

	/* from the guest's link-local, with its link-layer address: unicast answer */
	memcpy(m + 8, "\x01\x01", 2);
	memcpy(m + 10, guest_mac, 6);
	mac_of_ip6_multicast(&all_routers, mac);
	len = build_icmp6(buf, 256, mac, &guest_ll, &all_routers, 255, m, 16);
	CHECK_EQ(send_frame(buf, len), 1);
	ra_parse(&r);
	CHECK_MEM(&r.f.dst.v6, &guest_ll, 16);
	CHECK_MEM(r.f.dst_mac, guest_mac, 6);
	check_ra_full(&r);

	/* from :: (no link-layer option allowed): to all nodes */
	len = build_icmp6(buf, 256, mac, &any, &all_routers, 255, m, 8);
	CHECK_EQ(send_frame(buf, len), 1);
	ra_parse(&r);
	CHECK_MEM(&r.f.dst.v6, &all, 16);
	CHECK_MEM(r.f.dst_mac, all_nodes_mac, 6);
	check_ra_full(&r);
	len = build_icmp6(buf, 256, mac, &any, &all_routers, 255, m, 16);
	expect_ignored(buf, len);

	/* validation */
	len = build_icmp6(buf, 256, mac, &guest_ll, &all_routers, 254, m, 16);
	expect_ignored(buf, len);
	len = build_icmp6(buf, 256, mac, &guest_ll, &all_routers, 255, m, 7);
	expect_ignored(buf, len);
	m[9] = 0;
	len = build_icmp6(buf, 256, mac, &guest_ll, &all_routers, 255, m, 16);
	expect_ignored(buf, len);
	m[9] = 1;

	/* the periodic RA */
	batch_reset(&out);
	CHECK_EQ(ndp_ra_build(&conf, &guest, &out), 1);
	ra_parse(&r);
	CHECK_MEM(&r.f.dst.v6, &all, 16);
	CHECK_MEM(r.f.dst_mac, all_nodes_mac, 6);
	check_ra_full(&r);
}

static void test_ra_variants(void)
{
	uint8_t buf[256], m[8] = { 133 };
	struct in6_addr all_routers = a6("ff02::2");
	size_t len = build_icmp6(buf, 256, our_mac, &guest_ll, &all_routers, 255, m, 8);
	char s[2048];
	struct ra r;
	unsigned i;

	/* --no-dhcpv6: neither M nor O */
	conf = base;
	conf.no_dhcpv6 = true;
	CHECK_EQ(send_frame(buf, len), 1);
	ra_parse(&r);
	CHECK_EQ(r.l4[5], 0);

	/* -D none, -S none, no MTU: prefix and link-layer address only */
	conf = base;
	conf.no_dns = true;
	conf.no_dns_search = true;
	conf.mtu = 0;
	CHECK_EQ(send_frame(buf, len), 1);
	ra_parse(&r);
	CHECK_EQ(r.n, 2);
	CHECK(r.opt[3] && r.opt[1]);
	/* an MTU under the IPv6 minimum is not advertised */
	conf.mtu = 1000;
	CHECK_EQ(send_frame(buf, len), 1);
	ra_parse(&r);
	CHECK(r.opt[5] == NULL);

	/* --dns-forward */
	conf = base;
	conf.ip6.dns_forward = a6("2001:db8:1::53");
	CHECK_EQ(send_frame(buf, len), 1);
	ra_parse(&r);
	CHECK_EQ(r.opt[25][1], 3);
	CHECK_MEM(r.opt[25] + 8, &conf.ip6.dns_forward, 16);

	/* no global address: no prefix */
	conf = base;
	memset(&conf.ip6.addr, 0, 16);
	CHECK_EQ(send_frame(buf, len), 1);
	ra_parse(&r);
	CHECK(r.opt[3] == NULL);

	/* DNSSL: domains that do not encode are skipped, long lists cut to fit 1280 bytes */
	conf = base;
	strcpy(conf.search[0], "two words");
	strcpy(conf.search[1], "ok.example.");
	conf.search_count = 2;
	CHECK_EQ(send_frame(buf, len), 1);
	ra_parse(&r);
	dnssl_decode(r.opt[31], s, sizeof(s));
	CHECK(!strcmp(s, "ok.example"));
	for (i = 0; i < CONF_MAX_SEARCH; i++) {
		char label[64];

		memset(label, 'a' + i, 63);
		label[63] = 0;
		snprintf(conf.search[i], CONF_DOMAIN_MAX, "%s.%s.%s", label, label, label);
	}
	conf.search_count = CONF_MAX_SEARCH;
	CHECK_EQ(send_frame(buf, len), 1);
	ra_parse(&r);
	dnssl_decode(r.opt[31], s, sizeof(s));
	CHECK(strlen(s) >= 3 * 191);
	CHECK(!strncmp(s, conf.search[0], 191));

	/* the source: our link-local, else a link-local gateway, else no RA */
	conf = base;
	memset(&conf.ip6.our_ll, 0, 16);
	CHECK_EQ(send_frame(buf, len), 1);
	CHECK_EQ(out.count, 1);
	{
		struct frame f;

		answer(&out, 0, &f, NULL);
		CHECK_MEM(&f.src.v6, &base.ip6.gw, 16);
	}
	conf.ip6.gw = a6("2001:db8:1::1");
	expect_ignored(buf, len);
	batch_reset(&out);
	CHECK_EQ(ndp_ra_build(&conf, &guest, &out), 0);
	CHECK_EQ(out.count, 0);

	/* --no-ra: no RA, NS still answered; --no-ndp: nothing; IPv6 off: nothing */
	conf = base;
	conf.no_ra = true;
	expect_ignored(buf, len);
	batch_reset(&out);
	CHECK_EQ(ndp_ra_build(&conf, &guest, &out), 0);
	CHECK_EQ(out.count, 0);
	CHECK_EQ(send_frame(buf, ns_frame(buf, &guest_ll, "fe80::1", false)), 1);
	CHECK_EQ(out.count, 1);
	conf = base;
	conf.no_ndp = true;
	expect_ignored(buf, ns_frame(buf, &guest_ll, "fe80::1", false));
	len = build_icmp6(buf, 256, our_mac, &guest_ll, &all_routers, 255, m, 8);
	expect_ignored(buf, len);
	batch_reset(&out);
	CHECK_EQ(ndp_ra_build(&conf, &guest, &out), 0);
	conf = base;
	conf.ip6.enabled = false;
	expect_ignored(buf, len);
	conf = base;

	/* batch full */
	batch_reset(&out);
	while (!batch_full(&out))
		CHECK_EQ(ndp_ra_build(&conf, &guest, &out), 1);
	CHECK_EQ(ndp_ra_build(&conf, &guest, &out), 0);
}

static void test_not_ndp(void)
{
	static const uint8_t echo[8] = { 128, 0, 0, 0, 0, 1, 0, 1 };
	uint8_t buf[256];
	size_t len = build_icmp6(buf, 256, our_mac, &guest_ll, &base.ip6.gw, 64, echo, 8);

	CHECK_EQ(send_frame(buf, len), 0);
	len = build_udp6(buf, 256, our_mac, &guest_ll, &base.ip6.gw, 546, 547, "x", 1);
	CHECK_EQ(send_frame(buf, len), 0);
	len = build_udp4(buf, 256, our_mac, a4("192.0.2.10"), a4("192.0.2.1"), 1, 2, "x", 1);
	CHECK_EQ(send_frame(buf, len), 0);
	/* RA, NA and redirects from the guest: ours, nothing to answer */
	{
		uint8_t m[40] = { 134 };

		len = build_icmp6(buf, 256, our_mac, &guest_ll, &base.ip6.gw, 255, m, 16);
		expect_ignored(buf, len);
		m[0] = 136;
		len = build_icmp6(buf, 256, our_mac, &guest_ll, &base.ip6.gw, 255, m, 24);
		expect_ignored(buf, len);
		m[0] = 137;
		len = build_icmp6(buf, 256, our_mac, &guest_ll, &base.ip6.gw, 255, m, 40);
		expect_ignored(buf, len);
	}
}

/* Any answer to damaged input: an NA or an RA, well formed. */
static void ndp_answer_check(const struct config *c, const struct frame *f)
{
	CHECK_EQ(f->l3_kind, FRAME_L3_IP6);
	CHECK_EQ(f->l4_proto, IPPROTO_ICMPV6);
	CHECK_EQ(f->ttl, 255);
	if (f->l4.data[0] == 136) {
		na_check(c, f);
	} else {
		CHECK_EQ(f->l4.data[0], 134);
		CHECK_MEM(&f->src.v6, &c->ip6.our_ll, 16);
	}
}

static void test_damage(void)
{
	struct in6_addr all_routers = a6("ff02::2");
	uint8_t buf[256], m[16] = { 133 };
	size_t len;

	len = ns_frame(buf, &guest_ll, "2001:db8:2::1", false);
	harness_truncations(ndp_recv, ndp_answer_check, &conf, &guest, &out, buf, len);
	harness_mutations(ndp_recv, ndp_answer_check, &conf, &guest, &out, buf, len, 54, 20000);

	memcpy(m + 8, "\x01\x01", 2);
	memcpy(m + 10, guest_mac, 6);
	len = build_icmp6(buf, 256, our_mac, &guest_ll, &all_routers, 255, m, 16);
	harness_truncations(ndp_recv, ndp_answer_check, &conf, &guest, &out, buf, len);
	harness_mutations(ndp_recv, ndp_answer_check, &conf, &guest, &out, buf, len, 54, 20000);
}

int main(void)
{
	harness_init(&out);
	harness_config(&base);
	conf = base;
	harness_guest(&guest);
	guest_ll = a6("fe80::5054:ff:fe12:3456");

	test_na_gateway_bytes();
	test_na_other_targets();
	test_ns_not_answered();
	test_dad_for_our_addresses();
	test_rs_ra();
	test_ra_variants();
	test_not_ndp();
	test_damage();

	batch_free(&out);
	printf("test_ndp: %lu checks passed\n", checks);
	return 0;
}
