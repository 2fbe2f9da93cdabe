// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_dhcp.c - unit tests for proto/dhcp.c
 *
 * DHCP messages are built byte by byte in the layout real clients use (fixed part, magic cookie,
 * options ending with 255), wrapped in UDP/IPv4/Ethernet with the core builders, parsed and
 * handed to dhcp_recv(). Each answer is re-parsed with frame_parse(), its checksums verified, and
 * every field of it checked: addressing (Ethernet, IP, ports, per RFC 2131 4.1), the fixed part,
 * and the options one by one, strictly (53 first, no duplicates, 255 then only padding, 300 to
 * 576 bytes). Then: NAK and other-server cases, INFORM, rapid commit, config variants (no gateway,
 * gateway off the subnet, --dns-forward, -D none, -S none, no MTU, domains that do not encode,
 * long search lists split over several options), the domain name encoder, the messages to
 * ignore, every truncation of a DISCOVER and a REQUEST, and a bounded random mutation loop.
 */
#include "proto/dhcp.h"

#include "proto_harness.h"

static struct config base, conf;
static struct guest_state guest;
static struct frame_batch out;

#define XID 0x3903f326u

/* Largest IP datagram a reply may be: 576 unless the client announced more (option 57). */
static size_t reply_max = 576;

enum { DISCOVER = 1, OFFER, REQUEST, DECLINE, ACK, NAK, RELEASE, INFORM };

/* A client message: fixed part, magic, 53 type (unless type 0), extra options, end. */
static size_t dhcp_msg(uint8_t *m, uint8_t type, uint16_t flags, const char *ciaddr,
		       const uint8_t *extra, size_t extra_len)
{
	size_t n = 240;

	memset(m, 0, 240);
	m[0] = 1;
	m[1] = 1;
	m[2] = 6;
	m[4] = XID >> 24;
	m[5] = (XID >> 16) & 0xff;
	m[6] = (XID >> 8) & 0xff;
	m[7] = XID & 0xff;
	put_be16(m + 8, 3); /* secs */
	put_be16(m + 10, flags);
	if (ciaddr) {
		struct in_addr a = a4(ciaddr);

		memcpy(m + 12, &a, 4);
	}
	memcpy(m + 28, guest_mac, 6);
	m[236] = 0x63;
	m[237] = 0x82;
	m[238] = 0x53;
	m[239] = 0x63;
	if (type) {
		m[n++] = 53;
		m[n++] = 1;
		m[n++] = type;
	}
	if (extra_len)
		memcpy(m + n, extra, extra_len);
	n += extra_len;
	m[n++] = 255;
	return n;
}

/* The message in a frame as a client without an address sends it. */
static size_t dhcp_frame(uint8_t *buf, size_t cap, const uint8_t *msg, size_t len)
{
	return build_udp4(buf, cap, bcast_mac, a4("0.0.0.0"), a4("255.255.255.255"), 68, 67, msg,
			  len);
}

/* A parsed reply. */
struct reply {
	struct frame f;
	const uint8_t *m; /* DHCP message */
	size_t len;
	const uint8_t *opt[256];
	uint8_t opt_len[256];
	uint8_t order[64];
	unsigned n_opts;
	uint8_t search[1024]; /* option 119 data, concatenated */
	size_t search_len;
	unsigned search_count;
};

