/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tcp_sock.c - TCP translator, host side: sockets, windows, data to the guest, timers, inbound
 *
 * What happens on the host socket of a flow (the theory of operation is at the top of tcp.c):
 *   - epoll interest (edge-triggered EPOLLIN | EPOLLRDHUP, EPOLLOUT while needed);
 *   - the window advertised to the guest, from the socket's free send space (SO_MEMINFO);
 *   - data to the guest: consume what the guest acknowledged (recv(MSG_TRUNC)), then peek the
 *     rest into batch frames (tcp_tap_send_data); our FIN at end of stream; retransmission by
 *     rewinding the peek offset, or of the first segment only on duplicate ACKs;
 *   - socket events (connect done, data, writable, error), the timerfd (retransmission, zero
 *     window probes, connect and idle timeouts, resuming flows that found the batch full);
 *   - inbound connections accepted on forwarded ports (addresses translated by nat.c);
 *   - tcp_flushed(): rewinding flows whose frames the edge could not write.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/sock_diag.h>
#include <linux/sockios.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "core/epoll_ref.h"
#include "core/log.h"
#include "flow/tcp_conn.h"
#include "flow/tcp_splice.h"

/* ---- Socket helpers ---- */

static void tcp_epoll_set(struct tcp_ctx *t, uint32_t idx, uint32_t events, bool force)
{
	struct tcp_conn *c = &t->conn[idx];
	struct epoll_event ev;

	if (c->events == events && !force)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.u64 = epoll_ref_make(EPOLL_KIND_TCP, idx);
	if (epoll_ctl(t->epollfd, c->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->sock, &ev) < 0) {
		warn("TCP: epoll_ctl for flow %u: %s", idx, strerror(errno));
		return;
	}
	c->events = events;
}

/* The epoll mask an established (or half-open) flow needs now. */
void tcp_epoll_update(struct tcp_ctx *t, uint32_t idx)
{
	struct tcp_conn *c = &t->conn[idx];
	uint32_t ev = EPOLLIN | EPOLLRDHUP | EPOLLET;

	if (c->flags & TCP_F_CONNECTING)
		ev = EPOLLOUT | EPOLLET;
	else if (c->tail.area != TCP_TAIL_NONE || (c->flags & TCP_F_WND_WATCH))
		ev |= EPOLLOUT;
	/* Waiting to reopen a small window: modify even when the mask is the same. The kernel
	 * wakes EPOLLOUT only after a write found the socket full (SOCK_NOSPACE); re-polling it
	 * sets that when the socket is not writable, so the next drain below the threshold
	 * (a third of the send buffer free) brings an edge; and when it is writable, the edge
	 * comes at once. */
	tcp_epoll_set(t, idx, ev, c->flags & TCP_F_WND_WATCH);
}

/* Consume acknowledged bytes from the socket's receive queue. false on a socket error. */
bool tcp_sock_consume(struct tcp_conn *c)
{
	ssize_t n;

	if (!c->unconsumed)
		return true;
	n = recv(c->sock, NULL, c->unconsumed, MSG_TRUNC | MSG_DONTWAIT);
	if (n < 0 || (size_t)n != c->unconsumed) {
		debug("TCP: consuming %u acked bytes: %zd (%s)", c->unconsumed, n,
		      n < 0 ? strerror(errno) : "short");
		return false;
	}
	c->unconsumed = 0;
	return true;
}

/* Bytes of data sent to the guest and not acknowledged (the peek offset). */
static uint32_t tcp_data_in_flight(const struct tcp_conn *c)
{
	uint32_t data_nxt = c->snd_nxt - ((c->flags & TCP_F_FIN_SENT) ? 1 : 0);

	return SEQ_GT(data_nxt, c->snd_una) ? data_nxt - c->snd_una : 0;
}

static void tcp_peek_off_set(struct tcp_ctx *t, uint32_t idx, uint32_t off)
{
	struct tcp_conn *c = &t->conn[idx];
	int v = (int)off;

	if (t->peek_off[tcp_is_v4(t, idx) ? 0 : 1])
		setsockopt(c->sock, SOL_SOCKET, SO_PEEK_OFF, &v, sizeof(v));
}

