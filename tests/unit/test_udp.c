/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_udp.c - unit tests for flow/udp.c and flow/udp_sock.c against real sockets on loopback
 *
 * The guest is the test config of proto_harness.h (192.0.2.10 via 192.0.2.1, 2001:db8:1::10 via
 * fe80::1). Its frames are built with the harness builders and handed to udp_tap_recv(); the
 * "remote" is a UDP echo socket of this process on 127.0.0.1 or ::1, reached through the gateway
 * address (which the translator maps to the host's loopback) or through --dns-forward. The
 * test plays the echo server itself (no threads): it reads what arrived, checks it, and sends
 * it back; then it runs the epoll set the translator registered its sockets in, calls
 * udp_sock_event()/udp_listen_event() as main.c would, and checks the frames produced: parsed
 * by frame_parse(), checksums verified, addresses, ports, MACs and payload.
 *
 * Cases: IPv4 and IPv6 round trips of 0, 1, 1400 and the largest payload the MTU allows
 * (65520 and 1500); a larger datagram from the host dropped; ten datagrams staged and sent by
 * one sendmmsg() and read back by one recvmmsg(); --dns-forward both families; ICMP port
 * unreachable (v4 and v6) from a closed port becoming the guest's ICMP error with the original
 * datagram quoted; malformed datagrams (bad or missing checksum, bad IPv4 header checksum,
 * port 0, fragment, bad addresses) dropped and never sent; random mutations never crash; -u forwards (translated
 * port) both families, replies through the listener, an ICMP error on the listener; idle
 * expiry, eviction of the least recently used flow in a full table, guest gone, --no-udp.
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
#include "flow/udp.h"

static struct frame_batch out;
static uint8_t frame_buf[BP_FRAME_MAX + 64];
static uint8_t payload_buf[BP_FRAME_MAX];
static uint8_t recv_buf[BP_FRAME_MAX + 64];

#define LL_GUEST "fe80::5054:ff:fe12:3456" /* the guest's link-local address */

static void fill_payload(size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		payload_buf[i] = (uint8_t)(i * 7 + seed * 13 + (i >> 8));
}

/* ---- Sockets of the test ---- */

static int udp_sock(int af, const char *addr, uint16_t *port)
{
	union {
		struct sockaddr sa;
		struct sockaddr_in sin;
		struct sockaddr_in6 sin6;
	} sa;
	socklen_t sl;
	int fd = socket(af, SOCK_DGRAM | SOCK_CLOEXEC, 0), big = 4 << 20;

	CHECK(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	if (af == AF_INET) {
		sa.sin.sin_family = AF_INET;
		CHECK(inet_pton(AF_INET, addr, &sa.sin.sin_addr) == 1);
		sl = sizeof(sa.sin);
	} else {
		sa.sin6.sin6_family = AF_INET6;
		CHECK(inet_pton(AF_INET6, addr, &sa.sin6.sin6_addr) == 1);
		sl = sizeof(sa.sin6);
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	CHECK(bind(fd, &sa.sa, sl) == 0);
	CHECK(getsockname(fd, &sa.sa, &sl) == 0);
	*port = ntohs(af == AF_INET ? sa.sin.sin_port : sa.sin6.sin6_port);
	return fd;
}

/* A port nothing listens on (bound, then closed). */
static uint16_t closed_port(int af, const char *addr)
{
	uint16_t port;
	int fd = udp_sock(af, addr, &port);

	close(fd);
	return port;
}

static bool readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

/* Receive one datagram (within 2 s): its length; the sender in *from. */
static ssize_t recv_one(int fd, struct sockaddr_storage *from)
{
	socklen_t fl = sizeof(*from);
	ssize_t n;

	CHECK(readable(fd, 2000));
	n = recvfrom(fd, recv_buf, sizeof(recv_buf), MSG_DONTWAIT, (struct sockaddr *)from, &fl);
	CHECK(n >= 0);
	return n;
}

/* Echo server step: a datagram must arrive with exactly payload_buf[0, len); send it back. */
static void echo_expect(int fd, size_t len)
{
	struct sockaddr_storage from;
	ssize_t n = recv_one(fd, &from);

	CHECK_EQ(n, len);
	CHECK_MEM(recv_buf, payload_buf, len);
	CHECK(sendto(fd, recv_buf, (size_t)n, 0, (struct sockaddr *)&from,
		     from.ss_family == AF_INET ? sizeof(struct sockaddr_in)
					       : sizeof(struct sockaddr_in6)) == n);
}

static void expect_nothing(int fd)
{
	CHECK(!readable(fd, 100));
}

/* ---- Driving the translator ---- */

/* Run the epoll set for up to max_ms, until out holds `want` frames (0: the whole time). */
static void pump_for(struct udp_ctx *u, int epfd, unsigned want, long max_ms)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct epoll_event ev[16];
		int n, i;

		if (want && out.count >= want)
			return;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > max_ms)
			return;
		n = epoll_wait(epfd, ev, 16, 20);
		for (i = 0; i < n; i++) {
			union epoll_ref r = { .u64 = ev[i].data.u64 };

			if (r.kind == EPOLL_KIND_UDP)
				udp_sock_event(u, r.index, ev[i].events, &out);
			else if (r.kind == EPOLL_KIND_UDP_LISTEN)
				udp_listen_event(u, r.index, ev[i].events, &out);
			else
				CHECK(!"event of an unexpected kind");
		}
	}
}

