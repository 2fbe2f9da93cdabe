/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tcp_rr.c - TCP request/response latency and connection rate, for scripts/bench's lofwd group
 *
 * One small program so that every implementation of a loopback forward (none, bpasst's splice
 * path, its BPF bypass, Debian's pasta) is measured with the same cheap client and server, and
 * the figures show the forwarder rather than an interpreter. Three modes:
 *
 *   tcp_rr server ADDR PORT
 *	An echo server: one thread, epoll (level-triggered) over a non-blocking listener and its
 *	connections; whatever a connection sends is written back (the connections are blocking
 *	for writes, with a 10-s send timeout, so a short write cannot lose bytes); EOF closes.
 *	Prints "listening" once it accepts. Runs until killed.
 *   tcp_rr rr ADDR PORT COUNT WARMUP SIZE
 *	One connection (TCP_NODELAY), WARMUP + COUNT round trips of SIZE bytes: send, then
 *	receive exactly SIZE bytes and check they are the ones sent. The COUNT timed ones (from
 *	before the send to after the last byte) are sorted; prints
 *	  rr size=64 n=COUNT median_us=.. p99_us=.. min_us=.. mean_us=..
 *   tcp_rr crr ADDR PORT COUNT SECONDS PARALLEL
 *	Connection rate: PARALLEL connections in flight at any time (one thread, epoll), each one
 *	connect, send 1 byte, receive the 1-byte echo, shutdown(SHUT_WR), wait for the server's
 *	EOF, close, so a connection counts only once its whole life, teardown included, went
 *	through the forwarder. New connections start until COUNT were started or SECONDS passed;
 *	the ones in flight then finish (up to 5 s more). Prints
 *	  crr conns=N errors=E seconds=S per_s=N/S
 *	where S runs from the first connect to the last completion and errors counts connections
 *	refused, reset or closed before the echo (they are not in N).
 *
 * Every ADDR must be a loopback address (127.0.0.0/8, ::1): anything else is refused (exit 2),
 * so a mistyped address cannot send a packet off the machine.
 *
 * State: the server keeps nothing per connection but its descriptor; the crr client a fixed
 * array of PARALLEL slots (descriptor, phase). Every blocking call has a timeout (SO_RCVTIMEO,
 * SO_SNDTIMEO, epoll_wait's): a forwarder that loses data makes this exit 1 with a message,
 * never hang. Exit status 0 on success, 1 on any failure, 2 on a usage error.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RR_IO_TIMEOUT_S 10 /* any single send or receive */
#define RR_MAX_SIZE 65536 /* largest request of the rr mode */
#define RR_MAX_COUNT 10000000L
#define CRR_MAX_PARALLEL 256
#define CRR_DRAIN_S 5 /* how long the connections in flight may take to finish */
#define SERVER_EVENTS 64

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "tcp_rr: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int usage(void)
{
	fprintf(stderr,
		"usage: tcp_rr server ADDR PORT\n"
		"       tcp_rr rr ADDR PORT COUNT WARMUP SIZE\n"
		"       tcp_rr crr ADDR PORT COUNT SECONDS PARALLEL\n");
	return 2;
}

/* An integer argument from min to max, or exit 2. */
static long arg_long(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < min || v > max) {
		fprintf(stderr, "tcp_rr: '%s' is not a number from %ld to %ld\n", s, min, max);
		exit(2);
	}
	return v;
}

/* Is ss a loopback address (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104)? */
static int is_loopback(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

	if (ss->ss_family == AF_INET)
		return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr) ||
		(IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) && s6->sin6_addr.s6_addr[12] == 127);
}

/* ADDR (numeric IPv4 or IPv6) and PORT into *ss, *len. */
static void parse_addr(const char *addr, const char *port, struct sockaddr_storage *ss,
		       socklen_t *len)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai;
	int rc;

	rc = getaddrinfo(addr, port, &hints, &ai);
	if (rc) {
		fprintf(stderr, "tcp_rr: %s port %s: %s\n", addr, port, gai_strerror(rc));
		exit(2);
	}
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	if (!is_loopback(ss)) {
		/* a benchmark of loopback forwards: never a packet off this machine */
		fprintf(stderr, "tcp_rr: %s is not a loopback address\n", addr);
		exit(2);
	}
}

static void set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = RR_IO_TIMEOUT_S };

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)))
		die("setsockopt(SO_RCVTIMEO/SO_SNDTIMEO)");
}

static void set_nodelay(int fd)
{
	int one = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
		die("setsockopt(TCP_NODELAY)");
}

/* Send all of buf on a blocking socket; 0, or -1 with errno. */
static int send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ---- server */

static void server_readable(int ep, int fd, char *buf, size_t size)
{
	ssize_t n = recv(fd, buf, size, MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0 && send_all(fd, buf, (size_t)n) == 0)
		return;
	/* EOF, an error, or a peer that stopped reading for RR_IO_TIMEOUT_S: drop it */
	epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
}

