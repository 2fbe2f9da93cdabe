// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * nat.c - address translation between what the guest sees and what host sockets use
 *
 * Theory of operation: the guest lives behind us on a link of its own, with (by default) the
 * host's own address and the host's gateway. Three kinds of addresses cannot be used as they
 * are across that boundary, and are translated both ways, the rules being in nat.h:
 *   - the host itself: the guest cannot say 127.0.0.1 to mean the host (that is its own
 *     loopback), so one guest-side address (--map-host-loopback, default the gateway) stands for
 *     the host's loopback, and another one (--map-guest-addr, which Podman sets to 169.254.1.2)
 *     for the host's own address, which the guest shares;
 *   - the resolver: --dns-forward gives the guest an address whose port 53 is the host's
 *     resolver, which may be a loopback address (systemd-resolved's 127.0.0.53);
 *   - peers the guest cannot reach as themselves (loopback, the shared address, link-local):
 *     they appear as the gateway, which leads back to the host.
 * The guest's own address needs no translation on the way out: host sockets have the host's
 * source address (or --outbound's); on the way in, flows go to the address the guest was seen
 * using (struct guest_state), which covers a guest that picked another address than assigned.
 *
 * State: none. Floor 3 (flow/), used by tcp*.c and udp*.c alike: a mapping case that behaves
 * differently for TCP and UDP is a bug.
 */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <net/if.h>

#include "core/log.h"
#include "flow/flow.h"
#include "flow/nat.h"

static bool nat_in6_eq(const struct in6_addr *a, const struct in6_addr *b)
{
	return !memcmp(a, b, sizeof(*a));
}

static bool nat_in6_unset(const struct in6_addr *a)
{
	return IN6_IS_ADDR_UNSPECIFIED(a);
}

static void nat_sockaddr4(union nat_sockaddr *sa, socklen_t *len, struct in_addr a, uint16_t port)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin.sin_family = AF_INET;
	sa->sin.sin_addr = a;
	sa->sin.sin_port = htons(port);
	*len = sizeof(sa->sin);
}

static void nat_sockaddr6(union nat_sockaddr *sa, socklen_t *len, const struct in6_addr *a,
			  uint16_t port)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin6.sin6_family = AF_INET6;
	sa->sin6.sin6_addr = *a;
	sa->sin6.sin6_port = htons(port);
	*len = sizeof(sa->sin6);
}

/* ---- --dns-forward targets ---- */

void nat_dns_set(struct nat_dns *d, int af, const void *addr, uint16_t port)
{
	struct nat_dns_host *h = af == AF_INET ? &d->v4 : &d->v6;

	memset(h, 0, sizeof(*h));
	if (!addr)
		return;
	if (af == AF_INET) {
		memcpy(&h->addr.v4, addr, sizeof(h->addr.v4));
		h->set = h->addr.v4.s_addr != 0;
	} else {
		memcpy(&h->addr.v6, addr, sizeof(h->addr.v6));
		h->set = !nat_in6_unset(&h->addr.v6);
	}
	h->port = port ? port : NAT_DNS_PORT;
}

void nat_dns_default(struct nat_dns *d, const struct config *c)
{
	memset(d, 0, sizeof(*d));
	if (c->ip4.dns_count)
		nat_dns_set(d, AF_INET, &c->ip4.dns[0], 0);
	if (c->ip6.dns_count)
		nat_dns_set(d, AF_INET6, &c->ip6.dns[0], 0);
}

/* ---- The host's loopback as the guest sees it ---- */

struct in_addr nat_map_host4(const struct config *c)
{
	struct in_addr a = c->ip4.map_host_loopback;

	if (c->no_map_gw)
		a.s_addr = 0;
	else if (!a.s_addr && c->ip4.have_gw)
		a = c->ip4.gw;
	return a;
}

struct in6_addr nat_map_host6(const struct config *c)
{
	struct in6_addr a = c->ip6.map_host_loopback;

	if (c->no_map_gw)
		return in6addr_any;
	if (nat_in6_unset(&a))
		a = c->ip6.have_gw ? c->ip6.gw : c->ip6.our_ll;
	return a;
}

