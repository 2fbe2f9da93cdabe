// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dispatch.c - one frame from the guest: parse it once, learn from it, hand it to its handler
 *
 * Theory of operation
 *
 * Both edges (io/tap.c for pasta, io/stream.c for passt) call dispatch_frame() for each frame the
 * guest sent. The path of a frame:
 *   1. frame_parse() (core/packet.c) checks every length once and fills a struct frame; a frame
 *      it refuses is counted in frames_malformed and logged at debug level, nothing else.
 *   2. Learning: the guest's MAC from the Ethernet source (unicast, non-zero), its IPv4 address
 *      from the source of IPv4 packets (not 0.0.0.0, as DHCP clients send before they have one,
 *      nor multicast/broadcast), its IPv6 addresses from IPv6 sources (link-local and global kept
 *      apart). They go to struct guest_state, which the services use to address their answers.
 *   3. Routing by EtherType and protocol:
 *        ARP                              -> arp_recv            (proto/arp.c)
 *        ICMPv6 router/neighbour solicit  -> ndp_recv            (proto/ndp.c), unless --no-ndp
 *        UDP to port 67                   -> dhcp_recv           (proto/dhcp.c), unless --no-dhcp
 *        UDP to port 547                  -> dhcpv6_recv         (proto/dhcpv6.c), unless
 *                                                                  --no-dhcpv6
 *        ICMP/ICMPv6 echo request         -> ping_recv_guest     (flow/ping.c)
 *        any other UDP (not a service's)  -> udp_tap_recv        (flow/udp.c); it stages
 *                                            datagrams, which main.c sends after the
 *                                            edge's read batch (udp_tap_batch_done())
 *        TCP (not a fragment)             -> tcp_tap_recv        (flow/tcp.c)
 *      Whatever no handler claims is counted in frames_unhandled and traced (TCP and UDP
 *      translation arrive with a later floor-3 module).
 * Answers are appended to d->out; this file never writes to the guest.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "core/log.h"
#include "flow/ping.h"
#include "flow/udp.h"
#include "flow/tcp.h"
#include "io/dispatch.h"
#include "proto/arp.h"
#include "proto/dhcp.h"
#include "proto/dhcpv6.h"
#include "proto/ndp.h"

/* Remember what the guest's frame tells about it. */
static void dispatch_learn(struct dispatch_ctx *d, const struct frame *f)
{
	struct guest_state *g = d->guest;

	/* Unicast (group bit clear) and non-zero: a MAC the guest can be reached at. */
	if (!(f->src_mac[0] & 0x01) && !mac_is_zero(f->src_mac)) {
		if (!g->mac_known || memcmp(g->mac, f->src_mac, BP_ETH_ALEN)) {
			debug("guest MAC: %02x:%02x:%02x:%02x:%02x:%02x", f->src_mac[0],
			      f->src_mac[1], f->src_mac[2], f->src_mac[3], f->src_mac[4],
			      f->src_mac[5]);
			memcpy(g->mac, f->src_mac, BP_ETH_ALEN);
			g->mac_known = true;
		}
	}

	if (f->l3_kind == FRAME_L3_IP4) {
		uint32_t a = ntohl(f->src.v4.s_addr);

		if (a && !IN_MULTICAST(a) && a != INADDR_BROADCAST &&
		    g->addr4_seen.s_addr != f->src.v4.s_addr) {
			char buf[INET_ADDRSTRLEN];

			g->addr4_seen = f->src.v4;
			debug("guest IPv4 address: %s",
			      inet_ntop(AF_INET, &f->src.v4, buf, sizeof(buf)) ? buf : "?");
		}
	} else if (f->l3_kind == FRAME_L3_IP6) {
		const struct in6_addr *a = &f->src.v6;
		struct in6_addr *slot;
		char buf[INET6_ADDRSTRLEN];

		if (IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_MULTICAST(a) ||
		    IN6_IS_ADDR_LOOPBACK(a))
			return;
		slot = ip6_is_linklocal(a) ? &g->addr6_ll_seen : &g->addr6_seen;
		if (memcmp(slot, a, sizeof(*a))) {
			*slot = *a;
			debug("guest IPv6 %saddress: %s", ip6_is_linklocal(a) ? "link-local " : "",
			      inet_ntop(AF_INET6, a, buf, sizeof(buf)) ? buf : "?");
		}
	}
}

/* ICMPv6 type of an unfragmented ICMPv6 message, or -1. */
static int dispatch_icmp6_type(const struct frame *f)
{
	uint8_t type;

	if (f->l3_kind != FRAME_L3_IP6 || f->l4_proto != IPPROTO_ICMPV6 || f->fragment)
		return -1;
	if (!pkt_get_u8(&f->l4, 0, &type))
		return -1;
	return type;
}

static bool dispatch_is_udp_to(const struct frame *f, enum frame_l3 l3, uint16_t port)
{
	return f->l3_kind == l3 && f->l4_proto == IPPROTO_UDP && !f->fragment && f->dport == port;
}

/* Route a parsed frame to its handler; true if one claimed it. */
static bool dispatch_route(struct dispatch_ctx *d, const struct frame *f)
{
	const struct config *c = d->c;
	int icmp6_type;

	if ((f->l3_kind == FRAME_L3_IP4 || f->l3_kind == FRAME_L3_IP6) &&
	    f->l4_proto == IPPROTO_TCP && !f->fragment)
		return d->tcp && !c->no_tcp && tcp_tap_recv(d->tcp, f, d->out) == 0;

	switch (f->l3_kind) {
	case FRAME_L3_ARP:
		return arp_recv(c, d->guest, f, d->out) > 0;
	case FRAME_L3_IP4:
		if (dispatch_is_udp_to(f, FRAME_L3_IP4, BP_DHCP_SERVER_PORT))
			return !c->no_dhcp && dhcp_recv(c, d->guest, f, d->out) > 0;
		if (f->l4_proto == IPPROTO_ICMP && d->ping)
			return ping_recv_guest(d->ping, c, d->epollfd, f) > 0;
		if (f->l4_proto == IPPROTO_UDP && d->udp)
			return udp_tap_recv(d->udp, f, d->out) > 0;
		return false;
	case FRAME_L3_IP6:
		icmp6_type = dispatch_icmp6_type(f);
		if (icmp6_type == BP_NDP_ROUTER_SOLICIT || icmp6_type == BP_NDP_NEIGH_SOLICIT ||
		    icmp6_type == BP_NDP_NEIGH_ADVERT || icmp6_type == BP_NDP_ROUTER_ADVERT)
			return !c->no_ndp && ndp_recv(c, d->guest, f, d->out) > 0;
		if (icmp6_type == BP_ICMPV6_ECHO_REQUEST && d->ping)
			return ping_recv_guest(d->ping, c, d->epollfd, f) > 0;
		if (dispatch_is_udp_to(f, FRAME_L3_IP6, BP_DHCPV6_SERVER_PORT))
			return !c->no_dhcpv6 && dhcpv6_recv(c, d->guest, f, d->out) > 0;
		if (f->l4_proto == IPPROTO_UDP && d->udp)
			return udp_tap_recv(d->udp, f, d->out) > 0;
		return false;
	case FRAME_L3_OTHER:
	default:
		return false;
	}
}

void dispatch_frame(struct dispatch_ctx *d, const void *buf, size_t len)
{
	struct frame f;

	d->frames_in++;
	if (frame_parse(buf, len, &f) < 0) {
		d->frames_malformed++;
		debug("dispatch: malformed frame of %zu bytes dropped (%lu so far)", len,
		      d->frames_malformed);
		return;
	}

	dispatch_learn(d, &f);

	if (!dispatch_route(d, &f)) {
		d->frames_unhandled++;
		trace("dispatch: unhandled frame: %zu bytes, EtherType 0x%04x, L4 protocol %u", len,
		      f.ethertype,
		      f.l3_kind == FRAME_L3_IP4 || f.l3_kind == FRAME_L3_IP6 ? f.l4_proto : 0);
	}
}
