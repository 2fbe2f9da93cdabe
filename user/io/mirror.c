// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * mirror.c - the flow table mirror: the daemon's flows into the pinned flow_mirror map, once a second
 *
 * Theory of operation
 *
 * The translators keep their flows in private tables; the BPF side has a hash map, flow_mirror
 * (include/bpasst_maps.h: flow id -> struct bp_flow_mirror), for bpftool and later programs.
 * The packet path never touches it: main.c's 1 s timer calls mirror_tick(), which
 *   1. walks the TCP, UDP and ICMP echo tables (tcp_flow_foreach(), udp_flow_foreach(),
 *      ping_flow_foreach(): read-only views, flow/flow_view.h) and pasta's spliced TCP
 *      connections (tcp_splice_conn_at()), and builds each flow's entry: protocol, state, the
 *      guest's view of the addresses and ports (tap side), our socket's addresses (host side),
 *      bytes each way, flags;
 *   2. writes the entry (bp_loader_mirror_update(), forced: this walk is the rate limit) only if
 *      it differs from what was last written for that id, so idle flows cost nothing;
 *   3. deletes the entry of every id written before and not seen in this walk (the flow ended,
 *      or its slot now holds a flow that is not mirrored).
 * The host side costs getsockname()/getpeername() on the flow's socket, done only when an id
 * gets a new flow or its flow changes state (an outbound TCP socket has no peer until it is
 * connected); in between, the addresses are taken from the last entry. A UDP flow without a
 * socket of its own (inbound through a -u listener) shows its peer only.
 *
 * Spliced connections (BP_FLOW_F_SPLICED) have no tap: their "tap" side is our socket inside the
 * namespace seen from the namespace's endpoint (src = that endpoint: the server for -t, the
 * client for -T; dst = our socket), the host side our socket on the host (src = it, dst = its
 * peer); bytes_from_guest are the bytes relayed from the namespace's endpoint, bytes_to_guest
 * those relayed to it (bytes redirected by the loopback bypass are not seen by us: see
 * bypass_ends). BP_FLOW_F_BYPASS_C2S / _S2C say which directions the bypass carries. Echo flows
 * show their ping socket's local address (the port is the kernel's identifier) and no peer.
 *
 * State: one fixed array indexed by flow id (MIRROR_FLOW_IDS: the TCP table's slots, then the
 * UDP table's, the spliced connections', the echo flows', see mirror.h), holding what was last written for each id and the number of the
 * walk that last saw it, plus the walk counter and its time. Static: untouched (never paged in)
 * while the fast path is off. No allocation.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "core/log.h"
#include "flow/flow_view.h"
#include "io/fastpath.h"
#include "io/mirror.h"
#include "loader.h"

#define MIRROR_MIN_INTERVAL_MS 900 /* the timer fires every second; tolerate its jitter */

_Static_assert((int)FLOW_VIEW_NEW == (int)BP_FLOW_STATE_NEW &&
		       (int)FLOW_VIEW_ESTABLISHED == (int)BP_FLOW_STATE_ESTABLISHED &&
		       (int)FLOW_VIEW_CLOSING == (int)BP_FLOW_STATE_CLOSING &&
		       (int)FLOW_VIEW_CLOSED == (int)BP_FLOW_STATE_CLOSED,
	       "flow_view_state and bp_flow_state agree");

struct mirror_slot {
	uint32_t seen; /* walk that last saw a flow with this id, 0: never */
	uint32_t gen; /* the flow's generation when last written */
	bool written; /* the map holds an entry for this id */
	struct bp_flow_mirror last; /* as last written (updated_ns not compared) */
};

/* What one walk over a table needs in the callback. */
struct mirror_walk {
	struct bp_loader *loader;
	uint32_t base; /* flow id of slot 0 */
	uint32_t limit; /* slots with an id */
};

static struct mirror_slot mirror_slots[MIRROR_FLOW_IDS];
static uint32_t mirror_walk_no;
static uint64_t mirror_walk_ms; /* CLOCK_MONOTONIC of the last walk, 0: none */

static uint64_t mirror_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A socket address as the map stores it: IPv4 v4-mapped, port in host order. false if neither
 * family. */
static bool mirror_addr_from_sa(const struct sockaddr *sa, socklen_t len, __u8 addr[16],
				__u16 *port)
{
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		memset(addr, 0, 10);
		addr[10] = 0xff;
		addr[11] = 0xff;
		memcpy(addr + 12, &sin->sin_addr, 4);
		*port = ntohs(sin->sin_port);
		return true;
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		memcpy(addr, &sin6->sin6_addr, 16);
		*port = ntohs(sin6->sin6_port);
		return true;
	}
	return false;
}

