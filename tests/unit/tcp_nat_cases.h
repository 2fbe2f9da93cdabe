/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tcp_nat_cases.h - test_tcp.c's cases for the address translation of flow/nat.c
 *
 * Pure checks of nat_outbound(), nat_inbound_peer(), nat_inbound_guest() and
 * nat_bind_outbound() against the rules of nat.h, for each option: --dns-forward (with the
 * resolver on a loopback address and on another port), --map-host-loopback, --no-map-gw,
 * --map-guest-addr, --outbound, --outbound-if4/6, and the guest using another address than
 * assigned. Translations to non-local addresses are only computed, never connected to (no
 * packet may leave the machine). Then the same rules live through the TCP translator, with
 * targets that are all on the host's loopback: --dns-forward to a resolver set by
 * tcp_dns_host_set() (replies from ADDR:53, RST without a resolver), --map-guest-addr with
 * --outbound (the host's own address made 127.0.0.1 for the test; the source is --outbound's),
 * --map-host-loopback (no --outbound binding towards the loopback). Inbound translation is
 * exercised live by test_tcp.c's test_inbound(). Header-only, after tcp_harness.h.
 */
#ifndef BPASST_TCP_NAT_CASES_H
#define BPASST_TCP_NAT_CASES_H

#include <net/if.h>

#include "flow/flow.h"
#include "flow/nat.h"

/* The test config of tcp_harness.h, without a translator: 192.0.2.2/24 via 192.0.2.1,
 * 2001:db8::2/64 via fe80::1, our link-local fe80::2. */
static void nat_conf(struct config *c, struct guest_state *g)
{
	config_defaults(c, MODE_PASTA, "test_tcp");
	c->ip4.enabled = c->ip6.enabled = true;
	inet_pton(AF_INET, "192.0.2.2", &c->ip4.addr);
	inet_pton(AF_INET, "192.0.2.1", &c->ip4.gw);
	c->ip4.have_gw = true;
	inet_pton(AF_INET6, "2001:db8::2", &c->ip6.addr);
	inet_pton(AF_INET6, "fe80::1", &c->ip6.gw);
	inet_pton(AF_INET6, "fe80::2", &c->ip6.our_ll);
	c->ip6.have_gw = true;
	memset(g, 0, sizeof(*g));
}

/* a as a v4-mapped or IPv6 struct in6_addr. */
static struct in6_addr nat_a(const char *a)
{
	struct in6_addr r;

	if (strchr(a, ':')) {
		CHECK_EQ(inet_pton(AF_INET6, a, &r), 1);
	} else {
		struct in_addr v4;

		CHECK_EQ(inet_pton(AF_INET, a, &v4), 1);
		flow_addr_from_v4(&r, v4);
	}
	return r;
}

static bool nat_a_is(const struct in6_addr *got, const char *want)
{
	struct in6_addr w = nat_a(want);

	return !memcmp(got, &w, sizeof(w));
}

/* nat_outbound() to dst:port: expect want:want_port (NULL: refused) and the loopback flag. */
static void nat_out_expect(const struct config *c, const struct nat_dns *dns, const char *dst,
			   uint16_t port, const char *want, uint16_t want_port, bool want_lo)
{
	struct in6_addr d = nat_a(dst);
	int af = strchr(dst, ':') ? AF_INET6 : AF_INET;
	union nat_sockaddr sa;
	socklen_t len = 0;
	bool lo = !want_lo;
	char buf[INET6_ADDRSTRLEN];

	if (!want) {
		if (nat_outbound(c, dns, af, &d, port, &sa, &len, &lo)) {
			fprintf(stderr, "nat_outbound(%s, %u) should be refused\n", dst, port);
			CHECK(false);
		}
		return;
	}
	CHECK(nat_outbound(c, dns, af, &d, port, &sa, &len, &lo));
	CHECK_EQ(sa.sa.sa_family, af);
	if (af == AF_INET) {
		struct in_addr w;

		CHECK_EQ(len, sizeof(sa.sin));
		inet_pton(AF_INET, want, &w);
		if (sa.sin.sin_addr.s_addr != w.s_addr)
			fprintf(stderr, "nat_outbound(%s, %u): %s, want %s\n", dst, port,
				inet_ntop(AF_INET, &sa.sin.sin_addr, buf, sizeof(buf)), want);
		CHECK_EQ(sa.sin.sin_addr.s_addr, w.s_addr);
		CHECK_EQ(ntohs(sa.sin.sin_port), want_port);
	} else {
		struct in6_addr w;

		CHECK_EQ(len, sizeof(sa.sin6));
		inet_pton(AF_INET6, want, &w);
		if (memcmp(&sa.sin6.sin6_addr, &w, sizeof(w)))
			fprintf(stderr, "nat_outbound(%s, %u): %s, want %s\n", dst, port,
				inet_ntop(AF_INET6, &sa.sin6.sin6_addr, buf, sizeof(buf)), want);
		CHECK(!memcmp(&sa.sin6.sin6_addr, &w, sizeof(w)));
		CHECK_EQ(ntohs(sa.sin6.sin6_port), want_port);
	}
	CHECK_EQ(lo, want_lo);
}

