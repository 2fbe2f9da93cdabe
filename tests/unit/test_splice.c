// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_splice.c - unit tests for core/nsexec.c and flow/tcp_splice.c, with real sockets in two
 * private network namespaces
 *
 * The test first moves itself into a fresh network namespace (as root; otherwise into a fresh
 * user + network namespace, or it skips with status 77 when neither is allowed): that plays the
 * host. A forked child unshare()s a second network namespace and sleeps: that plays pasta's
 * namespace, reached through /proc/CHILD/ns/net exactly as the daemon reaches it. Loopback is
 * brought up in both. Fixed ports are safe: nothing else lives in these namespaces.
 *
 * One thread plays every part: the clients and servers are non-blocking sockets driven by the
 * same loop that routes the epoll events of the splice module (as main.c does).
 *
 * Cases: nsexec_call() runs its function inside the namespace (a socket it opens belongs there:
 * SO_NETNS_COOKIE) and returns its result, and fails cleanly on descriptors that are no
 * namespace; -t path (a connection accepted on the host, handed over, connected inside): 4 MiB
 * each way at once, byte-exact, IPv4 and IPv6, the server sees a loopback peer; half-close both
 * orders with the slot freed only when both FINs are relayed; RST both ways; connect refused
 * (client reset); table full (the connection is declined, for tcp.c to carry through the tap;
 * room again after a close); -T path (listeners opened
 * inside the namespace on 127.0.0.1 and ::1 at the translated port, data both ways to a server
 * on the host's loopback). UDP: -U (listeners inside, datagrams of 0 to 65000 bytes both ways
 * byte-exact, a burst of 40 in order, idle expiry) and -u (a datagram handed over as udp.c
 * does, the server inside sees a loopback peer and its answer reaches the client; with the table
 * full a new client's datagram is declined, for udp.c to carry through the tap).
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "core/config.h"
#include "core/config_parse.h"
#include "core/epoll_ref.h"
#include "core/log.h"
#include "core/nsexec.h"
#include "flow/tcp_splice.h"
#include "flow/udp_splice.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

#include "check.h"

#define NS_PORT 5000 /* the server inside the namespace (-t target) */
#define HOST_PORT 6000 /* the server on the host (-T target) */
#define T_PORT 7000 /* -T listens here inside the namespace, forwards to HOST_PORT */
#define BULK (4u << 20)

static int netns_fd = -1;
static pid_t ns_child;
static int epfd = -1;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- Namespaces ---- */

static int lo_up(void *arg)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret;

	(void)arg;
	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	ret = ioctl(fd, SIOCGIFFLAGS, &ifr);
	if (!ret) {
		ifr.ifr_flags |= IFF_UP;
		ret = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
	return ret;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -1;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		ret = -1;
	close(fd);
	return ret;
}

/* Our own "host" namespace; false: not allowed here (skip). */
static bool enter_private_host(void)
{
	char map[64];
	uid_t uid = geteuid();
	gid_t gid = getegid();

	if (uid == 0 && unshare(CLONE_NEWNET) == 0)
		return lo_up(NULL) == 0;
	if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0)
		return false;
	write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
	if (write_file("/proc/self/uid_map", map) < 0)
		return false;
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
	if (write_file("/proc/self/gid_map", map) < 0)
		return false;
	return lo_up(NULL) == 0;
}

/* The "namespace": a child in a network namespace of its own, sleeping. */
static void make_target_ns(void)
{
	int p[2];
	char path[64], c;

	CHECK(pipe(p) == 0);
	ns_child = fork();
	CHECK(ns_child >= 0);
	if (!ns_child) {
		close(p[0]);
		c = unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	CHECK_EQ(read(p[0], &c, 1), 1);
	CHECK_EQ(c, 'y');
	close(p[0]);
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)ns_child);
	netns_fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(netns_fd >= 0);
}

static uint64_t netns_cookie(int fd)
{
	uint64_t cookie = 0;
	socklen_t sl = sizeof(cookie);

	CHECK(getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &sl) == 0);
	return cookie;
}

/* ---- Sockets ---- */

