/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * nat.h - address translation between what the guest sees and what host sockets use
 *
 * The translators (TCP, UDP) keep a flow as the guest sees it; these functions say where such a
 * flow goes on the host, how host sockets are bound, and how a host-side peer appears to the
 * guest. Stateless: everything comes from struct config, struct guest_state (the addresses the
 * guest was seen using) and the --dns-forward targets the caller keeps (struct nat_dns).
 *
 * Outbound (guest -> host), nat_outbound(), in this order:
 *   - --dns-forward ADDR, port 53     -> the host's resolver (nat_dns_set(); by default the first
 *                                        of c->ip4.dns / c->ip6.dns), at its port (53);
 *   - --map-host-loopback ADDR (by default the gateway; none with --no-map-gw), and for IPv6
 *     also our link-local address unless --no-map-gw  -> 127.0.0.1 / ::1;
 *   - --map-guest-addr ADDR           -> the address assigned to the guest (the host's own);
 *   - anything else                   -> itself; unspecified, multicast, broadcast, loopback and
 *                                        (IPv6) link-local destinations are refused.
 * nat_bind_outbound() applies --outbound ADDR (bind) and --outbound-if4/6 (SO_BINDTODEVICE) to a
 * socket whose target is not the host's loopback.
 *
 * Inbound (host -> guest), nat_inbound_peer(): the host's loopback appears as
 * --map-host-loopback (default the gateway); the host's own address as --map-guest-addr when
 * given; an address the guest could not reach as itself (loopback without a mapping, the host's
 * or the guest's own address, IPv6 link-local) as the gateway (IPv6: or our link-local address);
 * any other as itself. nat_inbound_guest(): the guest address a flow goes to is the one the
 * guest was last seen using (its source address, when it uses another than assigned), else the
 * assigned one; IPv6 link-local peers go to the guest's link-local address when known.
 *
 * Addresses in and out are struct in6_addr, IPv4 as v4-mapped (as in flow/flow.h keys).
 */
#ifndef BPASST_NAT_H
#define BPASST_NAT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "core/config.h"
#include "core/guest.h"

#define NAT_DNS_PORT 53

union nat_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
};

/* Where --dns-forward queries of one family go. */
struct nat_dns_host {
	bool set;
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;
	uint16_t port; /* host order; NAT_DNS_PORT except in tests */
};

struct nat_dns {
	struct nat_dns_host v4, v6;
};

/* The resolver for af (AF_INET: addr is a struct in_addr *, AF_INET6: struct in6_addr *) at
 * port (0: 53); addr NULL or unspecified: none (queries to --dns-forward are refused). */
void nat_dns_set(struct nat_dns *d, int af, const void *addr, uint16_t port);
/* The default: the first of c->ip4.dns and of c->ip6.dns, or none. */
void nat_dns_default(struct nat_dns *d, const struct config *c);

/* The guest-side address of the host's loopback: --map-host-loopback, else the gateway (IPv6:
 * else our link-local address); unspecified with --no-map-gw. */
struct in_addr nat_map_host4(const struct config *c);
struct in6_addr nat_map_host6(const struct config *c);

/* Where a guest flow to dst:dport (af AF_INET: dst v4-mapped) goes on the host: *sa, *len.
 * *loopback: the target is the host's loopback (do not apply --outbound then). dns may be
 * NULL (no --dns-forward target). false: nowhere we may go. */
bool nat_outbound(const struct config *c, const struct nat_dns *dns, int af,
		  const struct in6_addr *dst, uint16_t dport, union nat_sockaddr *sa,
		  socklen_t *len, bool *loopback);
/* --outbound and --outbound-if4/6 on an outbound socket of family af. Failures are logged at
 * debug level and the socket is left as it is (the kernel then picks), as upstream. */
void nat_bind_outbound(const struct config *c, int fd, int af);

/* The address the guest sees a host-side peer (AF_INET or AF_INET6 socket address) as, in
 * *raddr. false: none that can be shown. */
bool nat_inbound_peer(const struct config *c, const struct guest_state *g,
		      const union nat_sockaddr *peer, struct in6_addr *raddr);
/* The guest address a flow from raddr (family af) goes to. false: the guest has none. */
bool nat_inbound_guest(const struct config *c, const struct guest_state *g, int af,
		       const struct in6_addr *raddr, struct in6_addr *gaddr);

#endif /* BPASST_NAT_H */
