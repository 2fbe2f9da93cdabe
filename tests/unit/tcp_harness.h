/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tcp_harness.h - the test bench of test_tcp.c: the translator in a test process, a guest model
 *
 * struct env: a test config (documentation addresses, gateway 192.0.2.1 / fe80::1, which the
 * translator maps to the host's loopback), a guest_state, an epoll set routed as main.c routes it
 * (env_poll()), the translator itself and its output batch.
 *
 * struct gconn: a small model of the guest's end of one connection. g_xmit_raw() / g_send() build
 * its segments with the core frame builders (checksums by ip_finish(), optionally corrupted) and
 * hand them to tcp_tap_recv(); env_deliver() takes the frames the translator put in the batch,
 * re-parses them (tcp_tap_parse() verifies every checksum) and gives each to g_rx(), which keeps
 * the byte stream, the ACK and window it was offered, and checks on the way that the translator
 * never sends beyond the window the guest advertised nor offers more than a socket could take.
 * Host-side helpers: listening sockets on 127.0.0.1 / ::1, an unused port, reset detection.
 *
 * Header-only (static functions), included by test_tcp.c. Every check prints the failing
 * expression with file:line and exits 1.
 */
#ifndef BPASST_TCP_HARNESS_H
#define BPASST_TCP_HARNESS_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/batch.h"
#include "core/config.h"
#include "core/epoll_ref.h"
#include "core/guest.h"
#include "core/log.h"
#include "core/packet.h"
#include "flow/tcp.h"
#include "flow/tcp_tap.h"

#include "check.h"

#define SEQ_LE(a, b) ((int32_t)((a) - (b)) <= 0)
#define SEQ_LT(a, b) ((int32_t)((a) - (b)) < 0)

static uint64_t rng_state = 0x13198a2e03707344ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static void rng_fill(uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(rng() >> 32);
}

/* The largest send buffer autotuning gives a socket (tcp_wmem's third value): no window we
 * advertise may exceed it, the socket could never take that much. */
static uint32_t wmem_max = 4 << 20;

static void read_wmem_max(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_wmem", "r");
	unsigned long a, b, c;

	if (f && fscanf(f, "%lu %lu %lu", &a, &b, &c) == 3)
		wmem_max = (uint32_t)c;
	if (f)
		fclose(f);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- The environment: config, translator, epoll, output batch ---- */

struct env {
	struct config c;
	struct guest_state g;
	int epfd;
	struct tcp_ctx *t;
	struct frame_batch out;
};

static const uint8_t guest_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };

static void env_init(struct env *e, unsigned max_flows, int mtu, const struct fwd_set *tcp_in)
{
	memset(e, 0, sizeof(*e));
	config_defaults(&e->c, MODE_PASTA, "test_tcp");
	inet_pton(AF_INET, "192.0.2.2", &e->c.ip4.addr);
	e->c.ip4.prefix_len = 24;
	inet_pton(AF_INET, "192.0.2.1", &e->c.ip4.gw);
	e->c.ip4.have_gw = true;
	inet_pton(AF_INET6, "2001:db8::2", &e->c.ip6.addr);
	e->c.ip6.prefix_len = 64;
	inet_pton(AF_INET6, "fe80::1", &e->c.ip6.gw);
	e->c.ip6.have_gw = true;
	e->c.mtu = mtu;
	if (tcp_in)
		e->c.tcp_in = *tcp_in;
	memcpy(e->g.mac, guest_mac, 6);
	e->g.mac_known = true;
	e->g.addr4_seen = e->c.ip4.addr;
	e->g.addr6_seen = e->c.ip6.addr;
	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	CHECK(e->epfd >= 0);
	e->t = tcp_new(&e->c, &e->g, e->epfd, max_flows);
	CHECK(e->t != NULL);
	CHECK_EQ(batch_init(&e->out, 128, BP_FRAME_MAX), 0);
}

static void env_free(struct env *e)
{
	tcp_free(e->t);
	batch_free(&e->out);
	close(e->epfd);
}

/* One round of the epoll loop, routed as main.c does. Returns the number of events. */
static int env_poll(struct env *e, int timeout_ms)
{
	struct epoll_event ev[64];
	int n = epoll_wait(e->epfd, ev, 64, timeout_ms), i;

	for (i = 0; i < n; i++) {
		union epoll_ref r = { .u64 = ev[i].data.u64 };

		if (r.kind == EPOLL_KIND_TCP)
			tcp_sock_event(e->t, r.index, ev[i].events, &e->out);
		else if (r.kind == EPOLL_KIND_TCP_LISTEN)
			tcp_listen_event(e->t, r.index, ev[i].events, &e->out);
	}
	return n < 0 ? 0 : n;
}

/* ---- The guest model ---- */

struct gconn {
	int af;
	struct in6_addr gaddr, raddr; /* IPv4: struct in_addr in the first 4 bytes */
	uint16_t gport, rport;
	/* what the guest sends */
	uint32_t isn, snd_nxt;
	uint16_t wnd; /* window field the guest advertises */
	int ws; /* window scale the guest offers (-1: none) */
	uint16_t mss; /* MSS the guest offers */
	uint32_t ack_sent; /* last ACK number the guest sent */
	/* what the guest learned from the translator */
	uint32_t peer_isn, rcv_nxt, peer_ack, peer_wnd;
	int peer_ws;
	uint16_t peer_mss;
	bool synack, syn, fin, rst;
	unsigned data_segs, dup_segs, gap_segs, acks_seen;
	uint8_t last_flags;
	uint32_t last_seq, last_len;
	uint8_t *rx;
	size_t rx_len, rx_cap;
	bool drop_next; /* lose the next data segment */
};

static void gconn_init(struct gconn *gc, int af, uint16_t gport, uint16_t rport)
{
	memset(gc, 0, sizeof(*gc));
	gc->af = af;
	if (af == AF_INET) {
		inet_pton(AF_INET, "192.0.2.2", &gc->gaddr);
		inet_pton(AF_INET, "192.0.2.1", &gc->raddr);
	} else {
		inet_pton(AF_INET6, "2001:db8::2", &gc->gaddr);
		inet_pton(AF_INET6, "fe80::1", &gc->raddr);
	}
	gc->gport = gport;
	gc->rport = rport;
	gc->isn = (uint32_t)rng();
	gc->snd_nxt = gc->isn;
	gc->wnd = 65535;
	gc->ws = 2;
	gc->mss = 65480;
	gc->peer_ws = 0;
	gc->rx_cap = 16 << 20;
	gc->rx = malloc(gc->rx_cap);
	CHECK(gc->rx != NULL);
}

static void gconn_free(struct gconn *gc)
{
	free(gc->rx);
}

#define XMIT_CORRUPT 1
#define XMIT_SYN_OPTS 2

/* Build a segment from the guest and hand it to the translator. Returns tcp_tap_recv()'s value. */
static int g_xmit_raw(struct env *e, struct gconn *gc, uint32_t seq, uint32_t ack, uint8_t flags,
		      uint16_t wnd, const void *data, size_t len, int how)
{
	static uint8_t buf[BP_FRAME_MAX];
	struct frame_builder fb;
	uint8_t *th;
	size_t opt_len = (how & XMIT_SYN_OPTS) ? (gc->ws >= 0 ? 8 : 4) : 0, flen;
	struct frame f;

	fb_init(&fb, buf, sizeof(buf));
	CHECK(eth_push(&fb, e->c.our_mac, guest_mac,
		       gc->af == AF_INET ? BP_ETH_P_IP : BP_ETH_P_IPV6));
	if (gc->af == AF_INET) {
		struct in_addr s, d;

		memcpy(&s, &gc->gaddr, 4);
		memcpy(&d, &gc->raddr, 4);
		CHECK(ip4_push(&fb, s, d, IPPROTO_TCP, 64));
	} else {
		CHECK(ip6_push(&fb, &gc->gaddr, &gc->raddr, IPPROTO_TCP, 64));
	}
	th = fb_put(&fb, 20 + opt_len);
	CHECK(th != NULL);
	th[0] = (uint8_t)(gc->gport >> 8);
	th[1] = (uint8_t)gc->gport;
	th[2] = (uint8_t)(gc->rport >> 8);
	th[3] = (uint8_t)gc->rport;
	th[4] = (uint8_t)(seq >> 24);
	th[5] = (uint8_t)(seq >> 16);
	th[6] = (uint8_t)(seq >> 8);
	th[7] = (uint8_t)seq;
	th[8] = (uint8_t)(ack >> 24);
	th[9] = (uint8_t)(ack >> 16);
	th[10] = (uint8_t)(ack >> 8);
	th[11] = (uint8_t)ack;
	th[12] = (uint8_t)(((20 + opt_len) / 4) << 4);
	th[13] = flags;
	th[14] = (uint8_t)(wnd >> 8);
	th[15] = (uint8_t)wnd;
	if (opt_len) {
		th[20] = 2;
		th[21] = 4;
		th[22] = (uint8_t)(gc->mss >> 8);
		th[23] = (uint8_t)gc->mss;
		if (gc->ws >= 0) {
			th[24] = 1;
			th[25] = 3;
			th[26] = 3;
			th[27] = (uint8_t)gc->ws;
		}
	}
	if (len)
		CHECK(fb_append(&fb, data, len));
	flen = ip_finish(&fb);
	CHECK(flen > 0);
	if (how & XMIT_CORRUPT)
		buf[flen - 1] ^= 0x5a;
	CHECK_EQ(frame_parse(buf, flen, &f), 0);
	if (flags & TCP_ACK)
		gc->ack_sent = ack;
	return tcp_tap_recv(e->t, &f, &e->out);
}

static int g_send(struct env *e, struct gconn *gc, uint8_t flags, const void *data, size_t len)
{
	uint32_t seq = gc->snd_nxt;
	int ret;

	gc->snd_nxt += (uint32_t)len + ((flags & TCP_SYN) ? 1 : 0) + ((flags & TCP_FIN) ? 1 : 0);
	ret = g_xmit_raw(e, gc, seq, (flags & TCP_ACK) ? gc->rcv_nxt : 0, flags, gc->wnd, data, len,
			 (flags & TCP_SYN) ? XMIT_SYN_OPTS : 0);
	return ret;
}

static void g_ack(struct env *e, struct gconn *gc)
{
	g_send(e, gc, TCP_ACK, NULL, 0);
}

static bool gconn_match(const struct gconn *gc, const struct frame *f)
{
	if (gc->af == AF_INET)
		return f->l3_kind == FRAME_L3_IP4 && !memcmp(&f->dst.v4, &gc->gaddr, 4) &&
			!memcmp(&f->src.v4, &gc->raddr, 4) && f->dport == gc->gport &&
			f->sport == gc->rport;
	return f->l3_kind == FRAME_L3_IP6 && !memcmp(&f->dst.v6, &gc->gaddr, 16) &&
		!memcmp(&f->src.v6, &gc->raddr, 16) && f->dport == gc->gport &&
		f->sport == gc->rport;
}

/* The guest receives one of our segments. */
static void g_rx(struct gconn *gc, const struct tcp_seg *s, const struct frame *f)
{
	uint32_t len = (uint32_t)s->len;

	CHECK(!memcmp(f->dst_mac, guest_mac, 6));
	gc->last_flags = s->flags;
	gc->last_seq = s->seq;
	gc->last_len = len;
	if (s->flags & TCP_RST) {
		gc->rst = true;
		return;
	}
	if (s->flags & TCP_SYN) {
		gc->peer_isn = s->seq;
		gc->rcv_nxt = s->seq + 1;
		gc->peer_mss = s->mss;
		gc->peer_ws = s->ws;
		gc->peer_wnd = s->wnd; /* never scaled in a SYN */
		if (s->flags & TCP_ACK) {
			gc->synack = true;
			gc->peer_ack = s->ack;
		} else {
			gc->syn = true;
		}
		return;
	}
	if (s->flags & TCP_ACK) {
		gc->acks_seen++;
		gc->peer_ack = s->ack;
		gc->peer_wnd = (uint32_t)s->wnd
			<< (gc->ws >= 0 && gc->peer_ws >= 0 ? gc->peer_ws : 0);
		CHECK(gc->peer_wnd <= wmem_max);
	}
	if (len) {
		/* Never past the window the guest advertised. */
		CHECK(SEQ_LE(s->seq + len,
			     gc->ack_sent + ((uint32_t)gc->wnd << (gc->ws >= 0 ? gc->ws : 0))));
		CHECK(len <= gc->mss);
		if (gc->drop_next) {
			gc->drop_next = false;
			return;
		}
		if (s->seq == gc->rcv_nxt) {
			const void *p = pkt_at(&s->payload, 0, len);

			CHECK(p != NULL);
			CHECK(gc->rx_len + len <= gc->rx_cap);
			memcpy(gc->rx + gc->rx_len, p, len);
			gc->rx_len += len;
			gc->rcv_nxt += len;
			gc->data_segs++;
		} else if (SEQ_LT(s->seq, gc->rcv_nxt)) {
			gc->dup_segs++;
		} else {
			gc->gap_segs++;
			return;
		}
	}
	if ((s->flags & TCP_FIN) && s->seq + len == gc->rcv_nxt) {
		gc->rcv_nxt++;
		gc->fin = true;
	}
}

/* Hand every frame in the batch to the guest model it belongs to, then empty the batch. Returns
 * the number of frames. Frames that match no model are counted in *stray. */
static unsigned env_deliver(struct env *e, struct gconn **gcs, unsigned n, unsigned *stray)
{
	unsigned i, j, count = e->out.count;

	for (i = 0; i < count; i++) {
		struct frame f;
		struct tcp_seg s;
		size_t len;
		uint8_t *p = batch_frame(&e->out, i, &len);

		CHECK(p != NULL);
		CHECK_EQ(frame_parse(p, len, &f), 0);
		CHECK_EQ(f.l4_proto, IPPROTO_TCP);
		CHECK_EQ(tcp_tap_parse(&f, &s), 0); /* checksum verified here */
		for (j = 0; j < n; j++) {
			if (gconn_match(gcs[j], &f)) {
				g_rx(gcs[j], &s, &f);
				break;
			}
		}
		if (j == n && stray)
			(*stray)++;
	}
	tcp_flushed(e->t, count, count);
	batch_reset(&e->out);
	return count;
}

static unsigned deliver1(struct env *e, struct gconn *gc)
{
	return env_deliver(e, &gc, 1, NULL);
}

/* ---- Host side helpers ---- */

/* TCP_MAXSEG for the next host_listen() (0: none): a small MSS makes the translator's socket
 * start with a small send buffer, as on a 1500-byte path. */
static int host_listen_maxseg;

static int host_listen(int af, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int s = socket(af, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	CHECK(s >= 0);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (host_listen_maxseg)
		CHECK_EQ(setsockopt(s, IPPROTO_TCP, TCP_MAXSEG, &host_listen_maxseg,
				    sizeof(host_listen_maxseg)),
			 0);
	memset(&ss, 0, sizeof(ss));
	if (af == AF_INET) {
		struct sockaddr_in *sa = (struct sockaddr_in *)&ss;

		sa->sin_family = AF_INET;
		sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(*sa);
	} else {
		struct sockaddr_in6 *sa = (struct sockaddr_in6 *)&ss;

		sa->sin6_family = AF_INET6;
		sa->sin6_addr = in6addr_loopback;
		sl = sizeof(*sa);
	}
	CHECK_EQ(bind(s, (struct sockaddr *)&ss, sl), 0);
	CHECK_EQ(listen(s, 16), 0);
	sl = sizeof(ss);
	CHECK_EQ(getsockname(s, (struct sockaddr *)&ss, &sl), 0);
	*port = ntohs(af == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
				    : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return s;
}

/* A port nothing listens on (bound and closed again). */
static uint16_t unused_port(int af)
{
	uint16_t port;
	int s = host_listen(af, &port);

	close(s);
	return port;
}

/* The connection of fd was reset (SO_ERROR set), rather than closed with a FIN. */
static bool host_saw_reset(int fd)
{
	socklen_t sl = sizeof(int);
	int e = 0;

	getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl);
	return e != 0;
}

static void set_nonblock(int fd)
{
	CHECK(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0);
}

/* Guest connects to the gateway's port (-> host loopback); returns the accepted host socket. */
static int open_outbound(struct env *e, struct gconn *gc, int lsock)
{
	uint64_t deadline = now_ms() + 5000;
	int s;

	CHECK_EQ(g_send(e, gc, TCP_SYN, NULL, 0), 0);
	while (!gc->synack && !gc->rst && now_ms() < deadline) {
		deliver1(e, gc);
		if (!gc->synack)
			env_poll(e, 50);
	}
	deliver1(e, gc);
	CHECK(gc->synack);
	CHECK_EQ(gc->peer_ack, gc->isn + 1);
	g_ack(e, gc);
	tcp_tap_batch_done(e->t, &e->out);
	s = accept(lsock, NULL, NULL);
	CHECK(s >= 0);
	set_nonblock(s);
	return s;
}

#endif /* BPASST_TCP_HARNESS_H */