/* nat_inbound_peer() of peer: expect want (NULL: refused). */
static void nat_in_expect(const struct config *c, const struct guest_state *g, const char *peer,
			  const char *want)
{
	union nat_sockaddr sa;
	struct in6_addr r;

	memset(&sa, 0, sizeof(sa));
	if (strchr(peer, ':')) {
		sa.sin6.sin6_family = AF_INET6;
		inet_pton(AF_INET6, peer, &sa.sin6.sin6_addr);
	} else {
		sa.sin.sin_family = AF_INET;
		inet_pton(AF_INET, peer, &sa.sin.sin_addr);
	}
	if (!want) {
		CHECK(!nat_inbound_peer(c, g, &sa, &r));
		return;
	}
	CHECK(nat_inbound_peer(c, g, &sa, &r));
	if (!nat_a_is(&r, want)) {
		char buf[INET6_ADDRSTRLEN];

		fprintf(stderr, "nat_inbound_peer(%s): %s, want %s\n", peer,
			inet_ntop(AF_INET6, &r, buf, sizeof(buf)), want);
		CHECK(false);
	}
}

static void test_nat_outbound_rules(void)
{
	struct guest_state g;
	struct nat_dns dns;
	struct config c;
	struct in_addr a4;
	struct in6_addr a6;

	nat_conf(&c, &g);
	nat_dns_default(&dns, &c);
	CHECK(!dns.v4.set && !dns.v6.set);

	/* Defaults: the gateway (and our link-local address) is the host's loopback. */
	nat_out_expect(&c, &dns, "192.0.2.1", 80, "127.0.0.1", 80, true);
	nat_out_expect(&c, &dns, "203.0.113.1", 8080, "203.0.113.1", 8080, false);
	nat_out_expect(&c, &dns, "192.0.2.2", 22, "192.0.2.2", 22, false);
	nat_out_expect(&c, &dns, "fe80::1", 80, "::1", 80, true);
	nat_out_expect(&c, &dns, "fe80::2", 80, "::1", 80, true);
	nat_out_expect(&c, &dns, "2001:db8:1::1", 443, "2001:db8:1::1", 443, false);
	/* Nowhere to go: martians, other link-local addresses. */
	nat_out_expect(&c, &dns, "0.0.0.0", 80, NULL, 0, false);
	nat_out_expect(&c, &dns, "255.255.255.255", 80, NULL, 0, false);
	nat_out_expect(&c, &dns, "224.0.0.1", 80, NULL, 0, false);
	nat_out_expect(&c, &dns, "127.0.0.1", 80, NULL, 0, false);
	nat_out_expect(&c, &dns, "::", 80, NULL, 0, false);
	nat_out_expect(&c, &dns, "::1", 80, NULL, 0, false);
	nat_out_expect(&c, &dns, "ff02::1", 80, NULL, 0, false);
	nat_out_expect(&c, &dns, "::ffff:203.0.113.1", 80, NULL, 0, false);
	nat_out_expect(&c, &dns, "fe80::99", 80, NULL, 0, false);

	/* --dns-forward: port 53 of ADDR only, to the resolver (default: the first of -D). */
	inet_pton(AF_INET, "198.51.100.1", &c.ip4.dns_forward);
	inet_pton(AF_INET6, "2001:db8:5::1", &c.ip6.dns_forward);
	nat_out_expect(&c, &dns, "198.51.100.1", 53, NULL, 0, false); /* no resolver known */
	nat_out_expect(&c, NULL, "2001:db8:5::1", 53, NULL, 0, false);
	inet_pton(AF_INET, "198.51.100.53", &c.ip4.dns[0]);
	c.ip4.dns_count = 1;
	inet_pton(AF_INET6, "2001:db8:1::53", &c.ip6.dns[0]);
	c.ip6.dns_count = 1;
	nat_dns_default(&dns, &c);
	nat_out_expect(&c, &dns, "198.51.100.1", 53, "198.51.100.53", 53, false);
	nat_out_expect(&c, &dns, "198.51.100.1", 54, "198.51.100.1", 54, false);
	nat_out_expect(&c, &dns, "198.51.100.2", 53, "198.51.100.2", 53, false);
	nat_out_expect(&c, &dns, "2001:db8:5::1", 53, "2001:db8:1::53", 53, false);
	nat_out_expect(&c, &dns, "2001:db8:5::1", 853, "2001:db8:5::1", 853, false);
	/* A loopback resolver (systemd-resolved), on another port in tests. */
	inet_pton(AF_INET, "127.0.0.53", &a4);
	nat_dns_set(&dns, AF_INET, &a4, 5353);
	nat_dns_set(&dns, AF_INET6, &in6addr_loopback, 0);
	nat_out_expect(&c, &dns, "198.51.100.1", 53, "127.0.0.53", 5353, true);
	nat_out_expect(&c, &dns, "2001:db8:5::1", 53, "::1", 53, true);
	nat_dns_set(&dns, AF_INET, NULL, 0);
	nat_out_expect(&c, &dns, "198.51.100.1", 53, NULL, 0, false);
	/* --dns-forward wins over the gateway mapping, for port 53 only. */
	c.ip4.dns_forward = c.ip4.gw;
	nat_dns_default(&dns, &c);
	nat_out_expect(&c, &dns, "192.0.2.1", 53, "198.51.100.53", 53, false);
	nat_out_expect(&c, &dns, "192.0.2.1", 80, "127.0.0.1", 80, true);
	memset(&c.ip4.dns_forward, 0, sizeof(c.ip4.dns_forward));
	memset(&c.ip6.dns_forward, 0, sizeof(c.ip6.dns_forward));

	/* --map-host-loopback ADDR: that address, and no longer the gateway. */
	inet_pton(AF_INET, "198.51.100.7", &c.ip4.map_host_loopback);
	inet_pton(AF_INET6, "2001:db8:7::7", &c.ip6.map_host_loopback);
	nat_out_expect(&c, &dns, "198.51.100.7", 80, "127.0.0.1", 80, true);
	nat_out_expect(&c, &dns, "192.0.2.1", 80, "192.0.2.1", 80, false);
	nat_out_expect(&c, &dns, "2001:db8:7::7", 80, "::1", 80, true);
	nat_out_expect(&c, &dns, "fe80::1", 80, NULL, 0, false); /* the gateway: link-local */
	a4 = nat_map_host4(&c);
	CHECK_EQ(a4.s_addr, c.ip4.map_host_loopback.s_addr);
	/* --no-map-gw: nothing reaches the host's loopback, the mapping given or not. */
	c.no_map_gw = true;
	nat_out_expect(&c, &dns, "198.51.100.7", 80, "198.51.100.7", 80, false);
	nat_out_expect(&c, &dns, "2001:db8:7::7", 80, "2001:db8:7::7", 80, false);
	memset(&c.ip4.map_host_loopback, 0, sizeof(c.ip4.map_host_loopback));
	memset(&c.ip6.map_host_loopback, 0, sizeof(c.ip6.map_host_loopback));
	nat_out_expect(&c, &dns, "192.0.2.1", 80, "192.0.2.1", 80, false);
	nat_out_expect(&c, &dns, "fe80::1", 80, NULL, 0, false);
	nat_out_expect(&c, &dns, "fe80::2", 80, NULL, 0, false);
	a4 = nat_map_host4(&c);
	a6 = nat_map_host6(&c);
	CHECK(!a4.s_addr && IN6_IS_ADDR_UNSPECIFIED(&a6));
	c.no_map_gw = false; /* --map-gw */
	nat_out_expect(&c, &dns, "192.0.2.1", 80, "127.0.0.1", 80, true);

	/* --map-guest-addr ADDR: the host's own address (the one the guest was given). */
	inet_pton(AF_INET, "169.254.1.2", &c.ip4.map_guest_addr);
	inet_pton(AF_INET6, "2001:db8:ff::2", &c.ip6.map_guest_addr);
	nat_out_expect(&c, &dns, "169.254.1.2", 8080, "192.0.2.2", 8080, false);
	nat_out_expect(&c, &dns, "2001:db8:ff::2", 8080, "2001:db8::2", 8080, false);
	nat_out_expect(&c, &dns, "169.254.1.3", 8080, "169.254.1.3", 8080, false);
}

