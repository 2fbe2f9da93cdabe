/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_fwd_auto.c - unit tests of pasta's automatic forwarding (flow/fwd_auto.c) and of the
 * run-time listener table calls it uses (flow/fwd.c)
 *
 * 1. The /proc/net line parser on crafted lines: the kernel's TCP/TCP6/UDP/UDP6 formats, and
 *    malformed ones (truncated, bad hex, wrong address lengths, 5-digit ports, garbage, NULs).
 * 2. Whole-file scans from a memfd through buffers of many sizes (lines split at every
 *    position, a line longer than the buffer, a last line without a newline), with pread from 0.
 * 3. fwd_reserve/fwd_socket/fwd_insert/fwd_remove: slots are reused, an epoll index made before a
 *    removal never names the new listener of the slot, even for an event already queued.
 * 4. fwd_auto_new()/fwd_auto_tick() with the "namespace" files given as memfds: -t auto and -u
 *    auto open host listeners (on 127.0.0.1 reachable ports) for what the files list, close
 *    them when the files stop listing them, honour exclusions, skip our own reverse listeners,
 *    follow TCP ports for UDP, and tell the owner before closing a UDP listener; the TCP hook
 *    (fwd_auto_set_tcp_hook()) is told of the auto TCP listeners open when it is set, then of
 *    each one added and closed, never of UDP or static ones.
 * Everything stays on this machine (loopback and wildcard binds of high ports).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "core/config.h"
#include "core/epoll_ref.h"
#include "core/log.h"
#include "flow/fwd.h"
#include "flow/fwd_auto.h"

static int failures, checks;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		checks++;                                                                          \
		if (!(cond)) {                                                                     \
			failures++;                                                                \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                       \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
		}                                                                                  \
	} while (0)

static const char tcp_header[] =
	"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
	"timeout inode\n";