/* Run the epoll set until out holds exactly `want` frames (2 s at most). */
static void pump(struct udp_ctx *u, int epfd, unsigned want)
{
	pump_for(u, epfd, want, 2000);
	CHECK_EQ(out.count, want);
}

static int tap_send(struct udp_ctx *u, const uint8_t *frame, size_t len)
{
	struct frame f;

	CHECK(len > 0);
	CHECK_EQ(frame_parse(frame, len, &f), 0);
	return udp_tap_recv(u, &f, &out);
}

static size_t guest_frame(int af, const char *src, const char *dst, uint16_t sport, uint16_t dport,
			  size_t len)
{
	size_t n;

	if (af == AF_INET) {
		n = build_udp4(frame_buf, sizeof(frame_buf), our_mac, a4(src), a4(dst), sport,
			       dport, payload_buf, len);
	} else {
		struct in6_addr s = a6(src), d = a6(dst);

		n = build_udp6(frame_buf, sizeof(frame_buf), our_mac, &s, &d, sport, dport,
			       payload_buf, len);
	}
	CHECK(n > 0);
	return n;
}

/* Frame i of out is a UDP datagram from (src, sport) to (dst, dport) carrying payload_buf[0,
 * len), to the guest's MAC. */
static void check_udp_frame(unsigned i, int af, const char *src, uint16_t sport, const char *dst,
			    uint16_t dport, size_t len)
{
	struct frame f;

	answer(&out, i, &f, NULL);
	CHECK_MEM(f.dst_mac, guest_mac, BP_ETH_ALEN);
	CHECK(!f.fragment);
	CHECK_EQ(f.l4_proto, IPPROTO_UDP);
	if (af == AF_INET) {
		CHECK_EQ(f.l3_kind, FRAME_L3_IP4);
		CHECK_IP4(&f.src.v4, src);
		CHECK_IP4(&f.dst.v4, dst);
	} else {
		struct in6_addr s = a6(src), d = a6(dst);

		CHECK_EQ(f.l3_kind, FRAME_L3_IP6);
		CHECK_MEM(&f.src.v6, &s, 16);
		CHECK_MEM(&f.dst.v6, &d, 16);
	}
	CHECK_EQ(f.sport, sport);
	CHECK_EQ(f.dport, dport);
	CHECK_EQ(f.payload.len, len);
	if (len)
		CHECK_MEM(pkt_at(&f.payload, 0, len), payload_buf, len);
}

struct env {
	struct config c;
	struct guest_state g;
	struct udp_ctx u;
	int epfd;
};