static void test_nat_inbound_rules(void)
{
	struct guest_state g;
	struct config c;
	struct in6_addr r, ga;

	nat_conf(&c, &g);
	/* The host's loopback, its own address and the guest's address appear as the gateway. */
	nat_in_expect(&c, &g, "127.0.0.1", "192.0.2.1");
	nat_in_expect(&c, &g, "127.0.0.2", "192.0.2.1");
	nat_in_expect(&c, &g, "192.0.2.2", "192.0.2.1");
	nat_in_expect(&c, &g, "203.0.113.5", "203.0.113.5");
	nat_in_expect(&c, &g, "192.0.2.1", "192.0.2.1");
	nat_in_expect(&c, &g, "::1", "fe80::1");
	nat_in_expect(&c, &g, "2001:db8::2", "fe80::1");
	nat_in_expect(&c, &g, "fe80::55", "fe80::1");
	nat_in_expect(&c, &g, "2001:db8:1::1", "2001:db8:1::1");
	/* The address the guest uses instead of the assigned one: not itself either. */
	inet_pton(AF_INET, "192.0.2.77", &g.addr4_seen);
	inet_pton(AF_INET6, "2001:db8::77", &g.addr6_seen);
	nat_in_expect(&c, &g, "192.0.2.77", "192.0.2.1");
	nat_in_expect(&c, &g, "2001:db8::77", "fe80::1");
	/* --map-host-loopback: the host's loopback appears as that address. */
	inet_pton(AF_INET, "198.51.100.7", &c.ip4.map_host_loopback);
	inet_pton(AF_INET6, "2001:db8:7::7", &c.ip6.map_host_loopback);
	nat_in_expect(&c, &g, "127.0.0.1", "198.51.100.7");
	nat_in_expect(&c, &g, "::1", "2001:db8:7::7");
	nat_in_expect(&c, &g, "192.0.2.2", "192.0.2.1");
	/* --map-guest-addr: the host's own address appears as that one. */
	inet_pton(AF_INET, "169.254.1.2", &c.ip4.map_guest_addr);
	inet_pton(AF_INET6, "2001:db8:ff::2", &c.ip6.map_guest_addr);
	nat_in_expect(&c, &g, "192.0.2.2", "169.254.1.2");
	nat_in_expect(&c, &g, "2001:db8::2", "2001:db8:ff::2");
	nat_in_expect(&c, &g, "127.0.0.1", "198.51.100.7");
	/* --no-map-gw: the loopback still comes from the gateway (a way back to the host). */
	c.no_map_gw = true;
	nat_in_expect(&c, &g, "127.0.0.1", "192.0.2.1");
	nat_in_expect(&c, &g, "::1", "fe80::1");
	/* No gateway: IPv4 has nothing to show; IPv6 has our link-local address. */
	c.ip4.have_gw = c.ip6.have_gw = false;
	memset(&c.ip4.gw, 0, sizeof(c.ip4.gw));
	memset(&c.ip6.gw, 0, sizeof(c.ip6.gw));
	nat_in_expect(&c, &g, "127.0.0.1", NULL);
	nat_in_expect(&c, &g, "::1", "fe80::2");
	nat_in_expect(&c, &g, "203.0.113.5", "203.0.113.5");

	/* The guest side: the address the guest was seen using, else the assigned one. */
	nat_conf(&c, &g);
	r = nat_a("203.0.113.5");
	CHECK(nat_inbound_guest(&c, &g, AF_INET, &r, &ga) && nat_a_is(&ga, "192.0.2.2"));
	inet_pton(AF_INET, "192.0.2.77", &g.addr4_seen);
	CHECK(nat_inbound_guest(&c, &g, AF_INET, &r, &ga) && nat_a_is(&ga, "192.0.2.77"));
	r = nat_a("fe80::1");
	CHECK(nat_inbound_guest(&c, &g, AF_INET6, &r, &ga) && nat_a_is(&ga, "2001:db8::2"));
	inet_pton(AF_INET6, "2001:db8::77", &g.addr6_seen);
	CHECK(nat_inbound_guest(&c, &g, AF_INET6, &r, &ga) && nat_a_is(&ga, "2001:db8::77"));
	inet_pton(AF_INET6, "fe80::77", &g.addr6_ll_seen);
	CHECK(nat_inbound_guest(&c, &g, AF_INET6, &r, &ga) && nat_a_is(&ga, "fe80::77"));
	r = nat_a("2001:db8:1::1");
	CHECK(nat_inbound_guest(&c, &g, AF_INET6, &r, &ga) && nat_a_is(&ga, "2001:db8::77"));
	memset(&g, 0, sizeof(g));
	memset(&c.ip4.addr, 0, sizeof(c.ip4.addr));
	memset(&c.ip6.addr, 0, sizeof(c.ip6.addr));
	r = nat_a("203.0.113.5");
	CHECK(!nat_inbound_guest(&c, &g, AF_INET, &r, &ga));
	r = nat_a("2001:db8:1::1");
	CHECK(!nat_inbound_guest(&c, &g, AF_INET6, &r, &ga));
}

