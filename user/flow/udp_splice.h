/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * udp_splice.h - pasta's loopback path for UDP: datagrams between socket pairs, no tap
 *
 * A datagram from the namespace's loopback to a -U port, or from the host's loopback to a -u
 * port, is not turned into a frame: it is sent on, as it is, from a socket of ours connected to
 * the other side's loopback address (127.0.0.1 or ::1) at the target port; the answers that
 * socket receives go back to the client through the socket that received its datagram. Both
 * ways move in batches (recvmmsg() / sendmmsg()). See udp_splice.c for the theory of operation.
 *
 * Wiring (the patch is in notes/splice-wiring.patch):
 *   - pasta only, after the namespace exists and before privileges are dropped:
 *     udp_splice_new() (it opens the -U listeners inside the namespace);
 *   - the -u listeners stay udp's: a datagram they read from a loopback sender
 *     (udp_splice_sender_is_loopback()) is offered to udp_splice_from_host(), and goes to the
 *     guest as before when that declines;
 *   - epoll: EPOLL_KIND_UDP_SPLICE -> udp_splice_event();
 *   - the 1 s timer: udp_splice_timer() (idle flows expire after UDP_SPLICE_IDLE_SEC).
 */
#ifndef BPASST_UDP_SPLICE_H
#define BPASST_UDP_SPLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <sys/socket.h>

#include "core/config.h"
#include "flow/fwd.h"

#define UDP_SPLICE_FLOWS_DEFAULT 1024
#define UDP_SPLICE_IDLE_SEC 180 /* as the tap path's flows */
#define UDP_SPLICE_POOL_SIZE 16 /* sockets opened ahead inside the namespace, per family */
#define UDP_SPLICE_BATCH 32 /* datagrams per recvmmsg() / sendmmsg() */
#define UDP_SPLICE_DGRAM_MAX 65536
/* Epoll index: a -U listener (bit set, low bits its number), or a flow. */
#define UDP_SPLICE_INDEX_LISTENER (1u << 31)

/* A client of one listening socket, and the socket of ours that talks to its server. */
struct udp_splice_flow {
	int sock; /* ours, connected to the target's loopback address and port */
	int reply_fd; /* the listening socket the client sends to: answers go back through it */
	bool from_ns; /* the client is in the namespace (-U) rather than on the host (-u) */
	uint8_t af;
	uint16_t port; /* the target port sock is connected to */
	struct sockaddr_storage client;
	socklen_t client_len;
	time_t last; /* CLOCK_MONOTONIC seconds of the last datagram either way */
	uint64_t dgrams[2]; /* [0] client to server, [1] server to client */
};

struct udp_splice_stats {
	unsigned long flows_opened, flows_expired;
	unsigned long dgrams[2]; /* forwarded: [0] client to server, [1] server to client */
	unsigned long dropped; /* a socket refused them (full, error), or no flow could be opened */
	unsigned long refused_full; /* new clients refused: flow table full */
	unsigned long pool_refills;
};

struct udp_splice;

/* Set up, pasta only: a table of max_flows flows (0: UDP_SPLICE_FLOWS_DEFAULT), and the -U
 * listeners of c->udp_out opened inside the namespace (netns_fd, userns_fd its user namespace or
 * -1) on 127.0.0.1 and ::1, registered in epollfd. NULL on failure (logged). */
struct udp_splice *udp_splice_new(const struct config *c, int epollfd, int netns_fd, int userns_fd,
				  unsigned max_flows);
/* Close every flow socket, listener and pooled socket, free. NULL is fine. */
void udp_splice_free(struct udp_splice *s);

/* Does a datagram from sender belong on the splice path (a loopback sender)? */
bool udp_splice_sender_is_loopback(const struct sockaddr *sender);
/* -u: a datagram (data, len) that listener socket reply_fd (family af, not ours: it stays
 * open) received from a loopback sender: send it from our socket connected to the namespace's
 * loopback at to_port, opening that flow first if needed. true: taken (sent, or dropped as a
 * full socket would); false: no flow could be opened (table full, no socket in the namespace),
 * and the caller carries the datagram through the tap instead. */
bool udp_splice_from_host(struct udp_splice *s, int reply_fd, int af, uint16_t to_port,
			  const struct sockaddr *sender, socklen_t sender_len, const void *data,
			  size_t len);
/* EPOLL_KIND_UDP_SPLICE event. */
void udp_splice_event(struct udp_splice *s, uint32_t index, uint32_t events);
/* Periodic: close flows idle for UDP_SPLICE_IDLE_SEC (now: CLOCK_MONOTONIC seconds). */
void udp_splice_timer(struct udp_splice *s, time_t now);

unsigned udp_splice_count(const struct udp_splice *s);
const struct udp_splice_stats *udp_splice_get_stats(const struct udp_splice *s);
/* The -U listeners (fd, family, port, target port). */
const struct fwd_listeners *udp_splice_listeners(const struct udp_splice *s);
/* The same, writable: pasta's "auto" (flow/fwd_auto.c) adds and removes -U listeners. */
struct fwd_listeners *udp_splice_ns_listeners(struct udp_splice *s);
/* A listening socket (a -U listener of ours, or a -u listener of udp.c) is about to be closed:
 * close the flows that answer their clients through it. NULL s is fine. */
void udp_splice_listener_gone(struct udp_splice *s, int fd);

#endif /* BPASST_UDP_SPLICE_H */