/* What the socket can take now, as a window for the guest (bytes, a multiple of 1 << ws). */
uint32_t tcp_wnd_free(struct tcp_ctx *t, struct tcp_conn *c, uint32_t *sndbuf_out)
{
	uint32_t mi[SK_MEMINFO_VARS], sndbuf;
	socklen_t sl = sizeof(mi);
	uint64_t free_b, cap;

	(void)t;
	if (sndbuf_out)
		*sndbuf_out = 0;
	if (c->flags & TCP_F_TAP_FIN)
		return 0;
	if (getsockopt(c->sock, SOL_SOCKET, SO_MEMINFO, mi, &sl) < 0 ||
	    sl < sizeof(uint32_t) * (SK_MEMINFO_WMEM_QUEUED + 1)) {
		/* No SO_MEMINFO: SO_SNDBUF (the kernel's budget, overhead included) less the
		 * bytes queued, halved for the overhead. */
		int sb = 0, outq = 0;
		socklen_t il = sizeof(sb);

		if (getsockopt(c->sock, SOL_SOCKET, SO_SNDBUF, &sb, &il) < 0 ||
		    ioctl(c->sock, SIOCOUTQ, &outq) < 0)
			return 0;
		sndbuf = sb > 0 ? (uint32_t)sb : 0;
		free_b = sb > outq ? (uint64_t)(sb - outq) / 2 : 0;
	} else {
		uint32_t queued = mi[SK_MEMINFO_WMEM_QUEUED];

		sndbuf = mi[SK_MEMINFO_SNDBUF];
		free_b = sndbuf > queued ? sndbuf - queued : 0;
		free_b -= free_b / 8; /* per-buffer overhead counts against the budget too */
	}
	if (sndbuf_out)
		*sndbuf_out = sndbuf;
	free_b = free_b > c->tail.len ? free_b - c->tail.len : 0;
	cap = (uint64_t)0xffff << c->ws_to_tap;
	if (free_b > cap)
		free_b = cap;
	/* The guest sends whole segments and will not send one that does not fit (sender-side
	 * silly window avoidance: it waits for its persist timer, 200 ms or more). A young socket's
	 * send buffer is often smaller than a segment, so with no tail pending we offer at least
	 * one (rounded up to what the scale can say); what the socket cannot take of it goes to
	 * the tail area, which so holds about a segment at most. */
	if (!c->tail.len && free_b < c->mss)
		return ((uint32_t)c->mss + (1u << c->ws_to_tap) - 1) & ~((1u << c->ws_to_tap) - 1);
	return (uint32_t)free_b & ~((1u << c->ws_to_tap) - 1);
}

/* Window field for a segment acknowledging rcv_nxt, keeping the right edge advertised last;
 * records it as advertised. */
uint16_t tcp_wnd_field(struct tcp_conn *c)
{
	uint32_t edge = c->rcv_acked + c->rcv_wnd, w;

	w = SEQ_GT(edge, c->rcv_nxt) ? edge - c->rcv_nxt : 0;
	if (w >> c->ws_to_tap > 0xffff)
		w = 0xffffu << c->ws_to_tap;
	c->rcv_acked = c->rcv_nxt;
	c->rcv_wnd = w & ~((1u << c->ws_to_tap) - 1);
	if (!c->rcv_wnd)
		c->flags |= TCP_F_WND_WATCH; /* closed: reopen it when the socket drains */
	return (uint16_t)(w >> c->ws_to_tap);
}

/* Advertise a fresh window: what the socket can take, never pulling the right edge back. */
/* Is a window of w bytes small enough to watch EPOLLOUT for its reopening? The socket is writable
 * again once a third of its buffer is free, which makes the window (7/8 of the free space) larger
 * than a quarter of the buffer: so a writable socket never has a small window, and watching it
 * cannot turn into a loop of EPOLLOUT events. */