/* Parse the only answer in the batch, checking the framing rules every reply follows. */
static void reply_parse(struct reply *r)
{
	size_t off = 240;

	memset(r, 0, sizeof(*r));
	CHECK_EQ(out.count, 1);
	answer(&out, 0, &r->f, NULL);
	CHECK_EQ(r->f.l3_kind, FRAME_L3_IP4);
	CHECK_EQ(r->f.l4_proto, IPPROTO_UDP);
	CHECK_EQ(r->f.sport, 67);
	CHECK_EQ(r->f.dport, 68);
	CHECK_EQ(r->f.ttl, 64);
	r->m = r->f.payload.data;
	r->len = r->f.payload.len;
	CHECK(r->len >= 300);
	CHECK(r->len + 28 <= reply_max);
	CHECK_EQ(r->m[0], 2); /* BOOTREPLY */
	CHECK_EQ(r->m[1], 1);
	CHECK_EQ(r->m[2], 6);
	CHECK_EQ(r->m[3], 0);
	CHECK_EQ(get_be32(r->m + 4), XID);
	CHECK_EQ(get_be16(r->m + 8), 0); /* secs */
	CHECK_MEM(r->m + 28, guest_mac, 6);
	CHECK(!memcmp(r->m + 34, "\0\0\0\0\0\0\0\0\0\0", 10)); /* chaddr padding */
	for (off = 44; off < 236; off++)
		CHECK_EQ(r->m[off], 0); /* sname, file */
	CHECK_EQ(get_be32(r->m + 236), 0x63825363);

	off = 240;
	for (;;) {
		uint8_t code, len;

		CHECK(off < r->len);
		code = r->m[off];
		CHECK(code != 0); /* we write no padding between options */
		if (code == 255)
			break;
		CHECK(off + 2 <= r->len);
		len = r->m[off + 1];
		CHECK(off + 2 + len <= r->len);
		CHECK(r->n_opts < sizeof(r->order));
		r->order[r->n_opts++] = code;
		if (code == 119) {
			CHECK(r->search_len + len <= sizeof(r->search));
			memcpy(r->search + r->search_len, r->m + off + 2, len);
			r->search_len += len;
			r->search_count++;
		} else {
			CHECK(r->opt[code] == NULL); /* no duplicates */
		}
		if (!r->opt[code]) {
			r->opt[code] = r->m + off + 2;
			r->opt_len[code] = len;
		}
		off += 2 + (size_t)len;
	}
	/* after the end option: padding only, and only up to the 300-byte BOOTP minimum */
	CHECK_EQ(r->len, off + 1 > 300 ? off + 1 : 300);
	for (off++; off < r->len; off++)
		CHECK_EQ(r->m[off], 0);
	CHECK(r->n_opts >= 2);
	CHECK_EQ(r->order[0], 53);
	CHECK_EQ(r->order[1], 54);
	CHECK_EQ(r->opt_len[53], 1);
	CHECK_EQ(r->opt_len[54], 4);
}

static void check_opt_ip4(const struct reply *r, uint8_t code, const char *addr)
{
	CHECK(r->opt[code] != NULL);
	CHECK_EQ(r->opt_len[code], 4);
	CHECK_IP4(r->opt[code], addr);
}

/* Decode the 119 data into "a.b,c.d" (uncompressed, as we send it). */
static void search_decode(const struct reply *r, char *s, size_t cap)
{
	size_t off = 0, w = 0;

	s[0] = 0;
	while (off < r->search_len) {
		uint8_t l = r->search[off++];

		if (!l) {
			CHECK(w + 1 < cap);
			s[w++] = ',';
			continue;
		}
		CHECK(l <= 63);
		CHECK((l & 0xc0) == 0);
		CHECK(off + l <= r->search_len);
		CHECK(w + l + 1 < cap);
		if (w && s[w - 1] != ',')
			s[w++] = '.';
		memcpy(s + w, r->search + off, l);
		w += l;
		off += l;
	}
	if (w && s[w - 1] == ',')
		w--;
	s[w] = 0;
}

static int send_msg(const uint8_t *msg, size_t len)
{
	uint8_t frame[1600];
	size_t flen = dhcp_frame(frame, sizeof(frame), msg, len);

	return deliver(dhcp_recv, &conf, &guest, &out, frame, flen);
}

/* Everything an OFFER/ACK with the test config carries. */
static void check_config_opts(const struct reply *r, bool lease)
{
	char s[512];

	if (lease) {
		CHECK_EQ(r->opt_len[51], 4);
		CHECK_EQ(get_be32(r->opt[51]), 0xffffffffu);
	} else {
		CHECK(r->opt[51] == NULL);
	}
	check_opt_ip4(r, 1, "255.255.255.0");
	check_opt_ip4(r, 3, "192.0.2.1");
	CHECK(r->opt[121] == NULL); /* gateway on the subnet */
	CHECK_EQ(r->opt_len[6], 8);
	CHECK_IP4(r->opt[6], "198.51.100.53");
	CHECK_IP4(r->opt[6] + 4, "203.0.113.53");
	CHECK_EQ(r->opt_len[26], 2);
	CHECK_EQ(get_be16(r->opt[26]), 65520);
	CHECK_EQ(r->opt_len[15], strlen("example.com"));
	CHECK_MEM(r->opt[15], "example.com", strlen("example.com"));
	CHECK_EQ(r->search_count, 1);
	search_decode(r, s, sizeof(s));
	CHECK(!strcmp(s, "example.com,corp.example.org"));
	CHECK_EQ(r->search_len, 13 + 18);
	CHECK(r->opt[80] == NULL || r->opt_len[80] == 0);
}

