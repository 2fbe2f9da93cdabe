/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tcp.c - TCP translation between the guest's segments and ordinary host sockets
 *
 * THEORY OF OPERATION
 *
 * We are not a TCP stack. Each connection has two halves: towards the guest, TCP segments that we
 * read from and write into frame batches; towards the host, an ordinary kernel TCP socket. The
 * kernel keeps every byte that is in flight in either direction (in the socket's receive queue
 * until the guest acknowledges it, in its send queue once written), so we keep sequence numbers,
 * flags and a few timers per connection, and copy data exactly once: from the socket straight
 * into the frame that goes to the guest, or from the guest's frame straight into the socket.
 *
 * Opening, outbound (guest to host): the guest's SYN (no flow yet for its 4-tuple) makes a flow
 * slot and a non-blocking socket that connect()s to the destination, after address translation
 * (nat.c, shared with UDP): --map-host-loopback (by default the gateway) goes to the host's
 * loopback, --map-guest-addr to the host's own address, --dns-forward ADDR port 53 to the host's
 * resolver (tcp_dns_host_set()); a socket that does not go to the host's loopback is bound per
 * --outbound and --outbound-if4/6. The flow keeps the guest's view, so replies come from the
 * address and port the guest connected to. We answer the guest only when the host connection is
 * decided: SYN-ACK once connect() completes, RST at once when it is refused or fails
 * (unreachable, timeout). A SYN that finds the table full gets a RST, and an error is logged at
 * most once per second (tcp_log_table_full()).
 *
 * Opening, inbound (host to guest): a connection accepted on a forwarded port (fwd.c) becomes a
 * flow whose remote side, as the guest sees it, is the peer's address and port, translated by
 * nat.c (the host's loopback appears as --map-host-loopback or the gateway, the host's own
 * address as --map-guest-addr or the gateway), to the address the guest was last seen using
 * (else the assigned one) and the translated port; we send the SYN, and the guest's SYN-ACK
 * makes it established.
 *
 * Sequence space towards the guest (host -> guest data):
 *   isn                 our initial sequence number: RFC 6528, SipHash of the 4-tuple under a
 *                       random key, plus a 4 us clock
 *   snd_una             oldest byte the guest has not acknowledged = first byte in the socket's
 *                       receive queue (we consume bytes with recv(MSG_TRUNC) only when acked)
 *   snd_nxt             next byte to send; snd_nxt - snd_una is the peek offset, kept by the
 *                       kernel (SO_PEEK_OFF) or skipped into a discard buffer
 *   snd_max             highest snd_nxt so far (acks up to it are valid after a rewind)
 *   fin_seq             sequence number of our FIN, known once a peek found end of stream
 * Data is read with recvmsg(MSG_PEEK) into up to a batch of frames at once (tcp_tap.c), limited
 * by the guest's window (scaled by its window-scale option) and by the free slots of the batch.
 * A retransmission timeout rewinds snd_nxt to snd_una (go-back-N: the peek offset goes back to
 * 0); three duplicate ACKs retransmit the first unacknowledged segment (NewReno-style: once per
 * window, and again on each partial ACK until the recovery point). When the guest's window is
 * zero, a probe (an ACK one below snd_nxt) is sent on the retransmission timer.
 *
 * Guest -> host data: in-order payload is written to the socket at once (tcp_buf.c). The window
 * we advertise is what the socket can take now: its send buffer minus what is queued in it
 * (SO_MEMINFO), less an eighth for the kernel's per-buffer overhead, less what waits in a tail,
 * scaled by our window-scale shift (derived from tcp_wmem's maximum), never more than the right
 * edge allows. So the guest never sends what the socket cannot take, and the rare short write
 * keeps its unsent tail in a bounded area that is flushed on EPOLLOUT: the guest is acknowledged
 * at once and never waits for a retransmission timeout. One exception: with no tail pending the
 * window is at least one segment, because a guest never sends a segment that does not fit
 * (sender-side silly window avoidance waits for its persist timer, 200 ms or more) and a young
 * socket's send buffer is often smaller than a 64 KiB segment; the part the socket cannot take
 * goes to the tail area, which so holds about one segment per flow. If no area is free or the
 * area is full, the rest is left unacknowledged, with three duplicate ACKs for a fast
 * retransmission. When the window we advertised is small,
 * EPOLLOUT also tells us when the socket drained, and we send a window update. Out-of-order or
 * out-of-window segments are not queued: they are answered with a duplicate ACK, and the guest
 * retransmits. SACK and timestamps are never offered.
 *
 * ACKs to the guest are deferred to the end of each batch of guest frames (tcp_tap_batch_done):
 * one ACK per flow per batch, and data the guest's ACKs made room for is sent then too, after
 * consuming the acknowledged bytes with one recv(MSG_TRUNC) per flow.
 *
 * Closing: the guest's FIN (in order, after every byte before it is in the socket or the tail)
 * becomes shutdown(SHUT_WR); end of stream on the socket becomes our FIN once all data before it
 * is sent. The flow is freed when both FINs are done and ours is acknowledged, after consuming the
 * last acknowledged bytes (unread bytes would turn close() into a RST). A RST from the guest
 * closes the socket with SO_LINGER 0 (a RST to the host peer); a socket error or reset, a
 * retransmission limit or an idle timeout sends a RST to the guest.
 *
 * Window updates: the kernel signals EPOLLOUT only after a write found the socket full, so when
 * the window we advertised is small (below four segments or a quarter of the send buffer) or
 * closed, the flow's epoll registration is modified again, which makes the kernel note that we
 * wait (SOCK_NOSPACE) when the socket is not writable; the socket becomes writable once a third
 * of its buffer is free, which always means a window larger than "small", so this cannot loop.
 * A zero-length segment from the guest that is not at rcv_nxt (its zero-window probe) is
 * answered with an ACK carrying the current window, as a kernel would.
 *
 * Events: each socket is in epoll edge-triggered (EPOLLIN | EPOLLRDHUP, plus EPOLLOUT while
 * connecting, while a tail waits, or while a window update is due) with (EPOLL_KIND_TCP, slot).
 * Edge-triggered because a socket whose data is all peeked stays readable: we read when new data
 * arrives (an edge), when the guest's ACK opens its window, or when a flow that found the batch
 * full is resumed by an immediate timer expiry. One timerfd (index TCP_INDEX_TIMER) is armed for
 * the earliest per-flow deadline: retransmission, zero-window probe, connect and idle timeouts.
 *
 * Files: tcp.c (this: the guest side of the state machine, opening, closing, batch end, set-up),
 * tcp_sock.c (host sockets, windows, data to the guest, retransmission, timers, inbound
 * connections), tcp_tap.c (segment parsing and building), tcp_buf.c (writes and the tail area),
 * tcp_conn.h (the state the two first share), flow.c (the table), fwd.c (listening sockets),
 * nat.c (address translation).
 * Inbound connections from the host's loopback go over the tap too (no splice path yet).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

#include "core/epoll_ref.h"
#include "core/log.h"
#include "flow/tcp_conn.h"

/* ---- Timers ---- */

void tcp_timer_arm(struct tcp_ctx *t, uint64_t at)
{
	struct itimerspec its;

	if (t->timerfd < 0 || (t->timer_armed && t->timer_armed <= at))
		return;
	memset(&its, 0, sizeof(its));
	if (at <= t->now) {
		its.it_value.tv_nsec = 1; /* at once (relative) */
		if (timerfd_settime(t->timerfd, 0, &its, NULL) == 0)
			t->timer_armed = t->now;
		return;
	}
	its.it_value.tv_sec = (time_t)(at / 1000);
	its.it_value.tv_nsec = (long)(at % 1000) * 1000000;
	if (timerfd_settime(t->timerfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		t->timer_armed = at;
}

/* The next deadline of c: its retransmission/probe/connect timer, else its idle timeout. */
uint64_t tcp_conn_deadline(const struct tcp_conn *c)
{
	if (c->rto_at)
		return c->rto_at;
	return c->last_act + TCP_IDLE_TIMEOUT_MS;
}

void tcp_rto_start(struct tcp_ctx *t, struct tcp_conn *c, uint32_t ms)
{
	c->rto_at = t->now + ms;
	tcp_timer_arm(t, c->rto_at);
}

/* ---- Lists of flows with work at batch end / when the batch has room again ---- */

void tcp_defer(struct tcp_ctx *t, uint32_t idx, uint32_t what)
{
	struct tcp_conn *c = &t->conn[idx];

	c->flags |= what;
	if (!(c->flags & TCP_F_DEFERRED) && t->deferred_count < t->ft.cap) {
		c->flags |= TCP_F_DEFERRED;
		t->deferred[t->deferred_count++] = idx;
	}
}

void tcp_starve(struct tcp_ctx *t, uint32_t idx)
{
	struct tcp_conn *c = &t->conn[idx];

	if (!(c->flags & TCP_F_STARVED) && t->starved_count < t->ft.cap) {
		c->flags |= TCP_F_STARVED;
		t->starved[t->starved_count++] = idx;
	}
	tcp_timer_arm(t, t->now); /* resume on the next loop iteration, after the flush */
}

static void tcp_list_remove(uint32_t *list, unsigned *count, uint32_t idx)
{
	unsigned i;

	for (i = 0; i < *count; i++) {
		if (list[i] == idx) {
			list[i] = list[--*count];
			return;
		}
	}
}

void tcp_conn_addr(const struct tcp_ctx *t, uint32_t idx, struct tcp_tap_addr *a)
{
	static const uint8_t bcast[BP_ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	const struct flow_key *k = flow_key_at(&t->ft, idx);

	a->af = flow_key_af(k);
	a->src_mac = t->c->our_mac;
	if (t->g->mac_known)
		a->dst_mac = t->g->mac;
	else
		a->dst_mac = t->c->ns_mac_set ? t->c->ns_mac : bcast;
	a->src = k->raddr;
	a->dst = k->gaddr;
	a->sport = k->rport;
	a->dport = k->gport;
}

bool tcp_send_ctl(struct tcp_ctx *t, uint32_t idx, uint32_t seq, uint8_t flags,
		  struct frame_batch *out)
{
	struct tcp_conn *c = &t->conn[idx];
	struct tcp_syn_opts o, *opts = NULL;
	struct tcp_tap_addr a;
	uint16_t wnd;

	tcp_conn_addr(t, idx, &a);
	if (flags & TCP_SYN) {
		o.mss = (uint16_t)((t->c->mtu ? t->c->mtu : TCP_MTU_DEFAULT) -
				   (a.af == AF_INET ? 40 : 60));
		o.ws = (c->flags & (TCP_F_INBOUND | TCP_F_WS)) ? t->ws : -1;
		opts = &o;
		if (c->rcv_wnd > 0xffff)
			c->rcv_wnd = 0xffff; /* never scaled in a SYN */
		wnd = (uint16_t)c->rcv_wnd;
		c->rcv_acked = c->rcv_nxt;
	} else if (flags & TCP_RST) {
		wnd = 0;
	} else {
		wnd = tcp_wnd_field(c);
	}
	if (flags & TCP_ACK)
		c->flags &= ~TCP_F_ACK_DUE;
	trace("TCP %u: to guest: flags %#x seq %u ack %u wnd %u", idx, flags, seq - c->isn,
	      c->rcv_nxt - c->isn_tap, wnd);
	return tcp_tap_send_ctl(out, &a, seq, (flags & TCP_ACK) ? c->rcv_nxt : 0, flags, wnd, opts);
}

void tcp_send_ack(struct tcp_ctx *t, uint32_t idx, struct frame_batch *out)
{
	tcp_send_ctl(t, idx, t->conn[idx].snd_nxt, TCP_ACK, out);
}

/* ---- Opening and closing ---- */

static uint32_t tcp_isn(const struct tcp_ctx *t, const struct flow_key *k)
{
	struct timespec ts;
	uint64_t ns;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	return (uint32_t)flow_siphash(t->isn_key, k, sizeof(*k)) + (uint32_t)(ns >> 12);
}

uint32_t tcp_conn_new(struct tcp_ctx *t, const struct flow_key *k, int sock, int *err)
{
	uint32_t idx;
	struct tcp_conn *c;
	int ret = flow_insert(&t->ft, k, &idx);

	*err = ret;
	if (ret < 0)
		return FLOW_NONE;
	c = &t->conn[idx];
	memset(c, 0, sizeof(*c));
	c->sock = sock;
	c->gen = ++t->gen;
	c->isn = tcp_isn(t, k);
	c->snd_una = c->snd_nxt = c->snd_max = c->recover = c->isn;
	c->rto = TCP_RTO_INIT_MS;
	c->last_act = t->now;
	tcp_tail_init(&c->tail);
	return idx;
}

void tcp_conn_close(struct tcp_ctx *t, uint32_t idx, int how, struct frame_batch *out)
{
	struct tcp_conn *c = &t->conn[idx];

	if (!flow_in_use(&t->ft, idx))
		return;
	if ((how & TCP_CLOSE_RST_TAP) && out) {
		if (c->flags & TCP_F_CONNECTING) /* answering the guest's SYN */
			tcp_send_ctl(t, idx, 0, TCP_RST | TCP_ACK, out);
		else if ((c->flags & TCP_F_INBOUND) && !(c->flags & TCP_F_ESTABLISHED))
			tcp_send_ctl(t, idx, c->snd_nxt, TCP_RST, out);
		else
			tcp_send_ctl(t, idx, c->snd_nxt, TCP_RST | TCP_ACK, out);
		t->st.rst_to_tap++;
	}
	if (how & TCP_CLOSE_RST_HOST) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(c->sock, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	if (c->sock >= 0)
		close(c->sock);
	tcp_buf_release(&t->tails, &c->tail);
	if (c->flags & TCP_F_DEFERRED)
		tcp_list_remove(t->deferred, &t->deferred_count, idx);
	if (c->flags & TCP_F_STARVED)
		tcp_list_remove(t->starved, &t->starved_count, idx);
	debug("TCP: flow %u closed%s%s", idx, how & TCP_CLOSE_RST_TAP ? ", reset to guest" : "",
	      how & TCP_CLOSE_RST_HOST ? ", reset to host" : "");
	c->sock = -1;
	c->flags = 0;
	c->events = 0;
	flow_remove(&t->ft, idx);
	t->st.closed++;
}

/* Both directions finished: our FIN acknowledged, the guest's FIN passed on. */
bool tcp_conn_maybe_done(struct tcp_ctx *t, uint32_t idx, struct frame_batch *out)
{
	struct tcp_conn *c = &t->conn[idx];

	if (!(c->flags & TCP_F_FIN_ACKED) || !(c->flags & TCP_F_SHUT_WR))
		return false;
	if (c->rcv_acked != c->rcv_nxt || (c->flags & TCP_F_ACK_DUE))
		tcp_send_ack(t, idx, out); /* the last ACK, for the guest's FIN */
	/* Bytes left unread in the socket would make close() send a RST instead of a FIN. */
	if (!tcp_sock_consume(c)) {
		tcp_conn_close(t, idx, TCP_CLOSE_RST_HOST, NULL);
		return true;
	}
	tcp_conn_close(t, idx, TCP_CLOSE_QUIET, NULL);
	return true;
}

void tcp_sock_setup(struct tcp_ctx *t, int sock, int af)
{
	int one = 1, zero = 0;

	if (t->peek_off[af == AF_INET ? 0 : 1])
		setsockopt(sock, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero));
	setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Outbound connect() finished (or failed): answer the guest's SYN. */
void tcp_conn_connected(struct tcp_ctx *t, uint32_t idx, struct frame_batch *out)
{
	struct tcp_conn *c = &t->conn[idx];
	socklen_t sl = sizeof(int);
	int err = 0;

	if (getsockopt(c->sock, SOL_SOCKET, SO_ERROR, &err, &sl) < 0)
		err = errno;
	if (err) {
		debug("TCP: flow %u: connect: %s", idx, strerror(err));
		tcp_conn_close(t, idx, TCP_CLOSE_RST_TAP, out);
		return;
	}
	c->flags &= ~TCP_F_CONNECTING;
	c->flags |= TCP_F_SYN_SENT;
	c->rcv_wnd = tcp_wnd_free(t, c, NULL);
	c->snd_nxt = c->isn + 1;
	c->snd_max = c->snd_nxt;
	tcp_send_ctl(t, idx, c->isn, TCP_SYN | TCP_ACK, out);
	tcp_rto_start(t, c, TCP_SYN_RTO_MS);
	tcp_epoll_update(t, idx);
}

void tcp_log_table_full(const struct tcp_ctx *t)
{
	/* One call site for both directions: at most one line per second in all. */
	log_ratelimited(LOG_LVL_ERR, "TCP: flow table full (%u flows), refusing new connections",
			t->ft.cap);
}

static void tcp_refuse_syn(struct tcp_ctx *t, const struct frame *f, const struct tcp_seg *s,
			   struct frame_batch *out)
{
	if (tcp_tap_send_rst_reply(out, f, s, t->c->our_mac))
		t->st.rst_to_tap++;
}

static void tcp_conn_from_tap_syn(struct tcp_ctx *t, const struct frame *f, const struct tcp_seg *s,
				  const struct flow_key *k, struct frame_batch *out)
{
	int af = f->l3_kind == FRAME_L3_IP4 ? AF_INET : AF_INET6, sock, err;
	unsigned mtu = (unsigned)(t->c->mtu ? t->c->mtu : TCP_MTU_DEFAULT);
	union nat_sockaddr target;
	struct tcp_conn *c;
	bool loopback;
	uint32_t idx;
	socklen_t sl;

	if (!nat_outbound(t->c, &t->dns, af, &k->raddr, k->rport, &target, &sl, &loopback)) {
		trace("TCP: no target for a SYN to port %u, reset", k->rport);
		tcp_refuse_syn(t, f, s, out);
		return;
	}
	if (t->ft.count >= t->ft.cap) {
		t->st.refused_full++;
		tcp_log_table_full(t);
		tcp_refuse_syn(t, f, s, out);
		return;
	}
	sock = socket(af, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (sock < 0) {
		log_ratelimited(LOG_LVL_WARN, "TCP: socket: %s", strerror(errno));
		tcp_refuse_syn(t, f, s, out);
		return;
	}
	idx = tcp_conn_new(t, k, sock, &err);
	if (idx == FLOW_NONE) {
		close(sock);
		tcp_refuse_syn(t, f, s, out);
		return;
	}
	c = &t->conn[idx];
	c->flags = TCP_F_CONNECTING;
	c->isn_tap = s->seq;
	c->rcv_nxt = s->seq + 1;
	c->rcv_acked = c->rcv_nxt;
	c->snd_wnd = s->wnd; /* not scaled in a SYN */
	c->ws_from_tap = s->ws >= 0 ? (uint8_t)s->ws : 0;
	c->ws_to_tap = s->ws >= 0 ? t->ws : 0;
	if (s->ws >= 0)
		c->flags |= TCP_F_WS;
	c->mss = s->mss ? s->mss : TCP_GUEST_MSS_DEFAULT;
	if (c->mss < TCP_MSS_MIN)
		c->mss = TCP_MSS_MIN;
	if (c->mss > mtu - (af == AF_INET ? 40 : 60))
		c->mss = (uint16_t)(mtu - (af == AF_INET ? 40 : 60));
	t->st.opened_out++;

	tcp_sock_setup(t, sock, af);
	if (!loopback)
		nat_bind_outbound(t->c, sock, af);
	if (connect(sock, &target.sa, sl) == 0) {
		tcp_epoll_update(t, idx);
		tcp_conn_connected(t, idx, out);
		return;
	}
	if (errno != EINPROGRESS) {
		debug("TCP: flow %u: connect: %s", idx, strerror(errno));
		tcp_conn_close(t, idx, TCP_CLOSE_RST_TAP, out);
		return;
	}
	tcp_epoll_update(t, idx);
	tcp_rto_start(t, c, TCP_CONNECT_TIMEOUT_MS);
}

/* ---- Guest segments ---- */

/* The guest's ACK and window. */
static void tcp_ack_from_tap(struct tcp_ctx *t, uint32_t idx, const struct tcp_seg *s,
			     struct frame_batch *out)
{
	struct tcp_conn *c = &t->conn[idx];
	uint32_t wnd = (uint32_t)s->wnd << c->ws_from_tap, ack = s->ack;

	if (SEQ_GT(ack, c->snd_una) && SEQ_LE(ack, c->snd_max)) {
		uint32_t data_end = ack;

		if ((c->flags & TCP_F_SOCK_EOF) && SEQ_GT(ack, c->fin_seq)) {
			data_end = c->fin_seq;
			c->flags |= TCP_F_FIN_ACKED;
		}
		if (SEQ_GT(data_end, c->snd_una)) {
			c->unconsumed += data_end - c->snd_una;
			c->bytes_to_tap += data_end - c->snd_una;
		}
		c->snd_una = ack;
		if (SEQ_GT(ack, c->snd_nxt)) {
			/* Acked past a rewind: the peek offset is 0 once consumed. */
			c->snd_nxt = ack;
			if (c->flags & TCP_F_FIN_ACKED)
				c->flags |= TCP_F_FIN_SENT;
		}
		c->dup_acks = 0;
		c->retries = 0;
		c->rto = TCP_RTO_INIT_MS;
		c->rto_at = 0;
		if (c->snd_una != c->snd_max)
			tcp_rto_start(t, c, c->rto);
		if (c->flags & TCP_F_RECOVERY) {
			if (SEQ_GE(ack, c->recover))
				c->flags &= ~TCP_F_RECOVERY;
			else
				tcp_retransmit_head(t, idx, out); /* partial ACK: next hole */
		}
		c->snd_wnd = wnd;
		tcp_defer(t, idx, TCP_F_SEND_DUE);
		return;
	}
	if (ack == c->snd_una && !s->len && !(s->flags & (TCP_FIN | TCP_SYN)) &&
	    wnd == c->snd_wnd && c->snd_nxt != c->snd_una) {
		if (++c->dup_acks == 3 && !(c->flags & TCP_F_RECOVERY)) {
			c->flags |= TCP_F_RECOVERY;
			c->recover = c->snd_max;
			tcp_retransmit_head(t, idx, out);
		}
		return;
	}
	if (wnd != c->snd_wnd) {
		if (wnd > c->snd_wnd)
			tcp_defer(t, idx, TCP_F_SEND_DUE);
		c->snd_wnd = wnd;
	}
}

/* The guest's data and FIN. */
static void tcp_data_from_tap(struct tcp_ctx *t, uint32_t idx, const struct tcp_seg *s,
			      struct frame_batch *out)
{
	struct tcp_conn *c = &t->conn[idx];
	uint32_t seq = s->seq, len = (uint32_t)s->len, off = 0;
	bool fin = s->flags & TCP_FIN;

	if (!len && !fin) {
		/* A pure ACK is acceptable at rcv_nxt only; anything else (the guest's zero
		 * window probe is rcv_nxt - 1) gets an ACK with the window as it is now. */
		if (s->seq != c->rcv_nxt) {
			tcp_wnd_refresh(t, c);
			tcp_send_ack(t, idx, out);
			tcp_epoll_update(t, idx);
		}
		return;
	}
	if (c->flags & TCP_F_TAP_FIN) {
		tcp_send_ack(t, idx, out); /* retransmitted FIN, or data after it */
		return;
	}
	if (SEQ_LT(seq, c->rcv_nxt)) {
		off = c->rcv_nxt - seq;
		if (off > len || (off == len && !fin)) {
			tcp_send_ack(t, idx, out); /* old duplicate */
			return;
		}
	} else if (SEQ_GT(seq, c->rcv_nxt)) {
		t->st.out_of_order++;
		tcp_send_ack(t, idx, out); /* a gap: duplicate ACK */
		return;
	}
	if (len > off) {
		struct iovec iov;
		const void *p = pkt_at(&s->payload, off, len - off);
		ssize_t n;

		if (!p)
			return;
		iov.iov_base = (void *)p;
		iov.iov_len = len - off;
		n = tcp_buf_write(&t->tails, &c->tail, c->sock, &iov, 1, len - off);
		if (n < 0) {
			debug("TCP: flow %u: write: %s", idx, strerror((int)-n));
			tcp_conn_close(t, idx, TCP_CLOSE_RST_TAP | TCP_CLOSE_RST_HOST, out);
			return;
		}
		if (c->tail.area != TCP_TAIL_NONE)
			t->st.short_writes++;
		c->rcv_nxt += (uint32_t)n;
		c->bytes_from_tap += (uint64_t)n;
		if ((uint32_t)n < len - off) {
			/* Three identical ACKs: the guest retransmits the rest at once (fast
			 * retransmit) rather than on its timer. */
			t->st.tail_refused += len - off - (uint32_t)n;
			tcp_wnd_refresh(t, c);
			tcp_send_ack(t, idx, out);
			tcp_send_ack(t, idx, out);
			tcp_send_ack(t, idx, out);
			tcp_epoll_update(t, idx);
			return; /* the FIN, if any, comes again with the rest */
		}
	}
	if (fin) {
		c->rcv_nxt++;
		c->flags |= TCP_F_TAP_FIN;
		if (c->tail.area == TCP_TAIL_NONE && shutdown(c->sock, SHUT_WR) == 0)
			c->flags |= TCP_F_SHUT_WR;
	}
	tcp_epoll_update(t, idx);
	tcp_defer(t, idx, TCP_F_ACK_DUE);
}

static void tcp_conn_segment(struct tcp_ctx *t, uint32_t idx, const struct tcp_seg *s,
			     struct frame_batch *out)
{
	struct tcp_conn *c = &t->conn[idx];

	c->last_act = t->now;
	trace("TCP %u: guest: flags %#x seq %u ack %u len %zu wnd %u (flags %#x)", idx, s->flags,
	      s->seq - c->isn_tap, s->ack - c->isn, s->len, s->wnd, c->flags);
	if (s->flags & TCP_RST) {
		bool ok;

		if (!(c->flags & TCP_F_ESTABLISHED) && (c->flags & TCP_F_INBOUND))
			ok = (s->flags & TCP_ACK) && s->ack == c->isn + 1;
		else
			ok = SEQ_GE(s->seq, c->rcv_nxt) &&
				SEQ_LE(s->seq, c->rcv_nxt + (c->rcv_wnd ? c->rcv_wnd : 1));
		if (ok)
			tcp_conn_close(t, idx, TCP_CLOSE_RST_HOST, out);
		return;
	}
	if ((c->flags & TCP_F_INBOUND) && !(c->flags & TCP_F_ESTABLISHED)) {
		/* We sent the SYN: expect the guest's SYN-ACK. */
		if ((s->flags & (TCP_SYN | TCP_ACK)) != (TCP_SYN | TCP_ACK) ||
		    s->ack != c->isn + 1) {
			if ((s->flags & TCP_ACK) && s->ack != c->isn + 1)
				tcp_send_ctl(t, idx, s->ack, TCP_RST, out);
			return;
		}
		c->isn_tap = s->seq;
		c->rcv_nxt = s->seq + 1;
		/* Our SYN's window went out before we knew where the guest's sequence starts: the
		 * edge it promised counts from here. */
		c->rcv_acked = c->rcv_nxt;
		c->snd_una = s->ack;
		c->snd_wnd = s->wnd;
		if (s->ws < 0)
			c->ws_to_tap = c->ws_from_tap = 0;
		else
			c->ws_from_tap = (uint8_t)s->ws;
		if (s->mss && s->mss < c->mss)
			c->mss = s->mss < TCP_MSS_MIN ? TCP_MSS_MIN : s->mss;
		c->flags = (c->flags & ~TCP_F_SYN_SENT) | TCP_F_ESTABLISHED;
		c->rto_at = 0;
		c->retries = 0;
		tcp_wnd_refresh(t, c);
		tcp_send_ack(t, idx, out);
		tcp_data_to_tap(t, idx, out);
		return;
	}
	if (s->flags & TCP_SYN) {
		/* A retransmitted SYN: resend our SYN-ACK if it is out; else a challenge ACK. */
		if (!(c->flags & TCP_F_ESTABLISHED) && s->seq == c->isn_tap) {
			if (c->flags & TCP_F_SYN_SENT)
				tcp_send_ctl(t, idx, c->isn, TCP_SYN | TCP_ACK, out);
		} else if (c->flags & TCP_F_ESTABLISHED) {
			tcp_send_ack(t, idx, out);
		}
		return;
	}
	if (!(s->flags & TCP_ACK))
		return;
	if (!(c->flags & TCP_F_ESTABLISHED)) {
		if (!(c->flags & TCP_F_SYN_SENT))
			return; /* still connecting: the guest cannot have seen a SYN-ACK */
		if (s->ack != c->isn + 1) {
			tcp_send_ctl(t, idx, s->ack, TCP_RST, out);
			return;
		}
		c->flags = (c->flags & ~TCP_F_SYN_SENT) | TCP_F_ESTABLISHED;
		c->snd_una = s->ack;
		c->rto_at = 0;
		c->retries = 0;
		c->snd_wnd = (uint32_t)s->wnd << c->ws_from_tap;
		tcp_defer(t, idx, TCP_F_SEND_DUE);
	} else {
		tcp_ack_from_tap(t, idx, s, out);
	}
	if (!flow_in_use(&t->ft, idx))
		return;
	tcp_data_from_tap(t, idx, s, out);
	if (flow_in_use(&t->ft, idx))
		tcp_conn_maybe_done(t, idx, out);
}

int tcp_tap_recv(struct tcp_ctx *t, const struct frame *f, struct frame_batch *out)
{
	struct flow_key k;
	struct tcp_seg s;
	uint32_t idx;
	int af;

	if (t->c->no_tcp)
		return 0;
	if (tcp_tap_parse(f, &s) < 0) {
		t->st.bad_segments++;
		return -1;
	}
	t->now = tcp_now_ms();
	af = f->l3_kind == FRAME_L3_IP4 ? AF_INET : AF_INET6;
	flow_key_set(&k, IPPROTO_TCP, af, af == AF_INET ? (const void *)&f->src.v4 : &f->src.v6,
		     f->sport, af == AF_INET ? (const void *)&f->dst.v4 : &f->dst.v6, f->dport);
	idx = flow_lookup(&t->ft, &k);
	if (idx == FLOW_NONE) {
		if (s.flags & TCP_RST)
			return 0;
		if ((s.flags & (TCP_SYN | TCP_ACK | TCP_FIN)) == TCP_SYN && !t->c->no_tcp) {
			tcp_conn_from_tap_syn(t, f, &s, &k, out);
			return 0;
		}
		if (tcp_tap_send_rst_reply(out, f, &s, t->c->our_mac))
			t->st.rst_to_tap++;
		return 0;
	}
	tcp_conn_segment(t, idx, &s, out);
	return 0;
}

void tcp_tap_batch_done(struct tcp_ctx *t, struct frame_batch *out)
{
	unsigned i;

	if (!t || !t->deferred_count)
		return;
	t->now = tcp_now_ms();
	for (i = 0; i < t->deferred_count; i++) {
		uint32_t idx = t->deferred[i];
		struct tcp_conn *c = &t->conn[idx];

		if (!flow_in_use(&t->ft, idx) || !(c->flags & TCP_F_DEFERRED))
			continue;
		c->flags &= ~TCP_F_DEFERRED;
		if (c->flags & TCP_F_ACK_DUE)
			tcp_wnd_refresh(t, c);
		if (c->flags & TCP_F_SEND_DUE) {
			c->flags &= ~TCP_F_SEND_DUE;
			tcp_data_to_tap(t, idx, out);
			if (!flow_in_use(&t->ft, idx))
				continue;
		}
		if (c->flags & TCP_F_ACK_DUE)
			tcp_send_ack(t, idx, out);
		tcp_epoll_update(t, idx);
		tcp_conn_maybe_done(t, idx, out);
	}
	t->deferred_count = 0;
}

/* ---- Set-up ---- */

static bool tcp_peek_off_supported(int af)
{
	int s = socket(af, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP), zero = 0;
	bool ok;

	if (s < 0)
		return false;
	ok = setsockopt(s, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)) == 0;
	close(s);
	return ok;
}

/* Smallest window scale that lets us advertise the largest send buffer autotuning can reach. */
static uint8_t tcp_ws_derive(void)
{
	unsigned long lo, def, max;
	uint8_t ws = 0;
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_wmem", "re");
	int n;

	if (!f)
		return TCP_WS_DEFAULT;
	n = fscanf(f, "%lu %lu %lu", &lo, &def, &max);
	fclose(f);
	if (n != 3)
		return TCP_WS_DEFAULT;
	while (ws < 14 && (0xffffUL << ws) < max)
		ws++;
	return ws;
}

struct tcp_ctx *tcp_new(const struct config *c, struct guest_state *g, int epollfd,
			unsigned max_flows)
{
	struct tcp_ctx *t = calloc(1, sizeof(*t));
	struct epoll_event ev;
	unsigned cap = max_flows ? max_flows : TCP_FLOWS_DEFAULT;
	int ret;

	if (!t)
		return NULL;
	t->c = c;
	t->g = g;
	t->epollfd = epollfd;
	t->timerfd = -1;
	if (flow_table_init(&t->ft, cap) < 0)
		goto fail;
	t->conn = calloc(cap, sizeof(*t->conn));
	t->deferred = calloc(cap, sizeof(*t->deferred));
	t->starved = calloc(cap, sizeof(*t->starved));
	t->scratch = calloc(cap, sizeof(*t->scratch));
	if (!t->conn || !t->deferred || !t->starved || !t->scratch)
		goto fail;
	if (tcp_buf_pool_init(&t->tails, TCP_TAIL_AREAS, TCP_TAIL_AREA_SIZE) < 0)
		goto fail;
	if (getrandom(t->isn_key, sizeof(t->isn_key), 0) != sizeof(t->isn_key))
		goto fail;
	nat_dns_default(&t->dns, c);
	t->ws = tcp_ws_derive();
	t->peek_off[0] = tcp_peek_off_supported(AF_INET);
	t->peek_off[1] = tcp_peek_off_supported(AF_INET6);
	/* Tests force the path of kernels without SO_PEEK_OFF for TCP (before Linux 6.9). */
	if (getenv("BPASST_TCP_NO_PEEK_OFF"))
		t->peek_off[0] = t->peek_off[1] = false;
	if (!t->peek_off[0] || !t->peek_off[1]) {
		t->discard = malloc(TCP_DISCARD_SIZE);
		if (!t->discard)
			goto fail;
	}
	t->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (t->timerfd < 0)
		goto fail;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u64 = epoll_ref_make(EPOLL_KIND_TCP, TCP_INDEX_TIMER);
	if (epoll_ctl(epollfd, EPOLL_CTL_ADD, t->timerfd, &ev) < 0)
		goto fail;
	if (!c->no_tcp) {
		ret = fwd_listen(&t->fl, &c->tcp_in, SOCK_STREAM, c->ip4.enabled, c->ip6.enabled,
				 epollfd, EPOLL_KIND_TCP_LISTEN);
		if (ret < 0)
			goto fail;
	}
	debug("TCP: %u flows, window scale %u, SO_PEEK_OFF %s/%s", cap, t->ws,
	      t->peek_off[0] ? "yes" : "no", t->peek_off[1] ? "yes" : "no");
	return t;
fail:
	err("TCP: set-up failed");
	tcp_free(t);
	return NULL;
}

void tcp_free(struct tcp_ctx *t)
{
	unsigned i;

	if (!t)
		return;
	for (i = t->ft.count; i-- > 0;)
		tcp_conn_close(t, flow_nth(&t->ft, i), TCP_CLOSE_RST_HOST, NULL);
	fwd_close(&t->fl);
	if (t->timerfd >= 0)
		close(t->timerfd);
	tcp_buf_pool_free(&t->tails);
	flow_table_free(&t->ft);
	free(t->conn);
	free(t->deferred);
	free(t->starved);
	free(t->scratch);
	free(t->discard);
	free(t);
}

void tcp_guest_gone(struct tcp_ctx *t)
{
	unsigned i;

	if (!t)
		return;
	for (i = t->ft.count; i-- > 0;)
		tcp_conn_close(t, flow_nth(&t->ft, i), TCP_CLOSE_RST_HOST, NULL);
	t->deferred_count = t->starved_count = t->rec_count = 0;
}

void tcp_dns_host_set(struct tcp_ctx *t, int af, const void *addr, uint16_t port)
{
	nat_dns_set(&t->dns, af, addr, port);
}

struct fwd_listeners *tcp_listeners(struct tcp_ctx *t)
{
	return &t->fl;
}

unsigned tcp_flow_count(const struct tcp_ctx *t)
{
	return t->ft.count;
}

const struct tcp_stats *tcp_get_stats(const struct tcp_ctx *t)
{
	return &t->st;
}

/* The coarse state a reader of the flow mirror sees. */
static enum flow_view_state tcp_view_state(const struct tcp_conn *c)
{
	if (c->flags & (TCP_F_SOCK_EOF | TCP_F_FIN_SENT | TCP_F_TAP_FIN | TCP_F_SHUT_WR))
		return FLOW_VIEW_CLOSING;
	if (c->flags & TCP_F_ESTABLISHED)
		return FLOW_VIEW_ESTABLISHED;
	return FLOW_VIEW_NEW;
}

void tcp_flow_foreach(const struct tcp_ctx *t, flow_view_fn fn, void *arg)
{
	unsigned i;

	if (!t)
		return;
	for (i = 0; i < t->ft.count; i++) {
		uint32_t idx = flow_nth(&t->ft, i);
		const struct flow_key *k = flow_key_at(&t->ft, idx);
		const struct tcp_conn *c = &t->conn[idx];
		struct flow_view v;

		memset(&v, 0, sizeof(v));
		v.index = idx;
		v.gen = c->gen;
		v.proto = IPPROTO_TCP;
		v.state = (uint8_t)tcp_view_state(c);
		v.af = flow_key_af(k);
		v.guest_addr = k->gaddr;
		v.remote_addr = k->raddr;
		v.guest_port = k->gport;
		v.remote_port = k->rport;
		v.sock = c->sock;
		v.bytes_from_guest = c->bytes_from_tap;
		v.bytes_to_guest = c->bytes_to_tap;
		fn(&v, arg);
	}
}
