/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bypass_fixture.h - the loopback bypass tests' fixture: one bypass instance, real sockets
 *
 * Shared by test_bypass.c and test_bypass_egress.c, each of which includes it once. The program
 * moves into its own mount and network namespaces (lo up, nothing reaches the machine's traffic)
 * and starts one bypass instance there (fixture_start), kept in `byp`; `netns_cookie` is the
 * namespace's cookie, the first word of every key. A forwarded connection is played by hand
 * (conn_open): our listener L (in bypass_listen) <- client C, A = accept(L); our B (S's key in
 * bypass_expect after bind(), or B's cookie in bypass_expect_cookie) -> server listener, S =
 * accept(). The test moves bytes between A and B itself (relay) where the daemon would splice
 * them, and acts as the daemon's control side with grant_to (bp_bypass_ctl_set), reading the
 * program's state back with end_of, counters and map_entries (entries of a pinned map).
 * Helpers are static inline so that a program need not use all of them; CHECK and `failures`
 * come from bpf_check.h.
 */
#ifndef BPASST_TEST_BYPASS_FIXTURE_H
#define BPASST_TEST_BYPASS_FIXTURE_H

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>

#include <bpf/bpf.h>

#include "bpasst_bypass.h"
#include "bpasst_maps.h"
#include "bpf_check.h"
#include "bypass.h"
#include "loader.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif
#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

#define CHUNK 16384
#define BUDGET (4 * CHUNK)

static struct bp_bypass *byp;
static uint64_t netns_cookie;

/* ---- Sockets ---- */

static inline void addr_fill(int family, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin->sin_port = htons(port);
		*len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		sin6->sin6_port = htons(port);
		*len = sizeof(*sin6);
	}
}

static inline uint16_t local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static inline int tcp_listener(int family)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	addr_fill(family, 0, &ss, &len);
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 8)) {
		perror("listener");
		exit(2);
	}
	return fd;
}

static inline int tcp_connect(int fd, int family, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len;

	addr_fill(family, port, &ss, &len);
	return connect(fd, (struct sockaddr *)&ss, len);
}

/* The loopback address of family in the key format (network order words). */
static inline void key_ip(int family, __u32 ip[4])
{
	memset(ip, 0, 16);
	if (family == AF_INET)
		ip[0] = htonl(INADDR_LOOPBACK);
	else
		memcpy(ip, &in6addr_loopback, 16);
}

static inline struct bp_bypass_key key_of(int family, uint16_t lport, uint16_t rport)
{
	struct bp_bypass_key k;

	memset(&k, 0, sizeof(k));
	k.netns_cookie = netns_cookie;
	key_ip(family, k.local_ip);
	key_ip(family, k.remote_ip);
	k.local_port = lport;
	k.remote_port = rport;
	k.family = (__u8)family;
	return k;
}

/* Wait up to ms for fd to be readable: 1 readable, 0 not. */
static inline int readable(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, ms) > 0 && (pfd.revents & POLLIN);
}

/* Read exactly n bytes within a few seconds. 0, or -1. */
static inline int read_exact(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r;

		if (!readable(fd, 3000))
			return -1;
		r = recv(fd, (char *)buf + got, n - got, MSG_DONTWAIT);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static inline int send_all(int fd, const void *buf, size_t n)
{
	ssize_t r = send(fd, buf, n, MSG_NOSIGNAL);

	return r == (ssize_t)n ? 0 : -1;
}

static inline struct bp_bypass_counters counters(void)
{
	struct bp_bypass_counters c;

	if (bp_bypass_counters(byp, &c))
		memset(&c, 0xff, sizeof(c));
	return c;
}

/* Number of entries of a pinned map. */
static inline int map_entries(const char *name)
{
	char path[PATH_MAX + 64], key[64], next[64];
	int fd, n = 0;
	void *prev = NULL;

	snprintf(path, sizeof(path), "%s/%s", bp_bypass_pin_dir(byp), name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -1;
	while (!bpf_map_get_next_key(fd, prev, next) && n < 100000) {
		memcpy(key, next, sizeof(key));
		prev = key;
		n++;
	}
	close(fd);
	return n;
}

/* Move n bytes from one of our sockets to the other (what the daemon's splice does). */
static inline int relay(int from, int to, size_t n)
{
	static char buf[16 * CHUNK];

	if (n > sizeof(buf) || read_exact(from, buf, n))
		return -1;
	return send_all(to, buf, n);
}

struct conn {
	int family;
	int l, c, a, sl, b, s; /* listener, client, accepted, server listener, our B, server */
	struct bp_bypass_key ck, sk, ak, bk;
	struct bp_bypass_listen lk;
};

enum conn_expect {
	EXPECT_KEY, /* the first version: B bound first, S's key registered (bp_bypass_expect_add) */
	EXPECT_COOKIE, /* B's cookie registered, no bind: the program makes S's expectation */
};

static inline uint64_t sock_cookie(int fd)
{
	uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);

	if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len))
		return 0;
	return cookie;
}