static void test_discover_offer(void)
{
	uint8_t msg[600];
	/* udhcpc-like: client id, parameter request list, max size 576 */
	static const uint8_t extra[] = { 61, 7, 1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 55,   7,
					 1,  3, 6, 12,	 15,   28,   119,  57,	 2,    0x02, 0x40 };
	struct reply r;
	size_t len = dhcp_msg(msg, DISCOVER, 0, NULL, extra, sizeof(extra));

	CHECK_EQ(send_msg(msg, len), 1);
	reply_parse(&r);
	/* no address yet, broadcast flag clear: to the client's MAC and 255.255.255.255 */
	CHECK_MEM(r.f.dst_mac, guest_mac, 6);
	CHECK_IP4(&r.f.src.v4, "192.0.2.1");
	CHECK_IP4(&r.f.dst.v4, "255.255.255.255");
	CHECK_IP4(r.m + 12, "0.0.0.0"); /* ciaddr */
	CHECK_IP4(r.m + 16, "192.0.2.10"); /* yiaddr */
	CHECK_IP4(r.m + 20, "0.0.0.0"); /* siaddr */
	CHECK_IP4(r.m + 24, "0.0.0.0"); /* giaddr */
	CHECK_EQ(get_be16(r.m + 10), 0); /* flags */
	CHECK_EQ(r.opt[53][0], OFFER);
	check_opt_ip4(&r, 54, "192.0.2.1");
	check_config_opts(&r, true);
	CHECK(r.opt[80] == NULL);
	CHECK_EQ(r.len, 240 + 87 + 1); /* the options above, the end option, no padding */

	/* broadcast flag: Ethernet broadcast too, flag echoed */
	len = dhcp_msg(msg, DISCOVER, 0x8000, NULL, extra, sizeof(extra));
	CHECK_EQ(send_msg(msg, len), 1);
	reply_parse(&r);
	CHECK_MEM(r.f.dst_mac, bcast_mac, 6);
	CHECK_IP4(&r.f.dst.v4, "255.255.255.255");
	CHECK_EQ(get_be16(r.m + 10), 0x8000);
	CHECK_EQ(r.opt[53][0], OFFER);

	/* dhclient-like: no options but the type */
	len = dhcp_msg(msg, DISCOVER, 0, NULL, NULL, 0);
	CHECK_EQ(send_msg(msg, len), 1);
	reply_parse(&r);
	CHECK_EQ(r.opt[53][0], OFFER);
	check_config_opts(&r, true);
}

