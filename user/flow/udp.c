// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * udp.c - UDP translation: the guest's datagrams through host sockets and back
 *
 * Theory of operation
 *
 * A UDP flow is what the guest sees: (guest address, guest port, remote address, remote port),
 * kept as a flow/flow.h key (IPv4 as v4-mapped addresses). The table has a fixed number of slots
 * (UDP_FLOWS_DEFAULT); struct udp_flow, indexed like the slots, says how the flow reaches the
 * host:
 *   - outbound (the guest spoke first): the flow owns a socket, connect()ed to the target, with a
 *     kernel-chosen (ephemeral) source port bound on demand by the connect(). Its epoll reference
 *     is EPOLL_KIND_UDP with the slot as index, so replies find their flow without a lookup, and
 *     only the target can answer through it.
 *   - inbound (a datagram arrived on a -u port): the flow has no socket of its own; the guest's
 *     replies leave through the listener's socket, with sendto() to the sender.
 *
 * Addresses are translated by flow/nat.c, with the same rules as TCP's (see nat.h):
 * nat_outbound() gives an outbound flow's target (--dns-forward to the host's resolver set by
 * udp_dns_host_set(), the gateway or --map-host-loopback to the host's loopback unless
 * --no-map-gw, --map-guest-addr to the host's own address) and nat_bind_outbound() applies
 * --outbound / --outbound-if4/6 when the target is not the host's loopback. Since the socket is
 * connected, its replies can only come from the target, and they reach the guest from the
 * address and port it sent to (the flow key). Inbound, udp_inbound_key() shows the sender as
 * nat_inbound_peer() says (the host's loopback as --map-host-loopback or the gateway, the host's
 * own address as --map-guest-addr or the gateway, ...) and sends the datagram to the guest
 * address of nat_inbound_guest() (the one it was last seen using, or its link-local one).
 *
 * Guest -> host: udp_tap_recv() checks the datagram (not a fragment, checksum right, ports not
 * 0, sane addresses), finds or opens its flow, and stages the payload: small datagrams are copied
 * into a staging area and sent by udp_tap_batch_done() at the end of the edge's read batch, one
 * sendmmsg() per run of datagrams for the same socket (the edges read each frame into a buffer
 * that the next read overwrites, so staging needs that copy; it is cheap next to a syscall).
 * Datagrams over UDP_STAGE_DGRAM_MAX are sent at once with send()/sendto() after the stage is
 * flushed, so that a flow's datagrams keep their order. Zero-length datagrams are datagrams.
 *
 * Host -> guest (udp_sock.c): recvmmsg() reads up to UDP_RECV_BATCH datagrams straight into the
 * free slots of the output frame batch, each at the offset where its payload belongs; the
 * Ethernet, IP and UDP headers are then written in front of it and the checksums computed
 * (ip_finish()). A datagram larger than the guest's MTU allows is dropped and counted.
 *
 * ICMP: every socket has IP_RECVERR / IPV6_RECVERR. EPOLLERR means the kernel queued an ICMP
 * error for a datagram we sent: it is read from the error queue and sent to the guest as the
 * ICMP/ICMPv6 error the kernel reported (type, code, MTU or pointer), from the remote address as
 * the guest knows it, quoting the guest's datagram with its original addresses and ports. A
 * connect() that fails for lack of a route answers with a destination unreachable at once.
 *
 * State: the table and per-flow array, the stage, the receive vectors, allocated by udp_init()
 * only. A full table evicts its least recently used flow. Flows expire after UDP_IDLE_SEC
 * without a datagram either way (udp_timer(), from the daemon's 1 s timer, which also gives
 * us the coarse clock used for that).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "core/checksum.h"
#include "core/epoll_ref.h"
#include "core/log.h"
#include "flow/udp.h"
#include "flow/udp_int.h"

/* ---- Addresses (the rules are flow/nat.c's, shared with TCP) ---- */