/* Our socket's local and peer addresses (two syscalls; only when an entry is new or its
 * state changed). */
static void mirror_host_side(const struct flow_view *v, struct bp_flow_side *h)
{
	struct sockaddr_storage ss;
	socklen_t len;

	memset(h, 0, sizeof(*h));
	if (v->sock >= 0) {
		len = sizeof(ss);
		if (!getsockname(v->sock, (struct sockaddr *)&ss, &len))
			mirror_addr_from_sa((struct sockaddr *)&ss, len, h->src_addr, &h->src_port);
		len = sizeof(ss);
		if (!getpeername(v->sock, (struct sockaddr *)&ss, &len) &&
		    mirror_addr_from_sa((struct sockaddr *)&ss, len, h->dst_addr, &h->dst_port))
			return;
	}
	if (v->host_peer)
		mirror_addr_from_sa(v->host_peer, v->host_peer_len, h->dst_addr, &h->dst_port);
}

/* Write e as flow id's entry unless it is what was written last (same_flow: the id holds the
 * same flow as then). */
static void mirror_put(struct bp_loader *l, uint32_t id, uint32_t gen, bool same_flow,
		       const struct bp_flow_mirror *e)
{
	struct mirror_slot *s = &mirror_slots[id];
	int rc;

	if (same_flow && !memcmp(&s->last, e, offsetof(struct bp_flow_mirror, updated_ns)))
		return; /* unchanged: no syscall */
	rc = bp_loader_mirror_update(l, id, e, true);
	if (rc < 0) {
		log_ratelimited(LOG_LVL_DEBUG, "flow mirror: update of flow %u: %s", id,
				strerror(-rc));
		return;
	}
	s->written = true;
	s->gen = gen;
	s->last = *e;
}

static void mirror_flow(const struct flow_view *v, void *arg)
{
	const struct mirror_walk *w = arg;
	struct bp_flow_mirror e;
	struct mirror_slot *s;
	uint32_t id;
	bool same_flow;

	if (v->index >= w->limit)
		return; /* cannot happen with the default table sizes (mirror.h) */
	id = w->base + v->index;
	s = &mirror_slots[id];
	s->seen = mirror_walk_no;

	memset(&e, 0, sizeof(e));
	e.proto = v->proto;
	e.state = (enum bp_flow_state)v->state;
	memcpy(e.tap.src_addr, &v->guest_addr, 16);
	memcpy(e.tap.dst_addr, &v->remote_addr, 16);
	e.tap.src_port = v->guest_port;
	e.tap.dst_port = v->remote_port;
	e.bytes_from_guest = v->bytes_from_guest;
	e.bytes_to_guest = v->bytes_to_guest;

	same_flow = s->written && s->gen == v->gen && s->last.proto == e.proto &&
		!memcmp(&s->last.tap, &e.tap, sizeof(e.tap));
	if (same_flow && s->last.state == e.state)
		e.host = s->last.host;
	else
		mirror_host_side(v, &e.host);
	mirror_put(w->loader, id, v->gen, same_flow, &e);
}

/* The tap side of a spliced connection: our namespace-side socket seen from its peer. */
static void mirror_splice_sides(const struct tcp_splice_conn *c, struct bp_flow_mirror *e)
{
	int ns_sock = c->from_ns ? c->sock[0] : c->sock[1];
	int host_sock = c->from_ns ? c->sock[1] : c->sock[0];
	struct sockaddr_storage ss;
	socklen_t len;

	memset(&e->tap, 0, sizeof(e->tap));
	memset(&e->host, 0, sizeof(e->host));
	len = sizeof(ss);
	if (!getpeername(ns_sock, (struct sockaddr *)&ss, &len))
		mirror_addr_from_sa((struct sockaddr *)&ss, len, e->tap.src_addr, &e->tap.src_port);
	len = sizeof(ss);
	if (!getsockname(ns_sock, (struct sockaddr *)&ss, &len))
		mirror_addr_from_sa((struct sockaddr *)&ss, len, e->tap.dst_addr, &e->tap.dst_port);
	len = sizeof(ss);
	if (!getsockname(host_sock, (struct sockaddr *)&ss, &len))
		mirror_addr_from_sa((struct sockaddr *)&ss, len, e->host.src_addr,
				    &e->host.src_port);
	len = sizeof(ss);
	if (!getpeername(host_sock, (struct sockaddr *)&ss, &len))
		mirror_addr_from_sa((struct sockaddr *)&ss, len, e->host.dst_addr,
				    &e->host.dst_port);
}

