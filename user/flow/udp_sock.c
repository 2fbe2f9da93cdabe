// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * udp_sock.c - UDP, the host side: datagrams and ICMP errors from host sockets to the guest
 *
 * Theory of operation (see udp.c for the whole of UDP)
 *
 * Frames: udp_frame_deliver() finishes a datagram whose payload already sits in a batch slot
 * (Ethernet from our MAC to the guest's, or broadcast while we do not know it; IP; UDP; lengths
 * and checksums by ip_finish()); udp_icmp_to_guest() builds an ICMP/ICMPv6 error that quotes a
 * guest datagram with its headers rebuilt from the flow key (as much payload as RFC 1812 / 4443
 * allow: 576 / 1280 bytes in all).
 *
 * Datagrams: a readable flow socket or -u listener is read with one recvmmsg() of up to
 * UDP_RECV_BATCH datagrams (no more than the output batch has free slots), straight into those
 * slots: message i lands in free slot i, at the offset its payload has in a finished frame
 * (Ethernet + IP + UDP header lengths in front), with room for the largest payload the guest's
 * MTU allows. Each datagram is then finished in place by udp_frame_deliver(): headers written in
 * front, lengths and checksums filled, slot committed. A datagram that is dropped (too big for
 * the guest: MSG_TRUNC; no flow for it) leaves its slot unused, and later ones are moved down
 * one slot so the batch stays dense. When the batch is full we read nothing: epoll is
 * level-triggered, so the socket is read again once the edge has flushed.
 *   - flow socket: connected, every datagram is from the flow's target, and goes to the guest
 *     from the flow's remote address and port;
 *   - listener: each datagram carries its sender (msg_name); the sender's guest-side address
 *     and the guest's address make the flow key (udp_inbound_key()), the flow is found or
 *     opened (udp_flow_inbound()), and the guest's replies will go back through this listener.
 *
 * ICMP errors: with IP_RECVERR / IPV6_RECVERR the kernel queues every ICMP error for a datagram
 * we sent on the socket's error queue and signals EPOLLERR. Each queued error carries a
 * struct sock_extended_err (origin, ICMP type and code, MTU or pointer in ee_info), the original
 * destination (msg_name) and as much of the original payload as the ICMP message quoted. For a
 * flow socket the flow is known; for a listener, the destination is the sender we replied to, and
 * the flow key follows from it as for a datagram. Errors of ICMP origin become the same
 * ICMP/ICMPv6 error to the guest (udp_icmp_to_guest()); local errors (EMSGSIZE, ...) are only
 * traced. Errors are read before data, so that the socket's pending error is consumed by the
 * error queue rather than failing the next recvmmsg().
 *
 * State: a static buffer for the quoted payload of an error; the receive vectors live in
 * struct udp_rx (udp_int.h).
 */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/errqueue.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <sys/socket.h>

#include "core/checksum.h"
#include "core/log.h"
#include "flow/udp.h"
#include "flow/udp_int.h"
#include "flow/udp_splice.h"

#define UDP_ERRQUEUE_READS 16 /* errors read per event */
#define UDP_ERR_QUOTE_MAX 1280
#define UDP_ICMP4_QUOTE_MAX (576 - 20 - 8 - 20 - UDP_HDR_LEN) /* RFC 1812 4.3.2.3 */
#define UDP_ICMP6_QUOTE_MAX (1280 - 40 - 8 - 40 - UDP_HDR_LEN) /* RFC 4443 2.4 (c) */