/* --outbound and --outbound-if4/6 on a socket (bind and SO_BINDTODEVICE, no connection). */
static void test_nat_bind_outbound(void)
{
	struct guest_state g;
	struct config c;
	int af[2] = { AF_INET, AF_INET6 }, i;

	nat_conf(&c, &g);
	inet_pton(AF_INET, "127.0.0.3", &c.ip4.outbound);
	c.ip6.outbound = in6addr_loopback;
	strcpy(c.ip4.outbound_if, "lo");
	strcpy(c.ip6.outbound_if, "lo");
	for (i = 0; i < 2; i++) {
		int fd = socket(af[i], SOCK_STREAM | SOCK_CLOEXEC, 0);
		union nat_sockaddr sa;
		socklen_t sl = sizeof(sa);
		char dev[IFNAMSIZ] = "";
		socklen_t dl = sizeof(dev);

		CHECK(fd >= 0);
		nat_bind_outbound(&c, fd, af[i]);
		CHECK_EQ(getsockname(fd, &sa.sa, &sl), 0);
		if (af[i] == AF_INET)
			CHECK_EQ(ntohl(sa.sin.sin_addr.s_addr), 0x7f000003);
		else
			CHECK(IN6_IS_ADDR_LOOPBACK(&sa.sin6.sin6_addr));
		CHECK_EQ(getsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev, &dl), 0);
		CHECK(!strcmp(dev, "lo"));
		close(fd);
	}
	/* Nothing given: the socket is left alone. */
	nat_conf(&c, &g);
	{
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		union nat_sockaddr sa;
		socklen_t sl = sizeof(sa);
		char dev[IFNAMSIZ] = "x";
		socklen_t dl = sizeof(dev);

		CHECK(fd >= 0);
		nat_bind_outbound(&c, fd, AF_INET);
		CHECK_EQ(getsockname(fd, &sa.sa, &sl), 0);
		CHECK_EQ(sa.sin.sin_addr.s_addr, 0);
		CHECK_EQ(sa.sin.sin_port, 0);
		CHECK_EQ(getsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev, &dl), 0);
		CHECK_EQ(dl, 0);
		close(fd);
	}
}

