/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_udp_nat.c - UDP's address mapping is flow/nat.c's: the same answers as TCP in every case
 *
 * UDP once kept its own copy of the mapping rules, and two cases came out differently from TCP's
 * (flow/nat.c): with --no-map-gw a datagram from a loopback sender was dropped (TCP shows the
 * peer as the gateway), and with --map-host-loopback ADDR a datagram from the host's own address
 * appeared to come from ADDR (TCP: from the gateway). This program pins both, and the rest of
 * the table, on UDP's own entry points:
 *   - inbound, table-driven: udp_inbound_key() (the key of a datagram that arrived on a -u
 *     listener) for a matrix of options (default, --no-map-gw, --map-host-loopback,
 *     --map-guest-addr, a guest that uses another address) and senders (loopback, the host's
 *     own address, the guest's other address, link-local, an ordinary remote), IPv4 and IPv6:
 *     the guest-side peer and guest address must be the literal expected ones AND what
 *     nat_inbound_peer() / nat_inbound_guest() (what TCP's accept path calls) say;
 *   - inbound, live: a -u listener on the loopback with --no-map-gw; a datagram from a loopback
 *     sender reaches the guest from the gateway (it used to be dropped), and the guest's reply
 *     finds that flow and goes back to the sender through the listener;
 *   - outbound, live (targets on this host's loopback only: no packet may leave the machine):
 *     --map-host-loopback ADDR reaches 127.0.0.1 / ::1 and the reply comes from ADDR;
 *     --map-guest-addr ADDR reaches the "host's own address" (made 127.0.0.1 / ::1 here).
 * The guest is proto_harness.h's (192.0.2.10 via 192.0.2.1, 2001:db8:1::10 via fe80::1).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proto_harness.h"

#include "core/epoll_ref.h"
#include "flow/nat.h"
#include "flow/udp.h"
#include "flow/udp_int.h"

#define LL_GUEST "fe80::5054:ff:fe12:3456" /* the guest's link-local address */
#define GUEST_PORT 7777

static struct frame_batch out;
static uint8_t frame_buf[BP_FRAME_MAX + 64];
static uint8_t payload_buf[2048];
static uint8_t recv_buf[2048];

/* ---- Small helpers ---- */

static struct in6_addr key_addr(const char *s)
{
	struct in6_addr r;

	if (strchr(s, ':'))
		return a6(s);
	flow_addr_from_v4(&r, a4(s));
	return r;
}

static union nat_sockaddr sockaddr_of(const char *addr, uint16_t port)
{
	union nat_sockaddr sa;

	memset(&sa, 0, sizeof(sa));
	if (strchr(addr, ':')) {
		sa.sin6.sin6_family = AF_INET6;
		sa.sin6.sin6_addr = a6(addr);
		sa.sin6.sin6_port = htons(port);
	} else {
		sa.sin.sin_family = AF_INET;
		sa.sin.sin_addr = a4(addr);
		sa.sin.sin_port = htons(port);
	}
	return sa;
}

static socklen_t sockaddr_len(const union nat_sockaddr *sa)
{
	return sa->sa.sa_family == AF_INET ? sizeof(sa->sin) : sizeof(sa->sin6);
}

static int udp_sock(const char *addr, uint16_t *port)
{
	union nat_sockaddr sa = sockaddr_of(addr, 0);
	socklen_t sl = sockaddr_len(&sa);
	int fd = socket(sa.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	CHECK(fd >= 0);
	CHECK(bind(fd, &sa.sa, sl) == 0);
	CHECK(getsockname(fd, &sa.sa, &sl) == 0);
	*port = ntohs(sa.sa.sa_family == AF_INET ? sa.sin.sin_port : sa.sin6.sin6_port);
	return fd;
}

/* One datagram within 2 s: its length, the sender in *from. */
static ssize_t recv_one(int fd, union nat_sockaddr *from)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	socklen_t fl = sizeof(*from);
	ssize_t n;

	CHECK(poll(&p, 1, 2000) == 1);
	n = recvfrom(fd, recv_buf, sizeof(recv_buf), MSG_DONTWAIT, &from->sa, &fl);
	CHECK(n >= 0);
	return n;
}

static void fill_payload(size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		payload_buf[i] = (uint8_t)(i * 5 + seed);
}

static int tap_send_dgram(struct udp_ctx *u, const char *src, const char *dst, uint16_t sport,
			  uint16_t dport, size_t len)
{
	struct frame f;
	size_t n;

	if (strchr(src, ':')) {
		struct in6_addr s = a6(src), d = a6(dst);

		n = build_udp6(frame_buf, sizeof(frame_buf), our_mac, &s, &d, sport, dport,
			       payload_buf, len);
	} else {
		n = build_udp4(frame_buf, sizeof(frame_buf), our_mac, a4(src), a4(dst), sport,
			       dport, payload_buf, len);
	}
	CHECK(n > 0);
	CHECK_EQ(frame_parse(frame_buf, n, &f), 0);
	return udp_tap_recv(u, &f, &out);
}

/* Run the epoll set until out holds `want` frames (2 s at most). */
static void pump(struct udp_ctx *u, int epfd, unsigned want)
{
	for (int round = 0; round < 100 && out.count < want; round++) {
		struct epoll_event ev[8];
		int n = epoll_wait(epfd, ev, 8, 20);

		for (int i = 0; i < n; i++) {
			union epoll_ref r = { .u64 = ev[i].data.u64 };

			if (r.kind == EPOLL_KIND_UDP)
				udp_sock_event(u, r.index, ev[i].events, &out);
			else if (r.kind == EPOLL_KIND_UDP_LISTEN)
				udp_listen_event(u, r.index, ev[i].events, &out);
		}
	}
	CHECK_EQ(out.count, want);
}

/* Frame i of out: a datagram from src:sport to dst:dport with payload_buf[0, len). */
static void check_frame(unsigned i, const char *src, uint16_t sport, const char *dst,
			uint16_t dport, size_t len)
{
	struct frame f;

	answer(&out, i, &f, NULL);
	CHECK_EQ(f.l4_proto, IPPROTO_UDP);
	if (strchr(src, ':')) {
		struct in6_addr s = a6(src), d = a6(dst);

		CHECK_EQ(f.l3_kind, FRAME_L3_IP6);
		CHECK_MEM(&f.src.v6, &s, 16);
		CHECK_MEM(&f.dst.v6, &d, 16);
	} else {
		CHECK_EQ(f.l3_kind, FRAME_L3_IP4);
		CHECK_IP4(&f.src.v4, src);
		CHECK_IP4(&f.dst.v4, dst);
	}
	CHECK_EQ(f.sport, sport);
	CHECK_EQ(f.dport, dport);
	CHECK_EQ(f.payload.len, len);
	CHECK_MEM(pkt_at(&f.payload, 0, len), payload_buf, len);
}

/* ---- Options ---- */

enum opt {
	OPT_DEFAULT,
	OPT_NO_MAP_GW,
	OPT_MAP_HOST_LO, /* --map-host-loopback 198.51.100.7 / 2001:db8:7::7 */
	OPT_MAP_GUEST, /* --map-guest-addr 169.254.1.2 / 2001:db8:ff::2 */
	OPT_GUEST_OTHER, /* the guest was seen using 192.0.2.77 / 2001:db8:1::77 */
};

static void conf_for(struct config *c, struct guest_state *g, enum opt o)
{
	harness_config(c);
	harness_guest(g);
	g->addr6_ll_seen = a6(LL_GUEST);
	switch (o) {
	case OPT_NO_MAP_GW:
		c->no_map_gw = true;
		break;
	case OPT_MAP_HOST_LO:
		c->ip4.map_host_loopback = a4("198.51.100.7");
		c->ip6.map_host_loopback = a6("2001:db8:7::7");
		break;
	case OPT_MAP_GUEST:
		c->ip4.map_guest_addr = a4("169.254.1.2");
		c->ip6.map_guest_addr = a6("2001:db8:ff::2");
		break;
	case OPT_GUEST_OTHER:
		g->addr4_seen = a4("192.0.2.77");
		g->addr6_seen = a6("2001:db8:1::77");
		break;
	case OPT_DEFAULT:
		break;
	}
}

/* ---- Inbound: the table ---- */

struct in_case {
	enum opt opt;
	const char *sender; /* the host-side peer */
	const char *peer; /* the address the guest sees it as; NULL: dropped */
	const char *guest; /* the guest address the datagram goes to */
};

static const struct in_case in_cases[] = {
	/* IPv4 */
	{ OPT_DEFAULT, "127.0.0.1", "192.0.2.1", "192.0.2.10" },
	{ OPT_DEFAULT, "127.0.0.53", "192.0.2.1", "192.0.2.10" },
	{ OPT_DEFAULT, "192.0.2.10", "192.0.2.1", "192.0.2.10" }, /* the host's own address */
	{ OPT_DEFAULT, "203.0.113.5", "203.0.113.5", "192.0.2.10" },
	{ OPT_NO_MAP_GW, "127.0.0.1", "192.0.2.1", "192.0.2.10" }, /* was: dropped */
	{ OPT_NO_MAP_GW, "192.0.2.10", "192.0.2.1", "192.0.2.10" },
	{ OPT_NO_MAP_GW, "203.0.113.5", "203.0.113.5", "192.0.2.10" },
	{ OPT_MAP_HOST_LO, "127.0.0.1", "198.51.100.7", "192.0.2.10" },
	{ OPT_MAP_HOST_LO, "192.0.2.10", "192.0.2.1", "192.0.2.10" }, /* was: 198.51.100.7 */
	{ OPT_MAP_HOST_LO, "203.0.113.5", "203.0.113.5", "192.0.2.10" },
	{ OPT_MAP_GUEST, "192.0.2.10", "169.254.1.2", "192.0.2.10" },
	{ OPT_MAP_GUEST, "127.0.0.1", "192.0.2.1", "192.0.2.10" },
	{ OPT_GUEST_OTHER, "203.0.113.5", "203.0.113.5", "192.0.2.77" },
	{ OPT_GUEST_OTHER, "192.0.2.77", "192.0.2.1", "192.0.2.77" }, /* was: itself */
	{ OPT_GUEST_OTHER, "127.0.0.1", "192.0.2.1", "192.0.2.77" },
	/* IPv6 (the gateway is link-local: the guest's link-local address answers it) */
	{ OPT_DEFAULT, "::1", "fe80::1", LL_GUEST },
	{ OPT_DEFAULT, "2001:db8:1::10", "fe80::1", LL_GUEST },
	{ OPT_DEFAULT, "2001:db8:2::5", "2001:db8:2::5", "2001:db8:1::10" },
	{ OPT_DEFAULT, "fe80::77", "fe80::1", LL_GUEST },
	{ OPT_NO_MAP_GW, "::1", "fe80::1", LL_GUEST }, /* was: dropped */
	{ OPT_NO_MAP_GW, "2001:db8:2::5", "2001:db8:2::5", "2001:db8:1::10" },
	{ OPT_MAP_HOST_LO, "::1", "2001:db8:7::7", "2001:db8:1::10" },
	{ OPT_MAP_HOST_LO, "2001:db8:1::10", "fe80::1", LL_GUEST }, /* was: 2001:db8:7::7 */
	{ OPT_MAP_GUEST, "2001:db8:1::10", "2001:db8:ff::2", "2001:db8:1::10" },
	{ OPT_MAP_GUEST, "::1", "fe80::1", LL_GUEST },
	{ OPT_GUEST_OTHER, "2001:db8:2::5", "2001:db8:2::5", "2001:db8:1::77" },
	{ OPT_GUEST_OTHER, "2001:db8:1::77", "fe80::1", LL_GUEST },
};

static void test_inbound_table(void)
{
	for (size_t i = 0; i < sizeof(in_cases) / sizeof(in_cases[0]); i++) {
		const struct in_case *t = &in_cases[i];
		union nat_sockaddr sender = sockaddr_of(t->sender, 40000 + (uint16_t)i);
		int af = sender.sa.sa_family;
		struct fwd_listener l = { .fd = -1, .af = af, .port = 6000, .to_port = GUEST_PORT };
		struct in6_addr peer, gaddr, want;
		struct guest_state g;
		struct config c;
		struct udp_ctx u;
		struct flow_key k;
		bool tcp_ok, udp_ok;
		int epfd = epoll_create1(EPOLL_CLOEXEC);

		CHECK(epfd >= 0);
		conf_for(&c, &g, t->opt);
		CHECK_EQ(udp_init(&u, &c, &g, epfd, 4), 0);

		udp_ok = udp_inbound_key(&u, &l, &sender, &k);
		/* What TCP's accept path (tcp_sock.c) asks for the same peer. */
		tcp_ok = nat_inbound_peer(&c, &g, &sender, &peer) &&
			nat_inbound_guest(&c, &g, af, &peer, &gaddr);
		if (udp_ok != !!t->peer || tcp_ok != udp_ok)
			fprintf(stderr, "case %zu: sender %s: udp %d tcp %d, want %s\n", i,
				t->sender, udp_ok, tcp_ok, t->peer ? t->peer : "dropped");
		CHECK_EQ(udp_ok, !!t->peer);
		CHECK_EQ(tcp_ok, udp_ok);
		if (t->peer) {
			want = key_addr(t->peer);
			if (memcmp(&k.raddr, &want, sizeof(want)) ||
			    memcmp(&peer, &want, sizeof(want))) {
				char s1[INET6_ADDRSTRLEN], s2[INET6_ADDRSTRLEN];

				inet_ntop(AF_INET6, &k.raddr, s1, sizeof(s1));
				inet_ntop(AF_INET6, &peer, s2, sizeof(s2));
				fprintf(stderr,
					"case %zu: sender %s: udp shows %s, tcp %s, want %s\n", i,
					t->sender, s1, s2, t->peer);
			}
			CHECK_MEM(&k.raddr, &want, sizeof(want));
			CHECK_MEM(&peer, &want, sizeof(want));
			want = key_addr(t->guest);
			CHECK_MEM(&k.gaddr, &want, sizeof(want));
			CHECK_MEM(&gaddr, &want, sizeof(want));
			CHECK_EQ(k.gport, GUEST_PORT);
			CHECK_EQ(k.rport, 40000 + i);
		}
		udp_cleanup(&u);
		close(epfd);
	}
}

/* ---- Inbound, live: --no-map-gw and a loopback sender ---- */

static void test_no_map_gw_loopback_sender(int af)
{
	const char *lo = af == AF_INET ? "127.0.0.1" : "::1";
	const char *gw = af == AF_INET ? "192.0.2.1" : "fe80::1";
	const char *guest = af == AF_INET ? "192.0.2.10" : LL_GUEST;
	union nat_sockaddr to, from;
	struct guest_state g;
	struct config c;
	struct udp_ctx u;
	struct flow_key k;
	uint16_t fwd_port, cport;
	int epfd, client, probe;

	probe = udp_sock(lo, &fwd_port); /* a free port for the listener */
	close(probe);
	conf_for(&c, &g, OPT_NO_MAP_GW);
	c.udp_in.mode = FWD_SPEC;
	c.udp_in.count = 1;
	c.udp_in.rule[0].first = c.udp_in.rule[0].last = fwd_port;
	c.udp_in.rule[0].to_first = GUEST_PORT;
	c.udp_in.rule[0].af = af;
	epfd = epoll_create1(EPOLL_CLOEXEC);
	CHECK(epfd >= 0);
	CHECK_EQ(udp_init(&u, &c, &g, epfd, 0), 0);
	CHECK_EQ(u.listeners.count, 1);
	batch_reset(&out);

	client = udp_sock(lo, &cport);
	to = sockaddr_of(lo, fwd_port);
	fill_payload(200, 3);
	CHECK(sendto(client, payload_buf, 200, 0, &to.sa, sockaddr_len(&to)) == 200);
	pump(&u, epfd, 1);
	CHECK_EQ(u.stats.tap_unreachable, 0);
	check_frame(0, gw, cport, guest, GUEST_PORT, 200);

	/* The guest's reply to the gateway belongs to that inbound flow (checked first: a reply
	 * that opened an outbound flow to the unmapped gateway would leave the machine). */
	{
		struct in6_addr ga = key_addr(guest), ra = key_addr(gw);

		flow_key_set(&k, IPPROTO_UDP, AF_INET6, &ga, GUEST_PORT, &ra, cport);
	}
	CHECK(flow_lookup(&u.table, &k) != FLOW_NONE);
	fill_payload(300, 4);
	CHECK_EQ(tap_send_dgram(&u, guest, gw, GUEST_PORT, cport, 300), 1);
	udp_tap_batch_done(&u);
	CHECK_EQ(recv_one(client, &from), 300);
	CHECK_MEM(recv_buf, payload_buf, 300);
	CHECK_EQ(ntohs(af == AF_INET ? from.sin.sin_port : from.sin6.sin6_port), fwd_port);
	CHECK_EQ(udp_flow_count(&u), 1);

	close(client);
	udp_cleanup(&u);
	close(epfd);
}

/* ---- Outbound, live (loopback targets only) ---- */

/* The guest sends to dst:port (an echo socket on lo:port behind it); the echo comes back from
 * dst:port. */
static void outbound_echo(struct udp_ctx *u, int epfd, int echo, uint16_t port, const char *gsrc,
			  const char *dst, uint16_t gport)
{
	union nat_sockaddr from;
	ssize_t n;

	batch_reset(&out);
	fill_payload(100, (unsigned)gport);
	CHECK_EQ(tap_send_dgram(u, gsrc, dst, gport, port, 100), 1);
	udp_tap_batch_done(u);
	CHECK_EQ(u->stats.tap_unreachable, 0);
	n = recv_one(echo, &from);
	CHECK_EQ(n, 100);
	CHECK_MEM(recv_buf, payload_buf, 100);
	CHECK(sendto(echo, recv_buf, (size_t)n, 0, &from.sa, sockaddr_len(&from)) == n);
	pump(u, epfd, 1);
	check_frame(0, dst, port, gsrc, gport, 100);
}

static void test_outbound(int af)
{
	const char *lo = af == AF_INET ? "127.0.0.1" : "::1";
	const char *gsrc = af == AF_INET ? "192.0.2.10" : "2001:db8:1::10";
	struct guest_state g;
	struct config c;
	struct udp_ctx u;
	uint16_t port;
	int epfd = epoll_create1(EPOLL_CLOEXEC), echo = udp_sock(lo, &port);

	CHECK(epfd >= 0);
	/* --map-host-loopback ADDR: ADDR is the host's loopback. */
	conf_for(&c, &g, OPT_MAP_HOST_LO);
	CHECK_EQ(udp_init(&u, &c, &g, epfd, 0), 0);
	outbound_echo(&u, epfd, echo, port, gsrc, af == AF_INET ? "198.51.100.7" : "2001:db8:7::7",
		      41001);
	udp_cleanup(&u);

	/* --map-guest-addr ADDR: ADDR is the host's own address (the loopback here, so that
	 * nothing leaves the machine). */
	conf_for(&c, &g, OPT_MAP_GUEST);
	if (af == AF_INET)
		c.ip4.addr = a4(lo);
	else
		c.ip6.addr = a6(lo);
	CHECK_EQ(udp_init(&u, &c, &g, epfd, 0), 0);
	outbound_echo(&u, epfd, echo, port, gsrc, af == AF_INET ? "169.254.1.2" : "2001:db8:ff::2",
		      41002);
	udp_cleanup(&u);

	/* Default: the gateway is the host's loopback. */
	conf_for(&c, &g, OPT_DEFAULT);
	CHECK_EQ(udp_init(&u, &c, &g, epfd, 0), 0);
	outbound_echo(&u, epfd, echo, port, gsrc, af == AF_INET ? "192.0.2.1" : "fe80::1", 41003);
	udp_cleanup(&u);

	close(echo);
	close(epfd);
}

int main(void)
{
	log_init("test_udp_nat", getenv("HARNESS_DEBUG") ? LOG_LVL_TRACE : LOG_LVL_ERR);
	CHECK_EQ(batch_init(&out, 64, BP_FRAME_MAX), 0);

	test_inbound_table();
	test_no_map_gw_loopback_sender(AF_INET);
	test_no_map_gw_loopback_sender(AF_INET6);
	test_outbound(AF_INET);
	test_outbound(AF_INET6);

	batch_free(&out);
	printf("test_udp_nat: %lu checks passed\n", checks);
	return 0;
}
