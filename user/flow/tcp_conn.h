/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tcp_conn.h - TCP translator internals shared by tcp.c (guest side, state machine) and
 * tcp_sock.c (host sockets, timers, inbound connections); not for use outside flow/tcp*.c
 *
 * The per-connection state (struct tcp_conn, indexed by flow-table slot), the context that owns
 * all of it (struct tcp_ctx), and the functions the two files call in each other. See tcp.c for
 * the theory of operation.
 */
#ifndef BPASST_TCP_CONN_H
#define BPASST_TCP_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "core/batch.h"
#include "core/config.h"
#include "core/guest.h"
#include "flow/flow.h"
#include "flow/fwd.h"
#include "flow/nat.h"
#include "flow/tcp.h"
#include "flow/tcp_buf.h"
#include "flow/tcp_tap.h"

#define SEQ_LT(a, b) ((int32_t)((a) - (b)) < 0)
#define SEQ_LE(a, b) ((int32_t)((a) - (b)) <= 0)
#define SEQ_GT(a, b) ((int32_t)((a) - (b)) > 0)
#define SEQ_GE(a, b) ((int32_t)((a) - (b)) >= 0)

#define TCP_MTU_DEFAULT 65520
#define TCP_GUEST_MSS_DEFAULT 536 /* when the guest's SYN has no MSS option (RFC 9293) */
#define TCP_MSS_MIN 64 /* smaller MSS options are raised to this (Linux: tcp_min_snd_mss 48) */
#define TCP_WS_DEFAULT 7
#define TCP_RTO_INIT_MS 200
#define TCP_RTO_MAX_MS 10000
#define TCP_SYN_RTO_MS 1000
#define TCP_RETRIES_MAX 10
#define TCP_SYN_RETRIES_MAX 4
#define TCP_CONNECT_TIMEOUT_MS 30000
#define TCP_IDLE_TIMEOUT_MS (7200 * 1000ULL)
#define TCP_ACCEPT_BATCH 32
#define TCP_TAIL_AREAS 256 /* flows with a tail at once; pages touched only when used */
#define TCP_TAIL_AREA_SIZE (256 * 1024) /* a segment or two (window rounding, estimates) */
#define TCP_DISCARD_SIZE (4 * 1024 * 1024) /* in-flight limit without SO_PEEK_OFF */
#define TCP_FRAME_RECS 1024

enum tcp_flag {
	TCP_F_INBOUND = 1 << 0, /* opened by accept() on a forwarded port */
	TCP_F_CONNECTING = 1 << 1, /* outbound: host connect() in progress */
	TCP_F_SYN_SENT = 1 << 2, /* our SYN or SYN-ACK is out, not yet acknowledged */
	TCP_F_ESTABLISHED = 1 << 3, /* both handshakes done */
	TCP_F_SOCK_EOF = 1 << 4, /* end of stream found on the socket: fin_seq valid */
	TCP_F_FIN_SENT = 1 << 5, /* our FIN is in [snd_una, snd_nxt) */
	TCP_F_FIN_ACKED = 1 << 6, /* the guest acknowledged our FIN */
	TCP_F_TAP_FIN = 1 << 7, /* the guest's FIN is in (rcv_nxt counts it) */
	TCP_F_SHUT_WR = 1 << 8, /* shutdown(SHUT_WR) done on the socket */
	TCP_F_DEFERRED = 1 << 9, /* in the deferred list (batch end) */
	TCP_F_ACK_DUE = 1 << 10, /* an ACK to the guest is due */
	TCP_F_SEND_DUE = 1 << 11, /* try sending socket data to the guest */
	TCP_F_STARVED = 1 << 12, /* in the starved list: found the batch full */
	TCP_F_WND_WATCH = 1 << 13, /* small window advertised: EPOLLOUT for an update */
	TCP_F_RECOVERY = 1 << 14, /* fast retransmit done, until snd_una passes recover */
	TCP_F_RDHUP = 1 << 15, /* the socket reported the peer's FIN: peek until end of stream */
	TCP_F_WS = 1 << 16, /* the guest's SYN offered window scaling: ours goes in the SYN-ACK */
};

struct tcp_conn {
	int sock;
	uint32_t flags;
	uint32_t events; /* epoll mask registered */
	uint32_t gen; /* bumped when the slot is reused */
	uint16_t mss; /* segment size towards the guest */
	uint8_t ws_to_tap; /* shift of the windows we advertise */
	uint8_t ws_from_tap; /* shift of the guest's window field */
	uint8_t dup_acks, retries;
	/* guest -> host */
	uint32_t isn_tap; /* the guest's initial sequence number */
	uint32_t rcv_nxt; /* next sequence number expected from the guest */
	uint32_t rcv_acked; /* last acknowledgement number sent to the guest */
	uint32_t rcv_wnd; /* window advertised with it (bytes) */
	/* host -> guest */
	uint32_t isn, snd_una, snd_nxt, snd_max, fin_seq, recover;
	uint32_t snd_wnd; /* the guest's window (bytes, scaled) */
	uint32_t unconsumed; /* acked bytes still to be consumed from the socket */
	uint32_t rto; /* ms */
	uint64_t rto_at; /* ms: retransmission / probe / connect deadline, 0: none */
	uint64_t last_act; /* ms */
	uint64_t bytes_from_tap; /* payload written to the socket (flow mirror) */
	uint64_t bytes_to_tap; /* payload the guest acknowledged (flow mirror) */
	struct tcp_tail tail;
};

