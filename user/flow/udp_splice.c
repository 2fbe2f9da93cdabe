// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * udp_splice.c - pasta's loopback path for UDP: datagrams between socket pairs
 *
 * Theory of operation
 *
 * Who talks to whom:
 *   -U (namespace to host): udp_splice_new() opens listening sockets inside the namespace on
 *      127.0.0.1 and ::1 (the loopback path: a rule's address is not used) for every forwarded
 *      port. A datagram a client in the namespace sends there opens a flow: an ordinary socket
 *      of ours on the host, connected to the host's 127.0.0.1 or ::1 at the target port.
 *   -u (host to namespace): udp.c's listener on the host reads the datagram; when the sender is
 *      a loopback address it hands it to udp_splice_from_host(). The flow's socket was opened
 *      inside the namespace (from a pool that a core/nsexec.h helper refills, as for TCP) and
 *      is connected to the namespace's 127.0.0.1 or ::1 at the target port.
 *   Either way the server sees a loopback peer: our socket's address and ephemeral port.
 *
 * A flow is (the listening socket that received, the client's address and port), kept in a
 * flow/flow.h table: gaddr/gport hold the client, raddr's first four bytes the receiving
 * socket's descriptor, which names the listener uniquely while it is open. Its state is struct
 * udp_splice_flow: our connected socket, the listening socket answers go out of, the client's
 * address, the last time a datagram went either way.
 *
 * Data: client to server, from a -U listener: recvmmsg() of up to UDP_SPLICE_BATCH datagrams
 * (with the senders' addresses) into one buffer of UDP_SPLICE_DGRAM_MAX per datagram; each run of
 * consecutive datagrams of the same flow goes out in one sendmmsg() on the flow's connected
 * socket. From a -u listener (udp.c reads them): one send() per datagram, at once (the datagram
 * lies in udp.c's frame batch, which the next datagram may overwrite). Server to client: the
 * flow's socket is in epoll; recvmmsg() of a batch, then one sendmmsg() through the listening
 * socket to the client's address. A datagram a socket refuses (EAGAIN, an error) is dropped and
 * counted, as the network would; errors the kernel queues on a connected socket (ICMP port
 * unreachable) are read and cleared.
 *
 * Life: a flow closes when no datagram went either way for UDP_SPLICE_IDLE_SEC
 * (udp_splice_timer()), or when the table is freed. A full table (logged at most once per
 * second), or no socket to be had in the namespace (a pool refill refused after --runas):
 * a new -U client's datagrams are dropped, a new -u client's are left to udp.c, which carries
 * them through the tap; existing flows go on.
 *
 * State: the flow table and per-flow array, the -U listener table, the socket pools, the
 * receive and send vectors and their buffer, counters. Everything is allocated by
 * udp_splice_new().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "core/epoll_ref.h"
#include "core/log.h"
#include "core/nsexec.h"
#include "flow/flow.h"
#include "flow/udp_splice.h"

#define UDP_SPLICE_READ_ROUNDS 4 /* recvmmsg() batches per event */

struct udp_splice {
	const struct config *c;
	int epollfd;
	int netns_fd, userns_fd;
	bool fam_on[2]; /* [0] IPv4, [1] IPv6 */
	struct flow_table ft;
	struct udp_splice_flow *flow;
	struct fwd_listeners ns_listeners; /* -U */
	int pool[2][UDP_SPLICE_POOL_SIZE];
	unsigned pool_count[2];
	bool refill_refused; /* entering the namespace was refused once: don't try again */
	uint8_t *buf; /* UDP_SPLICE_BATCH datagrams of UDP_SPLICE_DGRAM_MAX */
	struct mmsghdr rx[UDP_SPLICE_BATCH], tx[UDP_SPLICE_BATCH];
	struct iovec rx_iov[UDP_SPLICE_BATCH], tx_iov[UDP_SPLICE_BATCH];
	struct sockaddr_storage rx_name[UDP_SPLICE_BATCH];
	time_t now;
	struct udp_splice_stats st;
};

static time_t udp_splice_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static socklen_t udp_splice_loopback(int af, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (af == AF_INET) {
		struct sockaddr_in *sa = (struct sockaddr_in *)ss;

		sa->sin_family = AF_INET;
		sa->sin_port = htons(port);
		sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof(*sa);
	}
	{
		struct sockaddr_in6 *sa = (struct sockaddr_in6 *)ss;

		sa->sin6_family = AF_INET6;
		sa->sin6_port = htons(port);
		sa->sin6_addr = in6addr_loopback;
		return sizeof(*sa);
	}
}

bool udp_splice_sender_is_loopback(const struct sockaddr *sender)
{
	if (sender->sa_family == AF_INET) {
		const struct sockaddr_in *sa = (const struct sockaddr_in *)sender;

		return (ntohl(sa->sin_addr.s_addr) >> 24) == IN_LOOPBACKNET;
	}
	if (sender->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sa = (const struct sockaddr_in6 *)sender;

		return IN6_IS_ADDR_LOOPBACK(&sa->sin6_addr);
	}
	return false;
}

/* The table key of a client of listening socket reply_fd (see the theory of operation). */
static bool udp_splice_key(struct flow_key *k, int reply_fd, const struct sockaddr *client)
{
	uint32_t fd = (uint32_t)reply_fd;

	memset(k, 0, sizeof(*k));
	if (client->sa_family == AF_INET) {
		const struct sockaddr_in *sa = (const struct sockaddr_in *)client;

		flow_addr_from_v4(&k->gaddr, sa->sin_addr);
		k->gport = ntohs(sa->sin_port);
	} else if (client->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sa = (const struct sockaddr_in6 *)client;

		k->gaddr = sa->sin6_addr;
		k->gport = ntohs(sa->sin6_port);
	} else {
		return false;
	}
	memcpy(&k->raddr, &fd, sizeof(fd));
	k->proto = IPPROTO_UDP;
	return true;
}

/* ---- Inside the namespace (run by the nsexec helper) ---- */

static int udp_splice_refill_in_ns(void *arg)
{
	struct udp_splice *s = arg;
	int f;

	for (f = 0; f < 2; f++) {
		if (!s->fam_on[f])
			continue;
		while (s->pool_count[f] < UDP_SPLICE_POOL_SIZE) {
			int fd = socket(f ? AF_INET6 : AF_INET,
					SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);

			if (fd < 0)
				break;
			s->pool[f][s->pool_count[f]++] = fd;
		}
	}
	return 0;
}

/* Top the pools up: one helper run. 0, or -errno when the namespace could not be entered. */
static int udp_splice_pool_fill(struct udp_splice *s)
{
	int ret;

	if (s->refill_refused)
		return -EPERM;
	ret = nsexec_call(s->netns_fd, s->userns_fd, udp_splice_refill_in_ns, s, NULL);
	if (!ret)
		s->st.pool_refills++;
	else if (ret == -EPERM)
		s->refill_refused = true; /* privileges dropped: it will not work again */
	return ret;
}

static int udp_splice_listen_one(struct udp_splice *s, int af, uint16_t port, uint16_t to)
{
	struct fwd_listeners *fl = &s->ns_listeners;
	struct sockaddr_storage ss;
	struct epoll_event ev;
	socklen_t sl = udp_splice_loopback(af, port, &ss);
	int fd, one = 1, e;

	if (fl->count >= fl->cap)
		return -ENOSPC;
	fd = socket(af, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
	if (fd < 0)
		return -errno;
	if (af == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0)
		goto fail;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u64 = epoll_ref_make(EPOLL_KIND_UDP_SPLICE, UDP_SPLICE_INDEX_LISTENER | fl->count);
	if (epoll_ctl(s->epollfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		goto fail;
	fl->l[fl->count].fd = fd;
	fl->l[fl->count].af = af;
	fl->l[fl->count].port = port;
	fl->l[fl->count].to_port = to;
	fl->count++;
	return 0;
fail:
	e = -errno;
	close(fd);
	return e;
}

/* Families set forwards port through. */
static void udp_splice_port_families(const struct fwd_set *set, uint16_t port, bool *f4, bool *f6)
{
	unsigned i;

	*f4 = *f6 = false;
	for (i = 0; i < set->count; i++) {
		const struct fwd_rule *r = &set->rule[i];

		if (r->exclude || port < r->first || port > r->last)
			continue;
		*f4 |= r->af != AF_INET6;
		*f6 |= r->af != AF_INET;
	}
}

static int udp_splice_listen_in_ns(void *arg)
{
	struct udp_splice *s = arg;
	const struct fwd_set *set = &s->c->udp_out;
	unsigned p;

	for (p = 1; p <= 65535; p++) {
		uint16_t to;
		bool f[2];
		int i, ret;

		if (!fwd_port_translate(set, (uint16_t)p, &to))
			continue;
		udp_splice_port_families(set, (uint16_t)p, &f[0], &f[1]);
		for (i = 0; i < 2; i++) {
			if (!f[i] || !s->fam_on[i])
				continue;
			ret = udp_splice_listen_one(s, i ? AF_INET6 : AF_INET, (uint16_t)p, to);
			if (ret == -EADDRNOTAVAIL || ret == -EAFNOSUPPORT) {
				debug("UDP splice: no %s loopback in the namespace for port %u",
				      i ? "IPv6" : "IPv4", p);
				continue;
			}
			if (ret < 0) {
				err("cannot forward UDP port %u from the namespace (%s): %s", p,
				    i ? "IPv6" : "IPv4", strerror(-ret));
				return ret;
			}
		}
	}
	return 0;
}

/* ---- Set-up and tear-down ---- */

static int udp_splice_listen_ns(struct udp_splice *s)
{
	const struct fwd_set *set = &s->c->udp_out;
	unsigned p, n = 0;
	int ret, result = 0;

	if (set->mode != FWD_SPEC)
		return 0;
	for (p = 1; p <= 65535; p++) {
		uint16_t to;

		if (fwd_port_translate(set, (uint16_t)p, &to))
			n += 2;
	}
	if (!n)
		return 0;
	s->ns_listeners.l = calloc(n, sizeof(*s->ns_listeners.l));
	if (!s->ns_listeners.l)
		return -ENOMEM;
	s->ns_listeners.cap = n;
	ret = nsexec_call(s->netns_fd, s->userns_fd, udp_splice_listen_in_ns, s, &result);
	if (ret < 0) {
		err("UDP: cannot enter the namespace to listen on -U ports: %s", strerror(-ret));
		return ret;
	}
	if (result < 0)
		return result;
	debug("UDP splice: %u listening sockets in the namespace", s->ns_listeners.count);
	return 0;
}

struct udp_splice *udp_splice_new(const struct config *c, int epollfd, int netns_fd, int userns_fd,
				  unsigned max_flows)
{
	struct udp_splice *s;
	unsigned i;

	if (!max_flows)
		max_flows = UDP_SPLICE_FLOWS_DEFAULT;
	s = calloc(1, sizeof(*s));
	if (!s)
		goto nomem;
	s->c = c;
	s->epollfd = epollfd;
	s->netns_fd = netns_fd;
	s->userns_fd = userns_fd;
	s->fam_on[0] = c->ip4.enabled;
	s->fam_on[1] = c->ip6.enabled;
	s->now = udp_splice_now();
	if (flow_table_init(&s->ft, max_flows) < 0)
		goto nomem;
	s->flow = calloc(max_flows, sizeof(*s->flow));
	/* Pages are touched only as datagrams use them. */
	s->buf = malloc((size_t)UDP_SPLICE_BATCH * UDP_SPLICE_DGRAM_MAX);
	if (!s->flow || !s->buf)
		goto nomem;
	for (i = 0; i < UDP_SPLICE_BATCH; i++) {
		s->rx_iov[i].iov_base = s->buf + (size_t)i * UDP_SPLICE_DGRAM_MAX;
		s->rx_iov[i].iov_len = UDP_SPLICE_DGRAM_MAX;
	}
	if (udp_splice_listen_ns(s) < 0) {
		udp_splice_free(s);
		return NULL;
	}
	/* Fill the pool now: after --runas, refills may be refused (see tcp_splice.c). */
	if ((c->udp_in.mode == FWD_SPEC || c->udp_in.mode == FWD_ALL ||
	     c->udp_in.mode == FWD_AUTO) &&
	    udp_splice_pool_fill(s) < 0)
		warn("UDP splice: cannot open sockets in the namespace: datagrams from the host's "
		     "loopback to -u ports go through the tap");
	return s;
nomem:
	err("UDP splice: out of memory for %u flows", max_flows);
	udp_splice_free(s);
	return NULL;
}

static void udp_splice_flow_close(struct udp_splice *s, uint32_t idx)
{
	struct udp_splice_flow *f = &s->flow[idx];

	if (f->sock >= 0)
		close(f->sock); /* also leaves the epoll set: nobody else holds it */
	s->st.dgrams[0] += f->dgrams[0];
	s->st.dgrams[1] += f->dgrams[1];
	memset(f, 0, sizeof(*f));
	f->sock = -1;
	flow_remove(&s->ft, idx);
}

void udp_splice_free(struct udp_splice *s)
{
	int f;

	if (!s)
		return;
	if (s->flow) {
		while (s->ft.count)
			udp_splice_flow_close(s, flow_nth(&s->ft, s->ft.count - 1));
	}
	for (f = 0; f < 2; f++) {
		while (s->pool_count[f])
			close(s->pool[f][--s->pool_count[f]]);
	}
	fwd_close(&s->ns_listeners);
	flow_table_free(&s->ft);
	free(s->flow);
	free(s->buf);
	free(s);
}

/* ---- Flows ---- */

static int udp_splice_pool_take(struct udp_splice *s, int af)
{
	int f = af == AF_INET6 ? 1 : 0, ret;

	if (!s->pool_count[f]) {
		bool tried = s->refill_refused;

		ret = udp_splice_pool_fill(s);
		if (ret < 0) {
			if (!tried) /* logged once when refused for good */
				log_ratelimited(LOG_LVL_WARN,
						"UDP splice: cannot open sockets in the namespace "
						"(--runas dropped the rights?): %s; datagrams from "
						"the host's loopback to -u ports go through "
						"the tap",
						strerror(-ret));
			return -1;
		}
		if (!s->pool_count[f])
			return -1;
	}
	return s->pool[f][--s->pool_count[f]];
}

/* The flow of client on listening socket reply_fd, opened if new. FLOW_NONE: drop. */
static uint32_t udp_splice_flow_get(struct udp_splice *s, int reply_fd, int af, uint16_t to_port,
				    bool from_ns, const struct sockaddr *client,
				    socklen_t client_len)
{
	struct udp_splice_flow *f;
	struct sockaddr_storage ss;
	struct epoll_event ev;
	struct flow_key k;
	uint32_t idx;
	socklen_t sl;
	int sock, ret;

	if (client_len > sizeof(f->client) || !udp_splice_key(&k, reply_fd, client))
		return FLOW_NONE;
	idx = flow_lookup(&s->ft, &k);
	if (idx != FLOW_NONE)
		return idx;
	if (s->ft.count >= s->ft.cap) {
		s->st.refused_full++;
		log_ratelimited(LOG_LVL_ERR, "UDP splice: flow table full (%u flows)", s->ft.cap);
		return FLOW_NONE;
	}
	sock = from_ns ? socket(af, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP)
		       : udp_splice_pool_take(s, af);
	if (sock < 0) {
		log_ratelimited(LOG_LVL_WARN, "UDP splice: no socket for a new flow");
		return FLOW_NONE;
	}
	sl = udp_splice_loopback(af, to_port, &ss);
	ret = connect(sock, (struct sockaddr *)&ss, sl) < 0 ? -errno
							    : flow_insert(&s->ft, &k, &idx);
	if (ret < 0) {
		log_ratelimited(LOG_LVL_WARN, "UDP splice: new flow to port %u: %s", to_port,
				strerror(-ret));
		close(sock);
		return FLOW_NONE;
	}
	f = &s->flow[idx];
	memset(f, 0, sizeof(*f));
	f->sock = sock;
	f->reply_fd = reply_fd;
	f->from_ns = from_ns;
	f->af = (uint8_t)af;
	f->port = to_port;
	memcpy(&f->client, client, client_len);
	f->client_len = client_len;
	f->last = s->now;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u64 = epoll_ref_make(EPOLL_KIND_UDP_SPLICE, idx);
	if (epoll_ctl(s->epollfd, EPOLL_CTL_ADD, sock, &ev) < 0) {
		log_ratelimited(LOG_LVL_WARN, "UDP splice: epoll_ctl: %s", strerror(errno));
		udp_splice_flow_close(s, idx);
		return FLOW_NONE;
	}
	s->st.flows_opened++;
	trace("UDP splice %u: new flow %s, port %u", idx,
	      from_ns ? "from the namespace" : "from the host", to_port);
	return idx;
}

/* sendmmsg() the n prepared messages of s->tx on fd; what is refused is dropped. The count. */
static unsigned udp_splice_send(struct udp_splice *s, int fd, unsigned n)
{
	unsigned done = 0;
	int tries = 0;

	while (done < n) {
		int r = sendmmsg(fd, s->tx + done, n - done, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (r > 0) {
			done += (unsigned)r;
			continue;
		}
		/* A queued error (an ICMP error for an earlier datagram) fails the call once. */
		if (r < 0 && (errno == ECONNREFUSED || errno == EINTR) && ++tries < 3)
			continue;
		break;
	}
	s->st.dropped += n - done;
	return done;
}

static void udp_splice_tx_add(struct udp_splice *s, unsigned slot, unsigned rx_i,
			      struct sockaddr_storage *to, socklen_t to_len)
{
	struct msghdr *mh = &s->tx[slot].msg_hdr;

	s->tx_iov[slot].iov_base = s->rx_iov[rx_i].iov_base;
	s->tx_iov[slot].iov_len = s->rx[rx_i].msg_len;
	memset(mh, 0, sizeof(*mh));
	mh->msg_name = to;
	mh->msg_namelen = to ? to_len : 0;
	mh->msg_iov = &s->tx_iov[slot];
	mh->msg_iovlen = 1;
}

/* recvmmsg() a batch from fd (with names if asked). The count, or 0. */
static unsigned udp_splice_recv(struct udp_splice *s, int fd, bool names)
{
	unsigned i;
	int r, tries = 0;

	for (i = 0; i < UDP_SPLICE_BATCH; i++) {
		struct msghdr *mh = &s->rx[i].msg_hdr;

		memset(mh, 0, sizeof(*mh));
		if (names) {
			mh->msg_name = &s->rx_name[i];
			mh->msg_namelen = sizeof(s->rx_name[i]);
		}
		mh->msg_iov = &s->rx_iov[i];
		mh->msg_iovlen = 1;
		s->rx[i].msg_len = 0;
	}
	do {
		r = recvmmsg(fd, s->rx, UDP_SPLICE_BATCH, MSG_DONTWAIT, NULL);
		/* A pending error (ICMP port unreachable for what we sent) fails the call once
		 * and is cleared by it. */
	} while (r < 0 &&
		 (errno == EINTR || errno == ECONNREFUSED || errno == EHOSTUNREACH ||
		  errno == ENETUNREACH) &&
		 ++tries < 3);
	return r > 0 ? (unsigned)r : 0;
}

/* Client to server: a -U listener's datagrams, each run of one flow in one sendmmsg(). */
static void udp_splice_listener_read(struct udp_splice *s, uint32_t li)
{
	const struct fwd_listener *l = fwd_listener_at(&s->ns_listeners, li);
	int round;

	if (!l)
		return;
	for (round = 0; round < UDP_SPLICE_READ_ROUNDS; round++) {
		unsigned n = udp_splice_recv(s, l->fd, true), i, queued = 0;
		uint32_t run = FLOW_NONE;

		for (i = 0; i < n; i++) {
			uint32_t idx;

			idx = udp_splice_flow_get(s, l->fd, l->af, l->to_port, true,
						  (struct sockaddr *)&s->rx_name[i],
						  s->rx[i].msg_hdr.msg_namelen);
			if (idx != run && queued) {
				s->flow[run].dgrams[0] +=
					udp_splice_send(s, s->flow[run].sock, queued);
				queued = 0;
			}
			run = idx;
			if (idx == FLOW_NONE) {
				s->st.dropped++;
				continue;
			}
			s->flow[idx].last = s->now;
			udp_splice_tx_add(s, queued++, i, NULL, 0);
		}
		if (queued)
			s->flow[run].dgrams[0] += udp_splice_send(s, s->flow[run].sock, queued);
		if (n < UDP_SPLICE_BATCH)
			return;
	}
}

/* Server to client: a flow's answers, through the listening socket to the client. */
static void udp_splice_flow_read(struct udp_splice *s, uint32_t idx)
{
	struct udp_splice_flow *f = &s->flow[idx];
	int round;

	for (round = 0; round < UDP_SPLICE_READ_ROUNDS; round++) {
		unsigned n = udp_splice_recv(s, f->sock, false), i;

		if (!n)
			return;
		f->last = s->now;
		for (i = 0; i < n; i++)
			udp_splice_tx_add(s, i, i, &f->client, f->client_len);
		f->dgrams[1] += udp_splice_send(s, f->reply_fd, n);
		if (n < UDP_SPLICE_BATCH)
			return;
	}
}

bool udp_splice_from_host(struct udp_splice *s, int reply_fd, int af, uint16_t to_port,
			  const struct sockaddr *sender, socklen_t sender_len, const void *data,
			  size_t len)
{
	uint32_t idx;

	if (!s)
		return false;
	s->now = udp_splice_now();
	idx = udp_splice_flow_get(s, reply_fd, af, to_port, false, sender, sender_len);
	if (idx == FLOW_NONE)
		return false;
	s->flow[idx].last = s->now;
	if (send(s->flow[idx].sock, data, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
	    !(errno == ECONNREFUSED &&
	      send(s->flow[idx].sock, data, len, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)) {
		s->st.dropped++;
		return true;
	}
	s->flow[idx].dgrams[0]++;
	return true;
}

void udp_splice_event(struct udp_splice *s, uint32_t index, uint32_t events)
{
	(void)events;
	if (!s)
		return;
	s->now = udp_splice_now();
	if (index & UDP_SPLICE_INDEX_LISTENER) {
		udp_splice_listener_read(s, index & ~UDP_SPLICE_INDEX_LISTENER);
		return;
	}
	if (!flow_in_use(&s->ft, index))
		return;
	if (events & EPOLLERR) {
		int e = 0;
		socklen_t sl = sizeof(e);

		getsockopt(s->flow[index].sock, SOL_SOCKET, SO_ERROR, &e, &sl); /* clears it */
	}
	udp_splice_flow_read(s, index);
}

void udp_splice_timer(struct udp_splice *s, time_t now)
{
	unsigned i;

	if (!s)
		return;
	s->now = now;
	for (i = s->ft.count; i-- > 0;) {
		uint32_t idx = flow_nth(&s->ft, i);

		if (now - s->flow[idx].last >= UDP_SPLICE_IDLE_SEC) {
			trace("UDP splice %u: idle, closed", idx);
			udp_splice_flow_close(s, idx);
			s->st.flows_expired++;
		}
	}
}

unsigned udp_splice_count(const struct udp_splice *s)
{
	return s ? s->ft.count : 0;
}

const struct udp_splice_stats *udp_splice_get_stats(const struct udp_splice *s)
{
	return &s->st;
}

const struct fwd_listeners *udp_splice_listeners(const struct udp_splice *s)
{
	return &s->ns_listeners;
}

struct fwd_listeners *udp_splice_ns_listeners(struct udp_splice *s)
{
	return &s->ns_listeners;
}

void udp_splice_listener_gone(struct udp_splice *s, int fd)
{
	unsigned i;

	if (!s || !s->flow)
		return;
	for (i = s->ft.count; i-- > 0;) {
		uint32_t idx = flow_nth(&s->ft, i);

		if (s->flow[idx].reply_fd == fd)
			udp_splice_flow_close(s, idx);
	}
}