/* ---- Live, through the translator (everything stays on the host's loopback) ---- */

/* --dns-forward: connections to ADDR port 53 reach the resolver set with tcp_dns_host_set()
 * (here on the host's loopback, at another port), and its replies come from ADDR:53. */
static void test_dns_forward(int af)
{
	const char *fwd = af == AF_INET ? "198.51.100.1" : "2001:db8:5::1";
	struct gconn gc, gr;
	struct env e;
	uint16_t port;
	char buf[64];
	uint64_t deadline;
	ssize_t n;
	int ls, hs;

	env_init(&e, 0, 0, NULL);
	if (af == AF_INET) {
		struct in_addr lo = { htonl(INADDR_LOOPBACK) };

		inet_pton(AF_INET, fwd, &e.c.ip4.dns_forward);
		ls = host_listen(af, &port);
		tcp_dns_host_set(e.t, AF_INET, &lo, port);
	} else {
		inet_pton(AF_INET6, fwd, &e.c.ip6.dns_forward);
		ls = host_listen(af, &port);
		tcp_dns_host_set(e.t, AF_INET6, &in6addr_loopback, port);
	}
	gconn_init(&gc, af, 40080, 53);
	if (af == AF_INET)
		inet_pton(AF_INET, fwd, &gc.raddr);
	else
		inet_pton(AF_INET6, fwd, &gc.raddr);
	hs = open_outbound(&e, &gc, ls); /* SYN-ACK from fwd:53 (gconn_match checks) */
	deliver1(&e, &gc);
	g_send(&e, &gc, TCP_ACK | TCP_PSH, "\0\x05query", 7);
	tcp_tap_batch_done(e.t, &e.out);
	deliver1(&e, &gc);
	deadline = now_ms() + 2000;
	while ((n = recv(hs, buf, sizeof(buf), 0)) < 0 && now_ms() < deadline)
		usleep(1000);
	CHECK_EQ(n, 7);
	CHECK(!memcmp(buf, "\0\x05query", 7));
	CHECK_EQ(send(hs, "\0\x06answer", 8, 0), 8);
	deadline = now_ms() + 2000;
	while (gc.rx_len < 8 && now_ms() < deadline) {
		env_poll(&e, 10);
		deliver1(&e, &gc);
	}
	CHECK_EQ(gc.rx_len, 8);
	CHECK(!memcmp(gc.rx, "\0\x06answer", 8));
	close(hs);

	/* No resolver: the SYN gets a RST at once. */
	tcp_dns_host_set(e.t, af, NULL, 0);
	gconn_init(&gr, af, 40081, 53);
	gr.raddr = gc.raddr;
	CHECK_EQ(g_send(&e, &gr, TCP_SYN, NULL, 0), 0);
	deliver1(&e, &gr);
	CHECK(gr.rst);
	CHECK_EQ(gr.last_flags, TCP_RST | TCP_ACK);
	gconn_free(&gr);
	gconn_free(&gc);
	close(ls);
	env_free(&e);
}

