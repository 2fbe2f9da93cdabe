/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tcp_splice.h - pasta's loopback path for TCP: two sockets joined by splice(2), no tap
 *
 * A connection from the host's loopback to a -t port, or from the namespace's loopback to a -T
 * port, never becomes frames: the daemon accepts it on one side, connects a socket of its own to
 * the loopback address of the other side, and moves the bytes between the two sockets with
 * splice(2) through a pipe per direction. See tcp_splice.c for the theory of operation.
 *
 * struct tcp_splice_conn is the one place that holds what the two sockets of a spliced
 * connection share (descriptors, pipes, per-direction progress, end-of-stream and shutdown
 * state, and the loopback bypass's per-connection state, struct tcp_splice_byp).
 *
 * The loopback bypass (--bpf-bypass, user/io/bypass.c) lives a floor above: it registers a
 * struct tcp_splice_hooks with tcp_splice_set_hooks(), and this file calls them at four points
 * of a connection's life (before our connect(), once connected, after a relay round that left a
 * direction's pipe empty, and before the sockets are closed). Without hooks (the default)
 * nothing changes. The hooks may read the connection and write its `byp` member only.
 *
 * Wiring (the patch is in notes/splice-wiring.patch):
 *   - pasta only, after the namespace exists and before privileges are dropped:
 *     tcp_splice_new() (it opens the -T listeners inside the namespace);
 *   - the -t listeners stay tcp's: tcp_listen_event() offers a connection whose peer is a
 *     loopback address (tcp_splice_peer_is_loopback()) to tcp_splice_from_host(), and carries
 *     it through the tap itself when that declines;
 *   - epoll: EPOLL_KIND_TCP_SPLICE -> tcp_splice_event() (both sockets of every connection and
 *     the -T listeners; nothing for the guest comes out of it, so no frame batch).
 */
#ifndef BPASST_TCP_SPLICE_H
#define BPASST_TCP_SPLICE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bpasst_bypass.h"
#include "core/config.h"
#include "flow/fwd.h"

#define TCP_SPLICE_CONNS_DEFAULT 2048 /* 2 sockets and up to 4 pipe ends each */
#define TCP_SPLICE_POOL_SIZE 32 /* sockets opened ahead inside the namespace, per family */
#define TCP_SPLICE_PIPE_SIZE (512 * 1024) /* bulk directions ask for this; may be refused */
#define TCP_SPLICE_PIPE_GROW_AFTER (256 * 1024) /* bytes relayed before a pipe is grown */
/* Epoll index: a -T listener (TCP_SPLICE_INDEX_LISTENER set, low bits its number), or a
 * connection's socket: the low 8 bits of the connection's generation (bits 23-30), the
 * connection (bits 1-22), the side (bit 0). The generation tells a stale event (for a socket
 * closed earlier in the same epoll_wait() batch) from one for the slot's new connection. */
#define TCP_SPLICE_INDEX_LISTENER (1u << 31)
#define TCP_SPLICE_INDEX_GEN_SHIFT 23
#define TCP_SPLICE_MAX_CONNS (1u << 22)

/* One direction of a spliced connection: bytes read from sock[d] are written to sock[!d]. */
struct tcp_splice_dir {
	int pipe_r, pipe_w; /* the pipe between the two sockets, -1 until data first comes */
	uint32_t pending; /* bytes in the pipe */
	bool eof; /* end of stream read from the source */
	bool shut; /* shutdown(SHUT_WR) done on the destination (FIN relayed) */
	bool blocked; /* the destination took no more (EAGAIN): reading waits for its EPOLLOUT */
	bool held; /* the hold hook kept the pipe's bytes from the destination: reading waits for
		    * tcp_splice_resume() */
	bool grown; /* the pipe was grown (or that was tried) */
	uint64_t relayed; /* bytes written to the destination */
};

/* Where the loopback bypass stands with one direction (owned by user/io/bypass_grant.c, which
 * has the per-direction protocol in its theory of operation; zero: never looked at). */
enum tcp_splice_byp_state {
	TCP_SPLICE_BYP_NONE = 0, /* no bypass for this direction (yet, or ever) */
	TCP_SPLICE_BYP_RELAY, /* on the relay; a hand-over may be attempted */
	TCP_SPLICE_BYP_RETRY, /* an attempt was postponed: the next one at retry_ms */
	TCP_SPLICE_BYP_GRANTED, /* permission written: the sender switches at its next sendmsg */
	TCP_SPLICE_BYP_REDIRECT, /* the sender was seen bypassing the relay (mode: how) */
	TCP_SPLICE_BYP_GAVE_UP, /* too many attempts in one episode: relay (re-armed later) */
};

struct tcp_splice_byp_dir {
	uint8_t state; /* enum tcp_splice_byp_state */
	uint8_t attempts; /* in the current hand-over episode */
	uint16_t delay_ms; /* back-off of the next retry */
	uint32_t gen; /* of the last permission written, 0: none */
	uint8_t mode; /* enum bp_bypass_mode the sender was last seen in */
	uint8_t target; /* enum bp_bypass_mode of the last permission */
	bool ingress_ever; /* an INGRESS permission was written or the tail switched on
			    * (redirected data may exist) */
	bool tail_sock; /* sock[!d] is in bypass_tailsock (the relay's tail into the receiver) */
	bool tail; /* that tail was switched on, and not yet seen back on TCP */
	bool no_tail; /* sock[!d] could not go into bypass_tailsock (not ESTABLISHED any more) */
	uint16_t hold_ms; /* back-off of the checks of a relay held by the bypass (hold hook) */
	uint8_t last_wait; /* enum bypass_verdict of the last postponed attempt (RETRY) */
	uint16_t idle_tries; /* attempts from relay rounds in this episode (sender ahead of us) */
	uint64_t allow; /* end.passed of that permission (GAVE_UP: bytes relayed at giving up) */
	uint64_t allow_egressed; /* end.egressed of that permission */
	uint64_t retry_ms; /* CLOCK_MONOTONIC ms: next attempt (RETRY), re-arm (GAVE_UP) */
};

/* How the bypass carries a direction as far as the daemon knows: enum bp_bypass_mode, RELAY
 * unless the sender was seen in INGRESS or EGRESS (for the flow mirror and the counters). */
static inline uint8_t tcp_splice_byp_mode(const struct tcp_splice_byp_dir *bd)
{
	if (bd->state == TCP_SPLICE_BYP_REDIRECT)
		return bd->mode;
	return BP_BYPASS_MODE_RELAY;
}

/* The bypass's part of a connection: the two endpoints' keys and each direction's state. */
struct tcp_splice_byp {
	bool offered; /* the pre_connect hook saw it: its relayed bytes count in the bypass's
		       * relayed_c2s / relayed_s2c (until closing adds them to the closed total) */
	bool keyed; /* key[0] is valid and sock[1]'s cookie is registered (pre_connect hook) */
	bool expecting; /* b_cookie is in bypass_expect_cookie, or key[1] may be in bypass_expect */
	bool have_server_key; /* key[1] is valid (known once sock[1] is connected) */
	bool ends; /* both endpoints were found in bypass_ends */
	bool outs; /* key[0] -> sock[1] and key[1] -> sock[0] may be in bypass_out (egress mode) */
	bool queued; /* in the bypass's retry list */
	bool counted; /* counted as a registered connection */
	uint8_t ends_tries; /* looks for the endpoints so far */
	uint64_t b_cookie; /* SO_COOKIE of sock[1] */
	struct bp_bypass_key key[2]; /* [0] the client C (sends dir 0), [1] the server S */
	struct tcp_splice_byp_dir dir[2];
};

/* A spliced connection. sock[0] is the accepted side (the client's connection to our
 * listener), sock[1] the side we connected to the server; dir[d] carries sock[d]'s data. */
struct tcp_splice_conn {
	int sock[2];
	uint32_t events[2]; /* epoll mask registered on each socket */
	bool registered[2]; /* in the epoll set (a side that wants no event is taken out) */
	bool connecting; /* sock[1]: connect() in progress */
	bool from_ns; /* accepted inside the namespace (-T) rather than on the host (-t) */
	uint8_t af; /* AF_INET or AF_INET6 (both sides) */
	uint16_t port; /* the port sock[1] connected to */
	uint32_t gen; /* bumped when the slot is reused */
	struct tcp_splice_dir dir[2];
	struct tcp_splice_byp byp; /* written by the bypass hooks only */
};

/* Called by tcp_splice.c when hooks are set (tcp_splice_set_hooks()); conn stays valid for the
 * duration of the call only, and a hook must not call back into tcp_splice.c:
 *   pre_connect  sock[1] is about to connect() (not bound: connect() picks its port)
 *   connected    sock[1]'s connect() succeeded; the relay starts next
 *   dir_idle     a relay round in direction d left its pipe empty, without end of stream
 *   hold         direction d is about to write its pipe into sock[!d]: true keeps the bytes
 *                in the pipe (dir[d].held; the source is not read meanwhile, so TCP holds the
 *                sender) until the hook's owner calls tcp_splice_resume()
 *   closing      the connection goes (reset: by an error or a reset, else both FINs relayed);
 *                its sockets are still open */
struct tcp_splice_hooks {
	void *ctx;
	void (*pre_connect)(void *ctx, uint32_t idx, struct tcp_splice_conn *conn);
	void (*connected)(void *ctx, uint32_t idx, struct tcp_splice_conn *conn);
	void (*dir_idle)(void *ctx, uint32_t idx, struct tcp_splice_conn *conn, int d);
	void (*closing)(void *ctx, uint32_t idx, struct tcp_splice_conn *conn, bool reset);
	bool (*hold)(void *ctx, uint32_t idx, struct tcp_splice_conn *conn, int d);
};

struct tcp_splice_stats {
	unsigned long opened_from_host, opened_from_ns;
	unsigned long closed; /* both sides finished cleanly */
	unsigned long reset; /* ended by a reset or an error (RST sent on our sockets) */
	unsigned long connect_failed; /* our connect() failed: the client was reset */
	unsigned long refused_full; /* table full: -t left to the tap path, -T reset */
	unsigned long pool_empty; /* -t left to the tap path: no socket in the namespace */
	unsigned long pool_refills; /* helper runs that opened sockets in the namespace */
	unsigned long bytes[2]; /* relayed: [0] client to server, [1] server to client */
};

struct tcp_splice;

/* Set up, pasta only: a table of max_conns connections (0: TCP_SPLICE_CONNS_DEFAULT), and the
 * -T listeners of c->tcp_out opened inside the namespace (netns_fd, with userns_fd its user
 * namespace or -1), on 127.0.0.1 and ::1, registered in epollfd. NULL on failure (logged). */
struct tcp_splice *tcp_splice_new(const struct config *c, int epollfd, int netns_fd, int userns_fd,
				  unsigned max_conns);
/* Reset every connection, close every listener and pooled socket, free. NULL is fine. */
void tcp_splice_free(struct tcp_splice *s);

/* Does a connection accepted from peer belong on the splice path (a loopback peer)? */
bool tcp_splice_peer_is_loopback(const struct sockaddr_storage *peer);
/* -t: sock (non-blocking) was accepted on the host from a loopback address by a listener of
 * family af forwarding to to_port. true: it is ours now; we connect to the namespace's loopback,
 * port to_port, and splice (a failure later resets the client). false: the table is full or no
 * socket could be opened in the namespace; sock is untouched, and the caller carries the
 * connection through the tap instead. */
bool tcp_splice_from_host(struct tcp_splice *s, int sock, int af, uint16_t to_port);
/* EPOLL_KIND_TCP_SPLICE event. */
void tcp_splice_event(struct tcp_splice *s, uint32_t index, uint32_t events);

unsigned tcp_splice_count(const struct tcp_splice *s);
const struct tcp_splice_stats *tcp_splice_get_stats(const struct tcp_splice *s);
/* A connection by table slot, or NULL when the slot is free (for the bypass and the tests). */
const struct tcp_splice_conn *tcp_splice_conn_at(const struct tcp_splice *s, uint32_t idx);
/* The same, writable: for the bypass's retry timer, which writes conn->byp only. */
struct tcp_splice_conn *tcp_splice_conn_get(struct tcp_splice *s, uint32_t idx);
/* Number of slots (connection indexes are below it). */
unsigned tcp_splice_capacity(const struct tcp_splice *s);
/* Run direction d of connection idx again after its hold hook held it (no-op unless it is held
 * and the slot still has generation gen). Not from inside a hook. */
void tcp_splice_resume(struct tcp_splice *s, uint32_t idx, uint32_t gen, int d);
/* Install hooks (copied), or remove them with NULL. */
void tcp_splice_set_hooks(struct tcp_splice *s, const struct tcp_splice_hooks *h);
/* The -T listeners (fd, family, port, target port). */
const struct fwd_listeners *tcp_splice_listeners(const struct tcp_splice *s);
/* The same, writable: pasta's "auto" (flow/fwd_auto.c) adds and removes -T listeners. */
struct fwd_listeners *tcp_splice_ns_listeners(struct tcp_splice *s);

#endif /* BPASST_TCP_SPLICE_H */
