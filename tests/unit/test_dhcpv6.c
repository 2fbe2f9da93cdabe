// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_dhcpv6.c - unit tests for proto/dhcpv6.c
 *
 * DHCPv6 messages are built as dhclient -6 and dhcpcd send them (client DUID-LLT, IA_NA, option
 * request, elapsed time), wrapped in UDP/IPv6 from the guest's link-local address to ff02::1:2,
 * parsed and handed to dhcpv6_recv(). Each answer is re-parsed with frame_parse(), checksums
 * verified, and every field checked: addressing, message type and transaction id, Server
 * Identifier (DUID-LL of our MAC), echoed Client Identifier, IA_NA (IAID, infinite T1/T2,
 * IAADDR with the address and infinite lifetimes), DNS servers, domain list decoded back, status
 * codes. Then the message rules (rapid commit, server identifier checks, CONFIRM, REBIND,
 * INFORMATION-REQUEST, RELEASE, several IA_NAs, addresses to withdraw), hostile options (lengths
 * past the end at every nesting level, short IAs, oversized or duplicate identifiers), the
 * switches, every truncation of a SOLICIT and a REQUEST, and a bounded random mutation loop.
 */
#include "proto/dhcpv6.h"

#include "proto_harness.h"

static struct config base, conf;
static struct guest_state guest;
static struct frame_batch out;
static struct in6_addr guest_ll, all_servers;
static uint8_t our_duid[DHCPV6_DUID_LEN];

enum {
	SOLICIT = 1,
	ADVERTISE,
	REQUEST,
	CONFIRM,
	RENEW,
	REBIND,
	REPLY,
	RELEASE,
	DECLINE,
	INFO_REQUEST = 11,
};