static void server_accept(int ep, int lfd)
{
	for (;;) {
		struct epoll_event ev = { .events = EPOLLIN };
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
				return;
			if (errno == EMFILE || errno == ENFILE)
				return; /* retried at the next event, once some closed */
			die("accept4");
		}
		set_nodelay(fd);
		set_timeouts(fd);
		ev.data.fd = fd;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
			die("epoll_ctl(ADD)");
	}
}

static _Noreturn void run_server(const char *addr, const char *port)
{
	static char buf[RR_MAX_SIZE];
	struct epoll_event ev = { .events = EPOLLIN }, events[SERVER_EVENTS];
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, lfd, ep;

	parse_addr(addr, port, &ss, &len);
	lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		die("socket");
	if (setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		die("setsockopt(SO_REUSEADDR)");
	if (bind(lfd, (struct sockaddr *)&ss, len))
		die("bind");
	if (listen(lfd, 4096))
		die("listen");
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1");
	ev.data.fd = lfd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev))
		die("epoll_ctl(ADD)");
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		int n = epoll_wait(ep, events, SERVER_EVENTS, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("epoll_wait");
		for (int i = 0; i < n; i++) {
			if (events[i].data.fd == lfd)
				server_accept(ep, lfd);
			else
				server_readable(ep, events[i].data.fd, buf, sizeof(buf));
		}
	}
}

/* ---- rr */

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