static const uint8_t udp_bcast_mac[BP_ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* ---- Frames to the guest ---- */

size_t udp_payload_max(const struct udp_ctx *u, const struct frame_batch *out, int af)
{
	size_t hdr = udp_frame_hdr_len(af), frame = u->mtu + BP_ETH_HLEN;

	if (frame > out->frame_max)
		frame = out->frame_max;
	if (frame <= hdr)
		return 0;
	frame -= hdr;
	/* The IP length fields: 16 bits of total length (IPv4) or payload length (IPv6). */
	if (af == AF_INET && frame > 0xffff - 20 - UDP_HDR_LEN)
		frame = 0xffff - 20 - UDP_HDR_LEN;
	if (af == AF_INET6 && frame > 0xffff - UDP_HDR_LEN)
		frame = 0xffff - UDP_HDR_LEN;
	return frame;
}

/* Slots are laid out back to back, slot_size apart (core/batch.h: mem is max_frames *
 * slot_size), and batch_next() gives the frame area of slot `count`: the frame area of a later
 * free slot is that plus a whole number of slots. */
uint8_t *udp_batch_slot(struct frame_batch *out, unsigned slot)
{
	struct frame_builder fb;
	size_t off;

	if (slot < out->count || slot >= out->max_frames)
		return NULL;
	fb = batch_next(out);
	if (!fb.buf)
		return NULL;
	off = (size_t)(fb.buf - out->mem) + (size_t)(slot - out->count) * out->slot_size;
	if (off + out->frame_max > (size_t)out->max_frames * out->slot_size)
		return NULL;
	return out->mem + off;
}

static const uint8_t *udp_guest_mac(const struct udp_ctx *u)
{
	return u->g->mac_known ? u->g->mac : udp_bcast_mac;
}

/* Ethernet and IP header from src to dst into fb. */
static void udp_push_l2l3(const struct udp_ctx *u, struct frame_builder *fb, int af,
			  const struct in6_addr *src, const struct in6_addr *dst, uint8_t proto)
{
	if (af == AF_INET) {
		eth_push(fb, udp_guest_mac(u), u->c->our_mac, BP_ETH_P_IP);
		ip4_push(fb, flow_addr_v4(src), flow_addr_v4(dst), proto, UDP_TTL);
	} else {
		eth_push(fb, udp_guest_mac(u), u->c->our_mac, BP_ETH_P_IPV6);
		ip6_push(fb, src, dst, proto, UDP_TTL);
	}
}

static void udp_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

bool udp_frame_deliver(struct udp_ctx *u, struct frame_batch *out, unsigned from, int af,
		       const struct in6_addr *src, uint16_t sport, const struct in6_addr *dst,
		       uint16_t dport, size_t len)
{
	size_t hdr = udp_frame_hdr_len(af);
	struct frame_builder fb;
	uint8_t *uh;

	if (from != out->count) {
		uint8_t *to = udp_batch_slot(out, out->count), *at = udp_batch_slot(out, from);

		if (!to || !at)
			goto fail;
		memmove(to + hdr, at + hdr, len);
	}
	fb = batch_next(out);
	udp_push_l2l3(u, &fb, af, src, dst, IPPROTO_UDP);
	uh = fb_put(&fb, UDP_HDR_LEN);
	if (!uh || fb.len != hdr || len > fb.cap - fb.len)
		goto fail;
	udp_put_be16(uh, sport);
	udp_put_be16(uh + 2, dport);
	fb.len += len; /* the payload is already in place: claim it without zeroing */
	if (!ip_finish(&fb) || !batch_commit(out, &fb))
		goto fail;
	u->stats.to_tap++;
	return true;
fail:
	u->stats.no_room++;
	log_ratelimited(LOG_LVL_DEBUG, "udp: no room for a %zu-byte datagram to the guest", len);
	return false;
}

/* The quoted IP and UDP headers of a datagram of key k (guest -> remote), payload quote[0, n),
 * at p (room: 20 or 40 + 8 bytes). The UDP checksum is filled when the quote is the whole
 * datagram (it is then what the guest sent, as far as the guest can tell). */
static void udp_quote_headers(uint8_t *p, int af, const struct flow_key *k, const uint8_t *quote,
			      size_t n)
{
	uint8_t *uh;
	uint32_t sum;

	if (af == AF_INET) {
		struct iphdr ip;
		struct in_addr s = flow_addr_v4(&k->gaddr), d = flow_addr_v4(&k->raddr);

		memset(&ip, 0, sizeof(ip));
		ip.version = 4;
		ip.ihl = 5;
		ip.tot_len = htons((uint16_t)(sizeof(ip) + UDP_HDR_LEN + n));
		ip.frag_off = htons(0x4000);
		ip.ttl = UDP_TTL;
		ip.protocol = IPPROTO_UDP;
		ip.saddr = s.s_addr;
		ip.daddr = d.s_addr;
		ip.check = csum(&ip, sizeof(ip), 0);
		memcpy(p, &ip, sizeof(ip));
		uh = p + sizeof(ip);
		sum = csum_pseudo4(s, d, IPPROTO_UDP, (uint16_t)(UDP_HDR_LEN + n));
	} else {
		struct ipv6hdr ip;

		memset(&ip, 0, sizeof(ip));
		ip.version = 6;
		ip.payload_len = htons((uint16_t)(UDP_HDR_LEN + n));
		ip.nexthdr = IPPROTO_UDP;
		ip.hop_limit = UDP_TTL;
		memcpy(&ip.saddr, &k->gaddr, sizeof(ip.saddr));
		memcpy(&ip.daddr, &k->raddr, sizeof(ip.daddr));
		memcpy(p, &ip, sizeof(ip));
		uh = p + sizeof(ip);
		sum = csum_pseudo6(&k->gaddr, &k->raddr, IPPROTO_UDP, (uint32_t)(UDP_HDR_LEN + n));
	}
	udp_put_be16(uh, k->gport);
	udp_put_be16(uh + 2, k->rport);
	udp_put_be16(uh + 4, (uint16_t)(UDP_HDR_LEN + n));
	uh[6] = uh[7] = 0;
	{
		uint16_t check = csum(quote, n, csum_partial(uh, UDP_HDR_LEN, sum));

		if (!check)
			check = 0xffff;
		memcpy(uh + 6, &check, 2);
	}
}

void udp_icmp_to_guest(struct udp_ctx *u, struct frame_batch *out, const struct flow_key *k, int af,
		       uint8_t type, uint8_t code, uint32_t info, const uint8_t *quote,
		       size_t quote_len)
{
	size_t ip_len = af == AF_INET ? 20 : 40, max, room;
	struct frame_builder fb;
	uint8_t *icmp, *inner;

	max = af == AF_INET ? UDP_ICMP4_QUOTE_MAX : UDP_ICMP6_QUOTE_MAX;
	room = u->mtu > 2 * ip_len + 8 + UDP_HDR_LEN ? u->mtu - 2 * ip_len - 8 - UDP_HDR_LEN : 0;
	if (max > room)
		max = room;
	if (quote_len > max)
		quote_len = max;

	fb = batch_next(out);
	udp_push_l2l3(u, &fb, af, &k->raddr, &k->gaddr,
		      af == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6);
	icmp = fb_put(&fb, 8);
	inner = fb_put(&fb, ip_len + UDP_HDR_LEN);
	if (!icmp || !inner || !fb_append(&fb, quote, quote_len))
		goto fail;
	icmp[0] = type;
	icmp[1] = code;
	if (af == AF_INET) {
		if (type == UDP_ICMP_DEST_UNREACH && code == UDP_ICMP_FRAG_NEEDED)
			udp_put_be16(icmp + 6, (uint16_t)info); /* next-hop MTU */
		else if (type == UDP_ICMP_PARAMETERPROB)
			icmp[4] = (uint8_t)info; /* pointer */
	} else if (type == UDP_ICMP6_PKT_TOOBIG || type == UDP_ICMP6_PARAMPROB) {
		uint32_t be = htonl(info); /* MTU, or pointer */

		memcpy(icmp + 4, &be, 4);
	}
	udp_quote_headers(inner, af, k, quote, quote_len);
	if (!ip_finish(&fb) || !batch_commit(out, &fb))
		goto fail;
	u->stats.icmp_to_tap++;
	trace("udp: ICMP%s type %u code %u to the guest (port %u -> %u)", af == AF_INET ? "" : "v6",
	      type, code, k->gport, k->rport);
	return;
fail:
	u->stats.no_room++;
}

/* ---- Reading sockets ---- */

void udp_sock_recverr_on(int fd, int af)
{
	int one = 1;

	if (af == AF_INET)
		setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one));
	else
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof(one));
}