/* dhclient's DUID-LLT */
static const uint8_t client_duid[14] = { 0,    1,    0,	   1,	 0x2c, 0x5e, 0x1f,
					 0x00, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

struct msg {
	uint8_t b[1024];
	size_t n;
};

static void msg_start(struct msg *m, uint8_t type)
{
	m->b[0] = type;
	m->b[1] = 0xab;
	m->b[2] = 0xcd;
	m->b[3] = 0xef;
	m->n = 4;
}

static void opt(struct msg *m, uint16_t code, const void *data, size_t len)
{
	put_be16(m->b + m->n, code);
	put_be16(m->b + m->n + 2, (uint16_t)len);
	if (len)
		memcpy(m->b + m->n + 4, data, len);
	m->n += 4 + len;
}

/* IA_NA with IAID iaid and, if addr, an IAADDR for it. */
static void opt_ia_na(struct msg *m, uint32_t iaid, const char *addr)
{
	uint8_t ia[12 + 28] = { 0 };
	size_t len = 12;

	ia[0] = (uint8_t)(iaid >> 24);
	ia[1] = (uint8_t)(iaid >> 16);
	ia[2] = (uint8_t)(iaid >> 8);
	ia[3] = (uint8_t)iaid;
	if (addr) {
		struct in6_addr a = a6(addr);

		put_be16(ia + 12, 5);
		put_be16(ia + 14, 24);
		memcpy(ia + 16, &a, 16);
		len += 28;
	}
	opt(m, 3, ia, len);
}

/* The usual options of a client message: client id, IA_NA, ORO (23, 24), elapsed time. */
static void client_opts(struct msg *m, const char *addr)
{
	static const uint8_t oro[] = { 0, 23, 0, 24 }, elapsed[2];

	opt(m, 1, client_duid, sizeof(client_duid));
	opt_ia_na(m, 0x00123456, addr);
	opt(m, 6, oro, sizeof(oro));
	opt(m, 8, elapsed, sizeof(elapsed));
}

static size_t msg_frame(uint8_t *buf, const struct msg *m)
{
	uint8_t mac[6];

	mac_of_ip6_multicast(&all_servers, mac);
	return build_udp6(buf, 1600, mac, &guest_ll, &all_servers, 546, 547, m->b, m->n);
}

static int send_msg(const struct msg *m)
{
	uint8_t buf[1600];

	return deliver(dhcpv6_recv, &conf, &guest, &out, buf, msg_frame(buf, m));
}

struct reply {
	struct frame f;
	const uint8_t *m;
	size_t len;
	const uint8_t *opt[64]; /* body of the first option of each code */
	uint16_t opt_len[64];
	unsigned opt_count[64];
};

static void reply_parse(struct reply *r, uint8_t type)
{
	size_t off = 4;

	memset(r, 0, sizeof(*r));
	CHECK_EQ(out.count, 1);
	answer(&out, 0, &r->f, NULL);
	CHECK_EQ(r->f.l3_kind, FRAME_L3_IP6);
	CHECK_EQ(r->f.l4_proto, IPPROTO_UDP);
	CHECK_EQ(r->f.sport, 547);
	CHECK_EQ(r->f.dport, 546);
	CHECK_MEM(&r->f.src.v6, &conf.ip6.our_ll, 16);
	CHECK_MEM(&r->f.dst.v6, &guest_ll, 16);
	CHECK_MEM(r->f.dst_mac, guest_mac, 6);
	r->m = r->f.payload.data;
	r->len = r->f.payload.len;
	CHECK(r->len + 48 <= 1280);
	CHECK_EQ(r->m[0], type);
	CHECK_MEM(r->m + 1, "\xab\xcd\xef", 3);
	while (off < r->len) {
		uint16_t code, len;

		CHECK(off + 4 <= r->len);
		code = get_be16(r->m + off);
		len = get_be16(r->m + off + 2);
		CHECK(off + 4 + len <= r->len);
		CHECK(code < 64);
		if (!r->opt[code]) {
			r->opt[code] = r->m + off + 4;
			r->opt_len[code] = len;
		}
		r->opt_count[code]++;
		off += 4 + (size_t)len;
	}
	CHECK_EQ(off, r->len);
	/* server id, client id: always, once */
	CHECK_EQ(r->opt_count[2], 1);
	CHECK_EQ(r->opt_len[2], DHCPV6_DUID_LEN);
	CHECK_MEM(r->opt[2], our_duid, DHCPV6_DUID_LEN);
	CHECK_EQ(r->opt_count[1], 1);
	CHECK_EQ(r->opt_len[1], sizeof(client_duid));
	CHECK_MEM(r->opt[1], client_duid, sizeof(client_duid));
}

/* Domain list "a.b,c.d" */
static void names_decode(const uint8_t *p, size_t len, char *s, size_t cap)
{
	size_t off = 0, w = 0;

	while (off < len) {
		uint8_t l = p[off++];

		CHECK(l <= 63);
		if (!l) {
			CHECK(w > 0);
			s[w - 1] = ',';
			continue;
		}
		CHECK(off + l <= len && w + l + 2 < cap);
		memcpy(s + w, p + off, l);
		w += l;
		off += l;
		s[w++] = '.';
	}
	CHECK(w == 0 || s[w - 1] == ','); /* every name ends with the root label */
	s[w ? w - 1 : 0] = 0;
}

static void check_dns(const struct reply *r)
{
	char s[512];

	CHECK_EQ(r->opt_len[23], 32);
	CHECK_MEM(r->opt[23], &base.ip6.dns[0], 16);
	CHECK_MEM(r->opt[23] + 16, &base.ip6.dns[1], 16);
	CHECK_EQ(r->opt_len[24], 13 + 18);
	names_decode(r->opt[24], r->opt_len[24], s, sizeof(s));
	CHECK(!strcmp(s, "example.com,corp.example.org"));
}

/* The one IA_NA with our address (and n_other more IAADDRs, lifetimes 0). */
static void check_ia(const struct reply *r, unsigned n_other)
{
	const uint8_t *ia = r->opt[3];
	struct in6_addr addr = a6("2001:db8:1::10");
	unsigned i;

	CHECK_EQ(r->opt_count[3], 1);
	CHECK_EQ(r->opt_len[3], 12 + 28 * (1 + n_other));
	CHECK_EQ(get_be32(ia), 0x00123456);
	CHECK_EQ(get_be32(ia + 4), 0xffffffffu);
	CHECK_EQ(get_be32(ia + 8), 0xffffffffu);
	CHECK_EQ(get_be16(ia + 12), 5);
	CHECK_EQ(get_be16(ia + 14), 24);
	CHECK_MEM(ia + 16, &addr, 16);
	CHECK_EQ(get_be32(ia + 32), 0xffffffffu);
	CHECK_EQ(get_be32(ia + 36), 0xffffffffu);
	for (i = 0; i < n_other; i++) {
		const uint8_t *a = ia + 40 + 28 * i;

		CHECK_EQ(get_be16(a), 5);
		CHECK_EQ(get_be16(a + 2), 24);
		CHECK(memcmp(a + 4, &addr, 16) != 0);
		CHECK_EQ(get_be32(a + 20), 0);
		CHECK_EQ(get_be32(a + 24), 0);
	}
}

static void check_status(const struct reply *r, uint16_t status)
{
	CHECK(r->opt[13] != NULL);
	CHECK(r->opt_len[13] >= 2);
	CHECK_EQ(get_be16(r->opt[13]), status);
}

static void test_solicit(void)
{
	struct msg m;
	struct reply r;

	msg_start(&m, SOLICIT);
	client_opts(&m, NULL);
	CHECK_EQ(send_msg(&m), 1);
	reply_parse(&r, ADVERTISE);
	check_ia(&r, 0);
	check_dns(&r);
	CHECK(r.opt[14] == NULL);
	CHECK(r.opt[13] == NULL);

	/* a hint for another address: still ours (in ADVERTISE, the hint is answered at 0) */
	msg_start(&m, SOLICIT);
	client_opts(&m, "2001:db8:1::99");
	CHECK_EQ(send_msg(&m), 1);
	reply_parse(&r, ADVERTISE);
	check_ia(&r, 1);

	/* rapid commit: REPLY with option 14 */
	msg_start(&m, SOLICIT);
	client_opts(&m, NULL);
	opt(&m, 14, NULL, 0);
	CHECK_EQ(send_msg(&m), 1);
	reply_parse(&r, REPLY);
	CHECK(r.opt[14] != NULL);
	CHECK_EQ(r.opt_len[14], 0);
	check_ia(&r, 0);
	check_dns(&r);

	/* sent to our link-local address instead of ff02::1:2: answered too */
	{
		uint8_t buf[1600];
		size_t len;

		msg_start(&m, SOLICIT);
		client_opts(&m, NULL);
		len = build_udp6(buf, sizeof(buf), our_mac, &guest_ll, &base.ip6.our_ll, 546, 547,
				 m.b, m.n);
		CHECK_EQ(deliver(dhcpv6_recv, &conf, &guest, &out, buf, len), 1);
		reply_parse(&r, ADVERTISE);
	}
}

static void test_request_renew_rebind(void)
{
	static const uint8_t other_duid[10] = { 0, 3, 0, 1, 2, 0, 0, 0, 0, 1 };
	struct msg m;
	struct reply r;
	uint8_t t;

	for (t = REQUEST; t <= RENEW; t += 2) {
		msg_start(&m, t);
		client_opts(&m, "2001:db8:1::10");
		opt(&m, 2, our_duid, sizeof(our_duid));
		CHECK_EQ(send_msg(&m), 1);
		reply_parse(&r, REPLY);
		check_ia(&r, 0);
		check_dns(&r);

		/* for another server, or no server named: not answered */
		msg_start(&m, t);
		client_opts(&m, NULL);
		opt(&m, 2, other_duid, sizeof(other_duid));
		CHECK_EQ(send_msg(&m), 1);
		CHECK_EQ(out.count, 0);
		msg_start(&m, t);
		client_opts(&m, NULL);
		CHECK_EQ(send_msg(&m), 1);
		CHECK_EQ(out.count, 0);
		/* our DUID, one byte longer */
		{
			uint8_t longer[DHCPV6_DUID_LEN + 1] = { 0 };

			memcpy(longer, our_duid, DHCPV6_DUID_LEN);
			msg_start(&m, t);
			client_opts(&m, NULL);
			opt(&m, 2, longer, sizeof(longer));
			CHECK_EQ(send_msg(&m), 1);
			CHECK_EQ(out.count, 0);
		}
		/* without a client id */
		msg_start(&m, t);
		opt_ia_na(&m, 1, NULL);
		opt(&m, 2, our_duid, sizeof(our_duid));
		CHECK_EQ(send_msg(&m), 1);
		CHECK_EQ(out.count, 0);
	}

	/* a REQUEST that keeps an old address: the old one withdrawn (lifetimes 0) */
	msg_start(&m, REQUEST);
	opt(&m, 1, client_duid, sizeof(client_duid));
	{
		uint8_t ia[12 + 3 * 28] = { 0x00, 0x12, 0x34, 0x56 };
		const char *addrs[] = { "2001:db8:1::10", "2001:db8:9::1", "2001:db8:9::2" };
		unsigned i;

		for (i = 0; i < 3; i++) {
			struct in6_addr a = a6(addrs[i]);

			put_be16(ia + 12 + 28 * i, 5);
			put_be16(ia + 14 + 28 * i, 24);
			memcpy(ia + 16 + 28 * i, &a, 16);
		}
		opt(&m, 3, ia, sizeof(ia));
	}
	opt(&m, 2, our_duid, sizeof(our_duid));
	CHECK_EQ(send_msg(&m), 1);
	reply_parse(&r, REPLY);
	check_ia(&r, 2);

	/* REBIND names no server */
	msg_start(&m, REBIND);
	client_opts(&m, "2001:db8:1::10");
	CHECK_EQ(send_msg(&m), 1);
	reply_parse(&r, REPLY);
	check_ia(&r, 0);
	check_dns(&r);
	opt(&m, 2, our_duid, sizeof(our_duid));
	CHECK_EQ(send_msg(&m), 1);
	CHECK_EQ(out.count, 0);
}

static void test_confirm(void)
{
	struct msg m;
	struct reply r;

	msg_start(&m, CONFIRM);
	client_opts(&m, "2001:db8:1::10");
	CHECK_EQ(send_msg(&m), 1);
	reply_parse(&r, REPLY);
	check_status(&r, 0);
	CHECK(r.opt[3] == NULL);

	msg_start(&m, CONFIRM);
	client_opts(&m, "2001:db8:7::10");
	CHECK_EQ(send_msg(&m), 1);
	reply_parse(&r, REPLY);
	check_status(&r, 4); /* NotOnLink */
	CHECK(r.opt[3] == NULL);

	/* no addresses to confirm: no answer (RFC 8415 18.3.3) */
	msg_start(&m, CONFIRM);
	client_opts(&m, NULL);
	CHECK_EQ(send_msg(&m), 1);
	CHECK_EQ(out.count, 0);
	/* with a server id: invalid */
	msg_start(&m, CONFIRM);
	client_opts(&m, "2001:db8:1::10");
	opt(&m, 2, our_duid, sizeof(our_duid));
	CHECK_EQ(send_msg(&m), 1);
	CHECK_EQ(out.count, 0);
}

static void test_information_request(void)
{
	struct msg m;
	struct reply r;
	static const uint8_t oro[] = { 0, 23, 0, 24 };

	msg_start(&m, INFO_REQUEST);
	opt(&m, 1, client_duid, sizeof(client_duid));
	opt(&m, 6, oro, sizeof(oro));
	CHECK_EQ(send_msg(&m), 1);
	reply_parse(&r, REPLY);
	check_dns(&r);
	CHECK(r.opt[3] == NULL && r.opt[13] == NULL && r.opt[14] == NULL);
	/* only: server id, client id, 23, 24 */
	CHECK_EQ(r.len, 4 + 14 + 18 + 36 + 35);

	/* with our server id: fine; with an IA: invalid */
	opt(&m, 2, our_duid, sizeof(our_duid));
	CHECK_EQ(send_msg(&m), 1);
	reply_parse(&r, REPLY);
	opt_ia_na(&m, 7, NULL);
	CHECK_EQ(send_msg(&m), 1);
	CHECK_EQ(out.count, 0);

	/* without a client id: answered without one */
	msg_start(&m, INFO_REQUEST);
	opt(&m, 6, oro, sizeof(oro));
	CHECK_EQ(send_msg(&m), 1);
	CHECK_EQ(out.count, 1);
	{
		struct frame f;

		answer(&out, 0, &f, NULL);
		CHECK_EQ(f.payload.len, 4 + 14 + 36 + 35);
		CHECK_EQ(f.payload.data[0], REPLY);
		CHECK_EQ(get_be16(f.payload.data + 4), 2);
		CHECK_EQ(get_be16(f.payload.data + 18), 23);
	}
}

static void test_release_decline(void)
{
	struct msg m;
	struct reply r;

	msg_start(&m, RELEASE);
	client_opts(&m, "2001:db8:1::10");
	opt(&m, 2, our_duid, sizeof(our_duid));
	CHECK_EQ(send_msg(&m), 1);
	reply_parse(&r, REPLY);
	check_status(&r, 0);
	CHECK(r.opt[3] == NULL);
	m.b[0] = DECLINE;
	CHECK_EQ(send_msg(&m), 1);
	reply_parse(&r, REPLY);
	check_status(&r, 0);
}

static void test_several_ia(void)
{
	struct msg m;
	struct reply r;
	const uint8_t *o;
	size_t off;
	unsigned n = 0;

	msg_start(&m, SOLICIT);
	client_opts(&m, NULL);
	opt_ia_na(&m, 2, NULL);
	opt_ia_na(&m, 3, NULL);
	CHECK_EQ(send_msg(&m), 1);
	reply_parse(&r, ADVERTISE);
	CHECK_EQ(r.opt_count[3], 3);
	/* the first has the address, the others NoAddrsAvail */
	for (off = 4; off < r.len; off += 4 + get_be16(r.m + off + 2)) {
		if (get_be16(r.m + off) != 3)
			continue;
		o = r.m + off + 4;
		if (n++ == 0) {
			CHECK_EQ(get_be32(o), 0x00123456);
			CHECK_EQ(get_be16(o + 12), 5);
		} else {
			CHECK_EQ(get_be32(o), n);
			CHECK_EQ(get_be32(o + 4), 0);
			CHECK_EQ(get_be32(o + 8), 0);
			CHECK_EQ(get_be16(o + 12), 13);
			CHECK_EQ(get_be16(o + 16), 2);
		}
	}
	CHECK_EQ(n, 3);

	/* no address to give: NoAddrsAvail in the IA */
	conf = base;
	memset(&conf.ip6.addr, 0, 16);
	msg_start(&m, SOLICIT);
	client_opts(&m, NULL);
	CHECK_EQ(send_msg(&m), 1);
	reply_parse(&r, ADVERTISE);
	CHECK_EQ(get_be16(r.opt[3] + 12), 13);
	CHECK_EQ(get_be16(r.opt[3] + 16), 2);
	conf = base;

	/* many IA_NAs: the first few answered, no overflow */
	msg_start(&m, SOLICIT);
	client_opts(&m, NULL);
	for (n = 0; n < 20; n++)
		opt_ia_na(&m, 100 + n, NULL);
	CHECK_EQ(send_msg(&m), 1);
	reply_parse(&r, ADVERTISE);
	CHECK(r.opt_count[3] >= 1 && r.opt_count[3] <= 8);
}

static void expect_dropped(const struct msg *m)
{
	CHECK_EQ(send_msg(m), 1);
	CHECK_EQ(out.count, 0);
}

static void test_hostile(void)
{
	uint8_t big[200] = { 0, 2 };
	struct msg m;

	/* option length past the end of the message */
	msg_start(&m, SOLICIT);
	client_opts(&m, NULL);
	put_be16(m.b + m.n, 8);
	put_be16(m.b + m.n + 2, 100);
	m.n += 6;
	expect_dropped(&m);
	/* a lone byte after the last option */
	msg_start(&m, SOLICIT);
	client_opts(&m, NULL);
	m.b[m.n++] = 0;
	expect_dropped(&m);
	/* IA_NA shorter than its fixed part */
	msg_start(&m, SOLICIT);
	opt(&m, 1, client_duid, sizeof(client_duid));
	opt(&m, 3, "\0\0\0\1\0\0\0\0", 8);
	expect_dropped(&m);
	/* IAADDR inside IA_NA with a length past the IA */
	msg_start(&m, SOLICIT);
	client_opts(&m, "2001:db8:1::10");
	m.n = 4;
	opt(&m, 1, client_duid, sizeof(client_duid));
	{
		uint8_t ia[12 + 28] = { 0, 0, 0, 1 };

		put_be16(ia + 12, 5);
		put_be16(ia + 14, 60); /* lies: 24 bytes follow */
		opt(&m, 3, ia, sizeof(ia));
	}
	expect_dropped(&m);
	/* IAADDR too short */
	msg_start(&m, SOLICIT);
	opt(&m, 1, client_duid, sizeof(client_duid));
	{
		uint8_t ia[12 + 4 + 8] = { 0, 0, 0, 1 };

		put_be16(ia + 12, 5);
		put_be16(ia + 14, 8);
		opt(&m, 3, ia, sizeof(ia));
	}
	expect_dropped(&m);
	/* status code nested in IAADDR with a lying length */
	msg_start(&m, SOLICIT);
	opt(&m, 1, client_duid, sizeof(client_duid));
	{
		uint8_t ia[12 + 28 + 6] = { 0, 0, 0, 1 };

		put_be16(ia + 12, 5);
		put_be16(ia + 14, 30);
		put_be16(ia + 40, 13);
		put_be16(ia + 42, 9);
		opt(&m, 3, ia, sizeof(ia));
	}
	expect_dropped(&m);
	/* IA nested in IA nested in IA ...: bounded */
	msg_start(&m, SOLICIT);
	opt(&m, 1, client_duid, sizeof(client_duid));
	{
		uint8_t nest[12 * 16 + 4 * 16] = { 0 };
		size_t depth = 16, i, total = sizeof(nest);

		for (i = 0; i < depth; i++) {
			size_t at = i * 16;

			put_be16(nest + at, 3);
			put_be16(nest + at + 2, (uint16_t)(total - at - 4));
		}
		opt(&m, 3, nest + 4, sizeof(nest) - 4);
	}
	expect_dropped(&m);
	/* client id too long, empty, duplicated */
	msg_start(&m, SOLICIT);
	opt(&m, 1, big, sizeof(big));
	opt_ia_na(&m, 1, NULL);
	expect_dropped(&m);
	msg_start(&m, SOLICIT);
	opt(&m, 1, NULL, 0);
	opt_ia_na(&m, 1, NULL);
	expect_dropped(&m);
	msg_start(&m, SOLICIT);
	client_opts(&m, NULL);
	opt(&m, 1, client_duid, sizeof(client_duid));
	expect_dropped(&m);
	/* SOLICIT without a client id, or with a server id */
	msg_start(&m, SOLICIT);
	opt_ia_na(&m, 1, NULL);
	expect_dropped(&m);
	msg_start(&m, SOLICIT);
	client_opts(&m, NULL);
	opt(&m, 2, our_duid, sizeof(our_duid));
	expect_dropped(&m);
	/* server message types, unknown types */
	msg_start(&m, ADVERTISE);
	client_opts(&m, NULL);
	expect_dropped(&m);
	m.b[0] = REPLY;
	expect_dropped(&m);
	m.b[0] = 12; /* relay-forward */
	expect_dropped(&m);
	m.b[0] = 200;
	expect_dropped(&m);
	/* shorter than the header */
	m.n = 3;
	expect_dropped(&m);
	m.n = 0;
	expect_dropped(&m);
}

static void test_not_ours(void)
{
	struct msg m;
	uint8_t buf[1600];
	size_t len;
	struct in6_addr other = a6("2001:db8:5::547"), any = IN6ADDR_ANY_INIT;

	msg_start(&m, SOLICIT);
	client_opts(&m, NULL);
	/* other ports and destinations: not ours */
	len = build_udp6(buf, sizeof(buf), our_mac, &guest_ll, &all_servers, 546, 548, m.b, m.n);
	CHECK_EQ(deliver(dhcpv6_recv, &conf, &guest, &out, buf, len), 0);
	len = build_udp6(buf, sizeof(buf), our_mac, &guest_ll, &other, 546, 547, m.b, m.n);
	CHECK_EQ(deliver(dhcpv6_recv, &conf, &guest, &out, buf, len), 0);
	len = build_udp4(buf, sizeof(buf), our_mac, a4("192.0.2.10"), a4("192.0.2.1"), 546, 547,
			 m.b, m.n);
	CHECK_EQ(deliver(dhcpv6_recv, &conf, &guest, &out, buf, len), 0);
	/* from :: : ours, not answered */
	len = build_udp6(buf, sizeof(buf), our_mac, &any, &all_servers, 546, 547, m.b, m.n);
	CHECK_EQ(deliver(dhcpv6_recv, &conf, &guest, &out, buf, len), 1);
	CHECK_EQ(out.count, 0);

	/* --no-dhcpv6, IPv6 off: ours, not answered */
	conf.no_dhcpv6 = true;
	expect_dropped(&m);
	conf = base;
	conf.ip6.enabled = false;
	expect_dropped(&m);
	/* no link-local address to answer from */
	conf = base;
	memset(&conf.ip6.our_ll, 0, 16);
	conf.ip6.gw = a6("2001:db8:1::1");
	expect_dropped(&m);
	conf = base;
}

static void test_switches(void)
{
	struct msg m;
	struct reply r;
	char s[2048];
	unsigned i;

	msg_start(&m, SOLICIT);
	client_opts(&m, NULL);

	conf = base;
	conf.no_dns = true;
	conf.no_dns_search = true;
	CHECK_EQ(send_msg(&m), 1);
	reply_parse(&r, ADVERTISE);
	CHECK(r.opt[23] == NULL && r.opt[24] == NULL);
	check_ia(&r, 0);

	conf = base;
	conf.ip6.dns_forward = a6("2001:db8:1::53");
	strcpy(conf.search[0], "has space.example");
	CHECK_EQ(send_msg(&m), 1);
	reply_parse(&r, ADVERTISE);
	CHECK_EQ(r.opt_len[23], 16);
	CHECK_MEM(r.opt[23], &conf.ip6.dns_forward, 16);
	names_decode(r.opt[24], r.opt_len[24], s, sizeof(s));
	CHECK(!strcmp(s, "corp.example.org"));

	/* long search list: cut to keep the reply within 1280 bytes, whole names */
	for (i = 0; i < CONF_MAX_SEARCH; i++) {
		char label[64];

		memset(label, 'a' + i, 63);
		label[63] = 0;
		snprintf(conf.search[i], CONF_DOMAIN_MAX, "%s.%s.%s", label, label, label);
	}
	conf.search_count = CONF_MAX_SEARCH;
	CHECK_EQ(send_msg(&m), 1);
	reply_parse(&r, ADVERTISE);
	CHECK(r.opt_len[24] % 193 == 0 && r.opt_len[24] >= 193 * 4);
	names_decode(r.opt[24], r.opt_len[24], s, sizeof(s));
	CHECK(!strncmp(s, conf.search[0], 191));
	conf = base;
}

/* Any answer to damaged input: an ADVERTISE or REPLY from us with our server id. */
static void dhcpv6_answer_check(const struct config *c, const struct frame *f)
{
	const uint8_t *m = f->payload.data;

	CHECK_EQ(f->l3_kind, FRAME_L3_IP6);
	CHECK_EQ(f->l4_proto, IPPROTO_UDP);
	CHECK_EQ(f->sport, 547);
	CHECK_EQ(f->dport, 546);
	CHECK_MEM(&f->src.v6, &c->ip6.our_ll, 16);
	CHECK(f->payload.len >= 4 + 14);
	CHECK(m[0] == ADVERTISE || m[0] == REPLY);
	CHECK_EQ(get_be16(m + 4), 2);
	CHECK_EQ(get_be16(m + 6), DHCPV6_DUID_LEN);
	CHECK_MEM(m + 8, our_duid, DHCPV6_DUID_LEN);
}

static void test_damage(void)
{
	uint8_t buf[1600];
	struct msg m;
	size_t len;

	msg_start(&m, SOLICIT);
	client_opts(&m, "2001:db8:1::10");
	opt(&m, 14, NULL, 0);
	len = msg_frame(buf, &m);
	harness_truncations(dhcpv6_recv, dhcpv6_answer_check, &conf, &guest, &out, buf, len);
	harness_mutations(dhcpv6_recv, dhcpv6_answer_check, &conf, &guest, &out, buf, len, 62,
			  20000);

	msg_start(&m, REQUEST);
	client_opts(&m, "2001:db8:1::10");
	opt(&m, 2, our_duid, sizeof(our_duid));
	len = msg_frame(buf, &m);
	harness_truncations(dhcpv6_recv, dhcpv6_answer_check, &conf, &guest, &out, buf, len);
	harness_mutations(dhcpv6_recv, dhcpv6_answer_check, &conf, &guest, &out, buf, len, 62,
			  20000);
}

int main(void)
{
	harness_init(&out);
	harness_config(&base);
	conf = base;
	harness_guest(&guest);
	guest_ll = a6("fe80::5054:ff:fe12:3456");
	all_servers = a6("ff02::1:2");
	memcpy(our_duid, "\x00\x03\x00\x01", 4);
	memcpy(our_duid + 4, our_mac, 6);

	test_solicit();
	test_request_renew_rebind();
	test_confirm();
	test_information_request();
	test_release_decline();
	test_several_ia();
	test_hostile();
	test_not_ours();
	test_switches();
	test_damage();

	batch_free(&out);
	printf("test_dhcpv6: %lu checks passed\n", checks);
	return 0;
}