/* bufsize: SO_RCVBUF of the server listener (so S's) and SO_SNDBUF of B, or 0 to leave them. */
static inline void conn_open(struct conn *x, int family, enum conn_expect how, int bufsize)
{
	struct bp_bypass_counters c0 = counters(), c1;
	struct sockaddr_storage ss;
	socklen_t len;
	uint16_t lport, sport, bport;
	uint64_t cookie = 0;

	memset(x, 0, sizeof(*x));
	x->family = family;
	x->l = tcp_listener(family);
	lport = local_port(x->l);
	x->lk.netns_cookie = netns_cookie;
	key_ip(family, x->lk.ip);
	x->lk.port = lport;
	x->lk.family = (__u8)family;
	CHECK(bp_bypass_listen_add(byp, &x->lk) == 0, "listen_add");

	x->c = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(tcp_connect(x->c, family, lport) == 0, "connect C: %s", strerror(errno));
	x->a = accept4(x->l, NULL, NULL, SOCK_CLOEXEC);
	CHECK(x->a >= 0, "accept A");

	x->sl = tcp_listener(family);
	if (bufsize)
		CHECK(!setsockopt(x->sl, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize)),
		      "SO_RCVBUF");
	sport = local_port(x->sl);
	x->b = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (bufsize)
		CHECK(!setsockopt(x->b, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize)),
		      "SO_SNDBUF");
	if (how == EXPECT_KEY) {
		addr_fill(family, 0, &ss, &len);
		CHECK(!bind(x->b, (struct sockaddr *)&ss, len), "bind B");
		bport = local_port(x->b);
		x->sk = key_of(family, sport, bport);
		CHECK(bp_bypass_expect_add(byp, &x->sk, 7) == 0, "expect_add");
	} else {
		cookie = sock_cookie(x->b);
		CHECK(cookie && bp_bypass_expect_cookie_add(byp, cookie, 7) == 0,
		      "expect_cookie_add");
	}
	CHECK(tcp_connect(x->b, family, sport) == 0, "connect B: %s", strerror(errno));
	x->s = accept4(x->sl, NULL, NULL, SOCK_CLOEXEC);
	CHECK(x->s >= 0, "accept S");
	bport = local_port(x->b);
	x->sk = key_of(family, sport, bport);
	/* The program consumed the expectation (and the cookie): nothing for the daemon to do. */
	CHECK(map_entries("bypass_expect") == 0, "bypass_expect left: %d",
	      map_entries("bypass_expect"));
	CHECK(map_entries("bypass_expect_cookie") == 0, "bypass_expect_cookie left: %d",
	      map_entries("bypass_expect_cookie"));
	CHECK(bp_bypass_expect_del(byp, &x->sk) == 0, "expect_del of nothing");
	if (how == EXPECT_COOKIE) {
		c1 = counters();
		CHECK(c1.expect_from_cookie == c0.expect_from_cookie + 1,
		      "expect_from_cookie +%llu",
		      (unsigned long long)(c1.expect_from_cookie - c0.expect_from_cookie));
		CHECK(bp_bypass_expect_cookie_del(byp, cookie) == 0, "cookie_del of nothing");
	}

	x->ck = key_of(family, local_port(x->c), lport);
	x->ak = key_of(family, lport, local_port(x->c));
	x->bk = key_of(family, bport, sport);
}

static inline void conn_close(struct conn *x)
{
	int *fds[] = { &x->c, &x->a, &x->s, &x->b, &x->l, &x->sl };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
	bp_bypass_listen_del(byp, &x->lk);
}

static inline struct bp_bypass_end end_of(const struct bp_bypass_key *k, int *err)
{
	struct bp_bypass_end e;

	memset(&e, 0, sizeof(e));
	*err = bp_bypass_end_get(byp, k, &e);
	return e;
}