static void test_request_ack_nak(void)
{
	uint8_t msg[600], extra[32];
	struct reply r;
	size_t len;

	/* SELECTING: 50 and 54 */
	memcpy(extra, (uint8_t[]){ 50, 4, 192, 0, 2, 10, 54, 4, 192, 0, 2, 1 }, 12);
	len = dhcp_msg(msg, REQUEST, 0, NULL, extra, 12);
	CHECK_EQ(send_msg(msg, len), 1);
	reply_parse(&r);
	CHECK_EQ(r.opt[53][0], ACK);
	CHECK_MEM(r.f.dst_mac, guest_mac, 6);
	CHECK_IP4(&r.f.dst.v4, "255.255.255.255");
	CHECK_IP4(r.m + 16, "192.0.2.10");
	check_opt_ip4(&r, 54, "192.0.2.1");
	check_config_opts(&r, true);

	/* INIT-REBOOT for another address: NAK, broadcast, no yiaddr, no configuration */
	memcpy(extra, (uint8_t[]){ 50, 4, 192, 0, 2, 99 }, 6);
	len = dhcp_msg(msg, REQUEST, 0, NULL, extra, 6);
	CHECK_EQ(send_msg(msg, len), 1);
	reply_parse(&r);
	CHECK_EQ(r.opt[53][0], NAK);
	CHECK_MEM(r.f.dst_mac, bcast_mac, 6);
	CHECK_IP4(&r.f.dst.v4, "255.255.255.255");
	CHECK_IP4(&r.f.src.v4, "192.0.2.1");
	CHECK_IP4(r.m + 16, "0.0.0.0");
	CHECK_IP4(r.m + 12, "0.0.0.0");
	check_opt_ip4(&r, 54, "192.0.2.1");
	CHECK(r.opt[51] == NULL && r.opt[1] == NULL && r.opt[3] == NULL && r.opt[6] == NULL);

	/* INIT-REBOOT for our address */
	memcpy(extra, (uint8_t[]){ 50, 4, 192, 0, 2, 10 }, 6);
	len = dhcp_msg(msg, REQUEST, 0, NULL, extra, 6);
	CHECK_EQ(send_msg(msg, len), 1);
	reply_parse(&r);
	CHECK_EQ(r.opt[53][0], ACK);

	/* SELECTING another server: not ours to answer */
	memcpy(extra, (uint8_t[]){ 50, 4, 192, 0, 2, 10, 54, 4, 192, 0, 2, 254 }, 12);
	len = dhcp_msg(msg, REQUEST, 0, NULL, extra, 12);
	CHECK_EQ(send_msg(msg, len), 1);
	CHECK_EQ(out.count, 0);

	/* RENEWING: ciaddr set, unicast from the bound client: unicast answer */
	{
		uint8_t frame[1600];
		size_t flen;

		len = dhcp_msg(msg, REQUEST, 0, "192.0.2.10", NULL, 0);
		flen = build_udp4(frame, sizeof(frame), our_mac, a4("192.0.2.10"), a4("192.0.2.1"),
				  68, 67, msg, len);
		CHECK_EQ(deliver(dhcp_recv, &conf, &guest, &out, frame, flen), 1);
		reply_parse(&r);
		CHECK_EQ(r.opt[53][0], ACK);
		CHECK_MEM(r.f.dst_mac, guest_mac, 6);
		CHECK_IP4(&r.f.dst.v4, "192.0.2.10");
		CHECK_IP4(r.m + 12, "192.0.2.10");
		CHECK_IP4(r.m + 16, "192.0.2.10");
	}

	/* RENEWING an address we do not give: NAK */
	len = dhcp_msg(msg, REQUEST, 0, "192.0.2.99", NULL, 0);
	CHECK_EQ(send_msg(msg, len), 1);
	reply_parse(&r);
	CHECK_EQ(r.opt[53][0], NAK);
	CHECK_IP4(&r.f.dst.v4, "255.255.255.255");
}

static void test_inform(void)
{
	uint8_t msg[600], frame[1600];
	struct reply r;
	size_t len = dhcp_msg(msg, INFORM, 0, "192.0.2.10", NULL, 0), flen;

	flen = build_udp4(frame, sizeof(frame), bcast_mac, a4("192.0.2.10"), a4("255.255.255.255"),
			  68, 67, msg, len);
	CHECK_EQ(deliver(dhcp_recv, &conf, &guest, &out, frame, flen), 1);
	reply_parse(&r);
	CHECK_EQ(r.opt[53][0], ACK);
	CHECK_IP4(&r.f.dst.v4, "192.0.2.10");
	CHECK_MEM(r.f.dst_mac, guest_mac, 6);
	CHECK_IP4(r.m + 16, "0.0.0.0"); /* no yiaddr */
	CHECK_IP4(r.m + 12, "192.0.2.10");
	check_opt_ip4(&r, 54, "192.0.2.1");
	check_config_opts(&r, false); /* no lease time */
}

static void test_rapid_commit(void)
{
	static const uint8_t extra[] = { 80, 0 };
	uint8_t msg[600];
	struct reply r;
	size_t len = dhcp_msg(msg, DISCOVER, 0, NULL, extra, sizeof(extra));

	CHECK_EQ(send_msg(msg, len), 1);
	reply_parse(&r);
	CHECK_EQ(r.opt[53][0], ACK);
	CHECK(r.opt[80] != NULL);
	CHECK_EQ(r.opt_len[80], 0);
	CHECK_IP4(r.m + 16, "192.0.2.10");
	check_config_opts(&r, true);
}

