/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * flow_view.h - a read-only, plain-data view of one translator flow, for enumeration
 *
 * The TCP and UDP translators keep their per-flow state private (tcp_conn.h, udp_int.h). Code
 * above them that only needs to show flows (io/mirror.c writes the BPF flow_mirror map once a
 * second) enumerates them with tcp_flow_foreach() / udp_flow_foreach(), which fill one struct
 * flow_view per flow in use and hand it to a callback. The view is built on the caller's stack
 * for the duration of the callback: nothing in it may be kept, and the callback must not call
 * back into the translator. No state, no allocation.
 */
#ifndef BPASST_FLOW_VIEW_H
#define BPASST_FLOW_VIEW_H

#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>

/* Life of a flow, as coarse as a reader needs it (same order as enum bp_flow_state). */
enum flow_view_state {
	FLOW_VIEW_NONE = 0,
	FLOW_VIEW_NEW, /* TCP: handshake in progress; UDP: no datagram back yet */
	FLOW_VIEW_ESTABLISHED, /* TCP: both handshakes done; UDP: datagrams both ways */
	FLOW_VIEW_CLOSING, /* TCP: a FIN seen or sent */
	FLOW_VIEW_CLOSED, /* about to be freed */
};

static inline const char *flow_view_state_name(enum flow_view_state s)
{
	switch (s) {
	case FLOW_VIEW_NEW:
		return "new";
	case FLOW_VIEW_ESTABLISHED:
		return "established";
	case FLOW_VIEW_CLOSING:
		return "closing";
	case FLOW_VIEW_CLOSED:
		return "closed";
	default:
		return "none";
	}
}

struct flow_view {
	uint32_t index; /* slot in the translator's flow table */
	uint32_t gen; /* changes when the slot is reused (TCP); 0 when not tracked (UDP) */
	uint8_t proto; /* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t state; /* enum flow_view_state */
	int af; /* AF_INET or AF_INET6 */
	/* As the guest sees the flow: IPv4 addresses v4-mapped, ports in host order. */
	struct in6_addr guest_addr, remote_addr;
	uint16_t guest_port, remote_port;
	/* Host side: the flow's own socket (-1: none, e.g. an inbound UDP flow answered through
	 * its listener), and the peer the translator sends to when it knows it (NULL otherwise;
	 * valid during the callback only). */
	int sock;
	const struct sockaddr *host_peer;
	socklen_t host_peer_len;
	uint64_t bytes_from_guest; /* payload bytes taken from the guest (written/sent) */
	uint64_t bytes_to_guest; /* payload bytes delivered to the guest (TCP: acknowledged) */
};

typedef void (*flow_view_fn)(const struct flow_view *v, void *arg);

#endif /* BPASST_FLOW_VIEW_H */