static void test_parse_line(void)
{
	static const struct {
		const char *line;
		bool ok;
		unsigned port, state;
	} cases[] = {
		{ "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     "
		  "0 "
		  "       0 12345 1 0000000000000000 100 0 0 10 0",
		  true, 8080, 0x0a },
		{ "  12: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 "
		  "1",
		  true, 22, 0x0a },
		{ "   3: 0202000A:C350 0102000A:0050 01 00000000:00000000 02:000A7E2C 00000000  "
		  "1000",
		  true, 50000, 0x01 },
		{ "   0: 00000000000000000000000001000000:1F90 "
		  "00000000000000000000000000000000:0000 "
		  "0A 00000000:00000000 00:00000000 00000000     0        0 4242 1",
		  true, 8080, 0x0a },
		{ " 1234: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 "
		  "0 9 2 "
		  "0000000000000000 0",
		  true, 53, 0x07 },
		{ "0: 00000000:ffff 00000000:0000 7", true, 65535, 0x07 }, /* short but complete */
		{ "0: 00000000:ffFF 00000000:0000 a\t", true, 65535, 0x0a },
		/* malformed */
		{ "  sl  local_address rem_address   st tx_queue", false, 0, 0 },
		{ "", false, 0, 0 },
		{ "    ", false, 0, 0 },
		{ "0:", false, 0, 0 },
		{ "0: 0100007F", false, 0, 0 },
		{ "0: 0100007F:", false, 0, 0 },
		{ "0: 0100007F:1F90", false, 0, 0 },
		{ "0: 0100007F:1F90 ", false, 0, 0 },
		{ "0: 0100007F:1F90 00000000:0000", false, 0, 0 },
		{ "0: 0100007F:1F90 00000000:0000 ", false, 0, 0 },
		{ "0: 0100007F:11F90 00000000:0000 0A", false, 0, 0 }, /* 5-digit port */
		{ "0: 0100007F:1F9G 00000000:0000 0A", false, 0, 0 },
		{ "0: 100007F:1F90 00000000:0000 0A", false, 0, 0 }, /* 7-digit address */
		{ "0: 0100007F:1F90 0000000000000000000000000000000:0000 0A", false, 0, 0 },
		/* mixed address lengths */
		{ "0: 0100007F:1F90 00000000000000000000000000000000:0000 0A", false, 0, 0 },
		{ "0: 0100007F:1F90 00000000:0000 10A", false, 0, 0 }, /* 3-digit state */
		{ "0: 0100007F:1F90 00000000:0000 0Z", false, 0, 0 },
		{ "x: 0100007F:1F90 00000000:0000 0A", false, 0, 0 },
		{ "0 0100007F:1F90 00000000:0000 0A", false, 0, 0 },
		{ "12345678901: 0100007F:1F90 00000000:0000 0A", false, 0, 0 },
		{ "0: :1F90 00000000:0000 0A", false, 0, 0 },
		{ "0: 0100007F::1F90 00000000:0000 0A", false, 0, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint16_t port = 0;
		unsigned state = 0;
		bool ok = fwd_auto_parse_line(cases[i].line, strlen(cases[i].line), &port, &state);

		CHECK(ok == cases[i].ok, "line %zu '%s': parsed %d", i, cases[i].line, ok);
		if (ok && cases[i].ok)
			CHECK(port == cases[i].port && state == cases[i].state,
			      "line %zu: port %u state %x, want %u %x", i, port, state,
			      cases[i].port, cases[i].state);
	}
	/* The length bounds the parse: a valid line cut anywhere is refused, never over-read. */
	{
		const char *l = "0: 0100007F:1F90 00000000:0000 0A 00000000:00000000";
		char *copy;
		size_t n;

		for (n = 0; n < 31; n++) {
			uint16_t port;
			unsigned state;

			copy = malloc(n ? n : 1); /* exact size: ASan sees any over-read */
			memcpy(copy, l, n);
			CHECK(!fwd_auto_parse_line(copy, n, &port, &state), "cut at %zu parsed", n);
			free(copy);
		}
	}
	/* A NUL inside the line */
	{
		char l[] = "0: 0100007F:1F90 00000000:0000 0A";
		uint16_t port;
		unsigned state;

		l[14] = '\0';
		CHECK(!fwd_auto_parse_line(l, sizeof(l) - 1, &port, &state), "NUL in a port");
	}
}

static int memfd_with(const char *text)
{
	int fd = memfd_create("procnet", 0);

	if (fd < 0 || (size_t)write(fd, text, strlen(text)) != strlen(text)) {
		perror("memfd");
		exit(2);
	}
	return fd;
}

static void memfd_set(int fd, const char *text)
{
	if (ftruncate(fd, 0) < 0 || pwrite(fd, text, strlen(text), 0) != (ssize_t)strlen(text)) {
		perror("memfd rewrite");
		exit(2);
	}
}

static void test_scan(void)
{
	char text[8192], buf[4096];
	struct fwd_auto_map m;
	unsigned long bad;
	size_t size;
	int fd, ret;

	snprintf(
		text, sizeof(text),
		"%s"
		"   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 "
		"1\n"
		"   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 "
		"2\n"
		"   2: 0202000A:C350 0102000A:0050 01 00000000:00000000 02:000A7E2C 00000000 0 0 "
		"3\n"
		"   3: garbage here\n"
		"   4: 00000000:0000 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 "
		"4\n"
		"   5: %0300d\n" /* longer than the small buffers */
		"   6: 00000000:2710 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 5",
		tcp_header, 0);
	fd = memfd_with(text);
	for (size = 2; size <= 700; size += (size < 80 ? 1 : 37)) {
		memset(&m, 0, sizeof(m));
		bad = 0;
		ret = fwd_auto_scan_fd(fd, FWD_AUTO_STATE_TCP_LISTEN, &m, buf, size, &bad);
		CHECK(!ret, "buffer %zu: %d", size, ret);
		if (size >= 140) { /* every valid line fits */
			CHECK(fwd_auto_map_has(&m, 8080) && fwd_auto_map_has(&m, 22) &&
				      fwd_auto_map_has(&m, 10000),
			      "buffer %zu: listening ports found", size);
			CHECK(bad == 2, "buffer %zu: %lu bad lines, want 2", size, bad);
		}
		CHECK(!fwd_auto_map_has(&m, 50000), "buffer %zu: an established socket", size);
		CHECK(!fwd_auto_map_has(&m, 0), "buffer %zu: port 0", size);
		CHECK(!fwd_auto_map_has(&m, 0x50), "buffer %zu: a remote port", size);
	}
	/* pread from 0 each time: a second scan after the file changed sees the new contents */
	memfd_set(fd,
		  "hdr\n 0: 00000000:0035 00000000:0000 07 0\n 1: 00000000:0036 00000000:0000 "
		  "01 0\n");
	memset(&m, 0, sizeof(m));
	CHECK(!fwd_auto_scan_fd(fd, FWD_AUTO_STATE_UDP_UNCONNECTED, &m, buf, sizeof(buf), NULL),
	      "rescan");
	CHECK(fwd_auto_map_has(&m, 53) && !fwd_auto_map_has(&m, 54) && !fwd_auto_map_has(&m, 8080),
	      "UDP: unconnected only, old contents gone");
	memset(&m, 0, sizeof(m));
	CHECK(fwd_auto_scan_fd(-1, 7, &m, buf, sizeof(buf), NULL) == -EINVAL, "bad fd");
	CHECK(fwd_auto_scan_fd(fd, 7, &m, buf, 1, NULL) == -EINVAL, "tiny buffer");
	close(fd);
	/* A real file of this machine parses without a bad line. */
	fd = open("/proc/net/tcp", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		bad = 0;
		memset(&m, 0, sizeof(m));
		CHECK(!fwd_auto_scan_fd(fd, FWD_AUTO_STATE_TCP_LISTEN, &m, buf, sizeof(buf), &bad),
		      "/proc/net/tcp");
		CHECK(!bad, "/proc/net/tcp: %lu bad lines", bad);
		close(fd);
	}
}

static uint16_t free_port(int type)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, type, 0);
	uint16_t p;

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
		perror("free_port");
		exit(2);
	}
	p = ntohs(sa.sin_port);
	close(fd);
	return p;
}