static bool tcp_wnd_is_small(const struct tcp_conn *c, uint32_t w, uint32_t sndbuf)
{
	uint32_t small = 4u * c->mss;

	if (small > sndbuf / 4)
		small = sndbuf / 4;
	return !w || w < small;
}

void tcp_wnd_refresh(struct tcp_ctx *t, struct tcp_conn *c)
{
	uint32_t sndbuf, w = tcp_wnd_free(t, c, &sndbuf), edge = c->rcv_acked + c->rcv_wnd;

	if (SEQ_LT(c->rcv_nxt + w, edge))
		w = SEQ_GT(edge, c->rcv_nxt) ? edge - c->rcv_nxt : 0;
	c->rcv_acked = c->rcv_nxt;
	c->rcv_wnd = w;
	if (tcp_wnd_is_small(c, w, sndbuf))
		c->flags |= TCP_F_WND_WATCH;
	else
		c->flags &= ~TCP_F_WND_WATCH;
}

/* ---- Host -> guest data ---- */

static void tcp_rec_frames(struct tcp_ctx *t, uint32_t idx, unsigned first, unsigned count,
			   uint32_t seq, bool fin)
{
	struct tcp_frame_rec *r;

	/* Frames are appended, so a run that starts before the last one ended means the batch
	 * was flushed and reset without tcp_flushed() (the qemu stream edge flushes a full batch
	 * in the middle of a read): the old runs are gone. */
	if (t->rec_count &&
	    first < (unsigned)t->recs[t->rec_count - 1].first + t->recs[t->rec_count - 1].count)
		t->rec_count = 0;
	if (t->rec_count >= TCP_FRAME_RECS || first > UINT16_MAX || count > UINT16_MAX)
		return;
	r = &t->recs[t->rec_count++];
	r->idx = idx;
	r->gen = t->conn[idx].gen;
	r->seq = seq;
	r->first = (uint16_t)first;
	r->count = (uint16_t)count;
	r->mss = t->conn[idx].mss;
	r->fin = fin;
}

static void tcp_send_fin(struct tcp_ctx *t, uint32_t idx, struct frame_batch *out)
{
	struct tcp_conn *c = &t->conn[idx];
	unsigned first = out->count;

	if (!tcp_send_ctl(t, idx, c->fin_seq, TCP_FIN | TCP_ACK, out)) {
		tcp_starve(t, idx);
		return;
	}
	tcp_rec_frames(t, idx, first, 1, c->fin_seq, true);
	c->flags |= TCP_F_FIN_SENT;
	c->snd_nxt = c->fin_seq + 1;
	if (SEQ_GT(c->snd_nxt, c->snd_max))
		c->snd_max = c->snd_nxt;
	if (!c->rto_at)
		tcp_rto_start(t, c, c->rto);
}