bool udp_inbound_key(struct udp_ctx *u, const struct fwd_listener *l,
		     const union nat_sockaddr *sender, struct flow_key *k)
{
	struct in6_addr raddr, gaddr;
	uint16_t sport;

	if (sender->sa.sa_family != l->af)
		return false;
	sport = ntohs(l->af == AF_INET ? sender->sin.sin_port : sender->sin6.sin6_port);
	if (!sport || !nat_inbound_peer(u->c, u->g, sender, &raddr) ||
	    !nat_inbound_guest(u->c, u->g, l->af, &raddr, &gaddr))
		return false;
	flow_key_set(k, IPPROTO_UDP, AF_INET6, &gaddr, l->to_port, &raddr, sport);
	return true;
}

/* ---- Flows ---- */

static void udp_stage_flush(struct udp_ctx *u);

static void udp_flow_close(struct udp_ctx *u, uint32_t idx)
{
	struct udp_flow *fl = &u->flow[idx];

	if (!flow_in_use(&u->table, idx))
		return;
	if (u->stage && u->stage->count)
		udp_stage_flush(u); /* the stage may name this slot */
	if (fl->fd >= 0)
		close(fl->fd); /* also leaves the epoll set: never duplicated */
	flow_remove(&u->table, idx);
	memset(fl, 0, sizeof(*fl));
	fl->fd = -1;
	u->stats.flows_closed++;
}

/* A slot for k: evicts the least recently used flow when the table is full. */
static uint32_t udp_flow_insert(struct udp_ctx *u, const struct flow_key *k)
{
	uint32_t idx = FLOW_NONE, lru = FLOW_NONE;
	int ret = flow_insert(&u->table, k, &idx);
	unsigned i;

	if (ret == 0)
		return idx;
	if (ret != -ENOSPC || !u->table.count)
		return FLOW_NONE;
	for (i = 0; i < u->table.count; i++) {
		uint32_t s = flow_nth(&u->table, i);

		if (lru == FLOW_NONE || u->flow[s].last < u->flow[lru].last)
			lru = s;
	}
	log_ratelimited(LOG_LVL_DEBUG,
			"udp: flow table full (%u), closing the least recently "
			"used flow",
			u->table.cap);
	udp_flow_close(u, lru);
	u->stats.flows_evicted++;
	return flow_insert(&u->table, k, &idx) == 0 ? idx : FLOW_NONE;
}

/* ICMP for a connect() that failed for want of a route, as a router would answer. */
static void udp_unreachable(struct udp_ctx *u, struct frame_batch *out, const struct flow_key *k,
			    int af, int error, const struct frame *f)
{
	const uint8_t *q = f->payload.len ? pkt_at(&f->payload, 0, f->payload.len) : NULL;
	uint8_t code;

	if (af == AF_INET)
		code = error == ENETUNREACH ? UDP_ICMP_NET_UNREACH : UDP_ICMP_HOST_UNREACH;
	else
		code = error == ENETUNREACH ? UDP_ICMP6_NOROUTE : UDP_ICMP6_ADDR_UNREACH;
	udp_icmp_to_guest(u, out, k, af,
			  af == AF_INET ? UDP_ICMP_DEST_UNREACH : UDP_ICMP6_DEST_UNREACH, code, 0,
			  q, q ? f->payload.len : 0);
}