static void env_init(struct env *e, int mtu, unsigned max_flows)
{
	memset(e, 0, sizeof(*e));
	harness_config(&e->c);
	e->c.mtu = mtu;
	harness_guest(&e->g);
	e->g.addr6_ll_seen = a6(LL_GUEST);
	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	CHECK(e->epfd >= 0);
	CHECK_EQ(udp_init(&e->u, &e->c, &e->g, e->epfd, max_flows), 0);
	batch_reset(&out);
}

static void env_fini(struct env *e)
{
	udp_cleanup(&e->u);
	close(e->epfd);
}

/* ---- Cases ---- */

/* Round trips guest -> gateway:port (the host's loopback) -> back, for the given sizes. */
static void test_round_trips(int af, int mtu)
{
	const char *lo = af == AF_INET ? "127.0.0.1" : "::1";
	const char *gsrc = af == AF_INET ? "192.0.2.10" : "2001:db8:1::10";
	const char *gw = af == AF_INET ? "192.0.2.1" : "fe80::1";
	size_t max = (size_t)mtu - (af == AF_INET ? 28 : 48);
	size_t sizes[] = { 0, 1, 1400, max };
	unsigned long too_big;
	struct env e;
	uint16_t port;
	int echo;

	env_init(&e, mtu, 0);
	echo = udp_sock(af, lo, &port);
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t len = sizes[i], n;

		fill_payload(len, i);
		n = guest_frame(af, gsrc, gw, 40000, port, len);
		CHECK_EQ(tap_send(&e.u, frame_buf, n), 1);
		udp_tap_batch_done(&e.u);
		CHECK_EQ(udp_flow_count(&e.u), 1);
		echo_expect(echo, len);
		batch_reset(&out);
		pump(&e.u, e.epfd, 1);
		check_udp_frame(0, af, gw, port, gsrc, 40000, len);
	}

	/* One byte more than the guest's MTU allows, from the host: dropped. */
	too_big = e.u.stats.too_big;
	{
		struct sockaddr_storage from;
		ssize_t n;

		fill_payload(1, 99);
		n = guest_frame(af, gsrc, gw, 40000, port, 1);
		CHECK_EQ(tap_send(&e.u, frame_buf, n), 1);
		udp_tap_batch_done(&e.u);
		CHECK_EQ(recv_one(echo, &from), 1);
		memset(recv_buf, 0x5a, max + 1);
		CHECK(sendto(echo, recv_buf, max + 1, 0, (struct sockaddr *)&from,
			     af == AF_INET ? sizeof(struct sockaddr_in)
					   : sizeof(struct sockaddr_in6)) == (ssize_t)(max + 1));
		batch_reset(&out);
		for (int tries = 0; tries < 100 && e.u.stats.too_big == too_big; tries++)
			pump_for(&e.u, e.epfd, 0, 20);
		CHECK_EQ(e.u.stats.too_big, too_big + 1);
		CHECK_EQ(out.count, 0);
	}
	close(echo);
	env_fini(&e);
}

/* Ten datagrams in one guest batch: one sendmmsg(), echoed, read by one recvmmsg(). */
static void test_batching(int af)
{
	const char *lo = af == AF_INET ? "127.0.0.1" : "::1";
	const char *gsrc = af == AF_INET ? "192.0.2.10" : "2001:db8:1::10";
	const char *gw = af == AF_INET ? "192.0.2.1" : "fe80::1";
	unsigned long batches, rbatches;
	struct env e;
	uint16_t port;
	int echo;

	env_init(&e, 65520, 0);
	echo = udp_sock(af, lo, &port);
	batches = e.u.stats.send_batches;
	for (unsigned i = 0; i < 10; i++) {
		fill_payload(100 + i, i);
		CHECK_EQ(tap_send(&e.u, frame_buf, guest_frame(af, gsrc, gw, 40001, port, 100 + i)),
			 1);
	}
	udp_tap_batch_done(&e.u);
	CHECK_EQ(e.u.stats.send_batches, batches + 1);
	CHECK_EQ(e.u.stats.sent, 10);
	for (unsigned i = 0; i < 10; i++) {
		fill_payload(100 + i, i);
		echo_expect(echo, 100 + i);
	}
	rbatches = e.u.stats.recv_batches;
	batch_reset(&out);
	usleep(20000); /* all ten queued on the flow socket before we read */
	pump(&e.u, e.epfd, 10);
	CHECK_EQ(e.u.stats.recv_batches, rbatches + 1);
	for (unsigned i = 0; i < 10; i++) {
		fill_payload(100 + i, i);
		check_udp_frame(i, af, gw, port, gsrc, 40001, 100 + i);
	}
	close(echo);
	env_fini(&e);
}