/* A run of data frames (or a FIN) in the batch, to rewind when the edge drops them. */
struct tcp_frame_rec {
	uint32_t idx, gen, seq;
	uint16_t first, count; /* frames in the batch */
	uint16_t mss;
	bool fin;
};

struct tcp_ctx {
	const struct config *c;
	struct guest_state *g;
	int epollfd, timerfd;
	uint64_t now; /* ms, CLOCK_MONOTONIC, refreshed at each entry point */
	uint64_t timer_armed; /* ms the timerfd fires at, 0: disarmed */
	struct flow_table ft;
	struct tcp_conn *conn;
	uint32_t *deferred, *starved, *scratch;
	unsigned deferred_count, starved_count;
	struct fwd_listeners fl;
	struct tcp_splice *splice; /* pasta: where loopback peers go (tcp_set_splice()), or NULL */
	struct nat_dns dns; /* --dns-forward targets (tcp_dns_host_set()) */
	struct tcp_buf_pool tails;
	uint8_t ws; /* window scale we offer */
	bool peek_off[2]; /* SO_PEEK_OFF works: [0] IPv4, [1] IPv6 */
	uint8_t *discard; /* only without SO_PEEK_OFF */
	uint64_t isn_key[2];
	uint32_t gen;
	struct tcp_frame_rec recs[TCP_FRAME_RECS];
	unsigned rec_count;
	struct tcp_stats st;
};

enum tcp_close_how {
	TCP_CLOSE_QUIET = 0, /* both sides done */
	TCP_CLOSE_RST_HOST = 1, /* abort the host socket (RST to the host peer) */
	TCP_CLOSE_RST_TAP = 2, /* RST to the guest */
};

static inline uint64_t tcp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline bool tcp_is_v4(const struct tcp_ctx *t, uint32_t idx)
{
	return flow_key_af(flow_key_at(&t->ft, idx)) == AF_INET;
}

/* tcp.c */
void tcp_timer_arm(struct tcp_ctx *t, uint64_t at);
uint64_t tcp_conn_deadline(const struct tcp_conn *c);
void tcp_rto_start(struct tcp_ctx *t, struct tcp_conn *c, uint32_t ms);
void tcp_defer(struct tcp_ctx *t, uint32_t idx, uint32_t what);
void tcp_starve(struct tcp_ctx *t, uint32_t idx);
void tcp_conn_addr(const struct tcp_ctx *t, uint32_t idx, struct tcp_tap_addr *a);
bool tcp_send_ctl(struct tcp_ctx *t, uint32_t idx, uint32_t seq, uint8_t flags,
		  struct frame_batch *out);
void tcp_send_ack(struct tcp_ctx *t, uint32_t idx, struct frame_batch *out);
uint32_t tcp_conn_new(struct tcp_ctx *t, const struct flow_key *k, int sock, int *err);
void tcp_conn_close(struct tcp_ctx *t, uint32_t idx, int how, struct frame_batch *out);
bool tcp_conn_maybe_done(struct tcp_ctx *t, uint32_t idx, struct frame_batch *out);
void tcp_log_table_full(const struct tcp_ctx *t);
void tcp_sock_setup(struct tcp_ctx *t, int sock, int af);
void tcp_conn_connected(struct tcp_ctx *t, uint32_t idx, struct frame_batch *out);

/* tcp_sock.c */
void tcp_epoll_update(struct tcp_ctx *t, uint32_t idx);
bool tcp_sock_consume(struct tcp_conn *c);
uint32_t tcp_wnd_free(struct tcp_ctx *t, struct tcp_conn *c, uint32_t *sndbuf_out);
uint16_t tcp_wnd_field(struct tcp_conn *c);
void tcp_wnd_refresh(struct tcp_ctx *t, struct tcp_conn *c);
void tcp_data_to_tap(struct tcp_ctx *t, uint32_t idx, struct frame_batch *out);
void tcp_retransmit_head(struct tcp_ctx *t, uint32_t idx, struct frame_batch *out);
void tcp_rewind(struct tcp_ctx *t, uint32_t idx, uint32_t seq);

#endif /* BPASST_TCP_CONN_H */