/* Open an outbound flow for k: a socket connected to its target. */
static uint32_t udp_flow_open_out(struct udp_ctx *u, const struct flow_key *k, int af,
				  const struct frame *f, struct frame_batch *out)
{
	const struct config *c = u->c;
	struct epoll_event ev = { .events = EPOLLIN };
	union nat_sockaddr target;
	struct udp_flow *fl;
	socklen_t tlen;
	bool loopback;
	uint32_t idx;
	int fd;

	if (!nat_outbound(c, &u->dns, af, &k->raddr, k->rport, &target, &tlen, &loopback)) {
		u->stats.tap_unreachable++;
		trace("udp: no target for a datagram to port %u, dropped", k->rport);
		return FLOW_NONE;
	}
	fd = socket(af, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
	if (fd < 0) {
		u->stats.socket_errors++;
		log_ratelimited(LOG_LVL_WARN, "udp: socket: %s", strerror(errno));
		return FLOW_NONE;
	}
	udp_sock_recverr_on(fd, af);
	if (!loopback)
		nat_bind_outbound(c, fd, af);
	if (connect(fd, &target.sa, tlen) < 0) {
		int e = errno;

		close(fd);
		u->stats.tap_unreachable++;
		if (e == ENETUNREACH || e == EHOSTUNREACH)
			udp_unreachable(u, out, k, af, e, f);
		else
			log_ratelimited(LOG_LVL_DEBUG, "udp: connect: %s", strerror(e));
		return FLOW_NONE;
	}
	idx = udp_flow_insert(u, k);
	if (idx == FLOW_NONE) {
		close(fd);
		return FLOW_NONE;
	}
	ev.data.u64 = epoll_ref_make(EPOLL_KIND_UDP, idx);
	if (epoll_ctl(u->epollfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		u->stats.socket_errors++;
		log_ratelimited(LOG_LVL_WARN, "udp: epoll_ctl: %s", strerror(errno));
		close(fd);
		flow_remove(&u->table, idx);
		return FLOW_NONE;
	}
	fl = &u->flow[idx];
	memset(fl, 0, sizeof(*fl));
	fl->fd = fd;
	fl->af = af;
	fl->peer = target;
	fl->peer_len = tlen;
	fl->last = u->now;
	u->stats.flows_opened++;
	trace("udp: flow %u: guest port %u -> port %u%s", idx, k->gport, k->rport,
	      loopback ? " (host loopback)" : "");
	return idx;
}

uint32_t udp_flow_inbound(struct udp_ctx *u, const struct flow_key *k, uint32_t li,
			  const union nat_sockaddr *sender)
{
	uint32_t idx = flow_lookup(&u->table, k);
	struct udp_flow *fl;

	if (idx != FLOW_NONE) {
		fl = &u->flow[idx];
		if (fl->inbound && fl->listener == li) {
			fl->peer = *sender; /* the latest sender that maps to this key answers */
			fl->peer_len = sender->sa.sa_family == AF_INET ? sizeof(sender->sin)
								       : sizeof(sender->sin6);
		}
		return idx;
	}
	idx = udp_flow_insert(u, k);
	if (idx == FLOW_NONE)
		return FLOW_NONE;
	fl = &u->flow[idx];
	memset(fl, 0, sizeof(*fl));
	fl->fd = -1;
	fl->inbound = true;
	fl->listener = li;
	fl->af = sender->sa.sa_family;
	fl->peer = *sender;
	fl->peer_len = fl->af == AF_INET ? sizeof(sender->sin) : sizeof(sender->sin6);
	fl->last = u->now;
	u->stats.flows_opened++;
	trace("udp: flow %u: inbound to guest port %u from port %u", idx, k->gport, k->rport);
	return idx;
}

/* ---- Guest -> host ---- */

/* The socket a flow's datagrams leave through. */
static int udp_flow_tx_fd(const struct udp_ctx *u, const struct udp_flow *fl)
{
	const struct fwd_listener *l;

	if (!fl->inbound)
		return fl->fd;
	l = fwd_listener_at(&u->listeners, fl->listener);
	return l ? l->fd : -1;
}

static bool udp_send_retry(int error, bool *retried)
{
	/* A pending ICMP error of an earlier datagram fails the next send once (and is cleared by
	 * that): our datagram was not sent, try again. The error queue still has the error. */
	if ((error == ECONNREFUSED || error == EHOSTUNREACH || error == ENETUNREACH ||
	     error == EINTR) &&
	    !*retried) {
		*retried = true;
		return true;
	}
	return false;
}

static void udp_send_now(struct udp_ctx *u, uint32_t idx, const void *data, size_t len)
{
	const struct udp_flow *fl = &u->flow[idx];
	int fd = udp_flow_tx_fd(u, fl);
	bool retried = false;
	ssize_t r;

	if (fd < 0)
		return;
	do {
		if (fl->inbound)
			r = sendto(fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL, &fl->peer.sa,
				   fl->peer_len);
		else
			r = send(fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	} while (r < 0 && udp_send_retry(errno, &retried));
	if (r < 0) {
		u->stats.send_dropped++;
		log_ratelimited(LOG_LVL_DEBUG, "udp: send on flow %u: %s", idx, strerror(errno));
		return;
	}
	u->stats.sent++;
	u->stats.send_batches++;
}

/* Send staged datagrams [i, j), all leaving through fd. */
static void udp_stage_send_run(struct udp_ctx *u, int fd, unsigned i, unsigned j)
{
	struct udp_stage *st = u->stage;
	bool retried = false;

	while (i < j) {
		int r = sendmmsg(fd, &st->mm[i], j - i, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (r > 0) {
			u->stats.sent += (unsigned)r;
			u->stats.send_batches++;
			i += (unsigned)r;
			retried = false;
			continue;
		}
		if (r < 0 && udp_send_retry(errno, &retried))
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
			u->stats.send_dropped += j - i; /* the socket is full: so is the rest */
			log_ratelimited(LOG_LVL_DEBUG, "udp: socket full, %u datagrams dropped",
					j - i);
			return;
		}
		log_ratelimited(LOG_LVL_DEBUG, "udp: sendmmsg on flow %u: %s", st->flow[i],
				strerror(errno));
		u->stats.send_dropped++; /* this datagram; go on with the next */
		i++;
		retried = false;
	}
}

static void udp_stage_flush(struct udp_ctx *u)
{
	struct udp_stage *st = u->stage;
	unsigned i, n;

	if (!st || !st->count)
		return;
	n = st->count;
	st->count = 0; /* first: nothing below may flush again */
	for (i = 0; i < n; i++) {
		const struct udp_flow *fl = &u->flow[st->flow[i]];
		struct msghdr *mh = &st->mm[i].msg_hdr;

		memset(mh, 0, sizeof(*mh));
		mh->msg_name = fl->inbound ? (void *)&fl->peer.sa : NULL;
		mh->msg_namelen = fl->inbound ? fl->peer_len : 0;
		mh->msg_iov = &st->iov[i];
		mh->msg_iovlen = 1;
	}
	/* Runs of datagrams leaving through the same socket: one sendmmsg() each. */
	i = 0;
	while (i < n) {
		int fd = udp_flow_tx_fd(u, &u->flow[st->flow[i]]);
		unsigned j = i + 1;

		while (j < n && udp_flow_tx_fd(u, &u->flow[st->flow[j]]) == fd)
			j++;
		if (fd >= 0)
			udp_stage_send_run(u, fd, i, j);
		else
			u->stats.send_dropped += j - i;
		i = j;
	}
	st->used = 0;
}

void udp_tap_batch_done(struct udp_ctx *u)
{
	udp_stage_flush(u);
}

static void udp_send(struct udp_ctx *u, uint32_t idx, const uint8_t *data, size_t len)
{
	struct udp_stage *st = u->stage;

	if (len > UDP_STAGE_DGRAM_MAX) {
		udp_stage_flush(u);
		udp_send_now(u, idx, data, len);
		return;
	}
	if (st->count == UDP_STAGE_MSGS || len > UDP_STAGE_BYTES - st->used)
		udp_stage_flush(u);
	if (len)
		memcpy(st->buf + st->used, data, len);
	st->iov[st->count].iov_base = st->buf + st->used;
	st->iov[st->count].iov_len = len;
	st->flow[st->count] = idx;
	st->count++;
	st->used += len;
}

/* Guest UDP checksum (required for IPv6, optional (0) for IPv4), and the IPv4 header's. */
static bool udp_csum_ok(const struct frame *f)
{
	const uint8_t *l4 = pkt_at(&f->l4, 0, f->l4.len);
	uint16_t check;
	uint32_t pseudo;

	if (!l4 || !pkt_get_be16(&f->l4, 6, &check))
		return false;
	if (f->l3_kind == FRAME_L3_IP4) {
		/* frame_parse() checks lengths, not the IPv4 header checksum: a kernel would. */
		const uint8_t *ip = pkt_at(&f->l3, 0, f->l3_hdr_len);

		if (!ip || csum_fold(csum_partial(ip, f->l3_hdr_len, 0)) != 0xffff)
			return false;
		if (!check)
			return true;
		pseudo = csum_pseudo4(f->src.v4, f->dst.v4, IPPROTO_UDP, (uint16_t)f->l4.len);
	} else {
		if (!check)
			return false;
		pseudo = csum_pseudo6(&f->src.v6, &f->dst.v6, IPPROTO_UDP, (uint32_t)f->l4.len);
	}
	return csum_fold(csum_partial(l4, f->l4.len, pseudo)) == 0xffff;
}

/* A source address a guest may send from. */
static bool udp_guest_src_ok(const struct frame *f)
{
	if (f->l3_kind == FRAME_L3_IP4) {
		uint32_t h = ntohl(f->src.v4.s_addr);

		return h && h != INADDR_BROADCAST && !IN_MULTICAST(h) &&
			(h >> 24) != IN_LOOPBACKNET;
	}
	return !IN6_IS_ADDR_UNSPECIFIED(&f->src.v6) && !IN6_IS_ADDR_MULTICAST(&f->src.v6) &&
		!IN6_IS_ADDR_LOOPBACK(&f->src.v6) && !IN6_IS_ADDR_V4MAPPED(&f->src.v6);
}

int udp_tap_recv(struct udp_ctx *u, const struct frame *f, struct frame_batch *out)
{
	const struct config *c = u->c;
	const uint8_t *data = NULL;
	struct flow_key k;
	uint32_t idx;
	int af;

	if ((f->l3_kind != FRAME_L3_IP4 && f->l3_kind != FRAME_L3_IP6) ||
	    f->l4_proto != IPPROTO_UDP || c->no_udp)
		return 0;
	u->stats.tap_in++;
	af = f->l3_kind == FRAME_L3_IP4 ? AF_INET : AF_INET6;
	if ((af == AF_INET && !c->ip4.enabled) || (af == AF_INET6 && !c->ip6.enabled)) {
		u->stats.tap_unreachable++;
		return 1;
	}
	/* Fragments: we do not reassemble (upstream neither); the guest's MTU is ours. */
	if (f->fragment || !f->sport || !f->dport || !udp_guest_src_ok(f) || !udp_csum_ok(f)) {
		u->stats.tap_bad++;
		trace("udp: malformed datagram from the guest dropped");
		return 1;
	}
	if (f->payload.len && !(data = pkt_at(&f->payload, 0, f->payload.len))) {
		u->stats.tap_bad++;
		return 1;
	}

	flow_key_set(&k, IPPROTO_UDP, af, &f->src, f->sport, &f->dst, f->dport);
	idx = flow_lookup(&u->table, &k);
	if (idx == FLOW_NONE)
		idx = udp_flow_open_out(u, &k, af, f, out);
	if (idx == FLOW_NONE)
		return 1;
	u->flow[idx].last = u->now;
	u->flow[idx].bytes_from_guest += f->payload.len;
	udp_send(u, idx, data, f->payload.len);
	return 1;
}

/* ---- Events, timer, set-up ---- */

void udp_sock_event(struct udp_ctx *u, uint32_t index, uint32_t events, struct frame_batch *out)
{
	struct udp_flow *fl;

	/* A stale event (the flow closed earlier in this round) finds a free or reused slot:
	 * reading a socket with nothing for us is harmless. */
	if (!u->flow || !flow_in_use(&u->table, index) || u->flow[index].fd < 0)
		return;
	fl = &u->flow[index];
	if (events & EPOLLERR)
		udp_sock_read_errors(u, fl->fd, fl->af, index, NULL, 0, out);
	if (events & EPOLLIN)
		udp_sock_read_flow(u, index, out);
}

void udp_listen_event(struct udp_ctx *u, uint32_t listener, uint32_t events,
		      struct frame_batch *out)
{
	const struct fwd_listener *l = fwd_listener_at(&u->listeners, listener);

	if (!l || !u->flow)
		return;
	if (events & EPOLLERR)
		udp_sock_read_errors(u, l->fd, l->af, FLOW_NONE, l, listener, out);
	if (events & EPOLLIN)
		udp_sock_read_listener(u, listener, out);
}

void udp_timer(struct udp_ctx *u, const struct timespec *now)
{
	unsigned i;

	u->now = now->tv_sec;
	if (!u->flow)
		return;
	udp_stage_flush(u); /* in case an edge did not call udp_tap_batch_done() */
	for (i = u->table.count; i-- > 0;) {
		uint32_t idx = flow_nth(&u->table, i);

		if (u->now - u->flow[idx].last >= UDP_IDLE_SEC) {
			trace("udp: flow %u idle, closed", idx);
			udp_flow_close(u, idx);
			u->stats.flows_expired++;
		}
	}
}

void udp_guest_gone(struct udp_ctx *u)
{
	unsigned i;

	if (!u->flow)
		return;
	if (u->stage) {
		u->stage->count = 0;
		u->stage->used = 0;
	}
	for (i = u->table.count; i-- > 0;)
		udp_flow_close(u, flow_nth(&u->table, i));
}

void udp_listener_gone(struct udp_ctx *u, uint32_t listener)
{
	unsigned i;

	if (!u->flow)
		return;
	for (i = u->table.count; i-- > 0;) {
		uint32_t idx = flow_nth(&u->table, i);

		if (u->flow[idx].inbound && u->flow[idx].listener == listener)
			udp_flow_close(u, idx);
	}
}

void udp_dns_host_set(struct udp_ctx *u, int af, const void *addr, uint16_t port)
{
	nat_dns_set(&u->dns, af, addr, port);
}

int udp_init(struct udp_ctx *u, const struct config *c, struct guest_state *g, int epollfd,
	     unsigned max_flows)
{
	struct timespec ts;
	unsigned i;
	int ret;

	memset(u, 0, sizeof(*u));
	u->c = c;
	u->g = g;
	u->epollfd = epollfd;
	u->mtu = (size_t)(c->mtu > 0 ? c->mtu : BP_ETH_MAX_MTU);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	u->now = ts.tv_sec;
	if (!max_flows)
		max_flows = UDP_FLOWS_DEFAULT;

	ret = flow_table_init(&u->table, max_flows);
	if (ret < 0) {
		err("udp: cannot allocate a table of %u flows", max_flows);
		return ret;
	}
	u->flow = calloc(max_flows, sizeof(*u->flow));
	u->stage = calloc(1, sizeof(*u->stage));
	u->rx = calloc(1, sizeof(*u->rx));
	if (!u->flow || !u->stage || !u->rx) {
		err("udp: cannot allocate the flow state");
		udp_cleanup(u);
		return -ENOMEM;
	}
	for (i = 0; i < max_flows; i++)
		u->flow[i].fd = -1;

	nat_dns_default(&u->dns, c);

	if (!c->no_udp) {
		ret = fwd_listen(&u->listeners, &c->udp_in, SOCK_DGRAM, c->ip4.enabled,
				 c->ip6.enabled, epollfd, EPOLL_KIND_UDP_LISTEN);
		if (ret < 0) {
			udp_cleanup(u);
			return ret;
		}
		for (i = 0; i < u->listeners.count; i++)
			udp_sock_recverr_on(u->listeners.l[i].fd, u->listeners.l[i].af);
	}
	debug("udp: %u flows, %u forwarded ports", max_flows, u->listeners.count);
	return 0;
}

void udp_cleanup(struct udp_ctx *u)
{
	unsigned i;

	if (u->flow) {
		if (u->stage)
			u->stage->count = 0;
		for (i = u->table.count; i-- > 0;)
			udp_flow_close(u, flow_nth(&u->table, i));
	}
	fwd_close(&u->listeners);
	flow_table_free(&u->table);
	free(u->flow);
	free(u->stage);
	free(u->rx);
	u->flow = NULL;
	u->stage = NULL;
	u->rx = NULL;
}

void udp_flow_foreach(const struct udp_ctx *u, flow_view_fn fn, void *arg)
{
	unsigned i;

	if (!u || !u->flow)
		return;
	for (i = 0; i < u->table.count; i++) {
		uint32_t idx = flow_nth(&u->table, i);
		const struct flow_key *k = flow_key_at(&u->table, idx);
		const struct udp_flow *fl = &u->flow[idx];
		struct flow_view v;

		memset(&v, 0, sizeof(v));
		v.index = idx;
		v.proto = IPPROTO_UDP;
		v.state = fl->bytes_from_guest && fl->bytes_to_guest ? FLOW_VIEW_ESTABLISHED
								     : FLOW_VIEW_NEW;
		v.af = fl->af;
		v.guest_addr = k->gaddr;
		v.remote_addr = k->raddr;
		v.guest_port = k->gport;
		v.remote_port = k->rport;
		v.sock = fl->fd;
		v.host_peer = fl->peer_len ? &fl->peer.sa : NULL;
		v.host_peer_len = fl->peer_len;
		v.bytes_from_guest = fl->bytes_from_guest;
		v.bytes_to_guest = fl->bytes_to_guest;
		fn(&v, arg);
	}
}