/* ---- Outbound ---- */

static bool nat_outbound4(const struct config *c, const struct nat_dns *dns, struct in_addr d,
			  uint16_t dport, union nat_sockaddr *sa, socklen_t *len, bool *loopback)
{
	struct in_addr map = nat_map_host4(c);
	uint32_t h = ntohl(d.s_addr);

	if (!h || h == INADDR_BROADCAST || IN_MULTICAST(h) || (h >> 24) == IN_LOOPBACKNET)
		return false;
	if (c->ip4.dns_forward.s_addr && d.s_addr == c->ip4.dns_forward.s_addr &&
	    dport == NAT_DNS_PORT) {
		if (!dns || !dns->v4.set)
			return false;
		nat_sockaddr4(sa, len, dns->v4.addr.v4, dns->v4.port);
		*loopback = (ntohl(dns->v4.addr.v4.s_addr) >> 24) == IN_LOOPBACKNET;
		return true;
	}
	if (map.s_addr && d.s_addr == map.s_addr) {
		d.s_addr = htonl(INADDR_LOOPBACK);
		*loopback = true;
	} else if (c->ip4.map_guest_addr.s_addr && d.s_addr == c->ip4.map_guest_addr.s_addr) {
		d = c->ip4.addr;
	}
	nat_sockaddr4(sa, len, d, dport);
	return true;
}

static bool nat_outbound6(const struct config *c, const struct nat_dns *dns,
			  const struct in6_addr *dst, uint16_t dport, union nat_sockaddr *sa,
			  socklen_t *len, bool *loopback)
{
	struct in6_addr map = nat_map_host6(c), d = *dst;

	if (nat_in6_unset(&d) || IN6_IS_ADDR_MULTICAST(&d) || IN6_IS_ADDR_LOOPBACK(&d) ||
	    IN6_IS_ADDR_V4MAPPED(&d))
		return false;
	if (!nat_in6_unset(&c->ip6.dns_forward) && nat_in6_eq(&d, &c->ip6.dns_forward) &&
	    dport == NAT_DNS_PORT) {
		if (!dns || !dns->v6.set)
			return false;
		nat_sockaddr6(sa, len, &dns->v6.addr.v6, dns->v6.port);
		*loopback = IN6_IS_ADDR_LOOPBACK(&dns->v6.addr.v6);
		return true;
	}
	if (!c->no_map_gw &&
	    ((!nat_in6_unset(&map) && nat_in6_eq(&d, &map)) ||
	     (!nat_in6_unset(&c->ip6.our_ll) && nat_in6_eq(&d, &c->ip6.our_ll)))) {
		d = in6addr_loopback;
		*loopback = true;
	} else if (!nat_in6_unset(&c->ip6.map_guest_addr) &&
		   nat_in6_eq(&d, &c->ip6.map_guest_addr)) {
		d = c->ip6.addr;
	} else if (IN6_IS_ADDR_LINKLOCAL(&d)) {
		return false; /* no link behind us: no scope to reach it with on the host */
	}
	nat_sockaddr6(sa, len, &d, dport);
	return true;
}

bool nat_outbound(const struct config *c, const struct nat_dns *dns, int af,
		  const struct in6_addr *dst, uint16_t dport, union nat_sockaddr *sa,
		  socklen_t *len, bool *loopback)
{
	*loopback = false;
	if (af == AF_INET)
		return nat_outbound4(c, dns, flow_addr_v4(dst), dport, sa, len, loopback);
	if (af == AF_INET6)
		return nat_outbound6(c, dns, dst, dport, sa, len, loopback);
	return false;
}

void nat_bind_outbound(const struct config *c, int fd, int af)
{
	const char *ifname = af == AF_INET ? c->ip4.outbound_if : c->ip6.outbound_if;
	union nat_sockaddr src;
	socklen_t slen = 0;

	if (af == AF_INET && c->ip4.outbound.s_addr)
		nat_sockaddr4(&src, &slen, c->ip4.outbound, 0);
	else if (af == AF_INET6 && !nat_in6_unset(&c->ip6.outbound))
		nat_sockaddr6(&src, &slen, &c->ip6.outbound, 0);
	if (slen && bind(fd, &src.sa, slen) < 0)
		debug("bind to the --outbound address: %s", strerror(errno));
	if (ifname[0] &&
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname,
		       (socklen_t)strnlen(ifname, IFNAMSIZ)) < 0)
		debug("SO_BINDTODEVICE %s: %s", ifname, strerror(errno));
}