static void test_config_variants(void)
{
	uint8_t msg[600];
	struct reply r;
	size_t len = dhcp_msg(msg, DISCOVER, 0, NULL, NULL, 0);

	/* no gateway: no router option; server id is the host-loopback mapping, else net + 1 */
	conf = base;
	conf.ip4.have_gw = false;
	conf.ip4.map_host_loopback = a4("192.0.2.2");
	CHECK_EQ(send_msg(msg, len), 1);
	reply_parse(&r);
	CHECK(r.opt[3] == NULL && r.opt[121] == NULL);
	check_opt_ip4(&r, 54, "192.0.2.2");
	CHECK_IP4(&r.f.src.v4, "192.0.2.2");
	conf.ip4.map_host_loopback = a4("0.0.0.0");
	CHECK_EQ(send_msg(msg, len), 1);
	reply_parse(&r);
	check_opt_ip4(&r, 54, "192.0.2.1");
	conf.ip4.addr = a4("192.0.2.1");
	CHECK_EQ(send_msg(msg, len), 1);
	reply_parse(&r);
	check_opt_ip4(&r, 54, "192.0.2.2");
	CHECK_IP4(r.m + 16, "192.0.2.1");

	/* gateway off the subnet (a /32 host address): option 121 with the gateway route */
	conf = base;
	conf.ip4.prefix_len = 32;
	CHECK_EQ(send_msg(msg, len), 1);
	reply_parse(&r);
	check_opt_ip4(&r, 1, "255.255.255.255");
	check_opt_ip4(&r, 3, "192.0.2.1");
	CHECK_EQ(r.opt_len[121], 14);
	CHECK_MEM(r.opt[121], "\x20\xc0\x00\x02\x01\x00\x00\x00\x00\x00\xc0\x00\x02\x01", 14);

	/* --dns-forward: only that address */
	conf = base;
	conf.ip4.dns_forward = a4("192.0.2.53");
	CHECK_EQ(send_msg(msg, len), 1);
	reply_parse(&r);
	check_opt_ip4(&r, 6, "192.0.2.53");

	/* -D none, -S none, no MTU */
	conf = base;
	conf.no_dns = true;
	conf.no_dns_search = true;
	conf.mtu = 0;
	CHECK_EQ(send_msg(msg, len), 1);
	reply_parse(&r);
	CHECK(r.opt[6] == NULL && r.opt[15] == NULL && r.opt[119] == NULL && r.opt[26] == NULL);
	check_opt_ip4(&r, 1, "255.255.255.0");

	/* no resolvers, no search domains */
	conf = base;
	conf.ip4.dns_count = 0;
	conf.search_count = 0;
	CHECK_EQ(send_msg(msg, len), 1);
	reply_parse(&r);
	CHECK(r.opt[6] == NULL && r.opt[15] == NULL && r.opt[119] == NULL);

	/* other prefix lengths */
	conf = base;
	conf.ip4.prefix_len = 0;
	conf.ip4.have_gw = false;
	CHECK_EQ(send_msg(msg, len), 1);
	reply_parse(&r);
	check_opt_ip4(&r, 1, "0.0.0.0");
	conf.ip4.prefix_len = 17;
	CHECK_EQ(send_msg(msg, len), 1);
	reply_parse(&r);
	check_opt_ip4(&r, 1, "255.255.128.0");
	conf = base;
}