static void mirror_splice(struct bp_loader *l, const struct tcp_splice *sp)
{
	unsigned cap = tcp_splice_capacity(sp), i;

	if (cap > MIRROR_PING_BASE - MIRROR_SPLICE_BASE)
		cap = MIRROR_PING_BASE - MIRROR_SPLICE_BASE; /* not with the default sizes */
	for (i = 0; i < cap; i++) {
		const struct tcp_splice_conn *c = tcp_splice_conn_at(sp, i);
		uint32_t id = MIRROR_SPLICE_BASE + i;
		struct mirror_slot *s = &mirror_slots[id];
		int from_guest = c && c->from_ns ? 0 : 1; /* direction coming from the namespace */
		struct bp_flow_mirror e;
		bool same_flow;

		if (!c)
			continue;
		s->seen = mirror_walk_no;
		memset(&e, 0, sizeof(e));
		e.proto = IPPROTO_TCP;
		e.flags = BP_FLOW_F_SPLICED;
		e.flags |= tcp_splice_byp_mode(&c->byp.dir[0]) ? BP_FLOW_F_BYPASS_C2S : 0;
		e.flags |= tcp_splice_byp_mode(&c->byp.dir[1]) ? BP_FLOW_F_BYPASS_S2C : 0;
		if (tcp_splice_byp_mode(&c->byp.dir[0]) == BP_BYPASS_MODE_EGRESS)
			e.flags |= BP_FLOW_F_EGRESS_C2S;
		if (tcp_splice_byp_mode(&c->byp.dir[1]) == BP_BYPASS_MODE_EGRESS)
			e.flags |= BP_FLOW_F_EGRESS_S2C;
		if (c->connecting)
			e.state = BP_FLOW_STATE_NEW;
		else if (c->dir[0].eof || c->dir[1].eof)
			e.state = BP_FLOW_STATE_CLOSING;
		else
			e.state = BP_FLOW_STATE_ESTABLISHED;
		e.bytes_from_guest = c->dir[from_guest].relayed;
		e.bytes_to_guest = c->dir[!from_guest].relayed;
		same_flow = s->written && s->gen == c->gen && s->last.proto == e.proto &&
			(s->last.flags & BP_FLOW_F_SPLICED);
		if (same_flow && s->last.state == e.state) {
			e.tap = s->last.tap;
			e.host = s->last.host;
		} else {
			mirror_splice_sides(c, &e);
		}
		mirror_put(l, id, c->gen, same_flow, &e);
	}
}

void mirror_tick(const struct tcp_ctx *t, const struct udp_ctx *u, const struct tcp_splice *sp,
		 const struct ping_table *p)
{
	struct bp_loader *l = fastpath_loader();
	struct mirror_walk w = { .loader = l };
	uint64_t now;
	uint32_t id;

	if (!l)
		return;
	now = mirror_now_ms();
	if (mirror_walk_ms && now - mirror_walk_ms < MIRROR_MIN_INTERVAL_MS)
		return;
	mirror_walk_ms = now;
	if (++mirror_walk_no == 0)
		mirror_walk_no = 1; /* 0 means never seen */

	w.base = 0;
	w.limit = MIRROR_UDP_BASE;
	tcp_flow_foreach(t, mirror_flow, &w);
	w.base = MIRROR_UDP_BASE;
	w.limit = MIRROR_SPLICE_BASE - MIRROR_UDP_BASE;
	udp_flow_foreach(u, mirror_flow, &w);
	if (sp)
		mirror_splice(l, sp);
	w.base = MIRROR_PING_BASE;
	w.limit = MIRROR_FLOW_IDS - MIRROR_PING_BASE;
	ping_flow_foreach(p, mirror_flow, &w);

	for (id = 0; id < MIRROR_FLOW_IDS; id++) {
		struct mirror_slot *s = &mirror_slots[id];
		int rc;

		if (!s->written || s->seen == mirror_walk_no)
			continue;
		rc = bp_loader_mirror_delete(l, id);
		if (rc < 0)
			log_ratelimited(LOG_LVL_DEBUG, "flow mirror: delete of flow %u: %s", id,
					strerror(-rc));
		s->written = false;
	}
}