/* --map-guest-addr with --outbound: the guest's connection to 169.254.1.2 goes to the host's
 * own address (here 127.0.0.1, so that nothing leaves the machine) from the --outbound address;
 * --map-host-loopback ADDR goes to the loopback, without the --outbound binding. */
static void test_map_outbound_live(void)
{
	struct sockaddr_in peer;
	socklen_t sl = sizeof(peer);
	struct gconn gc;
	struct env e;
	uint16_t port;
	int ls, hs;

	env_init(&e, 0, 0, NULL);
	e.c.ip4.addr.s_addr = htonl(INADDR_LOOPBACK);
	inet_pton(AF_INET, "169.254.1.2", &e.c.ip4.map_guest_addr);
	inet_pton(AF_INET, "127.0.0.2", &e.c.ip4.outbound);
	inet_pton(AF_INET, "198.51.100.7", &e.c.ip4.map_host_loopback);
	ls = host_listen(AF_INET, &port);

	gconn_init(&gc, AF_INET, 40090, port);
	inet_pton(AF_INET, "169.254.1.2", &gc.raddr);
	hs = open_outbound(&e, &gc, ls);
	CHECK_EQ(getpeername(hs, (struct sockaddr *)&peer, &sl), 0);
	CHECK_EQ(ntohl(peer.sin_addr.s_addr), 0x7f000002); /* --outbound */
	close(hs);
	gconn_free(&gc);

	gconn_init(&gc, AF_INET, 40091, port);
	inet_pton(AF_INET, "198.51.100.7", &gc.raddr);
	hs = open_outbound(&e, &gc, ls);
	sl = sizeof(peer);
	CHECK_EQ(getpeername(hs, (struct sockaddr *)&peer, &sl), 0);
	CHECK_EQ(ntohl(peer.sin_addr.s_addr), 0x7f000001); /* loopback: not bound */
	close(hs);
	gconn_free(&gc);
	close(ls);
	env_free(&e);
}

#endif /* BPASST_TCP_NAT_CASES_H */
