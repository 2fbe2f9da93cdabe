// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_bypass_egress.c - the loopback bypass's second version (EGRESS) with real sockets, no
 * daemon
 *
 * As test_bypass.c (and with the same fixture, bypass_fixture.h: private mount and network
 * namespaces, one bypass instance, the four sockets of a forwarded connection played by hand),
 * but with our A and B also in bypass_out, the egress targets: in EGRESS mode the program sends
 * C's data into B's send path (and S's into A's) instead of S's receive queue, so that the
 * kernel's own TCP flow control stops a fast sender. B's cookie is registered in
 * bypass_expect_cookie (no bind), as the daemon does. It checks:
 *   - the splice relay (through a pipe, as the daemon does) still moves both directions in order
 *     through A and B while they are in bypass_out; poll and SIOCOUTQ still work on them;
 *   - every byte of a sequence-numbered stream checked at the reader: RELAY -> EGRESS once the
 *     relay wrote everything into B (unread by S); 4 MiB of egress in random sizes; with S not
 *     reading, a non-blocking C is stopped with EAGAIN after at most B's send buffer plus S's
 *     receive buffer, and S then reads everything (the program's egressed count for such a
 *     sender is printed: refused bytes sent again count again, so only egressed >= taken
 *     holds); INGRESS over the budget goes back to RELAY, never to EGRESS by itself, although
 *     C's target is in bypass_out (the test relays the rest; S reads the redirected bytes,
 *     then the relayed ones); RELAY -> EGRESS granted again; EGRESS -> INGRESS with a stale
 *     permission does not switch, with a fresh one does; INGRESS -> EGRESS granted; EGRESS
 *     without a socket in bypass_out goes to RELAY (NO_OUT); s2c egress through A; for IPv4
 *     and IPv6;
 *   - 2000 short connections, IPv4 and IPv6, with cookie registration and egress targets: every
 *     S found (its expectation made from B's cookie), nothing left in bypass_ends/cookies/
 *     expect/expect_cookie/out/sockets.
 * bypass_out and bypass_sockets are not pinned: their entries are counted through this process's
 * own descriptors of them (own_map_entries).
 *
 * Needs root; exits 77 (SKIP) only when bpf() is not permitted.
 */
#include <fcntl.h>
#include <linux/sockios.h>

#include "bypass_fixture.h"

#define INSTANCE "bpasst-test-bypass-egress"

/* ---- Sequence-numbered streams and our sockets in bypass_out ---- */

/* A direction's byte stream: byte i of it is stream_byte(i), so any loss, duplicate or reorder
 * shows at the reader. */
struct stream {
	uint64_t sent, got;
};

static unsigned char stream_byte(uint64_t i)
{
	return (unsigned char)((i * 7) ^ (i >> 8) ^ ((i >> 16) * 13));
}

static void stream_fill(const struct stream *st, unsigned char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = stream_byte(st->sent + i);
}

/* One send(flags); advances st->sent by what was taken. */
static ssize_t stream_send1(int fd, struct stream *st, size_t n, int flags)
{
	static unsigned char buf[4 * CHUNK];
	ssize_t r;

	if (n > sizeof(buf))
		n = sizeof(buf);
	stream_fill(st, buf, n);
	r = send(fd, buf, n, MSG_NOSIGNAL | flags);
	if (r > 0)
		st->sent += (uint64_t)r;
	return r;
}

static int stream_send(int fd, struct stream *st, size_t n)
{
	while (n) {
		ssize_t r = stream_send1(fd, st, n, 0);

		if (r <= 0)
			return -1;
		n -= (size_t)r;
	}
	return 0;
}

/* Read exactly n bytes of the stream and check every one. 0, or -1. */
static int stream_recv(int fd, struct stream *st, size_t n)
{
	static unsigned char buf[4 * CHUNK];

	while (n) {
		size_t want = n < sizeof(buf) ? n : sizeof(buf);
		ssize_t r;

		if (!readable(fd, 3000)) {
			fprintf(stderr, "# stream: nothing to read at offset %llu\n",
				(unsigned long long)st->got);
			return -1;
		}
		r = recv(fd, buf, want, MSG_DONTWAIT);
		if (r <= 0)
			return -1;
		for (ssize_t i = 0; i < r; i++) {
			if (buf[i] != stream_byte(st->got + (uint64_t)i)) {
				fprintf(stderr, "# stream: wrong byte at offset %llu\n",
					(unsigned long long)(st->got + (uint64_t)i));
				return -1;
			}
		}
		st->got += (uint64_t)r;
		n -= (size_t)r;
	}
	return 0;
}

static int sockopt_int(int fd, int level, int opt)
{
	int v = -1;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, level, opt, &v, &len))
		return -1;
	return v;
}