/* Send what the socket holds past the peek offset, within the guest's window and the batch. */
void tcp_data_to_tap(struct tcp_ctx *t, uint32_t idx, struct frame_batch *out)
{
	struct tcp_conn *c = &t->conn[idx];
	bool v4 = tcp_is_v4(t, idx);
	struct tcp_tap_addr a;
	int rounds;

	if (!(c->flags & TCP_F_ESTABLISHED) || (c->flags & TCP_F_FIN_SENT))
		return;
	if (!tcp_sock_consume(c)) {
		tcp_conn_close(t, idx, TCP_CLOSE_RST_TAP | TCP_CLOSE_RST_HOST, out);
		return;
	}
	tcp_conn_addr(t, idx, &a);
	for (rounds = 0; rounds < 4; rounds++) {
		uint32_t in_flight = c->snd_nxt - c->snd_una, room, skip = 0;
		unsigned first, slots = out->max_frames - out->count;
		long n;

		/* End of stream known: data up to fin_seq (again, after a rewind), then FIN. */
		if ((c->flags & TCP_F_SOCK_EOF) && c->snd_nxt == c->fin_seq) {
			tcp_send_fin(t, idx, out);
			return;
		}
		if (in_flight >= c->snd_wnd) {
			if (!c->rto_at && c->snd_una == c->snd_nxt)
				tcp_rto_start(t, c, c->rto); /* zero window: probe */
			return;
		}
		room = c->snd_wnd - in_flight;
		if ((c->flags & TCP_F_SOCK_EOF) && room > c->fin_seq - c->snd_nxt)
			room = c->fin_seq - c->snd_nxt;
		if (!t->peek_off[v4 ? 0 : 1]) {
			skip = in_flight;
			if (in_flight >= TCP_DISCARD_SIZE)
				return;
			if (room > TCP_DISCARD_SIZE - in_flight)
				room = TCP_DISCARD_SIZE - in_flight;
		}
		if (!slots) {
			tcp_starve(t, idx);
			return;
		}
		n = tcp_tap_send_data(out, &a, c->sock, c->snd_nxt, c->rcv_nxt, tcp_wnd_field(c),
				      c->mss, room, slots, t->discard, skip, &first);
		if (n == -EAGAIN)
			return;
		if (n == -ENOBUFS) {
			tcp_starve(t, idx);
			return;
		}
		if (n == 0) {
			if (!(c->flags & TCP_F_SOCK_EOF)) {
				c->flags |= TCP_F_SOCK_EOF;
				c->fin_seq = c->snd_nxt;
			}
			if (c->snd_nxt == c->fin_seq)
				tcp_send_fin(t, idx, out);
			return;
		}
		if (n < 0) {
			debug("TCP: flow %u: peek: %s", idx, strerror((int)-n));
			tcp_conn_close(t, idx, TCP_CLOSE_RST_TAP | TCP_CLOSE_RST_HOST, out);
			return;
		}
		trace("TCP %u: to guest: data seq %u len %ld, guest window %u, in flight %u", idx,
		      c->snd_nxt - c->isn, n, c->snd_wnd, in_flight);
		c->flags &= ~TCP_F_ACK_DUE; /* the data carries the ACK */
		tcp_rec_frames(t, idx, first, out->count - first, c->snd_nxt, false);
		c->snd_nxt += (uint32_t)n;
		if (SEQ_GT(c->snd_nxt, c->snd_max))
			c->snd_max = c->snd_nxt;
		if (!c->rto_at)
			tcp_rto_start(t, c, c->rto);
		/* Less than asked for: the socket is drained until the next edge, unless its end
		 * of stream was reported already (then the next peek finds it). */
		if ((uint32_t)n < room && (size_t)n < (size_t)slots * c->mss &&
		    !(c->flags & TCP_F_RDHUP))
			return;
	}
}

/* Retransmit the first unacknowledged segment (duplicate ACKs, partial ACKs in recovery). */
void tcp_retransmit_head(struct tcp_ctx *t, uint32_t idx, struct frame_batch *out)
{
	struct tcp_conn *c = &t->conn[idx];
	uint32_t in_flight = tcp_data_in_flight(c), len;
	struct tcp_tap_addr a;
	unsigned first;
	long n;

	if (!in_flight || !tcp_sock_consume(c))
		return;
	len = in_flight < c->mss ? in_flight : c->mss;
	tcp_conn_addr(t, idx, &a);
	tcp_peek_off_set(t, idx, 0);
	n = tcp_tap_send_data(out, &a, c->sock, c->snd_una, c->rcv_nxt, tcp_wnd_field(c), c->mss,
			      len, 1, t->discard, 0, &first);
	tcp_peek_off_set(t, idx, in_flight);
	if (n > 0)
		t->st.retrans_fast++;
}

/* Retransmission timeout: go back to snd_una and send again from there. */
void tcp_rewind(struct tcp_ctx *t, uint32_t idx, uint32_t seq)
{
	struct tcp_conn *c = &t->conn[idx];

	if (!SEQ_LT(seq, c->snd_nxt) || SEQ_LT(seq, c->snd_una))
		return;
	if ((c->flags & TCP_F_FIN_SENT) && SEQ_LE(seq, c->fin_seq))
		c->flags &= ~TCP_F_FIN_SENT;
	c->snd_nxt = seq;
	if (!tcp_sock_consume(c))
		return;
	tcp_peek_off_set(t, idx, c->snd_nxt - c->snd_una);
}