static void test_domains(void)
{
	uint8_t msg[600], extra[4];
	char s[2048], big[CONF_DOMAIN_MAX];
	struct reply r;
	size_t len = dhcp_msg(msg, DISCOVER, 0, NULL, NULL, 0);
	unsigned i;

	/* a domain with a space, one with a label of 64 bytes, an empty label: skipped; a trailing
	 * dot is accepted and not sent in option 15 */
	conf = base;
	strcpy(conf.search[0], "bad domain.example");
	memset(conf.search[1], 'a', 64);
	strcpy(conf.search[1] + 64, ".example");
	strcpy(conf.search[2], "a..example");
	strcpy(conf.search[3], "good.example.");
	strcpy(conf.search[4], "tab\t.example");
	strcpy(conf.search[5], ".");
	conf.search_count = 6;
	CHECK_EQ(send_msg(msg, len), 1);
	reply_parse(&r);
	CHECK_EQ(r.opt_len[15], strlen("good.example"));
	CHECK_MEM(r.opt[15], "good.example", strlen("good.example"));
	search_decode(&r, s, sizeof(s));
	CHECK(!strcmp(s, "good.example"));

	/* nothing encodes: neither 15 nor 119 */
	conf.search_count = 3;
	CHECK_EQ(send_msg(msg, len), 1);
	reply_parse(&r);
	CHECK(r.opt[15] == NULL && r.opt[119] == NULL);

	/* eight long domains: what fits in 576 bytes, whole domains only, in order */
	conf = base;
	for (i = 0; i < CONF_MAX_SEARCH; i++) {
		memset(conf.search[i], 'a' + i, 60);
		snprintf(conf.search[i] + 60, CONF_DOMAIN_MAX - 60, ".%c.example", 'a' + i);
	}
	conf.search_count = CONF_MAX_SEARCH;
	CHECK_EQ(send_msg(msg, len), 1);
	reply_parse(&r);
	CHECK(r.len + 28 <= 576);
	search_decode(&r, s, sizeof(s));
	CHECK(r.search_count >= 1);
	CHECK(r.search_len >= 71 * 2); /* at least the first domains */
	CHECK(r.search_len % 72 == 0); /* whole domains: 72 bytes each */
	for (i = 0; i < r.search_len / 72; i++)
		CHECK(strstr(s, conf.search[i]) != NULL);

	/* the client allows 1500 bytes (option 57): all eight, split over 255-byte options */
	put_be16(extra + 2, 1500);
	extra[0] = 57;
	extra[1] = 2;
	len = dhcp_msg(msg, DISCOVER, 0, NULL, extra, 4);
	CHECK_EQ(send_msg(msg, len), 1);
	reply_max = 1500;
	reply_parse(&r);
	reply_max = 576;
	CHECK(r.len + 28 > 576);
	CHECK_EQ(r.search_len, 72 * CONF_MAX_SEARCH);
	CHECK_EQ(r.search_count, 3); /* 576 bytes in 255 + 255 + 66 */
	CHECK(r.len + 28 <= 1500);
	search_decode(&r, s, sizeof(s));
	for (i = 0; i < CONF_MAX_SEARCH; i++)
		CHECK(strstr(s, conf.search[i]) != NULL);

	/* option 57 smaller than 576 is no reason to send less than 576 */
	put_be16(extra + 2, 300);
	len = dhcp_msg(msg, DISCOVER, 0, NULL, extra, 4);
	CHECK_EQ(send_msg(msg, len), 1);
	reply_parse(&r);
	CHECK(r.search_len >= 72 * 2);

	/* a search domain filling the whole config field, unterminated: handled, not overread */
	conf = base;
	memset(big, 'x', sizeof(big));
	memcpy(conf.search[0], big, sizeof(big));
	conf.search_count = 1;
	CHECK_EQ(send_msg(msg, len), 1);
	reply_parse(&r);
	CHECK(r.opt[119] == NULL);
	conf = base;
}

static void test_domain_encode(void)
{
	uint8_t w[300];
	char name[300];

	CHECK_EQ(dhcp_domain_encode("example.com", w, sizeof(w)), 13);
	CHECK_MEM(w, "\7example\3com", 13); /* with the string's NUL: the root label */
	CHECK_EQ(dhcp_domain_encode("example.com.", w, sizeof(w)), 13);
	CHECK_MEM(w, "\7example\3com", 13); /* with the string's NUL: the root label */
	CHECK_EQ(dhcp_domain_encode("lan", w, sizeof(w)), 5);
	CHECK_MEM(w, "\3lan", 5);
	CHECK_EQ(dhcp_domain_encode("lan", w, 5), 5);
	CHECK_EQ(dhcp_domain_encode("lan", w, 4), -1);
	CHECK_EQ(dhcp_domain_encode("", w, sizeof(w)), -1);
	CHECK_EQ(dhcp_domain_encode(".", w, sizeof(w)), -1);
	CHECK_EQ(dhcp_domain_encode("a..b", w, sizeof(w)), -1);
	CHECK_EQ(dhcp_domain_encode(".a", w, sizeof(w)), -1);
	CHECK_EQ(dhcp_domain_encode("a.b..", w, sizeof(w)), -1);
	CHECK_EQ(dhcp_domain_encode("a b", w, sizeof(w)), -1);
	CHECK_EQ(dhcp_domain_encode("a\nb", w, sizeof(w)), -1);
	CHECK_EQ(dhcp_domain_encode("a\x7f", w, sizeof(w)), -1);
	/* 63-byte label fine, 64 not */
	memset(name, 'a', 63);
	strcpy(name + 63, ".b");
	CHECK_EQ(dhcp_domain_encode(name, w, sizeof(w)), 67);
	CHECK_EQ(w[0], 63);
	memset(name, 'a', 64);
	strcpy(name + 64, ".b");
	CHECK_EQ(dhcp_domain_encode(name, w, sizeof(w)), -1);
	/* 253 characters encode in 255 bytes; 254 do not */
	memset(name, 0, sizeof(name));
	for (int i = 0; i < 253; i++)
		name[i] = (i % 2) ? '.' : 'x';
	CHECK_EQ(dhcp_domain_encode(name, w, sizeof(w)), 255);
	name[253] = '.';
	CHECK_EQ(dhcp_domain_encode(name, w, sizeof(w)), 255); /* trailing dot */
	name[253] = 'y';
	name[252] = 'y';
	CHECK_EQ(dhcp_domain_encode(name, w, sizeof(w)), -1);
}