/* Receive exactly len bytes; 0, or -1 (errno set; 0 at EOF). */
static int recv_exact(int fd, char *buf, size_t len)
{
	while (len) {
		ssize_t n = recv(fd, buf, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = 0;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int run_rr(const char *addr, const char *port, long count, long warmup, long size)
{
	static char msg[RR_MAX_SIZE], got[RR_MAX_SIZE];
	struct sockaddr_storage ss;
	long long *ns, sum = 0;
	socklen_t len;
	int fd;

	ns = calloc((size_t)count, sizeof(*ns));
	if (!ns)
		die("calloc");
	for (long i = 0; i < size; i++)
		msg[i] = (char)(i * 7 + 1);
	parse_addr(addr, port, &ss, &len);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	set_timeouts(fd);
	if (connect(fd, (struct sockaddr *)&ss, len))
		die("connect");
	set_nodelay(fd);
	for (long i = 0; i < warmup + count; i++) {
		long long t0 = now_ns(), t1;

		msg[0] = (char)i; /* a stale or misplaced echo does not compare equal */
		if (send_all(fd, msg, (size_t)size))
			die("send");
		if (recv_exact(fd, got, (size_t)size)) {
			if (errno == 0) {
				fprintf(stderr, "tcp_rr: EOF at round trip %ld\n", i);
				exit(1);
			}
			die("recv");
		}
		t1 = now_ns();
		if (memcmp(msg, got, (size_t)size)) {
			fprintf(stderr, "tcp_rr: wrong echo at round trip %ld\n", i);
			return 1;
		}
		if (i >= warmup) {
			ns[i - warmup] = t1 - t0;
			sum += t1 - t0;
		}
	}
	close(fd);
	qsort(ns, (size_t)count, sizeof(*ns), cmp_ll);
	printf("rr size=%ld n=%ld median_us=%.2f p99_us=%.2f min_us=%.2f mean_us=%.2f\n", size,
	       count, ns[count / 2] / 1e3, ns[(count * 99) / 100] / 1e3, ns[0] / 1e3,
	       (double)sum / (double)count / 1e3);
	free(ns);
	return 0;
}

/* ---- crr */

enum crr_phase { CRR_IDLE = 0, CRR_CONNECTING, CRR_AWAIT_ECHO, CRR_AWAIT_EOF };

struct crr_slot {
	int fd;
	enum crr_phase phase;
};

struct crr {
	int ep;
	struct sockaddr_storage ss;
	socklen_t len;
	long started, done, errors;
};

/* Begin a connection in slot s (index i); a failed start counts as an error. */
static void crr_start(struct crr *c, struct crr_slot *s, int i)
{
	struct epoll_event ev = { .events = EPOLLOUT, .data.u32 = (uint32_t)i };
	int fd = socket(c->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket");
	c->started++;
	if (connect(fd, (struct sockaddr *)&c->ss, c->len) && errno != EINPROGRESS) {
		if (errno != ECONNREFUSED && errno != EADDRNOTAVAIL && errno != EAGAIN)
			die("connect");
		c->errors++;
		close(fd);
		return;
	}
	set_nodelay(fd);
	if (epoll_ctl(c->ep, EPOLL_CTL_ADD, fd, &ev))
		die("epoll_ctl(ADD)");
	s->fd = fd;
	s->phase = CRR_CONNECTING;
}

static void crr_end(struct crr *c, struct crr_slot *s, int ok)
{
	epoll_ctl(c->ep, EPOLL_CTL_DEL, s->fd, NULL);
	close(s->fd);
	s->fd = -1;
	s->phase = CRR_IDLE;
	if (ok)
		c->done++;
	else
		c->errors++;
}

/* Advance slot s after an event; the connection ends (done or error) or waits for the next. */
static void crr_step(struct crr *c, struct crr_slot *s, int i)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
	int err = 0;
	socklen_t elen = sizeof(err);
	char b = 'x';
	ssize_t n;

	switch (s->phase) {
	case CRR_CONNECTING:
		if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &elen) || err ||
		    send(s->fd, &b, 1, MSG_NOSIGNAL) != 1) {
			crr_end(c, s, 0);
			return;
		}
		if (epoll_ctl(c->ep, EPOLL_CTL_MOD, s->fd, &ev))
			die("epoll_ctl(MOD)");
		s->phase = CRR_AWAIT_ECHO;
		return;
	case CRR_AWAIT_ECHO:
		n = recv(s->fd, &b, 1, 0);
		if (n < 0 && errno == EAGAIN)
			return;
		if (n != 1 || b != 'x' || shutdown(s->fd, SHUT_WR)) {
			crr_end(c, s, 0);
			return;
		}
		s->phase = CRR_AWAIT_EOF;
		return;
	case CRR_AWAIT_EOF:
		n = recv(s->fd, &b, 1, 0);
		if (n < 0 && errno == EAGAIN)
			return;
		crr_end(c, s, n == 0);
		return;
	case CRR_IDLE:
		return;
	}
}

static int run_crr(const char *addr, const char *port, long count, long seconds, long parallel)
{
	struct crr_slot slots[CRR_MAX_PARALLEL];
	struct epoll_event events[CRR_MAX_PARALLEL];
	struct crr c = { 0 };
	long long t0, deadline, drain_end = 0, t_last;
	long in_flight;

	parse_addr(addr, port, &c.ss, &c.len);
	c.ep = epoll_create1(EPOLL_CLOEXEC);
	if (c.ep < 0)
		die("epoll_create1");
	t0 = t_last = now_ns();
	deadline = t0 + seconds * 1000000000LL;
	for (int i = 0; i < parallel; i++) {
		slots[i].fd = -1;
		slots[i].phase = CRR_IDLE;
	}
	for (;;) {
		long long now = now_ns();
		int starting = now < deadline && c.started < count;
		int n;

		in_flight = 0;
		for (int i = 0; i < parallel; i++) {
			if (slots[i].phase == CRR_IDLE && starting && c.started < count)
				crr_start(&c, &slots[i], i);
			in_flight += slots[i].phase != CRR_IDLE;
		}
		if (!in_flight && (!starting || c.started >= count))
			break;
		if (!starting && !drain_end)
			drain_end = now + CRR_DRAIN_S * 1000000000LL;
		if (drain_end && now >= drain_end) {
			fprintf(stderr, "tcp_rr: %ld connections still open %d s after the end\n",
				in_flight, CRR_DRAIN_S);
			return 1;
		}
		if (c.errors > 1000 && c.errors > c.done) {
			fprintf(stderr, "tcp_rr: %ld of %ld connections failed\n", c.errors,
				c.started);
			return 1;
		}
		/* nothing in flight: every start just failed, try again at once */
		n = epoll_wait(c.ep, events, (int)parallel, in_flight ? 1000 : 0);
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (int k = 0; k < n; k++) {
			int i = (int)events[k].data.u32;
			long done = c.done;

			crr_step(&c, &slots[i], i);
			if (c.done != done)
				t_last = now_ns();
		}
	}
	if (!c.done) {
		fprintf(stderr, "tcp_rr: no connection completed (%ld errors)\n", c.errors);
		return 1;
	}
	printf("crr conns=%ld errors=%ld seconds=%.3f per_s=%.0f\n", c.done, c.errors,
	       (t_last - t0) / 1e9, c.done / ((t_last - t0) / 1e9));
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && !strcmp(argv[1], "server"))
		run_server(argv[2], argv[3]);
	if (argc == 7 && !strcmp(argv[1], "rr"))
		return run_rr(argv[2], argv[3], arg_long(argv[4], 1, RR_MAX_COUNT),
			      arg_long(argv[5], 0, RR_MAX_COUNT),
			      arg_long(argv[6], 1, RR_MAX_SIZE));
	if (argc == 7 && !strcmp(argv[1], "crr"))
		return run_crr(argv[2], argv[3], arg_long(argv[4], 1, RR_MAX_COUNT),
			       arg_long(argv[5], 1, 3600), arg_long(argv[6], 1, CRR_MAX_PARALLEL));
	return usage();
}