/* ---- Batch end, socket events, timers ---- */

/* The socket drained since we advertised a small window: flush a tail, send a window update. */
static void tcp_sock_writable(struct tcp_ctx *t, uint32_t idx, struct frame_batch *out)
{
	struct tcp_conn *c = &t->conn[idx];
	uint32_t old_edge, w, sndbuf;

	if (c->tail.area != TCP_TAIL_NONE) {
		ssize_t n = tcp_buf_flush(&t->tails, &c->tail, c->sock);

		if (n < 0) {
			tcp_conn_close(t, idx, TCP_CLOSE_RST_TAP | TCP_CLOSE_RST_HOST, out);
			return;
		}
		if (n > 0)
			return;
		if ((c->flags & TCP_F_TAP_FIN) && !(c->flags & TCP_F_SHUT_WR) &&
		    shutdown(c->sock, SHUT_WR) == 0)
			c->flags |= TCP_F_SHUT_WR;
	}
	if (!(c->flags & TCP_F_WND_WATCH) || !(c->flags & TCP_F_ESTABLISHED) ||
	    (c->flags & TCP_F_TAP_FIN)) {
		c->flags &= ~TCP_F_WND_WATCH;
		return;
	}
	old_edge = c->rcv_acked + c->rcv_wnd;
	w = tcp_wnd_free(t, c, &sndbuf);
	if (SEQ_GT(c->rcv_nxt + w, old_edge)) {
		tcp_wnd_refresh(t, c);
		tcp_send_ack(t, idx, out);
		t->st.window_updates++;
	} else if (!sndbuf ||
		   !tcp_wnd_is_small(c, SEQ_GT(old_edge, c->rcv_nxt) ? old_edge - c->rcv_nxt : 0,
				     sndbuf)) {
		c->flags &= ~TCP_F_WND_WATCH; /* (no sndbuf: the socket cannot tell, stop asking) */
	}
}

static void tcp_conn_timeout(struct tcp_ctx *t, uint32_t idx, struct frame_batch *out)
{
	struct tcp_conn *c = &t->conn[idx];

	if (!c->rto_at || c->rto_at > t->now) {
		if (c->last_act + TCP_IDLE_TIMEOUT_MS <= t->now) {
			debug("TCP: flow %u idle, closing", idx);
			tcp_conn_close(t, idx, TCP_CLOSE_RST_TAP | TCP_CLOSE_RST_HOST, out);
		}
		return;
	}
	c->rto_at = 0;
	trace("TCP %u: timer: flags %#x una %u nxt %u max %u wnd %u rto %u", idx, c->flags,
	      c->snd_una - c->isn, c->snd_nxt - c->isn, c->snd_max - c->isn, c->snd_wnd, c->rto);
	if (c->flags & TCP_F_CONNECTING) {
		debug("TCP: flow %u: connect timed out", idx);
		tcp_conn_close(t, idx, TCP_CLOSE_RST_TAP | TCP_CLOSE_RST_HOST, out);
		return;
	}
	if (c->rto < TCP_RTO_MAX_MS)
		c->rto *= 2;
	if (c->flags & TCP_F_SYN_SENT) {
		if (++c->retries > TCP_SYN_RETRIES_MAX) {
			tcp_conn_close(t, idx, TCP_CLOSE_RST_TAP | TCP_CLOSE_RST_HOST, out);
			return;
		}
		tcp_send_ctl(t, idx, c->isn,
			     (c->flags & TCP_F_INBOUND) ? TCP_SYN : (TCP_SYN | TCP_ACK), out);
		tcp_rto_start(t, c, TCP_SYN_RTO_MS << c->retries);
		return;
	}
	if (c->snd_una != c->snd_max) {
		if (++c->retries > TCP_RETRIES_MAX) {
			debug("TCP: flow %u: too many retransmissions", idx);
			tcp_conn_close(t, idx, TCP_CLOSE_RST_TAP | TCP_CLOSE_RST_HOST, out);
			return;
		}
		t->st.retrans_timeout++;
		c->flags &= ~TCP_F_RECOVERY;
		c->dup_acks = 0;
		tcp_rewind(t, idx, c->snd_una);
		tcp_data_to_tap(t, idx, out);
		if (flow_in_use(&t->ft, idx) && !c->rto_at)
			tcp_rto_start(t, c, c->rto);
		return;
	}
	if ((c->flags & TCP_F_ESTABLISHED) && !(c->flags & TCP_F_FIN_SENT)) {
		/* Zero window: probe with an ACK one below snd_nxt, which the guest answers. */
		tcp_send_ctl(t, idx, c->snd_nxt - 1, TCP_ACK, out);
		tcp_rto_start(t, c, c->rto);
	}
}