static void expect_ignored(const uint8_t *msg, size_t len)
{
	CHECK_EQ(send_msg(msg, len), 1);
	CHECK_EQ(out.count, 0);
}

static void test_ignored(void)
{
	uint8_t msg[600], frame[1600];
	size_t len, flen;

	len = dhcp_msg(msg, DISCOVER, 0, NULL, NULL, 0);
	msg[0] = 2; /* BOOTREPLY */
	expect_ignored(msg, len);
	len = dhcp_msg(msg, DISCOVER, 0, NULL, NULL, 0);
	msg[1] = 6; /* IEEE 802 */
	expect_ignored(msg, len);
	len = dhcp_msg(msg, DISCOVER, 0, NULL, NULL, 0);
	msg[2] = 8; /* hlen */
	expect_ignored(msg, len);
	len = dhcp_msg(msg, DISCOVER, 0, NULL, NULL, 0);
	msg[239] = 0x64; /* magic */
	expect_ignored(msg, len);
	/* no message type: plain BOOTP */
	len = dhcp_msg(msg, 0, 0, NULL, NULL, 0);
	expect_ignored(msg, len);
	/* only padding, no end */
	len = dhcp_msg(msg, 0, 0, NULL, NULL, 0);
	memset(msg + 240, 0, 64);
	expect_ignored(msg, 240 + 64);
	/* fixed part only */
	expect_ignored(msg, 240);
	expect_ignored(msg, 239);
	/* message type of the wrong length */
	len = dhcp_msg(msg, 0, 0, NULL, (const uint8_t *)"\x35\x02\x01\x01", 4);
	expect_ignored(msg, len);
	/* an option that runs past the message (its length lies) */
	len = dhcp_msg(msg, DISCOVER, 0, NULL,
		       (const uint8_t *)"\x0c\xff"
					"abc",
		       5);
	expect_ignored(msg, len);
	/* an option code as the last byte, without a length */
	len = dhcp_msg(msg, DISCOVER, 0, NULL, NULL, 0);
	msg[len - 1] = 12;
	expect_ignored(msg, len);
	/* the end option before the message type: no type */
	len = dhcp_msg(msg, 0, 0, NULL, (const uint8_t *)"\xff\x35\x01\x01", 4);
	expect_ignored(msg, len);
	/* server messages and DECLINE/RELEASE get no answer */
	expect_ignored(msg, dhcp_msg(msg, OFFER, 0, NULL, NULL, 0));
	expect_ignored(msg, dhcp_msg(msg, ACK, 0, NULL, NULL, 0));
	expect_ignored(msg, dhcp_msg(msg, NAK, 0, NULL, NULL, 0));
	expect_ignored(msg, dhcp_msg(msg, DECLINE, 0, NULL, NULL, 0));
	expect_ignored(msg, dhcp_msg(msg, RELEASE, 0, "192.0.2.10", NULL, 0));
	expect_ignored(msg, dhcp_msg(msg, 42, 0, NULL, NULL, 0));
	/* wrong-length requested address / server id */
	len = dhcp_msg(msg, REQUEST, 0, NULL, (const uint8_t *)"\x32\x03\xc0\x00\x02", 5);
	expect_ignored(msg, len);
	len = dhcp_msg(msg, REQUEST, 0, NULL, (const uint8_t *)"\x36\x05\xc0\x00\x02\x01\x00", 7);
	expect_ignored(msg, len);

	/* --no-dhcp: ours, not answered */
	conf.no_dhcp = true;
	expect_ignored(msg, dhcp_msg(msg, DISCOVER, 0, NULL, NULL, 0));
	conf = base;
	conf.ip4.enabled = false;
	expect_ignored(msg, dhcp_msg(msg, DISCOVER, 0, NULL, NULL, 0));
	conf = base;
	/* no address to give */
	conf.ip4.addr = a4("0.0.0.0");
	expect_ignored(msg, dhcp_msg(msg, DISCOVER, 0, NULL, NULL, 0));
	conf = base;

	/* other ports, other protocols: not ours */
	len = dhcp_msg(msg, DISCOVER, 0, NULL, NULL, 0);
	flen = build_udp4(frame, sizeof(frame), bcast_mac, a4("0.0.0.0"), a4("255.255.255.255"), 68,
			  68, msg, len);
	CHECK_EQ(deliver(dhcp_recv, &conf, &guest, &out, frame, flen), 0);
	flen = build_udp4(frame, sizeof(frame), bcast_mac, a4("0.0.0.0"), a4("255.255.255.255"), 67,
			  53, msg, len);
	CHECK_EQ(deliver(dhcp_recv, &conf, &guest, &out, frame, flen), 0);
	flen = build_icmp6(frame, sizeof(frame), our_mac, &base.ip6.gw, &base.ip6.gw, 255, msg,
			   len);
	CHECK_EQ(deliver(dhcp_recv, &conf, &guest, &out, frame, flen), 0);
	CHECK_EQ(out.count, 0);
}

