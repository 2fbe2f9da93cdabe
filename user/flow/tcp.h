/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tcp.h - TCP translation between the guest's segments and ordinary host sockets
 *
 * One struct tcp_ctx holds the flow table, the per-connection state, the inbound listeners and a
 * timerfd of its own. The edge and main.c see only these entry points; every segment for the
 * guest is appended to the frame batch they pass in, never written anywhere by this module.
 *
 * Wiring (see flow/tcp.c for the theory of operation; the patch is in notes/tcp-wiring.patch):
 *   - dispatch: every guest frame with l4_proto TCP (not a fragment) -> tcp_tap_recv(); the
 *     frame may be overwritten as soon as the call returns (nothing is kept);
 *   - after dispatching one batch of frames read from the guest (tap_read_batch(),
 *     stream_handle()), before flushing `out`: tcp_tap_batch_done() (ACKs and window updates,
 *     data the guest's ACKs made room for: one ACK per flow per batch);
 *   - epoll: EPOLL_KIND_TCP -> tcp_sock_event() (this includes tcp's own timerfd, registered with
 *     index TCP_INDEX_TIMER, which also resumes flows that found `out` full: they go on after
 *     the flush); EPOLL_KIND_TCP_LISTEN -> tcp_listen_event();
 *   - after each flush of `out`: tcp_flushed(written, total) lets data frames the edge dropped
 *     (assumed the last total - written) be sent again at once rather than after a
 *     retransmission timeout; optional, and harmless when the guess is wrong;
 *   - qemu disconnected: tcp_guest_gone().
 *   - --dns-forward: tcp_dns_host_set() with the host's first resolver, unfiltered (it may be a
 *     loopback address such as systemd-resolved's 127.0.0.53), as for UDP.
 * Each handler adds at most the free slots of `out`; a socket per flow (raise RLIMIT_NOFILE).
 */
#ifndef BPASST_TCP_H
#define BPASST_TCP_H

#include <stdint.h>

#include "core/batch.h"
#include "core/config.h"
#include "core/guest.h"
#include "core/packet.h"
#include "flow/flow_view.h"

#define TCP_FLOWS_DEFAULT 4096
/* Index of tcp's own timerfd under EPOLL_KIND_TCP. */
#define TCP_INDEX_TIMER UINT32_MAX

struct tcp_ctx;

/* Counters, for tests and the debug log. */
struct tcp_stats {
	unsigned long opened_out, opened_in; /* connections opened each way */
	unsigned long closed;
	unsigned long refused_full; /* SYNs/accepts refused: table full */
	unsigned long rst_to_tap; /* RSTs sent to the guest */
	unsigned long bad_segments; /* malformed or bad checksum */
	unsigned long out_of_order; /* guest segments past rcv_nxt (answered by a dup ACK) */
	unsigned long retrans_timeout, retrans_fast, retrans_dropped;
	unsigned long short_writes; /* writes the socket did not take whole */
	unsigned long tail_refused; /* bytes refused because the tail area was full */
	unsigned long window_updates; /* ACKs sent only because the window opened */
};

/* Set up: flow table of max_flows (0: TCP_FLOWS_DEFAULT), the timerfd, and listeners for
 * c->tcp_in. g is read at send time (guest MAC and addresses). NULL on failure (logged). */
struct tcp_ctx *tcp_new(const struct config *c, struct guest_state *g, int epollfd,
			unsigned max_flows);
/* Close every socket (connections are reset) and free. */
void tcp_free(struct tcp_ctx *t);

/* Where connections to --dns-forward ADDR port 53 of family af go (AF_INET: addr is a struct
 * in_addr *, AF_INET6: a struct in6_addr *), at port (0: 53); addr NULL: nowhere (such SYNs get
 * a RST). tcp_new() sets the first of c->ip4.dns / c->ip6.dns. Replies come from ADDR:53. */
void tcp_dns_host_set(struct tcp_ctx *t, int af, const void *addr, uint16_t port);

/* A TCP segment from the guest (f parsed by frame_parse(), l4_proto TCP). 0 if handled, -1 if
 * dropped as malformed. The frame's memory is not kept past the call. */
int tcp_tap_recv(struct tcp_ctx *t, const struct frame *f, struct frame_batch *out);
/* End of a batch of guest frames: deferred ACKs and data. */
void tcp_tap_batch_done(struct tcp_ctx *t, struct frame_batch *out);
/* EPOLL_KIND_TCP event (index: flow, or TCP_INDEX_TIMER). */
void tcp_sock_event(struct tcp_ctx *t, uint32_t index, uint32_t events, struct frame_batch *out);
/* EPOLL_KIND_TCP_LISTEN event (index: listener). */
void tcp_listen_event(struct tcp_ctx *t, uint32_t index, uint32_t events, struct frame_batch *out);
/* The edge wrote frames [0, written) of the `total` committed in out and dropped the rest. */
void tcp_flushed(struct tcp_ctx *t, unsigned written, unsigned total);

/* pasta: connections accepted on -t ports from a loopback address go to s (the splice path,
 * flow/tcp_splice.h) instead of the guest. NULL (the default): all go to the guest. */
struct tcp_splice;
void tcp_set_splice(struct tcp_ctx *t, struct tcp_splice *s);

/* The guest went away (qemu disconnected): reset every connection towards the host. */
void tcp_guest_gone(struct tcp_ctx *t);

/* The -t listener table, for pasta's "auto" (flow/fwd_auto.c adds and removes listeners). */
struct fwd_listeners;
struct fwd_listeners *tcp_listeners(struct tcp_ctx *t);

unsigned tcp_flow_count(const struct tcp_ctx *t);
/* Call fn for each flow in use, with a read-only view of it (flow/flow_view.h). fn must not call
 * back into the translator. */
void tcp_flow_foreach(const struct tcp_ctx *t, flow_view_fn fn, void *arg);
const struct tcp_stats *tcp_get_stats(const struct tcp_ctx *t);

#endif /* BPASST_TCP_H */