/* Point the receive vectors at the free slots of out; returns how many (0: batch full). */
static unsigned udp_rx_prepare(struct udp_ctx *u, struct frame_batch *out, int af, bool names)
{
	struct udp_rx *rx = u->rx;
	size_t hdr = udp_frame_hdr_len(af), plmax = udp_payload_max(u, out, af);
	unsigned n = out->max_frames - out->count, i;

	if (out->count >= out->max_frames || !plmax)
		return 0;
	if (n > UDP_RECV_BATCH)
		n = UDP_RECV_BATCH;
	for (i = 0; i < n; i++) {
		uint8_t *slot = udp_batch_slot(out, out->count + i);
		struct msghdr *mh = &rx->mm[i].msg_hdr;

		if (!slot)
			break;
		rx->iov[i].iov_base = slot + hdr;
		rx->iov[i].iov_len = plmax;
		memset(mh, 0, sizeof(*mh));
		if (names) {
			mh->msg_name = &rx->name[i];
			mh->msg_namelen = sizeof(rx->name[i]);
		}
		mh->msg_iov = &rx->iov[i];
		mh->msg_iovlen = 1;
		rx->mm[i].msg_len = 0;
	}
	return i;
}

/* recvmmsg() of up to n datagrams; the count, or 0. */
static unsigned udp_rx_read(struct udp_ctx *u, int fd, unsigned n)
{
	int r, tries = 0;

	do {
		r = recvmmsg(fd, u->rx->mm, n, MSG_DONTWAIT, NULL);
		/* A pending socket error (an ICMP error not yet read from the queue) fails the
		 * call once and is cleared by it: read again. */
	} while (r < 0 &&
		 (errno == EINTR || errno == ECONNREFUSED || errno == EHOSTUNREACH ||
		  errno == ENETUNREACH) &&
		 ++tries < 3);
	if (r < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			log_ratelimited(LOG_LVL_DEBUG, "udp: recvmmsg: %s", strerror(errno));
		return 0;
	}
	if (r > 0)
		u->stats.recv_batches++;
	return (unsigned)r;
}

