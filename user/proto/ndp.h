/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ndp.h - the NDP responder and router advertisements (RFC 4861, 4862, 8106) (floor 2)
 *
 * We answer neighbour solicitations for every address the guest does not own (we are its only
 * neighbour and its router), router solicitations with a router advertisement that lets it
 * configure itself by SLAAC, and build the unsolicited RAs a periodic timer sends. The NA layout
 * is shared byte for byte with the BPF fast path: see the comment at the top of ndp.c. The values
 * below are the fixed fields of every RA we send (the BPF side uses them too).
 */
#ifndef BPASST_NDP_H
#define BPASST_NDP_H

#include <stdint.h>

#include "core/batch.h"
#include "core/config.h"
#include "core/guest.h"
#include "core/packet.h"

/* IPv6 hop limit of every NDP message we send (RFC 4861: receivers drop anything else). */
#define NDP_HOP_LIMIT 255

/* RA header. Cur Hop Limit: upstream passt's value (255). Router Lifetime: the largest RFC 8319
 * allows, so the default route never expires between our unsolicited RAs. Reachable Time and
 * Retrans Timer 0: unspecified, the guest keeps its defaults. */
#define NDP_RA_CUR_HOP_LIMIT 255
#define NDP_RA_ROUTER_LIFETIME 65535 /* seconds */
#define NDP_RA_REACHABLE_TIME 0
#define NDP_RA_RETRANS_TIMER 0
/* RA flags: M (managed, BP_RA_FLAG_MANAGED) and O (other config, BP_RA_FLAG_OTHER) are both set
 * while DHCPv6 is on (!c->no_dhcpv6), both clear otherwise. */

/* Prefix Information option: the /64 of c->ip6.addr with the host bits cleared, on-link (L) and
 * for autonomous configuration (A), valid and preferred forever. Always /64 (as upstream): SLAAC
 * on Ethernet takes no other length, whatever the host's own prefix length is. */
#define NDP_RA_PREFIX_LEN 64
#define NDP_RA_PREFIX_FLAGS 0xc0 /* L 0x80 | A 0x40 */
#define NDP_RA_PREFIX_VALID_LIFETIME 0xffffffffu
#define NDP_RA_PREFIX_PREFERRED_LIFETIME 0xffffffffu
/* RDNSS and DNSSL lifetimes (RFC 8106): infinite, as upstream. */
#define NDP_RA_RDNSS_LIFETIME 0xffffffffu
#define NDP_RA_DNSSL_LIFETIME 0xffffffffu
/* The MTU option is sent only when an MTU is configured (c->mtu > 0) and it is at least the IPv6
 * minimum; RA option order: prefix, source link-layer address, MTU, RDNSS, DNSSL. */
#define NDP_MTU_MIN 1280

/* Unsolicited RA interval for the periodic timer (RFC 4861 6.2.1 defaults): pick a uniformly
 * random time in [MIN, MAX] seconds between two ndp_ra_build() calls. */
#define NDP_RA_INTERVAL_MIN 200
#define NDP_RA_INTERVAL_MAX 600

/* Length of the NA frame we build: Ethernet 14 + IPv6 40 + ICMPv6 4 + flags/target 20 + target
 * link-layer address option 8. */
#define NDP_NA_LEN 86

/* Handle one parsed frame from the guest. Returns 0 if it is not an NDP message (ICMPv6 types
 * 133 to 137), 1 if it is: answered (an NA for an NS, an RA for an RS, appended to out) or
 * deliberately ignored (--no-ndp, --no-ra for RS, invalid per RFC 4861 validation, targets the
 * guest owns, messages we do not answer such as RA, NA and redirects). */
int ndp_recv(const struct config *c, struct guest_state *g, const struct frame *f,
	     struct frame_batch *out);

/* Append an unsolicited RA to ff02::1 (Ethernet 33:33:00:00:00:01) for the periodic timer.
 * Returns 1 if one was appended, 0 if RAs are off (--no-ra, --no-ndp, no IPv6), we have no
 * link-local address to send it from, or the batch is full. */
int ndp_ra_build(const struct config *c, const struct guest_state *g, struct frame_batch *out);

#endif /* BPASST_NDP_H */
