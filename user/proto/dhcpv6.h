/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dhcpv6.h - the stateful DHCPv6 server (RFC 8415) for the one guest on the link (floor 2)
 *
 * One address to give (c->ip6.addr) with infinite lifetimes, DNS servers (option 23) and the
 * domain search list (option 24). No lease table: every answer comes from the config. See
 * dhcpv6.c for the messages answered and the checks made.
 */
#ifndef BPASST_DHCPV6_H
#define BPASST_DHCPV6_H

#include "core/batch.h"
#include "core/config.h"
#include "core/guest.h"
#include "core/packet.h"

/* Our DUID is a DUID-LL (RFC 8415 11.4): type 3, hardware type 1 (Ethernet), c->our_mac. */
#define DHCPV6_DUID_LEN 10

/* Handle one parsed frame from the guest. Returns 0 if it is not a UDP datagram to port 547 sent
 * to ff02::1:2 or to our link-local address (not ours); 1 if it is: answered (one reply appended
 * to out) or deliberately ignored (--no-dhcpv6, malformed options at any nesting level, a message
 * for another server, a message type a server does not answer). */
int dhcpv6_recv(const struct config *c, struct guest_state *g, const struct frame *f,
		struct frame_batch *out);

#endif /* BPASST_DHCPV6_H */