static void test_dns_forward(int af)
{
	const char *lo = af == AF_INET ? "127.0.0.1" : "::1";
	const char *gsrc = af == AF_INET ? "192.0.2.10" : "2001:db8:1::10";
	const char *fwd = af == AF_INET ? "192.0.2.53" : "2001:db8:1::53";
	struct env e;
	uint16_t port;
	int dns;

	env_init(&e, 65520, 0);
	udp_cleanup(&e.u);
	if (af == AF_INET)
		e.c.ip4.dns_forward = a4(fwd);
	else
		e.c.ip6.dns_forward = a6(fwd);
	CHECK_EQ(udp_init(&e.u, &e.c, &e.g, e.epfd, 0), 0);
	dns = udp_sock(af, lo, &port);
	if (af == AF_INET) {
		struct in_addr a = a4(lo);

		udp_dns_host_set(&e.u, AF_INET, &a, port);
	} else {
		struct in6_addr a = a6(lo);

		udp_dns_host_set(&e.u, AF_INET6, &a, port);
	}
	fill_payload(40, 3);
	CHECK_EQ(tap_send(&e.u, frame_buf, guest_frame(af, gsrc, fwd, 5353, 53, 40)), 1);
	udp_tap_batch_done(&e.u);
	echo_expect(dns, 40);
	pump(&e.u, e.epfd, 1);
	check_udp_frame(0, af, fwd, 53, gsrc, 5353, 40);

	/* No resolver: dropped, counted. */
	udp_dns_host_set(&e.u, af, NULL, 0);
	{
		unsigned long unreach = e.u.stats.tap_unreachable;

		CHECK_EQ(tap_send(&e.u, frame_buf, guest_frame(af, gsrc, fwd, 5354, 53, 40)), 1);
		udp_tap_batch_done(&e.u);
		CHECK_EQ(e.u.stats.tap_unreachable, unreach + 1);
		expect_nothing(dns);
	}
	close(dns);
	env_fini(&e);
}