static socklen_t lo_addr(int af, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (af == AF_INET) {
		struct sockaddr_in *sa = (struct sockaddr_in *)ss;

		sa->sin_family = AF_INET;
		sa->sin_port = htons(port);
		sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof(*sa);
	}
	((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
	((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	((struct sockaddr_in6 *)ss)->sin6_addr = in6addr_loopback;
	return sizeof(struct sockaddr_in6);
}

static int listen_lo(int af, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t sl = lo_addr(af, port, &ss);
	int fd = socket(af, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 64) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

struct ns_listen_arg {
	int af;
	uint16_t port;
	int fd;
};

static int listen_in_ns(void *arg)
{
	struct ns_listen_arg *a = arg;

	a->fd = listen_lo(a->af, a->port);
	return a->fd;
}

static int ns_listen(int af, uint16_t port)
{
	struct ns_listen_arg a = { .af = af, .port = port, .fd = -1 };
	int result = -1;

	CHECK_EQ(nsexec_call(netns_fd, -1, listen_in_ns, &a, &result), 0);
	CHECK(result >= 0);
	return a.fd;
}

static int socket_in_ns(void *arg)
{
	return socket(*(int *)arg, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

static int connect_lo(int fd, int af, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t sl = lo_addr(af, port, &ss);

	if (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS)
		return -1;
	return 0;
}

static void linger0_close(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	CHECK(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == 0);
	close(fd);
}

/* ---- Driving the module ---- */

static struct udp_splice *cur_udp; /* the UDP module the UDP cases drive */

static void pump(struct tcp_splice *s, int ms)
{
	struct epoll_event ev[64];
	int n = epoll_wait(epfd, ev, 64, ms), i;

	for (i = 0; i < n; i++) {
		union epoll_ref ref = { .u64 = ev[i].data.u64 };

		if (ref.kind == EPOLL_KIND_UDP_SPLICE) {
			CHECK(cur_udp != NULL);
			udp_splice_event(cur_udp, ref.index, ev[i].events);
			continue;
		}
		CHECK_EQ(ref.kind, EPOLL_KIND_TCP_SPLICE);
		tcp_splice_event(s, ref.index, ev[i].events);
	}
}

static int accept_wait(struct tcp_splice *s, int lfd, struct sockaddr_storage *peer)
{
	uint64_t deadline = now_ms() + 5000;
	socklen_t sl = sizeof(*peer);

	while (now_ms() < deadline) {
		int fd = accept4(lfd, (struct sockaddr *)peer, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0)
			return fd;
		CHECK(errno == EAGAIN);
		pump(s, 5);
	}
	return -1;
}

/* -t: a client on the host connects to our "host listener", the accepted socket goes to the
 * splice module for port NS_PORT inside. Returns the client; *server the namespace's end. */
static int open_t(struct tcp_splice *s, int af, int host_lfd, int ns_lfd, int *server)
{
	struct sockaddr_storage peer;
	int cl = socket(af, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), acc;
	socklen_t sl = sizeof(peer);
	uint64_t deadline = now_ms() + 5000;

	CHECK(cl >= 0);
	CHECK(getsockname(host_lfd, (struct sockaddr *)&peer, &sl) == 0);
	CHECK(connect_lo(cl, af, ntohs(((struct sockaddr_in *)&peer)->sin_port)) == 0);
	do {
		sl = sizeof(peer);
		acc = accept4(host_lfd, (struct sockaddr *)&peer, &sl,
			      SOCK_NONBLOCK | SOCK_CLOEXEC);
	} while (acc < 0 && errno == EAGAIN && now_ms() < deadline);
	CHECK(acc >= 0);
	CHECK(tcp_splice_peer_is_loopback(&peer));
	if (!tcp_splice_from_host(s, acc, af, NS_PORT)) {
		/* Declined (table full): the caller (tcp.c) would carry it through the tap. */
		linger0_close(acc);
		*server = -1;
		return cl;
	}
	*server = ns_lfd >= 0 ? accept_wait(s, ns_lfd, &peer) : -1;
	if (ns_lfd >= 0) {
		CHECK(*server >= 0);
		/* The server inside sees a loopback peer, and its socket is the namespace's. */
		CHECK(tcp_splice_peer_is_loopback(&peer));
		CHECK(netns_cookie(*server) != netns_cookie(cl));
	}
	return cl;
}

static uint8_t pattern(uint32_t i, unsigned salt)
{
	uint32_t x = (i + salt * 0x9e3779b9u) * 2654435761u;

	return (uint8_t)(x >> 24);
}

/* Send n bytes each way between a and b at once; check every byte. */
static void bulk_both_ways(struct tcp_splice *s, int a, int b, uint32_t n)
{
	uint32_t sent[2] = { 0, 0 }, got[2] = { 0, 0 };
	int fd[2] = { a, b };
	uint64_t deadline = now_ms() + 30000;
	uint8_t buf[65536];

	while ((got[0] < n || got[1] < n) && now_ms() < deadline) {
		int d;

		for (d = 0; d < 2; d++) {
			uint32_t k, len = n - sent[d] < sizeof(buf) ? n - sent[d] : sizeof(buf);
			ssize_t r;

			for (k = 0; k < len; k++)
				buf[k] = pattern(sent[d] + k, (unsigned)d);
			if (len) {
				r = send(fd[d], buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
				CHECK(r > 0 || errno == EAGAIN);
				if (r > 0)
					sent[d] += (uint32_t)r;
			}
			/* fd[!d] receives direction d */
			r = recv(fd[!d], buf, sizeof(buf), MSG_DONTWAIT);
			CHECK(r != 0);
			CHECK(r > 0 || errno == EAGAIN);
			for (k = 0; r > 0 && k < (uint32_t)r; k++)
				CHECK_EQ(buf[k], pattern(got[d] + k, (unsigned)d));
			if (r > 0)
				got[d] += (uint32_t)r;
		}
		pump(s, 0);
	}
	CHECK_EQ(got[0], n);
	CHECK_EQ(got[1], n);
}

/* recv() on fd after pumping until it says something other than EAGAIN: returns its result
 * (bytes, 0 for EOF, -errno). */
static ssize_t recv_wait(struct tcp_splice *s, int fd, void *buf, size_t len)
{
	uint64_t deadline = now_ms() + 5000;

	while (now_ms() < deadline) {
		ssize_t r = recv(fd, buf, len, MSG_DONTWAIT);

		if (r >= 0)
			return r;
		if (errno != EAGAIN)
			return -errno;
		pump(s, 5);
	}
	return -ETIMEDOUT;
}

static void pump_until_count(struct tcp_splice *s, unsigned count)
{
	uint64_t deadline = now_ms() + 5000;

	while (tcp_splice_count(s) != count && now_ms() < deadline)
		pump(s, 5);
	CHECK_EQ(tcp_splice_count(s), count);
}

static struct config *make_config_both(const char *tcp_out, const char *udp_out)
{
	static struct config c;
	char err[128];

	config_defaults(&c, MODE_PASTA, "test_splice");
	c.ip4.enabled = true;
	c.ip6.enabled = true;
	if (tcp_out)
		CHECK(config_parse_fwd_spec(tcp_out, MODE_PASTA, &c.tcp_out, err, sizeof(err)) ==
		      0);
	if (udp_out)
		CHECK(config_parse_fwd_spec(udp_out, MODE_PASTA, &c.udp_out, err, sizeof(err)) ==
		      0);
	return &c;
}

static struct config *make_config(const char *tcp_out)
{
	return make_config_both(tcp_out, NULL);
}

/* ---- Cases ---- */

static int return_42(void *arg)
{
	int *fd = arg;

	*fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	return 42;
}

static void test_nsexec(void)
{
	int fd = -1, mine = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), result = 0, p[2];

	CHECK_EQ(nsexec_call(netns_fd, -1, return_42, &fd, &result), 0);
	CHECK_EQ(result, 42);
	CHECK(fd >= 0);
	CHECK(netns_cookie(fd) != netns_cookie(mine));
	close(fd);
	CHECK_EQ(nsexec_call(-1, -1, return_42, &fd, &result), -EBADF);
	CHECK(pipe(p) == 0);
	CHECK_EQ(nsexec_call(p[0], -1, return_42, &fd, &result), -EINVAL);
	close(p[0]);
	close(p[1]);
	close(mine);
}

static void test_t_bulk_and_half_close(int af, bool server_first)
{
	struct tcp_splice *s = tcp_splice_new(make_config(NULL), epfd, netns_fd, -1, 16);
	int host_lfd = listen_lo(af, 0), ns_lfd = ns_listen(af, NS_PORT), cl, srv;
	int first, second;
	char buf[16];

	CHECK(s && host_lfd >= 0);
	cl = open_t(s, af, host_lfd, ns_lfd, &srv);
	CHECK_EQ(tcp_splice_count(s), 1);
	bulk_both_ways(s, cl, srv, BULK);

	/* Half-close: one side's FIN reaches the other, which can still send. */
	first = server_first ? srv : cl;
	second = server_first ? cl : srv;
	CHECK(shutdown(first, SHUT_WR) == 0);
	CHECK_EQ(recv_wait(s, second, buf, sizeof(buf)), 0);
	CHECK_EQ(send(second, "late", 4, MSG_NOSIGNAL), 4);
	CHECK_EQ(recv_wait(s, first, buf, sizeof(buf)), 4);
	CHECK(!memcmp(buf, "late", 4));
	CHECK_EQ(tcp_splice_count(s), 1); /* one direction still open */
	CHECK(shutdown(second, SHUT_WR) == 0);
	CHECK_EQ(recv_wait(s, first, buf, sizeof(buf)), 0);
	pump_until_count(s, 0);
	CHECK_EQ(tcp_splice_get_stats(s)->closed, 1);
	CHECK_EQ(tcp_splice_get_stats(s)->reset, 0);
	/* bytes[0]: client to server; "late" went from the side that closed second */
	CHECK_EQ(tcp_splice_get_stats(s)->bytes[0], BULK + (server_first ? 4 : 0));
	CHECK_EQ(tcp_splice_get_stats(s)->bytes[1], BULK + (server_first ? 0 : 4));
	/* Closed cleanly: no RST reached either end. */
	CHECK_EQ(recv(first, buf, sizeof(buf), MSG_DONTWAIT), 0);
	close(cl);
	close(srv);
	close(host_lfd);
	close(ns_lfd);
	tcp_splice_free(s);
}

static void test_t_resets(int af)
{
	struct tcp_splice *s = tcp_splice_new(make_config(NULL), epfd, netns_fd, -1, 16);
	int host_lfd = listen_lo(af, 0), ns_lfd = ns_listen(af, NS_PORT), cl, srv;
	char buf[16];

	CHECK(s && host_lfd >= 0);
	/* The client resets: the server inside gets a RST. */
	cl = open_t(s, af, host_lfd, ns_lfd, &srv);
	CHECK_EQ(send(cl, "x", 1, 0), 1);
	CHECK_EQ(recv_wait(s, srv, buf, sizeof(buf)), 1);
	linger0_close(cl);
	CHECK_EQ(recv_wait(s, srv, buf, sizeof(buf)), -ECONNRESET);
	close(srv);
	pump_until_count(s, 0);
	CHECK_EQ(tcp_splice_get_stats(s)->reset, 1);

	/* The server resets: the client gets a RST. */
	cl = open_t(s, af, host_lfd, ns_lfd, &srv);
	CHECK_EQ(send(srv, "y", 1, 0), 1);
	CHECK_EQ(recv_wait(s, cl, buf, sizeof(buf)), 1);
	linger0_close(srv);
	CHECK_EQ(recv_wait(s, cl, buf, sizeof(buf)), -ECONNRESET);
	close(cl);
	pump_until_count(s, 0);
	CHECK_EQ(tcp_splice_get_stats(s)->reset, 2);

	/* Nothing listens inside: the client is reset. */
	close(ns_lfd);
	cl = open_t(s, af, host_lfd, -1, &srv);
	CHECK_EQ(recv_wait(s, cl, buf, sizeof(buf)), -ECONNRESET);
	close(cl);
	pump_until_count(s, 0);
	CHECK_EQ(tcp_splice_get_stats(s)->connect_failed, 1);
	close(host_lfd);
	tcp_splice_free(s);
}

static void test_t_table_full(void)
{
	struct tcp_splice *s = tcp_splice_new(make_config(NULL), epfd, netns_fd, -1, 2);
	int host_lfd = listen_lo(AF_INET, 0), ns_lfd = ns_listen(AF_INET, NS_PORT);
	int cl[3], srv[3], extra;
	char buf[16];

	CHECK(s);
	cl[0] = open_t(s, AF_INET, host_lfd, ns_lfd, &srv[0]);
	cl[1] = open_t(s, AF_INET, host_lfd, ns_lfd, &srv[1]);
	CHECK_EQ(tcp_splice_count(s), 2);
	cl[2] = open_t(s, AF_INET, host_lfd, -1, &srv[2]);
	CHECK_EQ(recv_wait(s, cl[2], buf, sizeof(buf)), -ECONNRESET);
	CHECK_EQ(tcp_splice_get_stats(s)->refused_full, 1);
	/* The established ones are untouched. */
	bulk_both_ways(s, cl[1], srv[1], 100000);
	linger0_close(cl[0]);
	close(srv[0]);
	pump_until_count(s, 1);
	extra = open_t(s, AF_INET, host_lfd, ns_lfd, &srv[0]);
	CHECK_EQ(tcp_splice_count(s), 2);
	bulk_both_ways(s, extra, srv[0], 100000);
	close(extra);
	close(srv[0]);
	close(cl[1]);
	close(srv[1]);
	close(cl[2]);
	pump_until_count(s, 0);
	close(host_lfd);
	close(ns_lfd);
	tcp_splice_free(s);
}

static void test_T(int af)
{
	char spec[32];
	struct tcp_splice *s;
	const struct fwd_listeners *fl;
	struct sockaddr_storage peer;
	int host_lfd = listen_lo(af, HOST_PORT), cl = -1, srv, fam = af, result = -1;
	unsigned i, seen = 0;
	char buf[16];

	snprintf(spec, sizeof(spec), "%u:%u", T_PORT, HOST_PORT);
	s = tcp_splice_new(make_config(spec), epfd, netns_fd, -1, 16);
	CHECK(s && host_lfd >= 0);
	fl = tcp_splice_listeners(s);
	CHECK_EQ(fl->count, 2);
	for (i = 0; i < fl->count; i++) {
		CHECK_EQ(fl->l[i].port, T_PORT);
		CHECK_EQ(fl->l[i].to_port, HOST_PORT);
		seen |= fl->l[i].af == AF_INET ? 1 : 2;
	}
	CHECK_EQ(seen, 3);

	/* A client inside connects to its own loopback, port T_PORT. */
	CHECK_EQ(nsexec_call(netns_fd, -1, socket_in_ns, &fam, &result), 0);
	cl = result;
	CHECK(cl >= 0);
	CHECK(connect_lo(cl, af, T_PORT) == 0);
	srv = accept_wait(s, host_lfd, &peer);
	CHECK(srv >= 0);
	CHECK(tcp_splice_peer_is_loopback(&peer));
	CHECK(netns_cookie(srv) != netns_cookie(cl));
	CHECK_EQ(tcp_splice_get_stats(s)->opened_from_ns, 1);
	bulk_both_ways(s, cl, srv, BULK);
	close(cl);
	CHECK_EQ(recv_wait(s, srv, buf, sizeof(buf)), 0);
	close(srv);
	pump_until_count(s, 0);
	CHECK_EQ(tcp_splice_get_stats(s)->closed, 1);
	close(host_lfd);
	tcp_splice_free(s);
}

/* ---- UDP ---- */

#define NS_UDP_PORT 5053 /* the server inside the namespace (-u target) */
#define HOST_UDP_PORT 6053 /* the server on the host (-U target) */
#define U_PORT 7053 /* -U listens here inside the namespace */

struct ns_udp_arg {
	int af;
	uint16_t port; /* 0: unbound */
	int fd;
};

static int udp_socket_in_ns(void *arg)
{
	struct ns_udp_arg *a = arg;
	struct sockaddr_storage ss;
	socklen_t sl = lo_addr(a->af, a->port, &ss);

	a->fd = socket(a->af, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->fd >= 0 && a->port && bind(a->fd, (struct sockaddr *)&ss, sl) < 0) {
		close(a->fd);
		a->fd = -1;
	}
	return a->fd;
}

static int ns_udp_socket(int af, uint16_t port)
{
	struct ns_udp_arg a = { .af = af, .port = port, .fd = -1 };
	int result = -1;

	CHECK_EQ(nsexec_call(netns_fd, -1, udp_socket_in_ns, &a, &result), 0);
	CHECK(a.fd >= 0);
	return a.fd;
}

static int udp_bound(int af, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t sl = lo_addr(af, port, &ss);
	int fd = socket(af, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	CHECK(fd >= 0);
	CHECK(bind(fd, (struct sockaddr *)&ss, sl) == 0);
	return fd;
}

/* A datagram on fd, pumping meanwhile: its length (-1: none in time), sender in *from. */
static ssize_t udp_recv_wait(struct tcp_splice *t, int fd, void *buf, size_t len,
			     struct sockaddr_storage *from)
{
	uint64_t deadline = now_ms() + 5000;

	while (now_ms() < deadline) {
		socklen_t sl = sizeof(*from);
		ssize_t r = recvfrom(fd, buf, len, MSG_DONTWAIT, (struct sockaddr *)from, &sl);

		if (r >= 0)
			return r;
		CHECK(errno == EAGAIN);
		pump(t, 5);
	}
	return -1;
}

static void fill(uint8_t *buf, size_t len, unsigned salt)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = pattern((uint32_t)i, salt);
}

/* -U: a client inside sends to its loopback at U_PORT, the host's server at HOST_UDP_PORT
 * answers; a burst of 40 goes out in batches and arrives complete and in order. */
static void test_U(int af)
{
	char spec[32];
	static uint8_t buf[65536], want[65536];
	struct sockaddr_storage from;
	struct udp_splice *u;
	const struct fwd_listeners *fl;
	int srv = udp_bound(af, HOST_UDP_PORT), cl, i;
	size_t sizes[] = { 0, 1, 1400, 65000 };

	snprintf(spec, sizeof(spec), "%u:%u", U_PORT, HOST_UDP_PORT);
	u = udp_splice_new(make_config_both(NULL, spec), epfd, netns_fd, -1, 16);
	CHECK(u);
	cur_udp = u;
	fl = udp_splice_listeners(u);
	CHECK_EQ(fl->count, 2);
	CHECK_EQ(fl->l[0].port, U_PORT);
	CHECK_EQ(fl->l[0].to_port, HOST_UDP_PORT);

	cl = ns_udp_socket(af, 0);
	CHECK(connect_lo(cl, af, U_PORT) == 0);
	for (i = 0; i < 4; i++) {
		fill(want, sizes[i], (unsigned)i);
		CHECK_EQ(send(cl, want, sizes[i], 0), (ssize_t)sizes[i]);
		CHECK_EQ(udp_recv_wait(NULL, srv, buf, sizeof(buf), &from), (ssize_t)sizes[i]);
		CHECK(!memcmp(buf, want, sizes[i]));
		CHECK(udp_splice_sender_is_loopback((struct sockaddr *)&from));
		/* the answer goes back to the client */
		fill(want, sizes[i], (unsigned)i + 100);
		CHECK_EQ(sendto(srv, want, sizes[i], 0, (struct sockaddr *)&from,
				af == AF_INET ? sizeof(struct sockaddr_in)
					      : sizeof(struct sockaddr_in6)),
			 (ssize_t)sizes[i]);
		CHECK_EQ(udp_recv_wait(NULL, cl, buf, sizeof(buf), &from), (ssize_t)sizes[i]);
		CHECK(!memcmp(buf, want, sizes[i]));
	}
	CHECK_EQ(udp_splice_count(u), 1);
	for (i = 0; i < 40; i++) {
		uint8_t b = (uint8_t)i;

		CHECK_EQ(send(cl, &b, 1, 0), 1);
	}
	for (i = 0; i < 40; i++) {
		CHECK_EQ(udp_recv_wait(NULL, srv, buf, sizeof(buf), &from), 1);
		CHECK_EQ(buf[0], i);
	}
	CHECK_EQ(udp_splice_count(u), 1);
	/* Idle flows expire. */
	udp_splice_timer(u, (time_t)(now_ms() / 1000) + UDP_SPLICE_IDLE_SEC + 1);
	CHECK_EQ(udp_splice_count(u), 0);
	CHECK_EQ(udp_splice_get_stats(u)->flows_expired, 1);
	CHECK_EQ(udp_splice_get_stats(u)->dgrams[0], 44);
	CHECK_EQ(udp_splice_get_stats(u)->dgrams[1], 4);
	CHECK_EQ(udp_splice_get_stats(u)->dropped, 0);
	close(cl);
	close(srv);
	udp_splice_free(u);
	cur_udp = NULL;
}

/* -u: what udp.c's listener read from a loopback sender is handed over; the namespace's server
 * sees a loopback peer, its answer reaches the client from the listener's address. */
static void test_u_from_host(int af)
{
	static uint8_t buf[65536];
	struct sockaddr_storage from, lname;
	socklen_t sl = sizeof(lname);
	struct udp_splice *u = udp_splice_new(make_config(NULL), epfd, netns_fd, -1, 1);
	int lfd = udp_bound(af, 0), srv = ns_udp_socket(af, NS_UDP_PORT), cl[2], i;
	ssize_t n;

	CHECK(u);
	cur_udp = u;
	CHECK(getsockname(lfd, (struct sockaddr *)&lname, &sl) == 0);
	for (i = 0; i < 2; i++) {
		cl[i] = socket(af, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		CHECK(cl[i] >= 0);
		CHECK(connect(cl[i], (struct sockaddr *)&lname, sl) == 0);
		CHECK_EQ(send(cl[i], "ping", 4, 0), 4);
		n = udp_recv_wait(NULL, lfd, buf, sizeof(buf), &from);
		CHECK_EQ(n, 4);
		CHECK(udp_splice_sender_is_loopback((struct sockaddr *)&from));
		/* One flow fits: the second client's datagram is declined (left to the tap). */
		CHECK_EQ(udp_splice_from_host(u, lfd, af, NS_UDP_PORT, (struct sockaddr *)&from,
					      af == AF_INET ? sizeof(struct sockaddr_in)
							    : sizeof(struct sockaddr_in6),
					      buf, (size_t)n),
			 i == 0);
	}
	CHECK_EQ(udp_splice_count(u), 1);
	CHECK_EQ(udp_splice_get_stats(u)->refused_full, 1);
	CHECK_EQ(udp_recv_wait(NULL, srv, buf, sizeof(buf), &from), 4);
	CHECK(!memcmp(buf, "ping", 4));
	CHECK(udp_splice_sender_is_loopback((struct sockaddr *)&from));
	CHECK(netns_cookie(srv) != netns_cookie(lfd));
	CHECK_EQ(sendto(srv, "pong", 4, 0, (struct sockaddr *)&from,
			af == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)),
		 4);
	CHECK_EQ(udp_recv_wait(NULL, cl[0], buf, sizeof(buf), &from), 4);
	CHECK(!memcmp(buf, "pong", 4));
	CHECK_EQ(recv(cl[1], buf, sizeof(buf), MSG_DONTWAIT), -1);
	close(cl[0]);
	close(cl[1]);
	close(srv);
	close(lfd);
	udp_splice_free(u);
	cur_udp = NULL;
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	log_init("test_splice", LOG_LVL_WARN);
	if (!enter_private_host()) {
		printf("skip: cannot create a private network namespace here\n");
		return 77;
	}
	make_target_ns();
	{
		int result = -1;

		CHECK_EQ(nsexec_call(netns_fd, -1, lo_up, NULL, &result), 0);
		CHECK_EQ(result, 0);
	}
	epfd = epoll_create1(EPOLL_CLOEXEC);
	CHECK(epfd >= 0);

	test_nsexec();
	test_t_bulk_and_half_close(AF_INET, false);
	test_t_bulk_and_half_close(AF_INET, true);
	test_t_bulk_and_half_close(AF_INET6, false);
	test_t_bulk_and_half_close(AF_INET6, true);
	test_t_resets(AF_INET);
	test_t_resets(AF_INET6);
	test_t_table_full();
	test_T(AF_INET);
	test_T(AF_INET6);
	test_U(AF_INET);
	test_U(AF_INET6);
	test_u_from_host(AF_INET);
	test_u_from_host(AF_INET6);

	kill(ns_child, SIGKILL);
	waitpid(ns_child, NULL, 0);
	printf("test_splice: %lu checks passed\n", checks);
	return 0;
}