/* connect() to 127.0.0.1:port: 0 (accepted into a queue), or -errno. */
static int tcp_try(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), ret = 0;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static void test_table_runtime(void)
{
	struct fwd_listeners fl = { 0 };
	struct epoll_event ev[4];
	uint16_t p1 = free_port(SOCK_STREAM), p2;
	int ep = epoll_create1(EPOLL_CLOEXEC), fd, slot, slot2, n;
	uint32_t idx_old, idx_new;

	CHECK(!fwd_reserve(&fl, 4), "reserve");
	CHECK(fwd_reserve(&fl, 4) == -EBUSY, "reserve twice");
	fd = fwd_socket(AF_INET, SOCK_STREAM, p1, true, false);
	CHECK(fd >= 0, "fwd_socket: %d", fd);
	slot = fwd_insert(&fl, fd, AF_INET, p1, 9999, ep, EPOLL_KIND_TCP_LISTEN, 0);
	CHECK(slot == 0 && fl.count == 1, "insert: slot %d", slot);
	idx_old = fwd_index(&fl, 0);
	CHECK(fwd_listener_at(&fl, idx_old) && fwd_listener_at(&fl, idx_old)->to_port == 9999 &&
		      fwd_listener_at(&fl, idx_old)->dynamic,
	      "lookup by index");
	CHECK(!fwd_listener_at(&fl, 1) && !fwd_listener_at(&fl, idx_old + 1), "past count");
	CHECK(!tcp_try(p1), "listening");

	/* an event queued for it, then the slot changes hands within the same batch */
	n = epoll_wait(ep, ev, 4, 1000);
	CHECK(n == 1 && ((union epoll_ref){ .u64 = ev[0].data.u64 }).index == idx_old,
	      "event for the listener");
	fwd_remove(&fl, 0);
	CHECK(!fwd_listener_at(&fl, idx_old), "removed: stale index finds nothing");
	CHECK(tcp_try(p1) == -ECONNREFUSED, "closed: refused");
	p2 = free_port(SOCK_STREAM);
	fd = fwd_socket(AF_INET, SOCK_STREAM, p2, true, false);
	slot2 = fwd_insert(&fl, fd, AF_INET, p2, p2, ep, EPOLL_KIND_TCP_LISTEN, 1u << 31);
	CHECK(slot2 == 0 && fl.count == 1, "slot reused: %d", slot2);
	idx_new = fwd_index(&fl, 0);
	CHECK(idx_new != idx_old, "new generation in the index");
	CHECK(!fwd_listener_at(&fl, ((union epoll_ref){ .u64 = ev[0].data.u64 }).index),
	      "the queued event does not act on the new listener");
	CHECK(fwd_listener_at(&fl, idx_new) && fwd_listener_at(&fl, idx_new)->port == p2,
	      "new index finds it");
	n = epoll_wait(ep, ev, 4, 0);
	CHECK(n == 0, "no event left for the closed socket");
	CHECK(!tcp_try(p2), "new listener");
	n = epoll_wait(ep, ev, 4, 1000);
	CHECK(n == 1 && ((union epoll_ref){ .u64 = ev[0].data.u64 }).index == (idx_new | 1u << 31),
	      "owner flag bits kept in the reference");

	/* fill, full, errors */
	for (n = 1; n < 4; n++) {
		fd = fwd_socket(AF_INET6, SOCK_DGRAM, 0, true, true);
		if (fd < 0)
			fd = fwd_socket(AF_INET, SOCK_DGRAM, 0, true, true);
		CHECK(fwd_insert(&fl, fd, AF_INET, 1, 1, ep, EPOLL_KIND_UDP_LISTEN, 0) == n,
		      "slot %d", n);
	}
	fd = fwd_socket(AF_INET, SOCK_DGRAM, 0, false, false);
	CHECK(fwd_insert(&fl, fd, AF_INET, 1, 1, ep, EPOLL_KIND_UDP_LISTEN, 0) == -ENOSPC, "full");
	close(fd);
	fwd_remove(&fl, 2);
	fwd_remove(&fl, 2); /* twice: nothing */
	fwd_remove(&fl, 77); /* out of range: nothing */
	fd = fwd_socket(AF_INET, SOCK_DGRAM, 0, false, false);
	CHECK(fwd_insert(&fl, fd, AF_INET, 1, 1, ep, EPOLL_KIND_UDP_LISTEN, 0) == 2,
	      "the free slot in the middle");
	CHECK(fl.count == 4, "high-water mark unchanged: %u", fl.count);
	fd = fwd_socket(AF_INET, SOCK_STREAM, p2, true, false);
	CHECK(fd == -EADDRINUSE, "port taken: %d", fd);
	CHECK(fwd_socket(AF_UNIX, SOCK_STREAM, 1, true, false) == -EAFNOSUPPORT, "bad family");
	fwd_remove(&fl, 3);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	CHECK(fwd_insert(&fl, fd, AF_INET, 1, 1, -1, EPOLL_KIND_UDP_LISTEN, 0) == -EBADF,
	      "epoll failure reported");
	CHECK(!fwd_listener_at(&fl, fwd_index(&fl, 3)), "slot still free after a failure");
	close(fd);
	fwd_close(&fl);
	CHECK(!fl.l && !fl.count && !fl.cap, "closed");
	close(ep);
}

