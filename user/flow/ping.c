// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ping.c - ICMP/ICMPv6 echo requests of the guest, sent through unprivileged ping sockets
 *
 * Theory of operation
 *
 * The guest's echo requests cannot be sent as they are without raw sockets (CAP_NET_RAW). Linux
 * offers "ping sockets" instead: socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) (and the IPv6 twin),
 * allowed to the groups in net.ipv4.ping_group_range. Such a socket sends an echo request whose
 * identifier the kernel replaces by the socket's own, and receives only the replies that match it
 * (ICMP header and data, no IP header).
 *
 * State: a table of flows allocated once (ping_table_new), each one
 *   (family, guest's echo identifier, destination as the guest addressed it)
 *   -> socket, the guest's source address, the time it was last used.
 * A request finds its flow (or takes a free slot, or the least recently used one when the table is
 * full), and is sent through it: to the destination, or to the host's loopback address when the
 * guest pinged the gateway (upstream maps the gateway to the host itself). The socket is in the
 * daemon's epoll with EPOLL_KIND_PING and the slot as index.
 *
 * Replies: ping_sock_ready() reads each reply and rebuilds it as a frame to the guest: Ethernet
 * from our MAC to the guest's, IP from the address the guest pinged to the address it used, and
 * the echo header with the guest's original identifier and the sequence number of the reply; the
 * checksums are computed by ip_finish(). Frames go into the batch the caller gave; the edge writes
 * them.
 *
 * Expiry: ping_expire() (from the 1 s timer) closes flows unused for PING_IDLE_SEC.
 *
 * Enumeration: ping_flow_foreach() gives a read-only view of each open flow (io/mirror.c copies
 * them into the BPF flow_mirror map once a second).
 *
 * When socket() fails with EACCES/EPERM (ping_group_range does not include our group), the
 * request is dropped and a warning is logged, once.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include "core/epoll_ref.h"
#include "core/log.h"
#include "flow/ping.h"

#define ICMP4_ECHO_REPLY 0
#define ICMP4_ECHO_REQUEST 8
#define ICMP_ECHO_HDR_LEN 8 /* type, code, checksum, identifier, sequence */
#define PING_REPLY_TTL 64
#define PING_READS_PER_EVENT 32
#define PING_RECV_MAX 65536

union ping_addr {
	struct in_addr v4;
	struct in6_addr v6;
};

struct ping_flow {
	bool used;
	int af; /* AF_INET or AF_INET6 */
	int fd;
	uint16_t guest_id; /* echo identifier the guest used (host order) */
	union ping_addr dst; /* destination as the guest addressed it: the reply's source */
	union ping_addr guest_addr; /* the guest's source address: the reply's destination */
	time_t last_used; /* CLOCK_MONOTONIC seconds */
};

struct ping_table {
	unsigned max_flows;
	unsigned open_flows;
	bool warned_no_permission;
	struct ping_flow *flow;
};

static uint8_t ping_recv_buf[PING_RECV_MAX];

static time_t ping_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

struct ping_table *ping_table_new(unsigned max_flows)
{
	struct ping_table *t;

	if (!max_flows)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->flow = calloc(max_flows, sizeof(*t->flow));
	if (!t->flow) {
		free(t);
		return NULL;
	}
	t->max_flows = max_flows;
	return t;
}

static void ping_flow_close(struct ping_table *t, struct ping_flow *fl)
{
	if (!fl->used)
		return;
	close(fl->fd); /* also leaves the epoll set: the fd is never duplicated */
	memset(fl, 0, sizeof(*fl));
	fl->fd = -1;
	t->open_flows--;
}

void ping_table_free(struct ping_table *t)
{
	if (!t)
		return;
	for (unsigned i = 0; i < t->max_flows; i++)
		ping_flow_close(t, &t->flow[i]);
	free(t->flow);
	free(t);
}

unsigned ping_flow_count(const struct ping_table *t)
{
	return t ? t->open_flows : 0;
}

static bool ping_addr_equal(int af, const union ping_addr *a, const union ping_addr *b)
{
	if (af == AF_INET)
		return a->v4.s_addr == b->v4.s_addr;
	return !memcmp(&a->v6, &b->v6, sizeof(a->v6));
}

static const char *ping_addr_str(int af, const union ping_addr *a, char *buf, size_t len)
{
	if (!inet_ntop(af, af == AF_INET ? (const void *)&a->v4 : (const void *)&a->v6, buf,
		       (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

/* Where a request to dst really goes: the host's loopback when the guest pinged the gateway (the
 * address it knows the host by), otherwise dst itself. false if it cannot be sent (a link-local
 * destination other than our own: there is no link behind us). */
static bool ping_target(const struct config *c, int af, const union ping_addr *dst,
			union ping_addr *target)
{
	*target = *dst;
	if (af == AF_INET) {
		struct in_addr map = c->ip4.map_host_loopback;

		if (!map.s_addr && c->ip4.have_gw)
			map = c->ip4.gw;
		if (!c->no_map_gw && map.s_addr && dst->v4.s_addr == map.s_addr)
			target->v4.s_addr = htonl(INADDR_LOOPBACK);
		return true;
	}

	{
		struct in6_addr map = c->ip6.map_host_loopback;
		bool to_host = false;

		if (IN6_IS_ADDR_UNSPECIFIED(&map) && c->ip6.have_gw)
			map = c->ip6.gw;
		if (!c->no_map_gw) {
			if (!IN6_IS_ADDR_UNSPECIFIED(&map) && !memcmp(&map, &dst->v6, sizeof(map)))
				to_host = true;
			if (!IN6_IS_ADDR_UNSPECIFIED(&c->ip6.our_ll) &&
			    !memcmp(&c->ip6.our_ll, &dst->v6, sizeof(map)))
				to_host = true;
		}
		if (to_host) {
			target->v6 = in6addr_loopback;
			return true;
		}
		if (ip6_is_linklocal(&dst->v6))
			return false;
		return true;
	}
}

static struct ping_flow *ping_flow_find(struct ping_table *t, int af, uint16_t id,
					const union ping_addr *dst)
{
	for (unsigned i = 0; i < t->max_flows; i++) {
		struct ping_flow *fl = &t->flow[i];

		if (fl->used && fl->af == af && fl->guest_id == id &&
		    ping_addr_equal(af, &fl->dst, dst))
			return fl;
	}
	return NULL;
}

/* A free slot, or the least recently used flow (closed first) when the table is full. */
static struct ping_flow *ping_flow_slot(struct ping_table *t)
{
	struct ping_flow *oldest = NULL;

	for (unsigned i = 0; i < t->max_flows; i++) {
		struct ping_flow *fl = &t->flow[i];

		if (!fl->used)
			return fl;
		if (!oldest || fl->last_used < oldest->last_used)
			oldest = fl;
	}
	debug("ping: flow table full (%u), closing the least recently used flow", t->max_flows);
	ping_flow_close(t, oldest);
	return oldest;
}

static struct ping_flow *ping_flow_open(struct ping_table *t, int epollfd, int af, uint16_t id,
					const union ping_addr *dst)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct ping_flow *fl;
	char buf[INET6_ADDRSTRLEN];
	int fd;

	fd = socket(af, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    af == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6);
	if (fd < 0) {
		if ((errno == EACCES || errno == EPERM) && !t->warned_no_permission) {
			t->warned_no_permission = true;
			warn("ping: ping sockets are not permitted (%s): ICMP%s echo requests are "
			     "dropped; allow our group in net.ipv4.ping_group_range",
			     strerror(errno), af == AF_INET ? "" : "v6");
		} else if (errno != EACCES && errno != EPERM) {
			log_ratelimited(LOG_LVL_WARN, "ping: socket: %s", strerror(errno));
		}
		return NULL;
	}

	fl = ping_flow_slot(t);
	ev.data.u64 = epoll_ref_make(EPOLL_KIND_PING, (uint32_t)(fl - t->flow));
	if (epoll_ctl(epollfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		log_ratelimited(LOG_LVL_WARN, "ping: epoll_ctl: %s", strerror(errno));
		close(fd);
		return NULL;
	}

	fl->used = true;
	fl->af = af;
	fl->fd = fd;
	fl->guest_id = id;
	fl->dst = *dst;
	t->open_flows++;
	debug("ping: new flow %u: id %u to %s", (unsigned)(fl - t->flow), id,
	      ping_addr_str(af, dst, buf, sizeof(buf)));
	return fl;
}

int ping_recv_guest(struct ping_table *t, const struct config *c, int epollfd,
		    const struct frame *f)
{
	union ping_addr dst, target;
	struct sockaddr_storage sa;
	socklen_t sa_len;
	struct ping_flow *fl;
	const uint8_t *msg;
	uint8_t type, code;
	uint16_t id;
	int af;

	if (f->l3_kind == FRAME_L3_IP4 && f->l4_proto == IPPROTO_ICMP) {
		af = AF_INET;
		if (c->no_icmp || !c->ip4.enabled)
			return 0;
	} else if (f->l3_kind == FRAME_L3_IP6 && f->l4_proto == IPPROTO_ICMPV6) {
		af = AF_INET6;
		if (c->no_icmp || !c->ip6.enabled)
			return 0;
	} else {
		return 0;
	}
	if (f->fragment)
		return 0;
	if (!pkt_get_u8(&f->l4, 0, &type) || !pkt_get_u8(&f->l4, 1, &code))
		return 0;
	if (type != (af == AF_INET ? ICMP4_ECHO_REQUEST : BP_ICMPV6_ECHO_REQUEST))
		return 0;
	/* From here on the frame is an echo request: it is ours, sent or dropped. */
	if (code || !pkt_get_be16(&f->l4, 4, &id) || !(msg = pkt_at(&f->l4, 0, f->l4.len)) ||
	    f->l4.len < ICMP_ECHO_HDR_LEN) {
		debug("ping: malformed echo request dropped");
		return 1;
	}

	memset(&dst, 0, sizeof(dst));
	if (af == AF_INET)
		dst.v4 = f->dst.v4;
	else
		dst.v6 = f->dst.v6;
	if (!ping_target(c, af, &dst, &target)) {
		trace("ping: link-local destination not reachable, dropped");
		return 1;
	}

	fl = ping_flow_find(t, af, id, &dst);
	if (!fl)
		fl = ping_flow_open(t, epollfd, af, id, &dst);
	if (!fl)
		return 1;
	if (af == AF_INET)
		fl->guest_addr.v4 = f->src.v4;
	else
		fl->guest_addr.v6 = f->src.v6;
	fl->last_used = ping_now();

	memset(&sa, 0, sizeof(sa));
	if (af == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&sa;

		sin->sin_family = AF_INET;
		sin->sin_addr = target.v4;
		sa_len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&sa;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = target.v6;
		sa_len = sizeof(*sin6);
	}
	/* The kernel replaces the identifier by the socket's and computes the checksum. */
	if (sendto(fl->fd, msg, f->l4.len, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&sa,
		   sa_len) < 0) {
		char buf[INET6_ADDRSTRLEN];

		log_ratelimited(LOG_LVL_DEBUG, "ping: sendto %s: %s",
				ping_addr_str(af, &target, buf, sizeof(buf)), strerror(errno));
	} else {
		trace("ping: echo request id %u sent on flow %u", id, (unsigned)(fl - t->flow));
	}
	return 1;
}

/* Build one echo reply frame to the guest from reply bytes (ICMP header + data). */
static void ping_reply_to_guest(const struct config *c, const struct guest_state *g,
				const struct ping_flow *fl, const struct pkt *reply,
				struct frame_batch *out)
{
	struct frame_builder fb;
	uint8_t type, *hdr;
	uint16_t seq;
	const uint8_t *data;
	size_t data_len;

	if (!pkt_get_u8(reply, 0, &type) || !pkt_get_be16(reply, 6, &seq))
		return;
	if (type != (fl->af == AF_INET ? ICMP4_ECHO_REPLY : BP_ICMPV6_ECHO_REPLY))
		return;
	data_len = reply->len - ICMP_ECHO_HDR_LEN;
	data = data_len ? pkt_at(reply, ICMP_ECHO_HDR_LEN, data_len) : NULL;
	if (data_len && !data)
		return;

	fb = batch_next(out);
	if (fl->af == AF_INET) {
		eth_push(&fb, g->mac, c->our_mac, BP_ETH_P_IP);
		ip4_push(&fb, fl->dst.v4, fl->guest_addr.v4, IPPROTO_ICMP, PING_REPLY_TTL);
	} else {
		eth_push(&fb, g->mac, c->our_mac, BP_ETH_P_IPV6);
		ip6_push(&fb, &fl->dst.v6, &fl->guest_addr.v6, IPPROTO_ICMPV6, PING_REPLY_TTL);
	}
	hdr = fb_put(&fb, ICMP_ECHO_HDR_LEN);
	if (hdr) {
		hdr[0] = type;
		hdr[1] = 0;
		hdr[4] = (uint8_t)(fl->guest_id >> 8);
		hdr[5] = (uint8_t)fl->guest_id;
		hdr[6] = (uint8_t)(seq >> 8);
		hdr[7] = (uint8_t)seq;
	}
	if (data_len)
		fb_append(&fb, data, data_len);
	ip_finish(&fb);
	if (!batch_commit(out, &fb))
		log_ratelimited(LOG_LVL_DEBUG, "ping: reply of %zu bytes does not fit, dropped",
				reply->len);
}

void ping_sock_ready(struct ping_table *t, const struct config *c, const struct guest_state *g,
		     uint32_t index, struct frame_batch *out)
{
	struct ping_flow *fl;

	if (!t || index >= t->max_flows || !t->flow[index].used)
		return;
	fl = &t->flow[index];

	for (int i = 0; i < PING_READS_PER_EVENT; i++) {
		ssize_t n = recv(fl->fd, ping_recv_buf, sizeof(ping_recv_buf), MSG_DONTWAIT);
		struct pkt reply;

		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				debug("ping: recv on flow %u: %s", index, strerror(errno));
			return;
		}
		if ((size_t)n < ICMP_ECHO_HDR_LEN)
			continue;
		if (!g->mac_known) {
			trace("ping: guest MAC unknown, reply dropped");
			continue;
		}
		reply = pkt_make(ping_recv_buf, (size_t)n);
		ping_reply_to_guest(c, g, fl, &reply, out);
		fl->last_used = ping_now();
	}
}

void ping_expire(struct ping_table *t, time_t now)
{
	if (!t)
		return;
	for (unsigned i = 0; i < t->max_flows; i++) {
		struct ping_flow *fl = &t->flow[i];

		if (fl->used && now - fl->last_used >= PING_IDLE_SEC) {
			debug("ping: flow %u idle, closed", i);
			ping_flow_close(t, fl);
		}
	}
}

unsigned ping_table_size(const struct ping_table *t)
{
	return t ? t->max_flows : 0;
}

/* An address of family af as a flow view holds it: IPv4 v4-mapped. */
static void ping_view_addr(int af, const union ping_addr *a, struct in6_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (af == AF_INET6) {
		*out = a->v6;
		return;
	}
	out->s6_addr[10] = 0xff;
	out->s6_addr[11] = 0xff;
	memcpy(&out->s6_addr[12], &a->v4, 4);
}

void ping_flow_foreach(const struct ping_table *t, flow_view_fn fn, void *arg)
{
	unsigned i;

	if (!t)
		return;
	for (i = 0; i < t->max_flows; i++) {
		const struct ping_flow *fl = &t->flow[i];
		struct flow_view v;

		if (!fl->used)
			continue;
		memset(&v, 0, sizeof(v));
		v.index = i;
		v.proto = fl->af == AF_INET6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
		v.state = FLOW_VIEW_ESTABLISHED;
		v.af = fl->af;
		ping_view_addr(fl->af, &fl->guest_addr, &v.guest_addr);
		ping_view_addr(fl->af, &fl->dst, &v.remote_addr);
		v.guest_port = v.remote_port = fl->guest_id;
		v.sock = fl->fd;
		fn(&v, arg);
	}
}