/* Any answer to damaged input: a well-formed OFFER, ACK or NAK from the gateway. */
static void dhcp_answer_check(const struct config *c, const struct frame *f)
{
	const uint8_t *m = f->payload.data;

	(void)c;
	CHECK_EQ(f->l3_kind, FRAME_L3_IP4);
	CHECK_EQ(f->l4_proto, IPPROTO_UDP);
	CHECK_EQ(f->sport, 67);
	CHECK_EQ(f->dport, 68);
	CHECK_IP4(&f->src.v4, "192.0.2.1");
	CHECK(f->payload.len >= 300 && f->payload.len + 28 <= 1500);
	CHECK_EQ(m[0], 2);
	CHECK_EQ(get_be32(m + 236), 0x63825363);
	CHECK_EQ(m[240], 53);
	CHECK(m[242] == OFFER || m[242] == ACK || m[242] == NAK);
	CHECK_EQ(m[243], 54);
}

static void test_damage(void)
{
	static const uint8_t discover_opts[] = { 61,   7,    1,	 0x52, 0x54, 0x00, 0x12,
						 0x34, 0x56, 55, 4,    1,    3,	   6,
						 119,  57,   2,	 0x05, 0xdc, 80,   0 };
	static const uint8_t request_opts[] = { 50, 4, 192, 0, 2, 10, 54, 4,   192, 0,	 2,  1,
						55, 3, 1,   3, 6, 12, 4,  'h', 'o', 's', 't' };
	uint8_t msg[600], frame[1600];
	size_t len, flen;

	len = dhcp_msg(msg, DISCOVER, 0, NULL, discover_opts, sizeof(discover_opts));
	flen = dhcp_frame(frame, sizeof(frame), msg, len);
	harness_truncations(dhcp_recv, dhcp_answer_check, &conf, &guest, &out, frame, flen);
	harness_mutations(dhcp_recv, dhcp_answer_check, &conf, &guest, &out, frame, flen, 42 + 236,
			  20000);

	len = dhcp_msg(msg, REQUEST, 0x8000, NULL, request_opts, sizeof(request_opts));
	flen = dhcp_frame(frame, sizeof(frame), msg, len);
	harness_truncations(dhcp_recv, dhcp_answer_check, &conf, &guest, &out, frame, flen);
	harness_mutations(dhcp_recv, dhcp_answer_check, &conf, &guest, &out, frame, flen, 42,
			  20000);
}

int main(void)
{
	harness_init(&out);
	harness_config(&base);
	conf = base;
	harness_guest(&guest);

	test_discover_offer();
	test_request_ack_nak();
	test_inform();
	test_rapid_commit();
	test_config_variants();
	test_domains();
	test_domain_encode();
	test_ignored();
	test_damage();

	batch_free(&out);
	printf("test_dhcp: %lu checks passed\n", checks);
	return 0;
}