/* --- fwd_auto on memfds ----------------------------------------------------------------- */

static struct {
	int calls;
	uint32_t index;
	int fd;
	enum fwd_auto_dir_id dir;
} closing;

static void closing_hook(void *arg, enum fwd_auto_dir_id dir, uint32_t index, int fd)
{
	(void)arg;
	closing.calls++;
	closing.dir = dir;
	closing.index = index;
	closing.fd = fd;
}

/* The TCP hook (fwd_auto_set_tcp_hook()): calls, and the last one. */
static struct {
	int added, removed;
	enum fwd_auto_dir_id dir;
	int af;
	uint16_t port;
} tcp_seen;

static void tcp_hook(void *arg, enum fwd_auto_dir_id dir, int af, uint16_t port, bool added)
{
	CHECK(arg == &tcp_seen, "hook argument");
	if (added)
		tcp_seen.added++;
	else
		tcp_seen.removed++;
	tcp_seen.dir = dir;
	tcp_seen.af = af;
	tcp_seen.port = port;
}

/* A /proc/net file listing ports (state st) on 0.0.0.0. */
static void procnet(char *out, size_t size, const uint16_t *ports, unsigned n, unsigned st)
{
	unsigned i;
	size_t len;

	snprintf(out, size, "%s", tcp_header);
	for (i = 0; i < n; i++) {
		len = strlen(out);
		snprintf(out + len, size - len,
			 "%4u: 00000000:%04X 00000000:0000 %02X 00000000:00000000 00:00000000 "
			 "00000000 0 0 %u\n",
			 i, ports[i], st, 1000 + i);
	}
}