static void tcp_timer_event(struct tcp_ctx *t, struct frame_batch *out)
{
	uint64_t expirations, next = 0;
	unsigned i, n;

	if (read(t->timerfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		debug("TCP: timerfd read: %s", strerror(errno));
	t->timer_armed = 0;

	/* Flows that found the batch full: there is room again after the flush. */
	n = t->starved_count;
	memcpy(t->scratch, t->starved, n * sizeof(*t->starved));
	t->starved_count = 0;
	for (i = 0; i < n; i++) {
		uint32_t idx = t->scratch[i];

		if (!flow_in_use(&t->ft, idx) || !(t->conn[idx].flags & TCP_F_STARVED))
			continue;
		t->conn[idx].flags &= ~TCP_F_STARVED;
		tcp_data_to_tap(t, idx, out);
	}

	for (i = t->ft.count; i-- > 0;) {
		uint32_t idx = flow_nth(&t->ft, i);
		uint64_t d;

		if (tcp_conn_deadline(&t->conn[idx]) <= t->now)
			tcp_conn_timeout(t, idx, out);
		if (!flow_in_use(&t->ft, idx))
			continue;
		d = tcp_conn_deadline(&t->conn[idx]);
		if (!next || d < next)
			next = d;
	}
	if (next)
		tcp_timer_arm(t, next);
}

void tcp_sock_event(struct tcp_ctx *t, uint32_t index, uint32_t events, struct frame_batch *out)
{
	struct tcp_conn *c;

	t->now = tcp_now_ms();
	if (index == TCP_INDEX_TIMER) {
		tcp_timer_event(t, out);
		return;
	}
	if (!flow_in_use(&t->ft, index))
		return;
	c = &t->conn[index];
	trace("TCP %u: socket events %#x (flags %#x)", index, events, c->flags);
	if (c->flags & TCP_F_CONNECTING) {
		if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			tcp_conn_connected(t, index, out);
		return;
	}
	if (events & EPOLLERR) {
		int err = 0;
		socklen_t sl = sizeof(err);

		getsockopt(c->sock, SOL_SOCKET, SO_ERROR, &err, &sl);
		if (err) {
			debug("TCP: flow %u: socket error: %s", index, strerror(err));
			tcp_conn_close(t, index, TCP_CLOSE_RST_TAP, out);
			return;
		}
	}
	c->last_act = t->now;
	if (events & EPOLLOUT) {
		tcp_sock_writable(t, index, out);
		if (!flow_in_use(&t->ft, index))
			return;
	}
	if (events & (EPOLLRDHUP | EPOLLHUP))
		c->flags |= TCP_F_RDHUP;
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))
		tcp_data_to_tap(t, index, out);
	if (!flow_in_use(&t->ft, index))
		return;
	if (!(c->flags & TCP_F_SYN_SENT))
		tcp_epoll_update(t, index);
	tcp_conn_maybe_done(t, index, out);
}

/* ---- Inbound ---- */

static void tcp_sock_abort(int sock)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(sock, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(sock);
}