/* A permission for sender (the daemon's bp_bypass_ctl_set after its checks). */
static inline void grant_to(const struct bp_bypass_key *sender, const struct bp_bypass_key *peer,
			    uint64_t allow, uint64_t allow_egressed, uint32_t gen, uint64_t budget,
			    uint32_t target)
{
	struct bp_bypass_ctl ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.peer = *peer;
	ctl.allow = allow;
	ctl.allow_egressed = allow_egressed;
	ctl.gen = gen;
	ctl.budget = budget;
	ctl.flow_id = 7;
	ctl.target = target;
	CHECK(bp_bypass_ctl_set(byp, sender, &ctl) == 0, "ctl_set");
}

static inline void grant(const struct bp_bypass_key *sender, const struct bp_bypass_key *peer,
			 uint64_t allow, uint32_t gen, uint64_t budget)
{
	grant_to(sender, peer, allow, 0, gen, budget, BP_BYPASS_MODE_INGRESS);
}

/* ---- Shared checks ---- */

/* C and S are in bypass_ends with their roles; our A and B are not. */
static inline void test_roles(struct conn *x)
{
	struct bp_bypass_end e;
	int err;

	e = end_of(&x->ck, &err);
	CHECK(!err && e.role == BP_BYPASS_ROLE_CLIENT && e.mode == BP_BYPASS_MODE_RELAY &&
		      e.socket_cookie,
	      "C not in bypass_ends as client (err %d role %u)", err, e.role);
	e = end_of(&x->sk, &err);
	CHECK(!err && e.role == BP_BYPASS_ROLE_SERVER && e.mode == BP_BYPASS_MODE_RELAY,
	      "S not in bypass_ends as server (err %d role %u)", err, e.role);
	end_of(&x->ak, &err);
	CHECK(err == -ENOENT, "our A is in bypass_ends (%d)", err);
	end_of(&x->bk, &err);
	CHECK(err == -ENOENT, "our B is in bypass_ends (%d)", err);
}

/* ---- Setup ---- */

/* Instance names carry the PID: runs of this test in other build directories may overlap. */
static inline void params_fill(struct bp_bypass_params *p, const char *instance)
{
	memset(p, 0, sizeof(*p));
	if (instance[0])
		snprintf(p->instance, sizeof(p->instance), "%s-%u", instance, (unsigned)getpid());
	p->pin_uid = p->pin_gid = BP_LOADER_NO_CHOWN;
	p->max_conns = 64;
}

static inline int lo_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int err;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	err = fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	err = err || ioctl(fd, SIOCSIFFLAGS, &ifr);
	if (fd >= 0)
		close(fd);
	return err ? -1 : 0;
}

#define STEP(name, call)                                                                           \
	do {                                                                                       \
		int before_ = failures;                                                            \
		call;                                                                              \
		printf("%s %s\n", failures > before_ ? "not ok" : "ok", name);                     \
	} while (0)

/* Skip unless bpf() is permitted, move into private mount and network namespaces (lo up), learn
 * the namespace's cookie and start the bypass instance `instance`-PID into byp, its status line
 * in line. 0, BPF_TEST_SKIP, or 1 (the reason printed). */
static inline int fixture_start(const char *instance, char *line, size_t size)
{
	struct bp_bypass_params p;
	socklen_t len = sizeof(netns_cookie);
	char reason[512];
	int fd;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (bp_loader_probe_bpf(reason, sizeof(reason))) {
		printf("SKIP: %s\n", reason);
		return BPF_TEST_SKIP;
	}
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    unshare(CLONE_NEWNET) || lo_up()) {
		fprintf(stderr, "cannot make private mount and network namespaces: %s\n",
			strerror(errno));
		return 1;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &netns_cookie, &len)) {
		fprintf(stderr, "SO_NETNS_COOKIE: %s\n", strerror(errno));
		return 1;
	}
	close(fd);

	params_fill(&p, instance);
	p.verbose = 1;
	byp = bp_bypass_start(&p, line, size);
	printf("# %s\n", line);
	CHECK(byp != NULL, "start failed: %s", line);
	if (!byp)
		return 1;
	CHECK(!strncmp(line, "BPF bypass: on (sock_ops on cgroup /", 36), "line: %s", line);
	printf("# read tracking: %s\n", bp_bypass_read_tracking(byp) ? "yes" : "no");
	return 0;
}

/* Stop the instance and give main()'s exit status: 1 after a failed check, else 0 with
 * "<what> ok". */
static inline int fixture_finish(const char *what)
{
	bp_bypass_stop(byp);
	byp = NULL;
	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("%s ok\n", what);
	return 0;
}

#endif /* BPASST_TEST_BYPASS_FIXTURE_H */