/* A datagram to a closed port on the host's loopback: the guest gets the port unreachable. */
static void test_icmp_port_unreachable(int af)
{
	const char *lo = af == AF_INET ? "127.0.0.1" : "::1";
	const char *gsrc = af == AF_INET ? "192.0.2.10" : "2001:db8:1::10";
	const char *gw = af == AF_INET ? "192.0.2.1" : "fe80::1";
	uint16_t port = closed_port(af, lo);
	size_t ip = af == AF_INET ? 20 : 40;
	const uint8_t *icmp;
	struct frame f;
	struct env e;

	env_init(&e, 65520, 0);
	fill_payload(64, 5);
	CHECK_EQ(tap_send(&e.u, frame_buf, guest_frame(af, gsrc, gw, 40002, port, 64)), 1);
	udp_tap_batch_done(&e.u);
	pump(&e.u, e.epfd, 1);
	answer(&out, 0, &f, NULL);
	CHECK_MEM(f.dst_mac, guest_mac, BP_ETH_ALEN);
	CHECK_EQ(f.l4_proto, af == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6);
	icmp = pkt_at(&f.l4, 0, 8 + ip + 8 + 64);
	CHECK(icmp != NULL);
	CHECK_EQ(f.l4.len, 8 + ip + 8 + 64);
	if (af == AF_INET) {
		CHECK_IP4(&f.src.v4, gw);
		CHECK_IP4(&f.dst.v4, gsrc);
		CHECK_EQ(icmp[0], 3); /* destination unreachable */
		CHECK_EQ(icmp[1], 3); /* port unreachable */
		CHECK_EQ(icmp[8] >> 4, 4);
		CHECK_EQ(icmp[8 + 9], IPPROTO_UDP);
		CHECK_IP4(icmp + 8 + 12, gsrc);
		CHECK_IP4(icmp + 8 + 16, gw);
		CHECK_EQ(csum_fold(csum_partial(icmp + 8, 20, 0)), 0xffff);
	} else {
		struct in6_addr s = a6(gsrc), d = a6(gw);

		CHECK_MEM(&f.src.v6, &d, 16);
		CHECK_MEM(&f.dst.v6, &s, 16);
		CHECK_EQ(icmp[0], 1); /* destination unreachable */
		CHECK_EQ(icmp[1], 4); /* port unreachable */
		CHECK_EQ(icmp[8] >> 4, 6);
		CHECK_EQ(icmp[8 + 6], IPPROTO_UDP);
		CHECK_MEM(icmp + 8 + 8, &s, 16);
		CHECK_MEM(icmp + 8 + 24, &d, 16);
	}
	CHECK_EQ(get_be16(icmp + 8 + ip), 40002);
	CHECK_EQ(get_be16(icmp + 8 + ip + 2), port);
	CHECK_EQ(get_be16(icmp + 8 + ip + 4), 8 + 64);
	CHECK_MEM(icmp + 8 + ip + 8, payload_buf, 64);
	CHECK_EQ(e.u.stats.icmp_to_tap, 1);
	env_fini(&e);
}