static int outq(int fd)
{
	int n = -1;

	if (ioctl(fd, SIOCOUTQ, &n))
		return -1;
	return n;
}

/* Wait (bounded) until everything our socket sent was acknowledged. */
static void outq_drain(int fd)
{
	for (int i = 0; i < 100 && outq(fd) != 0; i++)
		usleep(10000);
}

/* Entries of one of our (unpinned) maps, found by name among this process's descriptors. */
static int own_map_entries(const char *name)
{
	char key[64], next[64];
	int n = -1;

	for (int fd = 3; fd < 1024; fd++) {
		struct bpf_map_info info;
		__u32 len = sizeof(info);
		void *prev = NULL;

		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fd, &info, &len) || strcmp(info.name, name))
			continue;
		n = 0;
		while (!bpf_map_get_next_key(fd, prev, next) && n < 100000) {
			memcpy(key, next, sizeof(key));
			prev = key;
			n++;
		}
		break;
	}
	return n;
}

/* Move n bytes from one of our sockets to the other through a pipe, as the daemon does. */
static int splice_relay(int from, int to, size_t n)
{
	int p[2], err = 0;
	size_t in = 0, out = 0;

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK))
		return -1;
	for (int i = 0; i < 2000 && out < n && !err; i++) {
		ssize_t r;

		if (in < n && readable(from, 10)) {
			r = splice(from, NULL, p[1], NULL, n - in,
				   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
			if (r > 0)
				in += (size_t)r;
			else if (r == 0 || errno != EAGAIN)
				err = 1;
		}
		if (out < in) {
			r = splice(p[0], NULL, to, NULL, in - out,
				   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
			if (r > 0)
				out += (size_t)r;
			else if (r == 0 || errno != EAGAIN)
				err = 1;
		}
	}
	close(p[0]);
	close(p[1]);
	return !err && out == n ? 0 : -1;
}

/* Our A and B in bypass_out (tcp_bpf's base proto): the splice relay still moves data in order,
 * poll still works, SIOCOUTQ still answers. */
static void test_splice(int family)
{
	struct stream c2s = { 0, 0 }, s2c = { 0, 0 };
	struct bp_bypass_end e;
	struct conn x;
	int err, inq = -1;

	conn_open(&x, family, EXPECT_COOKIE, 0);
	CHECK(bp_bypass_out_add(byp, &x.ck, x.b) == 0, "out_add C -> B");
	CHECK(bp_bypass_out_add(byp, &x.sk, x.a) == 0, "out_add S -> A");
	CHECK(own_map_entries("bypass_out") == 2, "bypass_out has %d entries",
	      own_map_entries("bypass_out"));
	for (int round = 0; round < 3; round++) {
		CHECK(stream_send(x.c, &c2s, 3 * CHUNK) == 0, "C send");
		CHECK(readable(x.a, 3000), "A not readable (poll)");
		usleep(20000);
		if (round == 0) {
			/* Not a check: kernels differ (tcp_bpf's ioctl answers FIONREAD with the
			 * psock queue only); the daemon must not rely on it for A or B. */
			if (ioctl(x.a, FIONREAD, &inq))
				inq = -1;
			printf("# FIONREAD on A in bypass_out with %d TCP bytes queued: %d\n",
			       3 * CHUNK, inq);
		}
		CHECK(splice_relay(x.a, x.b, 3 * CHUNK) == 0, "splice A -> B");
		CHECK(stream_recv(x.s, &c2s, 3 * CHUNK) == 0, "c2s through the splice relay");
		CHECK(stream_send(x.s, &s2c, 2 * CHUNK) == 0, "S send");
		CHECK(splice_relay(x.b, x.a, 2 * CHUNK) == 0, "splice B -> A");
		CHECK(stream_recv(x.c, &s2c, 2 * CHUNK) == 0, "s2c through the splice relay");
	}
	outq_drain(x.b);
	CHECK(outq(x.b) == 0, "SIOCOUTQ on B: %d", outq(x.b));
	e = end_of(&x.ck, &err);
	CHECK(!err && e.mode == BP_BYPASS_MODE_RELAY && e.passed == 9 * CHUNK && !e.egressed,
	      "C: mode %u passed %llu egressed %llu", e.mode, (unsigned long long)e.passed,
	      (unsigned long long)e.egressed);
	conn_close(&x);
	for (int i = 0; i < 40 && own_map_entries("bypass_out") != 0; i++)
		usleep(50000);
	CHECK(own_map_entries("bypass_out") == 0, "bypass_out entries left after close: %d",
	      own_map_entries("bypass_out"));
}

#define EGRESS_BUF 65536
#define BULK (4u << 20)

static void test_egress(int family)
{
	struct stream c2s = { 0, 0 }, s2c = { 0, 0 };
	struct bp_bypass_counters c0, c1;
	struct bp_bypass_end e, snap;
	uint64_t phase, egressed0, taken;
	struct conn x;
	uint32_t gen = 0;
	int err, i, flags, sndbuf, rcvbuf, eagain = 0;
	struct pollfd pfd;

	conn_open(&x, family, EXPECT_COOKIE, EGRESS_BUF);
	test_roles(&x);
	CHECK(bp_bypass_out_add(byp, &x.ck, x.b) == 0, "out_add C -> B");
	CHECK(bp_bypass_out_add(byp, &x.sk, x.a) == 0, "out_add S -> A");

	/* (d) RELAY -> EGRESS once the relay wrote everything into B (S has not read it). */
	CHECK(stream_send(x.c, &c2s, 2 * CHUNK) == 0, "C send");
	CHECK(relay(x.a, x.b, 2 * CHUNK) == 0, "relay A -> B");
	e = end_of(&x.ck, &err);
	CHECK(!err && e.passed == 2 * CHUNK && e.mode == BP_BYPASS_MODE_RELAY, "passed %llu",
	      (unsigned long long)e.passed);
	c0 = counters();
	grant_to(&x.ck, &x.sk, e.passed, e.egressed, ++gen, BUDGET, BP_BYPASS_MODE_EGRESS);
	CHECK(stream_send(x.c, &c2s, 2 * CHUNK) == 0, "C send");
	CHECK(!readable(x.a, 100), "data at A in EGRESS mode");
	e = end_of(&x.ck, &err);
	c1 = counters();
	CHECK(!err && e.mode == BP_BYPASS_MODE_EGRESS && e.egressed == 2 * CHUNK &&
		      e.passed == 2 * CHUNK && e.handovers == 1 && e.used_gen == gen,
	      "after the grant: mode %u egressed %llu passed %llu handovers %u", e.mode,
	      (unsigned long long)e.egressed, (unsigned long long)e.passed, e.handovers);
	CHECK(c1.to_egress_c2s == c0.to_egress_c2s + 1 &&
		      c1.egress_bytes_c2s == c0.egress_bytes_c2s + 2 * CHUNK &&
		      c1.handover_c2s == c0.handover_c2s,
	      "counters: to_egress_c2s +%llu egress_bytes_c2s +%llu",
	      (unsigned long long)(c1.to_egress_c2s - c0.to_egress_c2s),
	      (unsigned long long)(c1.egress_bytes_c2s - c0.egress_bytes_c2s));
	CHECK(stream_recv(x.s, &c2s, 4 * CHUNK) == 0, "RELAY -> EGRESS: S's stream");

	/* (a) bulk: every byte, in order, through B, with S reading as it goes. */
	phase = c2s.sent;
	for (i = 0; i < 200000 && c2s.got < phase + BULK; i++) {
		size_t n = 1 + (size_t)((c2s.sent * 2654435761u) % (3 * CHUNK));

		if (c2s.sent < phase + BULK) {
			if (n > phase + BULK - c2s.sent)
				n = (size_t)(phase + BULK - c2s.sent);
			if (stream_send1(x.c, &c2s, n, MSG_DONTWAIT) < 0 && errno != EAGAIN)
				break;
		}
		if (readable(x.s, 0) &&
		    stream_recv(x.s, &c2s,
				(size_t)(c2s.sent - c2s.got) < 4 * CHUNK
					? (size_t)(c2s.sent - c2s.got)
					: 4 * CHUNK))
			break;
	}
	CHECK(c2s.got == phase + BULK && c2s.sent == c2s.got, "bulk egress: sent %llu got %llu",
	      (unsigned long long)(c2s.sent - phase), (unsigned long long)(c2s.got - phase));
	CHECK(!readable(x.a, 0), "bulk egress: data at A");

	/* (b) backpressure: S does not read; a non-blocking C gets EAGAIN after about B's send
	 * buffer plus S's receive buffer, and nothing is lost. */
	sndbuf = sockopt_int(x.b, SOL_SOCKET, SO_SNDBUF);
	rcvbuf = sockopt_int(x.s, SOL_SOCKET, SO_RCVBUF);
	egressed0 = end_of(&x.ck, &err).egressed;
	flags = fcntl(x.c, F_GETFL);
	CHECK(flags >= 0 && !fcntl(x.c, F_SETFL, flags | O_NONBLOCK), "O_NONBLOCK");
	phase = c2s.sent;
	/* Until EAGAIN, several times: the first EAGAIN can come while B's segments are still
	 * on their way into S's receive queue. */
	for (int round = 0; round < 5; round++) {
		eagain = 0;
		for (i = 0; i < 100000; i++) {
			if (stream_send1(x.c, &c2s, CHUNK, 0) < 0) {
				eagain = errno == EAGAIN;
				break;
			}
		}
		if (!eagain)
			break;
		usleep(100000);
	}
	printf("# backpressure: C sent %llu bytes before %s (B SO_SNDBUF %d, S SO_RCVBUF %d)\n",
	       (unsigned long long)(c2s.sent - phase), eagain ? "EAGAIN" : strerror(errno), sndbuf,
	       rcvbuf);
	CHECK(eagain, "the sender was never stopped, or not with EAGAIN");
	CHECK(c2s.sent - phase >= CHUNK &&
		      c2s.sent - phase <= (uint64_t)sndbuf + (uint64_t)rcvbuf + 4 * CHUNK,
	      "backpressure: %llu bytes taken", (unsigned long long)(c2s.sent - phase));
	usleep(200000);
	errno = 0;
	CHECK(stream_send1(x.c, &c2s, CHUNK, 0) < 0 && errno == EAGAIN,
	      "still not stopped after a pause: %s", strerror(errno));
	pfd.fd = x.c;
	pfd.events = POLLOUT;
	pfd.revents = 0;
	/* The egress count is counted when offered: bytes refused with EAGAIN and sent again
	 * count again, so it may exceed what C's sends took (an upper bound, not a count). */
	taken = c2s.sent - phase;
	e = end_of(&x.ck, &err);
	printf("# backpressure: poll(C, POLLOUT) while stopped: %s; egressed counted %llu for "
	       "%llu taken\n",
	       poll(&pfd, 1, 0) == 1 ? "writable (C's own buffer is empty)" : "not writable",
	       (unsigned long long)(e.egressed - egressed0), (unsigned long long)taken);
	CHECK(!err && e.mode == BP_BYPASS_MODE_EGRESS && e.egressed - egressed0 >= taken,
	      "egressed +%llu < %llu bytes taken (mode %u)",
	      (unsigned long long)(e.egressed - egressed0), (unsigned long long)taken, e.mode);
	CHECK(stream_recv(x.s, &c2s, (size_t)(c2s.sent - c2s.got)) == 0,
	      "backpressure: S's stream after it read again");
	for (i = 0; i < 100 && stream_send1(x.c, &c2s, CHUNK, 0) < 0 && errno == EAGAIN; i++)
		usleep(10000);
	CHECK(stream_recv(x.s, &c2s, (size_t)(c2s.sent - c2s.got)) == 0 && c2s.got == c2s.sent,
	      "after the backpressure");
	CHECK(!fcntl(x.c, F_SETFL, flags), "blocking again");
	CHECK(!readable(x.a, 0), "backpressure: data at A");

	/* (c) INGRESS, then over the budget back to RELAY (not EGRESS, although C's target is in
	 * bypass_out): the rest goes to A; once relayed, S reads the redirected bytes, then the
	 * relayed ones, in order. */
	outq_drain(x.b);
	e = end_of(&x.ck, &err);
	c0 = counters();
	grant_to(&x.ck, &x.sk, e.passed, e.egressed, ++gen, BUDGET, BP_BYPASS_MODE_INGRESS);
	snap = e;
	for (i = 0; i < 6; i++)
		CHECK(stream_send(x.c, &c2s, CHUNK) == 0, "C send %d", i);
	e = end_of(&x.ck, &err);
	c1 = counters();
	CHECK(e.mode == BP_BYPASS_MODE_RELAY && e.last_return == BP_BYPASS_RET_BUDGET &&
		      e.returns == snap.returns + 1 && e.redirected - snap.redirected == BUDGET &&
		      e.passed - snap.passed == 6 * CHUNK - BUDGET && e.egressed == snap.egressed,
	      "budget: mode %u last_return %u redirected +%llu passed +%llu egressed +%llu", e.mode,
	      e.last_return, (unsigned long long)(e.redirected - snap.redirected),
	      (unsigned long long)(e.passed - snap.passed),
	      (unsigned long long)(e.egressed - snap.egressed));
	CHECK(c1.handover_c2s == c0.handover_c2s + 1 && c1.return_budget == c0.return_budget + 1 &&
		      c1.to_egress_c2s == c0.to_egress_c2s &&
		      c1.return_no_out == c0.return_no_out &&
		      c1.egress_bytes_c2s == c0.egress_bytes_c2s,
	      "budget counters: return_budget +%llu to_egress_c2s +%llu",
	      (unsigned long long)(c1.return_budget - c0.return_budget),
	      (unsigned long long)(c1.to_egress_c2s - c0.to_egress_c2s));
	CHECK(relay(x.a, x.b, 6 * CHUNK - BUDGET) == 0, "relay the rest A -> B");
	CHECK(!readable(x.a, 50), "budget: more than the rest at A");
	CHECK(stream_recv(x.s, &c2s, BUDGET) == 0, "budget: the redirected bytes at S");
	CHECK(stream_recv(x.s, &c2s, 6 * CHUNK - BUDGET) == 0 && c2s.got == c2s.sent,
	      "budget: the relayed bytes at S after the redirected ones");

	/* RELAY -> EGRESS granted again (the relay wrote everything into B). */
	e = end_of(&x.ck, &err);
	c0 = counters();
	grant_to(&x.ck, &x.sk, e.passed, e.egressed, ++gen, BUDGET, BP_BYPASS_MODE_EGRESS);
	CHECK(stream_send(x.c, &c2s, CHUNK) == 0, "C send");
	snap = e;
	e = end_of(&x.ck, &err);
	c1 = counters();
	CHECK(e.mode == BP_BYPASS_MODE_EGRESS && e.egressed == snap.egressed + CHUNK &&
		      e.passed == snap.passed && c1.to_egress_c2s == c0.to_egress_c2s + 1,
	      "RELAY -> EGRESS after a budget return: mode %u", e.mode);
	CHECK(!readable(x.a, 50), "EGRESS after a budget return: data at A");
	CHECK(stream_recv(x.s, &c2s, CHUNK) == 0, "RELAY -> EGRESS again: S's stream");

	/* (e) EGRESS -> INGRESS: a stale permission (C sent after the snapshot) does not switch;
	 * a fresh one does. */
	outq_drain(x.b);
	snap = end_of(&x.ck, &err);
	CHECK(stream_send(x.c, &c2s, CHUNK) == 0, "C send");
	grant_to(&x.ck, &x.sk, snap.passed, snap.egressed, ++gen, BUDGET, BP_BYPASS_MODE_INGRESS);
	CHECK(stream_send(x.c, &c2s, CHUNK) == 0, "C send");
	e = end_of(&x.ck, &err);
	CHECK(e.mode == BP_BYPASS_MODE_EGRESS && e.handovers == snap.handovers &&
		      e.egressed == snap.egressed + 2 * CHUNK && e.redirected == snap.redirected,
	      "stale upgrade used: mode %u handovers %u", e.mode, e.handovers);
	CHECK(stream_recv(x.s, &c2s, 2 * CHUNK) == 0, "stale upgrade: S's stream");
	outq_drain(x.b);
	e = end_of(&x.ck, &err);
	c0 = counters();
	grant_to(&x.ck, &x.sk, e.passed, e.egressed, ++gen, BUDGET, BP_BYPASS_MODE_INGRESS);
	CHECK(stream_send(x.c, &c2s, CHUNK) == 0, "C send");
	snap = e;
	e = end_of(&x.ck, &err);
	c1 = counters();
	CHECK(e.mode == BP_BYPASS_MODE_INGRESS && e.handovers == snap.handovers + 1 &&
		      e.redirected == snap.redirected + CHUNK && e.egressed == snap.egressed,
	      "upgrade: mode %u redirected +%llu", e.mode,
	      (unsigned long long)(e.redirected - snap.redirected));
	CHECK(c1.handover_c2s == c0.handover_c2s + 1, "upgrade counter");
	CHECK(stream_recv(x.s, &c2s, CHUNK) == 0, "EGRESS -> INGRESS: S's stream");

	/* INGRESS -> EGRESS granted. */
	e = end_of(&x.ck, &err);
	grant_to(&x.ck, &x.sk, e.passed, e.egressed, ++gen, BUDGET, BP_BYPASS_MODE_EGRESS);
	CHECK(stream_send(x.c, &c2s, CHUNK) == 0, "C send");
	snap = e;
	e = end_of(&x.ck, &err);
	CHECK(e.mode == BP_BYPASS_MODE_EGRESS && e.egressed == snap.egressed + CHUNK,
	      "INGRESS -> EGRESS grant: mode %u", e.mode);
	CHECK(stream_recv(x.s, &c2s, CHUNK) == 0, "INGRESS -> EGRESS grant: S's stream");

	/* No socket in bypass_out: RELAY, the message goes to A. */
	c0 = counters();
	CHECK(bp_bypass_out_del(byp, &x.ck) == 0, "out_del");
	CHECK(stream_send(x.c, &c2s, CHUNK) == 0, "C send without out: %s", strerror(errno));
	e = end_of(&x.ck, &err);
	c1 = counters();
	CHECK(e.mode == BP_BYPASS_MODE_RELAY && e.last_return == BP_BYPASS_RET_NO_OUT &&
		      c1.return_no_out == c0.return_no_out + 1,
	      "no out: mode %u last_return %u", e.mode, e.last_return);
	CHECK(relay(x.a, x.b, CHUNK) == 0, "relay after NO_OUT");
	CHECK(stream_recv(x.s, &c2s, CHUNK) == 0, "EGRESS -> RELAY: S's stream");

	/* s2c: S's sends go through A. */
	CHECK(stream_send(x.s, &s2c, CHUNK) == 0 && relay(x.b, x.a, CHUNK) == 0 &&
		      stream_recv(x.c, &s2c, CHUNK) == 0,
	      "s2c relay");
	e = end_of(&x.sk, &err);
	c0 = counters();
	grant_to(&x.sk, &x.ck, e.passed, e.egressed, 1, BUDGET, BP_BYPASS_MODE_EGRESS);
	CHECK(stream_send(x.s, &s2c, 3 * CHUNK) == 0, "S send");
	CHECK(stream_recv(x.c, &s2c, 3 * CHUNK) == 0, "s2c egress: C's stream");
	CHECK(!readable(x.b, 50), "s2c data at B in EGRESS mode");
	c1 = counters();
	CHECK(c1.to_egress_s2c == c0.to_egress_s2c + 1 &&
		      c1.egress_bytes_s2c == c0.egress_bytes_s2c + 3 * CHUNK,
	      "s2c egress counters");

	conn_close(&x);
	for (i = 0; i < 40; i++) {
		end_of(&x.ck, &err);
		if (err == -ENOENT && own_map_entries("bypass_out") == 0)
			break;
		usleep(50000);
	}
	CHECK(own_map_entries("bypass_out") == 0, "bypass_out entries left");
}

/* (g) n short connections, alternately IPv4 and IPv6, each with its cookie registered and its
 * egress targets inserted: every S is found, and nothing is left in any map afterwards. */
static void test_short_conns(int n)
{
	struct bp_bypass_counters c0 = counters(), c1;
	struct bp_bypass_listen lk[2];
	int l[2], sl[2], fam[2] = { AF_INET, AF_INET6 }, missing = 0, failed = 0, i;
	const char *maps[] = { "bypass_ends", "bypass_cookies", "bypass_expect",
			       "bypass_expect_cookie" };
	int left;

	for (int f = 0; f < 2; f++) {
		l[f] = tcp_listener(fam[f]);
		sl[f] = tcp_listener(fam[f]);
		memset(&lk[f], 0, sizeof(lk[f]));
		lk[f].netns_cookie = netns_cookie;
		key_ip(fam[f], lk[f].ip);
		lk[f].port = local_port(l[f]);
		lk[f].family = (__u8)fam[f];
		CHECK(bp_bypass_listen_add(byp, &lk[f]) == 0, "listen_add");
	}
	for (i = 0; i < n && failed < 5; i++) {
		int f = i & 1, c, a = -1, b, s = -1;
		struct bp_bypass_key ck, sk;
		struct bp_bypass_end e;
		char byte = 'x';
		int err;

		c = socket(fam[f], SOCK_STREAM | SOCK_CLOEXEC, 0);
		b = socket(fam[f], SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c < 0 || b < 0 || tcp_connect(c, fam[f], lk[f].port) ||
		    (a = accept4(l[f], NULL, NULL, SOCK_CLOEXEC)) < 0 ||
		    bp_bypass_expect_cookie_add(byp, sock_cookie(b), (uint32_t)i) ||
		    tcp_connect(b, fam[f], local_port(sl[f])) ||
		    (s = accept4(sl[f], NULL, NULL, SOCK_CLOEXEC)) < 0) {
			failed++;
			fprintf(stderr, "# connection %d: %s\n", i, strerror(errno));
		} else {
			ck = key_of(fam[f], local_port(c), lk[f].port);
			sk = key_of(fam[f], local_port(sl[f]), local_port(b));
			e = end_of(&sk, &err);
			missing += err || e.role != BP_BYPASS_ROLE_SERVER;
			failed += bp_bypass_out_add(byp, &ck, b) != 0 ||
				bp_bypass_out_add(byp, &sk, a) != 0;
			if (send(c, &byte, 1, MSG_NOSIGNAL) != 1 || recv(a, &byte, 1, 0) != 1)
				failed++;
		}
		if (c >= 0)
			close(c);
		if (a >= 0)
			close(a);
		if (s >= 0)
			close(s);
		if (b >= 0)
			close(b);
	}
	c1 = counters();
	CHECK(!failed && i == n, "%d failures in %d connections", failed, i);
	CHECK(!missing, "%d servers not inserted", missing);
	CHECK(c1.expect_from_cookie - c0.expect_from_cookie == (uint64_t)n &&
		      c1.insert_server - c0.insert_server == (uint64_t)n,
	      "expect_from_cookie +%llu insert_server +%llu",
	      (unsigned long long)(c1.expect_from_cookie - c0.expect_from_cookie),
	      (unsigned long long)(c1.insert_server - c0.insert_server));
	for (i = 0; i < 100; i++) {
		left = own_map_entries("bypass_out") + own_map_entries("bypass_sockets");
		for (size_t m = 0; m < sizeof(maps) / sizeof(maps[0]); m++)
			left += map_entries(maps[m]);
		if (!left)
			break;
		usleep(50000);
	}
	for (size_t m = 0; m < sizeof(maps) / sizeof(maps[0]); m++)
		CHECK(map_entries(maps[m]) == 0, "%s: %d entries left", maps[m],
		      map_entries(maps[m]));
	CHECK(own_map_entries("bypass_out") == 0 && own_map_entries("bypass_sockets") == 0,
	      "bypass_out %d / bypass_sockets %d entries left", own_map_entries("bypass_out"),
	      own_map_entries("bypass_sockets"));
	for (int f = 0; f < 2; f++) {
		bp_bypass_listen_del(byp, &lk[f]);
		close(l[f]);
		close(sl[f]);
	}
}

int main(void)
{
	char line[768];
	int rc;

	rc = fixture_start(INSTANCE, line, sizeof(line));
	if (rc)
		return rc;

	STEP("IPv4: splice relay through A and B in bypass_out", test_splice(AF_INET));
	STEP("IPv4: egress, backpressure, budget, upgrades", test_egress(AF_INET));
	STEP("IPv6: egress, backpressure, budget, upgrades", test_egress(AF_INET6));
	STEP("2000 short connections (IPv4 and IPv6) leave no entries", test_short_conns(2000));
	return fixture_finish("bypass egress");
}