void udp_sock_read_flow(struct udp_ctx *u, uint32_t idx, struct frame_batch *out)
{
	struct udp_flow *fl = &u->flow[idx];
	struct flow_key k = *flow_key_at(&u->table, idx); /* copied: the flow stays, but be sure */
	unsigned n = udp_rx_prepare(u, out, fl->af, false), base = out->count, i;

	if (!n || !(n = udp_rx_read(u, fl->fd, n)))
		return;
	fl->last = u->now;
	for (i = 0; i < n; i++) {
		const struct mmsghdr *m = &u->rx->mm[i];

		if (m->msg_hdr.msg_flags & MSG_TRUNC) {
			u->stats.too_big++;
			log_ratelimited(LOG_LVL_DEBUG,
					"udp: datagram larger than the guest's MTU "
					"dropped");
			continue;
		}
		if (udp_frame_deliver(u, out, base + i, fl->af, &k.raddr, k.rport, &k.gaddr,
				      k.gport, m->msg_len))
			fl->bytes_to_guest += m->msg_len;
	}
}

void udp_sock_read_listener(struct udp_ctx *u, uint32_t li, struct frame_batch *out)
{
	const struct fwd_listener *l = fwd_listener_at(&u->listeners, li);
	unsigned n, base = out->count, i;

	if (!l)
		return;
	n = udp_rx_prepare(u, out, l->af, true);
	if (!n || !(n = udp_rx_read(u, l->fd, n)))
		return;
	for (i = 0; i < n; i++) {
		const struct mmsghdr *m = &u->rx->mm[i];
		const union nat_sockaddr *sender = &u->rx->name[i];
		struct flow_key k;
		uint32_t idx;

		if (m->msg_hdr.msg_flags & MSG_TRUNC) {
			u->stats.too_big++;
			continue;
		}
		/* pasta: from the host's loopback, to the namespace's unless declined */
		if (u->splice && udp_splice_sender_is_loopback(&sender->sa) &&
		    udp_splice_from_host(u->splice, l->fd, l->af, l->to_port, &sender->sa,
					 m->msg_hdr.msg_namelen, u->rx->iov[i].iov_base,
					 m->msg_len))
			continue;
		if (!udp_inbound_key(u, l, sender, &k)) {
			u->stats.tap_unreachable++;
			log_ratelimited(LOG_LVL_DEBUG,
					"udp: datagram to forwarded port %u cannot "
					"be shown to the guest, dropped",
					l->port);
			continue;
		}
		idx = udp_flow_inbound(u, &k, li, sender);
		if (idx == FLOW_NONE)
			continue;
		u->flow[idx].last = u->now;
		if (udp_frame_deliver(u, out, base + i, l->af, &k.raddr, k.rport, &k.gaddr, k.gport,
				      m->msg_len))
			u->flow[idx].bytes_to_guest += m->msg_len;
	}
}