/* Malformed or unsendable datagrams from the guest: dropped, never reach the host. */
static void test_malformed(void)
{
	unsigned long bad, unreach;
	struct env e;
	uint16_t port, port6;
	int echo, echo6;
	size_t n;

	env_init(&e, 65520, 0);
	echo = udp_sock(AF_INET, "127.0.0.1", &port);
	echo6 = udp_sock(AF_INET6, "::1", &port6);
	fill_payload(32, 7);
	bad = e.u.stats.tap_bad;

	/* Bad checksum: one payload bit flipped after the checksum was computed. */
	n = guest_frame(AF_INET, "192.0.2.10", "192.0.2.1", 40003, port, 32);
	frame_buf[n - 1] ^= 0x01;
	CHECK_EQ(tap_send(&e.u, frame_buf, n), 1);
	n = guest_frame(AF_INET6, "2001:db8:1::10", "fe80::1", 40003, port6, 32);
	frame_buf[n - 5] ^= 0x80;
	CHECK_EQ(tap_send(&e.u, frame_buf, n), 1);
	/* IPv6 without a checksum (0): not allowed (RFC 8200 8.1). */
	n = guest_frame(AF_INET6, "2001:db8:1::10", "fe80::1", 40003, port6, 32);
	frame_buf[14 + 40 + 6] = frame_buf[14 + 40 + 7] = 0;
	CHECK_EQ(tap_send(&e.u, frame_buf, n), 1);
	/* Source port 0, destination port 0. */
	CHECK_EQ(tap_send(&e.u, frame_buf,
			  guest_frame(AF_INET, "192.0.2.10", "192.0.2.1", 0, port, 32)),
		 1);
	CHECK_EQ(tap_send(&e.u, frame_buf,
			  guest_frame(AF_INET, "192.0.2.10", "192.0.2.1", 40003, 0, 32)),
		 1);
	/* A fragment (MF set; the header checksum redone). */
	n = guest_frame(AF_INET, "192.0.2.10", "192.0.2.1", 40003, port, 32);
	frame_buf[14 + 6] |= 0x20;
	frame_buf[14 + 10] = frame_buf[14 + 11] = 0;
	{
		uint16_t s = csum(frame_buf + 14, 20, 0);

		memcpy(frame_buf + 14 + 10, &s, 2);
	}
	CHECK_EQ(tap_send(&e.u, frame_buf, n), 1);
	/* Bad IPv4 header checksum (the TTL changed after it was computed). */
	n = guest_frame(AF_INET, "192.0.2.10", "192.0.2.1", 40003, port, 32);
	frame_buf[14 + 8]--;
	CHECK_EQ(tap_send(&e.u, frame_buf, n), 1);
	/* Source addresses a guest may not use. */
	CHECK_EQ(tap_send(&e.u, frame_buf,
			  guest_frame(AF_INET, "224.0.0.1", "192.0.2.1", 40003, port, 32)),
		 1);
	CHECK_EQ(tap_send(&e.u, frame_buf,
			  guest_frame(AF_INET, "127.0.0.1", "192.0.2.1", 40003, port, 32)),
		 1);
	CHECK_EQ(tap_send(&e.u, frame_buf,
			  guest_frame(AF_INET6, "::1", "fe80::1", 40003, port6, 32)),
		 1);
	CHECK_EQ(e.u.stats.tap_bad, bad + 10);

	/* Destinations we may not reach: multicast, broadcast, loopback, a foreign link-local. */
	unreach = e.u.stats.tap_unreachable;
	CHECK_EQ(tap_send(&e.u, frame_buf,
			  guest_frame(AF_INET, "192.0.2.10", "224.0.0.251", 5353, 5353, 32)),
		 1);
	CHECK_EQ(tap_send(&e.u, frame_buf,
			  guest_frame(AF_INET, "192.0.2.10", "255.255.255.255", 40003, port, 32)),
		 1);
	CHECK_EQ(tap_send(&e.u, frame_buf,
			  guest_frame(AF_INET, "192.0.2.10", "127.0.0.1", 40003, port, 32)),
		 1);
	CHECK_EQ(tap_send(&e.u, frame_buf,
			  guest_frame(AF_INET6, "2001:db8:1::10", "ff02::fb", 5353, 5353, 32)),
		 1);
	CHECK_EQ(tap_send(&e.u, frame_buf,
			  guest_frame(AF_INET6, "2001:db8:1::10", "fe80::99", 40003, port6, 32)),
		 1);
	CHECK_EQ(e.u.stats.tap_unreachable, unreach + 5);
	udp_tap_batch_done(&e.u);
	CHECK_EQ(udp_flow_count(&e.u), 0);
	CHECK_EQ(e.u.stats.sent, 0);
	expect_nothing(echo);
	expect_nothing(echo6);

	/* IPv4 without a checksum (0) is allowed. */
	n = guest_frame(AF_INET, "192.0.2.10", "192.0.2.1", 40003, port, 32);
	frame_buf[14 + 20 + 6] = frame_buf[14 + 20 + 7] = 0;
	CHECK_EQ(tap_send(&e.u, frame_buf, n), 1);
	udp_tap_batch_done(&e.u);
	echo_expect(echo, 32);

	/* Not UDP: not ours. */
	{
		static const uint8_t echo_req[8] = { 128, 0, 0, 0, 0, 1, 0, 1 };
		struct in6_addr s = a6("2001:db8:1::10"), d = a6("fe80::1");

		n = build_icmp6(frame_buf, sizeof(frame_buf), our_mac, &s, &d, 64, echo_req, 8);
		CHECK_EQ(tap_send(&e.u, frame_buf, n), 0);
	}

	/* Random damage: never a crash; whatever is sent is counted. */
	{
		uint8_t base[256];
		size_t blen = guest_frame(AF_INET, "192.0.2.10", "192.0.2.1", 40004, port, 64);

		memcpy(base, frame_buf, blen);
		for (unsigned it = 0; it < 20000; it++) {
			struct frame f;
			size_t len = blen;

			memcpy(frame_buf, base, blen);
			for (unsigned k = 0, flips = 1 + harness_rng() % 4; k < flips; k++)
				frame_buf[harness_rng() % blen] = (uint8_t)harness_rng();
			if (harness_rng() % 8 == 0)
				len = harness_rng() % blen;
			/* Only towards the gateway (the host's loopback): a damaged frame must
			 * not send anything off this machine. */
			if (frame_parse(frame_buf, len, &f) == 0 &&
			    ((f.l3_kind == FRAME_L3_IP4 &&
			      f.dst.v4.s_addr == a4("192.0.2.1").s_addr) ||
			     f.l3_kind == FRAME_L3_ARP || f.l3_kind == FRAME_L3_OTHER)) {
				int r = udp_tap_recv(&e.u, &f, &out);

				CHECK(r == 0 || r == 1);
			}
			if (it % 64 == 0)
				udp_tap_batch_done(&e.u);
			batch_reset(&out);
		}
		udp_tap_batch_done(&e.u);
	}
	close(echo);
	close(echo6);
	env_fini(&e);
}

