/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * guest.h - what we have learned about the guest (or the namespace) at run time
 *
 * The guest's MAC address is learned from the source of every frame it sends (ARP, NDP and DHCP
 * replies go to it); the addresses it actually uses are recorded so that inbound traffic and
 * replies can be addressed even when the guest chose another address than the one assigned.
 * Owned by main.c, passed to handlers by pointer; no locking (one thread).
 */
#ifndef BPASST_GUEST_H
#define BPASST_GUEST_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#include "bpasst_wire.h"

struct guest_state {
	uint8_t mac[BP_ETH_ALEN];
	bool mac_known;
	struct in_addr addr4_seen; /* last IPv4 source address used by the guest, or 0 */
	struct in6_addr addr6_seen; /* last global IPv6 source */
	struct in6_addr addr6_ll_seen; /* last link-local IPv6 source */
};

#endif /* BPASST_GUEST_H */