static unsigned live(const struct fwd_listeners *fl, uint16_t port)
{
	unsigned i, n = 0;

	for (i = 0; i < fl->count; i++)
		n += fl->l[i].fd >= 0 && fl->l[i].port == port;
	return n;
}

static void test_auto(void)
{
	struct fwd_listeners tcp_in = { 0 }, udp_in = { 0 }, tcp_out = { 0 };
	struct fwd_auto_params p = { 0 };
	struct config c;
	struct fwd_auto *fa;
	char text[4096];
	uint16_t a = free_port(SOCK_STREAM), b, x, r, u, ports[4];
	int ep = epoll_create1(EPOLL_CLOEXEC), f, s, err;
	int tcp_fd, udp_fd;

	do {
		b = free_port(SOCK_STREAM);
	} while (b == a);
	do {
		x = free_port(SOCK_STREAM);
	} while (x == a || x == b);
	do {
		r = free_port(SOCK_STREAM);
	} while (r == a || r == b || r == x);
	do {
		u = free_port(SOCK_DGRAM);
	} while (u == a || u == b || u == x || u == r);

	config_defaults(&c, MODE_PASTA, NULL);
	c.ip6.enabled = false; /* IPv4 only: the test's connects use 127.0.0.1 */
	c.tcp_in.mode = FWD_AUTO;
	c.tcp_in.count = 1;
	c.tcp_in.rule[0] =
		(struct fwd_rule){ .first = x, .last = x, .to_first = x, .exclude = true };
	c.udp_in.mode = FWD_AUTO;
	c.tcp_out.mode = FWD_SPEC; /* a static -T listener: its port shows in the scan */

	/* our "-T" listener on port r (static: not dynamic) */
	CHECK(!fwd_reserve(&tcp_out, 2), "reserve -T");
	s = fwd_socket(AF_INET, SOCK_STREAM, r, true, false);
	CHECK(fwd_insert(&tcp_out, s, AF_INET, r, r, ep, EPOLL_KIND_TCP_SPLICE, 1u << 31) == 0,
	      "-T listener");
	tcp_out.l[0].dynamic = false;

	ports[0] = a;
	ports[1] = x;
	ports[2] = r;
	procnet(text, sizeof(text), ports, 3, FWD_AUTO_STATE_TCP_LISTEN);
	tcp_fd = memfd_with(text);
	ports[0] = u;
	procnet(text, sizeof(text), ports, 1, FWD_AUTO_STATE_UDP_UNCONNECTED);
	udp_fd = memfd_with(text);

	p.c = &c;
	p.epollfd = ep;
	p.netns_fd = p.userns_fd = -1;
	p.table[FWD_AUTO_TCP_IN] = &tcp_in;
	p.table[FWD_AUTO_UDP_IN] = &udp_in;
	p.table[FWD_AUTO_TCP_OUT] = &tcp_out;
	p.udp_closing = closing_hook;
	p.scan_fds_given = true;
	for (s = 0; s < 2; s++) {
		for (f = 0; f < FWD_AUTO_FILES; f++)
			p.scan_fd[s][f] = -1;
	}
	p.scan_fd[FWD_AUTO_SIDE_NS][FWD_AUTO_F_TCP4] = tcp_fd;
	p.scan_fd[FWD_AUTO_SIDE_NS][FWD_AUTO_F_UDP4] = udp_fd;

	CHECK(fwd_auto_wanted(&c), "wanted");
	fa = fwd_auto_new(&p, &err);
	CHECK(fa && !err, "fwd_auto_new: %d", err);
	if (!fa)
		return;
	/* at start: -t for a (not x: excluded, not r: our own -T listener), -u for u and for the
	 * TCP ports a and x (the exclusion is -t's, not -u's), not r (our own TCP listener) */
	CHECK(live(&tcp_in, a) == 1 && !live(&tcp_in, x) && !live(&tcp_in, r),
	      "-t auto: a %u x %u r %u", live(&tcp_in, a), live(&tcp_in, x), live(&tcp_in, r));
	CHECK(!tcp_try(a), "host listener on a");
	CHECK(tcp_try(x) == -ECONNREFUSED, "excluded port not listened on");
	CHECK(live(&udp_in, u) == 1 && live(&udp_in, a) == 1 && live(&udp_in, x) == 1 &&
		      !live(&udp_in, r),
	      "-u auto: u %u a %u x %u r %u", live(&udp_in, u), live(&udp_in, a), live(&udp_in, x),
	      live(&udp_in, r));
	CHECK(fwd_auto_map_has(fwd_auto_ports(fa, FWD_AUTO_TCP_IN), a), "ports map");
	CHECK(fwd_auto_get_stats(fa)->added == 4, "added %lu", fwd_auto_get_stats(fa)->added);

	/* the TCP hook: told at once of the one auto TCP listener open (a), not of UDP ones, not of
	 * the static -T one */
	memset(&tcp_seen, 0, sizeof(tcp_seen));
	fwd_auto_set_tcp_hook(fa, tcp_hook, &tcp_seen);
	CHECK(tcp_seen.added == 1 && !tcp_seen.removed && tcp_seen.dir == FWD_AUTO_TCP_IN &&
		      tcp_seen.af == AF_INET && tcp_seen.port == a,
	      "hook replay: added %d removed %d port %u", tcp_seen.added, tcp_seen.removed,
	      tcp_seen.port);

	/* an unchanged tick changes nothing */
	fwd_auto_tick(fa);
	CHECK(tcp_seen.added == 1 && !tcp_seen.removed, "hook on a stable tick");
	CHECK(fwd_auto_get_stats(fa)->added == 4 && !fwd_auto_get_stats(fa)->removed, "stable");

	/* a closes, b opens (plus junk lines): the TCP listener moves, UDP follows */
	ports[0] = b;
	procnet(text, sizeof(text), ports, 1, FWD_AUTO_STATE_TCP_LISTEN);
	strcat(text, "junk\n  9: 0100007F:ZZZZ 00000000:0000 0A\n");
	memfd_set(tcp_fd, text);
	closing.calls = 0;
	fwd_auto_tick(fa);
	CHECK(!live(&tcp_in, a) && live(&tcp_in, b) == 1, "-t auto followed a -> b");
	CHECK(tcp_seen.added == 2 && tcp_seen.removed == 1 && tcp_seen.port == b &&
		      tcp_seen.dir == FWD_AUTO_TCP_IN,
	      "hook: a removed, b added (added %d removed %d last %u)", tcp_seen.added,
	      tcp_seen.removed, tcp_seen.port);
	CHECK(tcp_try(a) == -ECONNREFUSED && !tcp_try(b), "a refused, b listened on");
	CHECK(!live(&udp_in, a) && !live(&udp_in, x) && live(&udp_in, b) == 1 &&
		      live(&udp_in, u) == 1,
	      "-u auto followed TCP a -> b");
	CHECK(closing.calls == 2 && closing.dir == FWD_AUTO_UDP_IN && closing.fd >= 0,
	      "owner told before the UDP listener of a closed: %d calls", closing.calls);
	CHECK(!fwd_listener_at(&udp_in, closing.index), "its index is stale now");
	CHECK(fwd_auto_get_stats(fa)->bad_lines >= 2, "bad lines counted");
	CHECK(live(&tcp_out, r) == 1, "the static reverse listener is untouched");

	/* everything gone */
	memfd_set(tcp_fd, tcp_header);
	memfd_set(udp_fd, "");
	fwd_auto_tick(fa);
	CHECK(!live(&tcp_in, b) && !live(&udp_in, b) && !live(&udp_in, u), "all closed");
	CHECK(tcp_seen.added == 2 && tcp_seen.removed == 2 && tcp_seen.port == b,
	      "hook: b removed (removed %d)", tcp_seen.removed);
	fwd_auto_set_tcp_hook(fa, NULL, NULL); /* the rest runs without it */
	CHECK(fwd_auto_get_stats(fa)->removed == 6, "removed %lu", fwd_auto_get_stats(fa)->removed);

	/* a port we cannot bind: not retried every tick */
	{
		int busy = fwd_socket(AF_INET, SOCK_STREAM, a, false, false);
		unsigned long failed;

		ports[0] = a;
		procnet(text, sizeof(text), ports, 1, FWD_AUTO_STATE_TCP_LISTEN);
		memfd_set(tcp_fd, text);
		fwd_auto_tick(fa);
		failed = fwd_auto_get_stats(fa)->open_failed;
		CHECK(busy >= 0 && failed >= 1 && !live(&tcp_in, a), "busy port: %lu failed",
		      failed);
		fwd_auto_tick(fa);
		CHECK(fwd_auto_get_stats(fa)->open_failed == failed, "not retried at once");
		close(busy);
		for (s = 0; s < FWD_AUTO_RETRY_TICKS && !live(&tcp_in, a); s++)
			fwd_auto_tick(fa);
		CHECK(live(&tcp_in, a) == 1, "retried later, and then listened on");
	}

	fwd_auto_free(fa);
	fwd_close(&tcp_in);
	fwd_close(&udp_in);
	fwd_close(&tcp_out);
	close(tcp_fd);
	close(udp_fd);
	close(ep);

	/* nothing in auto mode: no object, no error */
	config_defaults(&c, MODE_PASTA, NULL);
	c.tcp_in.mode = FWD_AUTO;
	c.no_tcp = true;
	CHECK(!fwd_auto_wanted(&c), "--no-tcp");
	CHECK(!fwd_auto_new(&p, &err) && !err, "nothing to do");
	config_defaults(&c, MODE_PASST, NULL);
	c.tcp_in.mode = FWD_AUTO;
	CHECK(!fwd_auto_wanted(&c), "passt: never");
}

int main(void)
{
	log_init("test_fwd_auto", LOG_LVL_WARN);
	test_parse_line();
	test_scan();
	test_table_runtime();
	test_auto();
	printf("test_fwd_auto: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
