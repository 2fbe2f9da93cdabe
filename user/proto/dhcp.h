/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dhcp.h - the DHCP server (RFC 2131/2132) for the one guest on the link (floor 2)
 *
 * One address to give (c->ip4.addr), an infinite lease, no lease table. See dhcp.c for what is
 * answered and how replies are addressed. Also exports the RFC 1035 domain name encoder that the
 * other services use for their search lists (NDP DNSSL, DHCPv6 option 24).
 */
#ifndef BPASST_DHCP_H
#define BPASST_DHCP_H

#include <stddef.h>
#include <stdint.h>

#include "core/batch.h"
#include "core/config.h"
#include "core/guest.h"
#include "core/packet.h"

/* Longest encoded domain name (RFC 1035 3.1), terminating zero-length label included. */
#define DHCP_DOMAIN_WIRE_MAX 255

/* Handle one parsed frame from the guest. Returns 0 if it is not a UDP datagram to port 67 (not
 * ours); 1 if it is: answered (one reply appended to out) or deliberately ignored (--no-dhcp,
 * BOOTREPLY, not Ethernet, bad magic, malformed or overrunning options, no message type, DECLINE,
 * RELEASE, a REQUEST for another server). */
int dhcp_recv(const struct config *c, struct guest_state *g, const struct frame *f,
	      struct frame_batch *out);

/* Encode one domain name ("example.com", one trailing dot allowed) as RFC 1035 labels into out,
 * without compression. Returns the encoded length (terminating zero included), or -1 if the name
 * does not encode: empty, an empty label, a label longer than 63 bytes, a byte that is a space or
 * a control character, longer than DHCP_DOMAIN_WIRE_MAX encoded, or longer than cap. */
int dhcp_domain_encode(const char *name, uint8_t *out, size_t cap);

#endif /* BPASST_DHCP_H */