/* One queued error: the flow it concerns, as a key; false if none. */
static bool udp_err_flow(struct udp_ctx *u, uint32_t flow, const struct fwd_listener *l,
			 uint32_t li, const union nat_sockaddr *dst, struct flow_key *k)
{
	uint32_t idx;

	if (flow != FLOW_NONE) {
		if (!flow_in_use(&u->table, flow))
			return false;
		*k = *flow_key_at(&u->table, flow);
		return true;
	}
	if (!l || !udp_inbound_key(u, l, dst, k))
		return false;
	idx = flow_lookup(&u->table, k);
	return idx != FLOW_NONE && u->flow[idx].inbound && u->flow[idx].listener == li;
}

void udp_sock_read_errors(struct udp_ctx *u, int fd, int af, uint32_t flow,
			  const struct fwd_listener *l, uint32_t li, struct frame_batch *out)
{
	static uint8_t quote[UDP_ERR_QUOTE_MAX];
	int i;

	for (i = 0; i < UDP_ERRQUEUE_READS; i++) {
		union {
			char buf[CMSG_SPACE(sizeof(struct sock_extended_err) +
					    sizeof(struct sockaddr_in6))];
			struct cmsghdr align;
		} control;
		union nat_sockaddr dst;
		struct iovec iov = { .iov_base = quote, .iov_len = sizeof(quote) };
		struct msghdr mh = {
			.msg_name = &dst,
			.msg_namelen = sizeof(dst),
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = control.buf,
			.msg_controllen = sizeof(control.buf),
		};
		struct sock_extended_err ee;
		struct cmsghdr *cm;
		struct flow_key k;
		bool found = false;
		ssize_t r;

		memset(&dst, 0, sizeof(dst));
		r = recvmsg(fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break; /* EAGAIN: the queue is empty */
		}
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if ((cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_RECVERR) ||
			    (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_RECVERR)) {
				if (cm->cmsg_len < CMSG_LEN(sizeof(ee)))
					continue;
				memcpy(&ee, CMSG_DATA(cm), sizeof(ee));
				found = true;
				break;
			}
		}
		if (!found)
			continue;
		if ((af == AF_INET && ee.ee_origin != SO_EE_ORIGIN_ICMP) ||
		    (af == AF_INET6 && ee.ee_origin != SO_EE_ORIGIN_ICMP6)) {
			trace("udp: local error %s on a socket, not forwarded",
			      strerror((int)ee.ee_errno));
			continue;
		}
		if (!udp_err_flow(u, flow, l, li, &dst, &k))
			continue;
		udp_icmp_to_guest(u, out, &k, af, ee.ee_type, ee.ee_code, ee.ee_info, quote,
				  (size_t)r);
	}
}