/* -u forwards: a datagram to a forwarded host port reaches the guest at the translated port,
 * from the gateway when the sender is the host's loopback; the guest's reply goes back through
 * the listener; a reply to a sender that went away comes back as the ICMP error. */
static void test_inbound(int af)
{
	const char *lo = af == AF_INET ? "127.0.0.1" : "::1";
	const char *gw = af == AF_INET ? "192.0.2.1" : "fe80::1";
	const char *gdst = af == AF_INET ? "192.0.2.77" : LL_GUEST;
	struct sockaddr_storage from;
	uint16_t fwd_port = closed_port(af, lo), cport;
	int client;
	struct env e;
	size_t n;

	memset(&e, 0, sizeof(e));
	harness_config(&e.c);
	harness_guest(&e.g);
	e.g.addr6_ll_seen = a6(LL_GUEST);
	e.g.addr4_seen = a4("192.0.2.77"); /* the guest uses another address than assigned */
	e.c.udp_in.mode = FWD_SPEC;
	e.c.udp_in.count = 1;
	e.c.udp_in.rule[0].first = e.c.udp_in.rule[0].last = fwd_port;
	e.c.udp_in.rule[0].to_first = 7777;
	e.c.udp_in.rule[0].af = af;
	e.epfd = epoll_create1(EPOLL_CLOEXEC);
	CHECK(e.epfd >= 0);
	CHECK_EQ(udp_init(&e.u, &e.c, &e.g, e.epfd, 0), 0);
	CHECK_EQ(e.u.listeners.count, 1);
	batch_reset(&out);

	client = udp_sock(af, lo, &cport);
	fill_payload(300, 11);
	{
		union {
			struct sockaddr sa;
			struct sockaddr_in sin;
			struct sockaddr_in6 sin6;
		} to;
		socklen_t tl;

		memset(&to, 0, sizeof(to));
		if (af == AF_INET) {
			to.sin.sin_family = AF_INET;
			to.sin.sin_addr = a4(lo);
			to.sin.sin_port = htons(fwd_port);
			tl = sizeof(to.sin);
		} else {
			to.sin6.sin6_family = AF_INET6;
			to.sin6.sin6_addr = a6(lo);
			to.sin6.sin6_port = htons(fwd_port);
			tl = sizeof(to.sin6);
		}
		CHECK(sendto(client, payload_buf, 300, 0, &to.sa, tl) == 300);
		CHECK(sendto(client, payload_buf, 0, 0, &to.sa, tl) == 0);
	}
	pump(&e.u, e.epfd, 2);
	check_udp_frame(0, af, gw, cport, gdst, 7777, 300);
	check_udp_frame(1, af, gw, cport, gdst, 7777, 0);
	CHECK_EQ(udp_flow_count(&e.u), 1);

	/* The guest answers from 7777 to the gateway: back to the client, from the forwarded
	 * port. */
	fill_payload(500, 12);
	n = guest_frame(af, gdst, gw, 7777, cport, 500);
	CHECK_EQ(tap_send(&e.u, frame_buf, n), 1);
	udp_tap_batch_done(&e.u);
	CHECK_EQ(recv_one(client, &from), 500);
	CHECK_MEM(recv_buf, payload_buf, 500);
	if (af == AF_INET)
		CHECK_EQ(ntohs(((struct sockaddr_in *)&from)->sin_port), fwd_port);
	else
		CHECK_EQ(ntohs(((struct sockaddr_in6 *)&from)->sin6_port), fwd_port);
	CHECK_EQ(udp_flow_count(&e.u), 1);

	/* The client goes away: the guest's next reply earns a port unreachable. */
	close(client);
	batch_reset(&out);
	CHECK_EQ(tap_send(&e.u, frame_buf, n), 1);
	udp_tap_batch_done(&e.u);
	pump(&e.u, e.epfd, 1);
	{
		struct frame f;
		const uint8_t *icmp;

		answer(&out, 0, &f, NULL);
		CHECK_EQ(f.l4_proto, af == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6);
		icmp = pkt_at(&f.l4, 0, 8);
		CHECK(icmp != NULL);
		CHECK_EQ(icmp[0], af == AF_INET ? 3 : 1);
		CHECK_EQ(icmp[1], af == AF_INET ? 3 : 4);
	}
	env_fini(&e);
}