static void tcp_conn_from_host(struct tcp_ctx *t, const struct fwd_listener *l, int sock,
			       const struct sockaddr_storage *ss, struct frame_batch *out)
{
	unsigned mtu = (unsigned)(t->c->mtu ? t->c->mtu : TCP_MTU_DEFAULT);
	union nat_sockaddr peer;
	struct in6_addr raddr, gaddr;
	struct tcp_conn *c;
	struct flow_key k;
	uint16_t pport;
	uint32_t idx;
	int err;

	memset(&peer, 0, sizeof(peer));
	memcpy(&peer, ss, l->af == AF_INET ? sizeof(peer.sin) : sizeof(peer.sin6));
	if (peer.sa.sa_family != l->af || !nat_inbound_peer(t->c, t->g, &peer, &raddr) ||
	    !nat_inbound_guest(t->c, t->g, l->af, &raddr, &gaddr))
		goto refuse;
	pport = ntohs(l->af == AF_INET ? peer.sin.sin_port : peer.sin6.sin6_port);
	memset(&k, 0, sizeof(k));
	k.gaddr = gaddr;
	k.raddr = raddr;
	k.gport = l->to_port;
	k.rport = pport;
	k.proto = IPPROTO_TCP;
	if (t->ft.count >= t->ft.cap) {
		t->st.refused_full++;
		tcp_log_table_full(t);
		goto refuse;
	}
	idx = tcp_conn_new(t, &k, sock, &err);
	if (idx == FLOW_NONE)
		goto refuse;
	c = &t->conn[idx];
	c->flags = TCP_F_INBOUND | TCP_F_SYN_SENT;
	c->mss = (uint16_t)(mtu - (l->af == AF_INET ? 40 : 60));
	c->ws_to_tap = t->ws;
	tcp_sock_setup(t, sock, l->af);
	c->rcv_wnd = tcp_wnd_free(t, c, NULL);
	c->snd_nxt = c->snd_max = c->isn + 1;
	t->st.opened_in++;
	tcp_send_ctl(t, idx, c->isn, TCP_SYN, out);
	tcp_rto_start(t, c, TCP_SYN_RTO_MS);
	tcp_epoll_update(t, idx);
	return;
refuse:
	tcp_sock_abort(sock);
}

void tcp_listen_event(struct tcp_ctx *t, uint32_t index, uint32_t events, struct frame_batch *out)
{
	const struct fwd_listener *l = fwd_listener_at(&t->fl, index);
	unsigned i;

	(void)events;
	if (!l)
		return;
	t->now = tcp_now_ms();
	for (i = 0; i < TCP_ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int sock =
			accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (sock < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_ratelimited(LOG_LVL_WARN, "TCP: accept on port %u: %s", l->port,
						strerror(errno));
			return;
		}
		/* pasta: from the host's loopback, by splice(2) unless tcp_splice declines */
		if (t->splice && tcp_splice_peer_is_loopback(&ss) &&
		    tcp_splice_from_host(t->splice, sock, l->af, l->to_port))
			continue;
		tcp_conn_from_host(t, l, sock, &ss, out);
	}
}

void tcp_set_splice(struct tcp_ctx *t, struct tcp_splice *s)
{
	if (t)
		t->splice = s;
}

/* ---- Dropped frames ---- */

void tcp_flushed(struct tcp_ctx *t, unsigned written, unsigned total)
{
	unsigned i;

	if (!t)
		return;
	(void)total;
	for (i = 0; i < t->rec_count; i++) {
		const struct tcp_frame_rec *r = &t->recs[i];
		unsigned d;

		if ((unsigned)r->first + r->count <= written)
			continue;
		if (!flow_in_use(&t->ft, r->idx) || t->conn[r->idx].gen != r->gen)
			continue;
		d = written > r->first ? written : r->first;
		tcp_rewind(t, r->idx, r->seq + (uint32_t)(d - r->first) * r->mss);
		t->st.retrans_dropped++;
	}
	t->rec_count = 0;
}