/* ---- Inbound ---- */

static bool nat_inbound4(const struct config *c, const struct guest_state *g, struct in_addr a,
			 struct in6_addr *raddr)
{
	uint32_t h = ntohl(a.s_addr);
	bool lo = (h >> 24) == IN_LOOPBACKNET;
	struct in_addr map = nat_map_host4(c);

	if (lo && map.s_addr) {
		a = map;
	} else if (!lo && c->ip4.map_guest_addr.s_addr && c->ip4.addr.s_addr &&
		   a.s_addr == c->ip4.addr.s_addr) {
		a = c->ip4.map_guest_addr;
	} else if (lo || !h || h == INADDR_BROADCAST || IN_MULTICAST(h) ||
		   a.s_addr == c->ip4.addr.s_addr ||
		   (g && g->addr4_seen.s_addr && a.s_addr == g->addr4_seen.s_addr)) {
		/* Not reachable as itself from the guest: the gateway leads back to the host. */
		if (!c->ip4.have_gw || !c->ip4.gw.s_addr)
			return false;
		a = c->ip4.gw;
	}
	flow_addr_from_v4(raddr, a);
	return true;
}

static bool nat_inbound6(const struct config *c, const struct guest_state *g,
			 const struct in6_addr *peer, struct in6_addr *raddr)
{
	struct in6_addr a = *peer, map = nat_map_host6(c);
	bool lo = IN6_IS_ADDR_LOOPBACK(&a);

	if (lo && !nat_in6_unset(&map)) {
		a = map;
	} else if (!lo && !nat_in6_unset(&c->ip6.map_guest_addr) && !nat_in6_unset(&c->ip6.addr) &&
		   nat_in6_eq(&a, &c->ip6.addr)) {
		a = c->ip6.map_guest_addr;
	} else if (lo || nat_in6_unset(&a) || IN6_IS_ADDR_MULTICAST(&a) ||
		   IN6_IS_ADDR_V4MAPPED(&a) || IN6_IS_ADDR_LINKLOCAL(&a) ||
		   nat_in6_eq(&a, &c->ip6.addr) ||
		   (g && !nat_in6_unset(&g->addr6_seen) && nat_in6_eq(&a, &g->addr6_seen))) {
		if (c->ip6.have_gw && !nat_in6_unset(&c->ip6.gw))
			a = c->ip6.gw;
		else if (!nat_in6_unset(&c->ip6.our_ll))
			a = c->ip6.our_ll;
		else
			return false;
	}
	*raddr = a;
	return true;
}

bool nat_inbound_peer(const struct config *c, const struct guest_state *g,
		      const union nat_sockaddr *peer, struct in6_addr *raddr)
{
	if (peer->sa.sa_family == AF_INET)
		return nat_inbound4(c, g, peer->sin.sin_addr, raddr);
	if (peer->sa.sa_family == AF_INET6)
		return nat_inbound6(c, g, &peer->sin6.sin6_addr, raddr);
	return false;
}

bool nat_inbound_guest(const struct config *c, const struct guest_state *g, int af,
		       const struct in6_addr *raddr, struct in6_addr *gaddr)
{
	if (af == AF_INET) {
		struct in_addr a = g && g->addr4_seen.s_addr ? g->addr4_seen : c->ip4.addr;

		if (!a.s_addr)
			return false;
		flow_addr_from_v4(gaddr, a);
		return true;
	}
	if (g && IN6_IS_ADDR_LINKLOCAL(raddr) && !nat_in6_unset(&g->addr6_ll_seen))
		*gaddr = g->addr6_ll_seen;
	else if (g && !nat_in6_unset(&g->addr6_seen))
		*gaddr = g->addr6_seen;
	else
		*gaddr = c->ip6.addr;
	return !nat_in6_unset(gaddr);
}