static void test_expiry_eviction(void)
{
	struct timespec now;
	struct env e;
	uint16_t port;
	int echo;

	env_init(&e, 65520, 2);
	echo = udp_sock(AF_INET, "127.0.0.1", &port);
	fill_payload(10, 1);
	for (uint16_t sport = 41000; sport < 41003; sport++) {
		CHECK_EQ(tap_send(&e.u, frame_buf,
				  guest_frame(AF_INET, "192.0.2.10", "192.0.2.1", sport, port, 10)),
			 1);
		udp_tap_batch_done(&e.u);
		echo_expect(echo, 10);
	}
	CHECK_EQ(udp_flow_count(&e.u), 2);
	CHECK_EQ(e.u.stats.flows_evicted, 1);

	/* Not idle long enough, then idle. */
	now.tv_sec = e.u.now + UDP_IDLE_SEC - 1;
	now.tv_nsec = 0;
	udp_timer(&e.u, &now);
	CHECK_EQ(udp_flow_count(&e.u), 2);
	now.tv_sec += 1;
	udp_timer(&e.u, &now);
	CHECK_EQ(udp_flow_count(&e.u), 0);
	CHECK_EQ(e.u.stats.flows_expired, 2);

	/* A new flow after expiry works; the guest going away closes it. */
	CHECK_EQ(tap_send(&e.u, frame_buf,
			  guest_frame(AF_INET, "192.0.2.10", "192.0.2.1", 41000, port, 10)),
		 1);
	udp_tap_batch_done(&e.u);
	echo_expect(echo, 10);
	CHECK_EQ(udp_flow_count(&e.u), 1);
	udp_guest_gone(&e.u);
	CHECK_EQ(udp_flow_count(&e.u), 0);
	close(echo);
	env_fini(&e);

	/* --no-udp: UDP is not ours. */
	env_init(&e, 65520, 0);
	udp_cleanup(&e.u);
	e.c.no_udp = true;
	CHECK_EQ(udp_init(&e.u, &e.c, &e.g, e.epfd, 0), 0);
	CHECK_EQ(tap_send(&e.u, frame_buf,
			  guest_frame(AF_INET, "192.0.2.10", "192.0.2.1", 41000, 9, 10)),
		 0);
	env_fini(&e);
}

int main(void)
{
	log_init("test_udp", getenv("HARNESS_DEBUG") ? LOG_LVL_TRACE : LOG_LVL_ERR);
	CHECK_EQ(batch_init(&out, 256, BP_FRAME_MAX), 0);

	test_round_trips(AF_INET, 65520);
	test_round_trips(AF_INET6, 65520);
	test_round_trips(AF_INET, 1500);
	test_round_trips(AF_INET6, 1500);
	test_batching(AF_INET);
	test_batching(AF_INET6);
	test_dns_forward(AF_INET);
	test_dns_forward(AF_INET6);
	test_icmp_port_unreachable(AF_INET);
	test_icmp_port_unreachable(AF_INET6);
	test_malformed();
	test_inbound(AF_INET);
	test_inbound(AF_INET6);
	test_expiry_eviction();

	batch_free(&out);
	printf("test_udp: %lu checks passed\n", checks);
	return 0;
}
