/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * udp_int.h - what udp.c (flows, guest side) and udp_sock.c (host side) share; not for others
 *
 * The per-flow state, the staging area and the receive vectors behind the opaque pointers of
 * struct udp_ctx, the inbound flow key (addresses translated by flow/nat.c) and the frame
 * builders both halves need. See udp.c for the theory of operation.
 */
#ifndef BPASST_UDP_INT_H
#define BPASST_UDP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "core/batch.h"
#include "flow/nat.h"
#include "flow/udp.h"

#define UDP_HDR_LEN 8
#define UDP_TTL 64
#define UDP_RECV_BATCH 64 /* datagrams per recvmmsg() */
#define UDP_STAGE_MSGS 64 /* guest datagrams staged per batch */
#define UDP_STAGE_DGRAM_MAX 4096 /* larger ones are sent at once (a copy would cost more) */
#define UDP_STAGE_BYTES (UDP_STAGE_MSGS * 2048)

/* ICMP (RFC 792) and ICMPv6 (RFC 4443) values we send. */
#define UDP_ICMP_DEST_UNREACH 3
#define UDP_ICMP_NET_UNREACH 0
#define UDP_ICMP_HOST_UNREACH 1
#define UDP_ICMP_FRAG_NEEDED 4
#define UDP_ICMP_PARAMETERPROB 12
#define UDP_ICMP6_DEST_UNREACH 1
#define UDP_ICMP6_NOROUTE 0
#define UDP_ICMP6_ADDR_UNREACH 3
#define UDP_ICMP6_PKT_TOOBIG 2
#define UDP_ICMP6_PARAMPROB 4

struct udp_flow {
	int fd; /* outbound: the flow's own connected socket; inbound: -1 */
	bool inbound; /* opened by a datagram on a -u listener */
	uint32_t listener; /* inbound: the listener whose socket carries the guest's replies */
	int af; /* AF_INET or AF_INET6 (both sides) */
	union nat_sockaddr peer; /* host side: where we send (target, or the inbound sender) */
	socklen_t peer_len;
	time_t last; /* u->now when a datagram last went either way */
	uint64_t bytes_from_guest; /* payload bytes the guest sent (flow mirror) */
	uint64_t bytes_to_guest; /* payload bytes delivered to the guest (flow mirror) */
};

struct udp_stage {
	unsigned count;
	size_t used;
	uint32_t flow[UDP_STAGE_MSGS];
	struct mmsghdr mm[UDP_STAGE_MSGS];
	struct iovec iov[UDP_STAGE_MSGS];
	uint8_t buf[UDP_STAGE_BYTES];
};

struct udp_rx {
	struct mmsghdr mm[UDP_RECV_BATCH];
	struct iovec iov[UDP_RECV_BATCH];
	union nat_sockaddr name[UDP_RECV_BATCH];
};

/* ---- udp.c ---- */

/* Eth + IP + UDP header bytes in front of a payload for family af. */
static inline size_t udp_frame_hdr_len(int af)
{
	return BP_ETH_HLEN + (af == AF_INET ? 20 : 40) + UDP_HDR_LEN;
}
/* Largest datagram payload that fits one frame to the guest (MTU and batch slot). */
size_t udp_payload_max(const struct udp_ctx *u, const struct frame_batch *out, int af);
/* Frame area of the batch slot with absolute number `slot` (>= out->count), or NULL. */
uint8_t *udp_batch_slot(struct frame_batch *out, unsigned slot);
/* The next free slot of out holds `len` payload bytes at udp_frame_hdr_len(af) (or they are
 * in slot `from`, a later one: moved first). Build the headers around them and commit. */
bool udp_frame_deliver(struct udp_ctx *u, struct frame_batch *out, unsigned from, int af,
		       const struct in6_addr *src, uint16_t sport, const struct in6_addr *dst,
		       uint16_t dport, size_t len);
/* An ICMP/ICMPv6 error about a datagram of flow key k (guest -> remote) to the guest: from the
 * remote as the guest knows it, quoting the datagram (headers rebuilt, payload quote[0, len)). */
void udp_icmp_to_guest(struct udp_ctx *u, struct frame_batch *out, const struct flow_key *k, int af,
		       uint8_t type, uint8_t code, uint32_t info, const uint8_t *quote,
		       size_t quote_len);
/* Inbound: the guest-side key of a datagram from `sender` on listener l. false: drop it. */
bool udp_inbound_key(struct udp_ctx *u, const struct fwd_listener *l,
		     const union nat_sockaddr *sender, struct flow_key *k);
/* Find or open the inbound flow for k (sender on listener li). FLOW_NONE when impossible. */
uint32_t udp_flow_inbound(struct udp_ctx *u, const struct flow_key *k, uint32_t li,
			  const union nat_sockaddr *sender);

/* ---- udp_sock.c ---- */

/* Read and forward a flow's or a listener's error queue (ICMP errors) and datagrams. */
void udp_sock_read_errors(struct udp_ctx *u, int fd, int af, uint32_t flow,
			  const struct fwd_listener *l, uint32_t li, struct frame_batch *out);
void udp_sock_read_flow(struct udp_ctx *u, uint32_t idx, struct frame_batch *out);
void udp_sock_read_listener(struct udp_ctx *u, uint32_t li, struct frame_batch *out);
/* Turn on IP_RECVERR / IPV6_RECVERR. */
void udp_sock_recverr_on(int fd, int af);

#endif /* BPASST_UDP_INT_H */
