/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * udp.h - UDP translation between the guest's datagrams and ordinary host sockets
 *
 * One struct udp_ctx holds the UDP flow table (a flow/flow.h table plus per-flow state), the
 * -u listeners, a staging area for guest datagrams and the receive vectors. Everything is
 * allocated by udp_init(); nothing on the packet path. Datagrams for the guest are appended to
 * the frame batch the caller passes in, never written anywhere by this module.
 *
 * Wiring (see flow/udp.c for the theory of operation):
 *   - dispatch: every guest frame with l4_proto UDP that the services did not take (DHCP,
 *     DHCPv6) -> udp_tap_recv();
 *   - after dispatching one batch of frames read from the guest: udp_tap_batch_done() (sends
 *     the datagrams staged during the batch with sendmmsg());
 *   - epoll: EPOLL_KIND_UDP -> udp_sock_event(); EPOLL_KIND_UDP_LISTEN -> udp_listen_event();
 *   - the 1 s timer: udp_timer() (idle flows expire after UDP_IDLE_SEC);
 *   - a new guest (qemu reconnected): udp_guest_gone().
 *   - --dns-forward: udp_dns_host_set() with the host's first resolver, unfiltered (it may be a
 *     loopback address such as systemd-resolved's 127.0.0.53).
 */
#ifndef BPASST_UDP_H
#define BPASST_UDP_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <netinet/in.h>

#include "core/batch.h"
#include "core/config.h"
#include "core/guest.h"
#include "core/packet.h"
#include "flow/flow.h"
#include "flow/flow_view.h"
#include "flow/fwd.h"
#include "flow/nat.h"

#define UDP_FLOWS_DEFAULT 1024
#define UDP_IDLE_SEC 180 /* as upstream's UDP_CONN_TIMEOUT */

struct udp_flow;
struct udp_stage;
struct udp_rx;
struct udp_splice;

/* Counters, for tests and the debug log. */
struct udp_stats {
	unsigned long tap_in; /* UDP frames from the guest handed to udp_tap_recv() */
	unsigned long tap_bad; /* dropped: fragment, bad checksum, port 0, bad address */
	unsigned long tap_unreachable; /* dropped: destination we cannot or may not reach */
	unsigned long sent; /* datagrams sent to host sockets */
	unsigned long send_batches; /* sendmmsg() calls (sent / send_batches: batching) */
	unsigned long send_dropped; /* datagrams a host socket refused (EAGAIN, errors) */
	unsigned long to_tap; /* datagrams turned into frames to the guest */
	unsigned long recv_batches; /* recvmmsg() calls that returned datagrams */
	unsigned long too_big; /* datagrams from the host larger than the guest's MTU: dropped */
	unsigned long no_room; /* datagrams dropped because a frame could not be built */
	unsigned long icmp_to_tap; /* ICMP/ICMPv6 errors sent to the guest */
	unsigned long flows_opened, flows_closed, flows_evicted, flows_expired;
	unsigned long socket_errors; /* socket()/connect()/epoll_ctl() failures */
};

struct udp_ctx {
	const struct config *c;
	struct guest_state *g;
	int epollfd;
	size_t mtu; /* the guest's MTU: largest IP packet we build */
	time_t now; /* CLOCK_MONOTONIC seconds, as of the last udp_timer() (or udp_init()) */
	struct flow_table table; /* guest-side 4-tuples, proto IPPROTO_UDP */
	struct udp_flow *flow; /* per-flow state, indexed like the table's slots */
	struct fwd_listeners listeners; /* -u: host ports forwarded to the guest */
	struct udp_stage *stage; /* guest datagrams waiting for udp_tap_batch_done() */
	struct udp_rx *rx; /* recvmmsg() vectors */
	union {
		struct nat_dns dns; /* --dns-forward targets, as nat_outbound() reads them */
		struct {
			struct nat_dns_host dns4, dns6; /* the same, by family */
		};
	};
	struct udp_stats stats;
	struct udp_splice *splice; /* pasta: where -u datagrams from loopback senders go, or NULL
				    * (flow/udp_splice.h); set after udp_init() */
};

/* Set up a table of max_flows flows (0: UDP_FLOWS_DEFAULT) and open the listeners of
 * c->udp_in (registered in epollfd as EPOLL_KIND_UDP_LISTEN). The default --dns-forward target
 * is the first of c->ip4.dns / c->ip6.dns (see udp_dns_host_set()). g is read when frames are
 * built (guest MAC and addresses). 0, or -errno (logged; everything is released again). */
int udp_init(struct udp_ctx *u, const struct config *c, struct guest_state *g, int epollfd,
	     unsigned max_flows);
/* Close every socket and free everything. Safe on a zeroed or already cleaned-up context. */
void udp_cleanup(struct udp_ctx *u);

/* The resolver that --dns-forward queries of family af (AF_INET: addr is a struct in_addr *,
 * AF_INET6: struct in6_addr *) go to, at port (0: 53). addr NULL: none (queries are dropped). */
void udp_dns_host_set(struct udp_ctx *u, int af, const void *addr, uint16_t port);

/* A frame from the guest. Returns 0 if it is not UDP (or UDP is off: --no-udp), 1 if it was
 * UDP: sent, staged for udp_tap_batch_done(), or dropped (counted). An ICMP error may be
 * appended to out when the destination is unreachable. The frame is not kept past the call. */
int udp_tap_recv(struct udp_ctx *u, const struct frame *f, struct frame_batch *out);
/* End of a batch of guest frames: send what udp_tap_recv() staged. */
void udp_tap_batch_done(struct udp_ctx *u);
/* EPOLL_KIND_UDP event on flow `index`: errors become ICMP to the guest, datagrams frames. */
void udp_sock_event(struct udp_ctx *u, uint32_t index, uint32_t events, struct frame_batch *out);
/* EPOLL_KIND_UDP_LISTEN event on listener `listener` (a -u port). */
void udp_listen_event(struct udp_ctx *u, uint32_t listener, uint32_t events,
		      struct frame_batch *out);
/* Periodic: remember the time, close flows idle for UDP_IDLE_SEC (now: CLOCK_MONOTONIC). */
void udp_timer(struct udp_ctx *u, const struct timespec *now);
/* The guest went away (qemu disconnected): drop staged datagrams, close every flow. */
void udp_guest_gone(struct udp_ctx *u);
/* pasta's "auto" is about to close -u listener `listener` (its epoll index): close the inbound
 * flows whose replies leave through it. */
void udp_listener_gone(struct udp_ctx *u, uint32_t listener);

/* Call fn for each flow in use, with a read-only view of it (flow/flow_view.h). fn must not call
 * back into the translator. */
void udp_flow_foreach(const struct udp_ctx *u, flow_view_fn fn, void *arg);

static inline unsigned udp_flow_count(const struct udp_ctx *u)
{
	return u->table.count;
}

#endif /* BPASST_UDP_H */
