// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_bypass_tail.c - the relay's tail (bp_bypass_tail_msg) with real sockets, no daemon
 *
 * The tail is the first step of an ingress hand-over for a sender that never pauses: our own
 * socket towards the receiver (B towards S, A towards C) goes into bypass_tailsock, and while its
 * bypass_tail entry says INGRESS, what we write into it is redirected into the receiver's ingress
 * queue; the sender may then switch to INGRESS as soon as the relay has written everything it
 * passed, and its bytes queue behind ours (include/bpasst_bypass.h, struct bp_bypass_tail). The
 * test plays all four sockets (bypass_fixture.h) and the daemon's part, in a private network
 * namespace, for IPv4 and IPv6:
 *   - order across both steps: bytes relayed over TCP and read, then the tail on, bytes relayed
 *     into the receiver's ingress queue and left unread, then the sender granted INGRESS with
 *     the relay drained (no probe of the receiver): the receiver reads the whole stream in
 *     order, nothing more arrives at our A, the counters (tail_bytes, the tail's redirected, the
 *     receiver's ingress_in and, with the receive hook, ingress_read) add up;
 *   - the tail's budget (s2c): with the receiver not reading, the write that would exceed it
 *     goes over TCP and the tail stays off (mode RELAY, last_return BUDGET) for later writes
 *     too; the receiver reads the redirected bytes, then the TCP ones, in order; switched on
 *     again, and with the receive hook, a reading receiver keeps it on past the budget;
 *   - the receiver closed: our write still succeeds (never EACCES) and the tail goes off
 *     (NO_PEER); bp_bypass_tail_del removes the entry.
 *
 * Needs root; exits 77 (SKIP) only when bpf() is not permitted.
 */
#include <linux/sockios.h>

#include "bypass_fixture.h"

#define INSTANCE "bpasst-test-tail"

static void pattern(char *buf, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)(seed * 37 + i * 13 + (i >> 9));
}

static void tail_on(const struct bp_bypass_key *receiver, int our_fd, uint64_t budget)
{
	struct bp_bypass_tail t;

	if (bp_bypass_tail_get(byp, receiver, &t) < 0) {
		memset(&t, 0, sizeof(t));
		CHECK(bp_bypass_tail_sock_add(byp, receiver, our_fd) == 0, "tail_sock_add: %s",
		      strerror(errno));
	}
	t.budget = budget;
	t.mode = BP_BYPASS_MODE_INGRESS;
	t.flow_id = 7;
	CHECK(bp_bypass_tail_set(byp, receiver, &t) == 0, "tail_set");
}

static struct bp_bypass_tail tail_of(const struct bp_bypass_key *receiver)
{
	struct bp_bypass_tail t;

	memset(&t, 0xff, sizeof(t));
	CHECK(bp_bypass_tail_get(byp, receiver, &t) == 0, "tail_get");
	return t;
}

static int outq(int fd)
{
	int n = -1;

	ioctl(fd, SIOCOUTQ, &n);
	return n;
}

/* c2s: relay over TCP, tail on, relay into S's ingress queue, C granted INGRESS: order. */
static void test_two_steps(struct conn *x)
{
	static char buf[4 * CHUNK], got[4 * CHUNK];
	bool tracking = bp_bypass_read_tracking(byp);
	struct bp_bypass_counters c0 = counters(), c1;
	struct bp_bypass_end e, es;
	struct bp_bypass_tail t;
	int err;

	CHECK(send_all(x->c, "hello", 5) == 0 && relay(x->a, x->b, 5) == 0 &&
		      read_exact(x->s, got, 5) == 0 && !memcmp(got, "hello", 5),
	      "hello over the relay");

	/* Everything we wrote has been read by S: the tail may go on. */
	tail_on(&x->sk, x->b, 1 << 20);
	for (unsigned i = 0; i < 2; i++) {
		pattern(buf + i * CHUNK, CHUNK, i);
		CHECK(send_all(x->c, buf + i * CHUNK, CHUNK) == 0, "send chunk %u", i);
		CHECK(relay(x->a, x->b, CHUNK) == 0, "relay chunk %u", i); /* into S's ingress */
	}
	CHECK(outq(x->b) == 0, "our B sent over TCP while the tail is on (outq %d)", outq(x->b));
	t = tail_of(&x->sk);
	c1 = counters();
	es = end_of(&x->sk, &err);
	CHECK(t.mode == BP_BYPASS_MODE_INGRESS && t.redirected == 2 * CHUNK && t.returns == 0,
	      "tail: mode %u redirected %llu returns %u", t.mode,
	      (unsigned long long)t.redirected, t.returns);
	CHECK(c1.tail_bytes - c0.tail_bytes == 2 * CHUNK && c1.tail_returns == c0.tail_returns,
	      "tail_bytes +%llu tail_returns +%llu",
	      (unsigned long long)(c1.tail_bytes - c0.tail_bytes),
	      (unsigned long long)(c1.tail_returns - c0.tail_returns));
	CHECK(!err && es.ingress_in == 2 * CHUNK, "S ingress_in %llu",
	      (unsigned long long)es.ingress_in);

	/* The relay drained (C's passed bytes all written into the tail): C may switch, with S's
	 * two chunks still unread. */
	e = end_of(&x->ck, &err);
	CHECK(!err && e.passed == 5 + 2 * CHUNK, "C passed %llu", (unsigned long long)e.passed);
	grant(&x->ck, &x->sk, e.passed, 1, 1 << 20);
	pattern(buf + 2 * CHUNK, CHUNK, 2);
	CHECK(send_all(x->c, buf + 2 * CHUNK, CHUNK) == 0, "send chunk 2");
	CHECK(!readable(x->a, 50), "C's chunk after the switch arrived at A");
	e = end_of(&x->ck, &err);
	es = end_of(&x->sk, &err);
	CHECK(e.mode == BP_BYPASS_MODE_INGRESS && e.redirected == CHUNK &&
		      es.ingress_in == 3 * CHUNK,
	      "after the switch: mode %u redirected %llu S ingress_in %llu", e.mode,
	      (unsigned long long)e.redirected, (unsigned long long)es.ingress_in);

	memset(got, 0, sizeof(got));
	CHECK(read_exact(x->s, got, 3 * CHUNK) == 0 && !memcmp(got, buf, 3 * CHUNK),
	      "S did not read the relay's tail, then C's bytes, in order");
	CHECK(!readable(x->s, 50), "more than the stream at S");
	if (tracking) {
		es = end_of(&x->sk, &err);
		CHECK(es.ingress_read == 3 * CHUNK, "S ingress_read %llu",
		      (unsigned long long)es.ingress_read);
	}
}

/* s2c: the tail's budget with C not reading; order; on again; a reading C keeps it on. */
static void test_budget(struct conn *x)
{
	static char buf[8 * CHUNK], got[8 * CHUNK];
	bool tracking = bp_bypass_read_tracking(byp);
	struct bp_bypass_counters c0, c1;
	struct bp_bypass_tail t;

	CHECK(send_all(x->s, "hi", 2) == 0 && relay(x->b, x->a, 2) == 0 &&
		      read_exact(x->c, got, 2) == 0,
	      "hi over the relay");
	tail_on(&x->ck, x->a, 2 * CHUNK);
	c0 = counters();
	for (unsigned i = 0; i < 4; i++) {
		pattern(buf + i * CHUNK, CHUNK, 10 + i);
		CHECK(send_all(x->s, buf + i * CHUNK, CHUNK) == 0 &&
			      relay(x->b, x->a, CHUNK) == 0,
		      "s2c chunk %u", i);
	}
	t = tail_of(&x->ck);
	c1 = counters();
	/* chunks 0 and 1 fill the budget; 2 would exceed it: over TCP, and 3 too */
	CHECK(t.mode == BP_BYPASS_MODE_RELAY && t.redirected == 2 * CHUNK && t.returns == 1 &&
		      t.last_return == BP_BYPASS_RET_BUDGET,
	      "budget: mode %u redirected %llu returns %u last_return %u", t.mode,
	      (unsigned long long)t.redirected, t.returns, t.last_return);
	CHECK(c1.tail_returns == c0.tail_returns + 1 && c1.tail_bytes == c0.tail_bytes + 2 * CHUNK,
	      "tail_returns +%llu tail_bytes +%llu",
	      (unsigned long long)(c1.tail_returns - c0.tail_returns),
	      (unsigned long long)(c1.tail_bytes - c0.tail_bytes));
	memset(got, 0, sizeof(got));
	CHECK(read_exact(x->c, got, 4 * CHUNK) == 0 && !memcmp(got, buf, 4 * CHUNK),
	      "C did not read the redirected chunks, then the TCP ones, in order");
	CHECK(!readable(x->c, 50), "more than the stream at C");

	/* C read everything: on again. */
	tail_on(&x->ck, x->a, 2 * CHUNK);
	pattern(buf, CHUNK, 20);
	CHECK(send_all(x->s, buf, CHUNK) == 0 && relay(x->b, x->a, CHUNK) == 0 &&
		      read_exact(x->c, got, CHUNK) == 0 && !memcmp(got, buf, CHUNK),
	      "after the tail is on again");
	t = tail_of(&x->ck);
	CHECK(t.mode == BP_BYPASS_MODE_INGRESS && t.redirected == 3 * CHUNK,
	      "on again: mode %u redirected %llu", t.mode, (unsigned long long)t.redirected);
	if (!tracking) {
		printf("# no receive hook: the reading-receiver budget check does not apply\n");
		return;
	}
	for (unsigned i = 0; i < 8; i++) {
		pattern(buf, CHUNK, 30 + i);
		CHECK(send_all(x->s, buf, CHUNK) == 0 && relay(x->b, x->a, CHUNK) == 0 &&
			      read_exact(x->c, got, CHUNK) == 0 && !memcmp(got, buf, CHUNK),
		      "reading C, chunk %u", i);
	}
	t = tail_of(&x->ck);
	CHECK(t.mode == BP_BYPASS_MODE_INGRESS && t.returns == 1 && t.redirected == 11 * CHUNK,
	      "a reading receiver: mode %u returns %u redirected %llu", t.mode, t.returns,
	      (unsigned long long)t.redirected);
}

/* The receiver closed: our write succeeds, the tail goes off; tail_del cleans up. */
static void test_no_receiver(int family)
{
	struct conn x;
	struct bp_bypass_tail t;
	char buf[CHUNK];

	conn_open(&x, family, EXPECT_COOKIE, 0);
	tail_on(&x.sk, x.b, 1 << 20);
	close(x.s);
	x.s = -1;
	usleep(20000);
	pattern(buf, sizeof(buf), 40);
	CHECK(send(x.b, buf, sizeof(buf), MSG_NOSIGNAL) == (ssize_t)sizeof(buf),
	      "our write with the receiver gone: %s", strerror(errno));
	t = tail_of(&x.sk);
	CHECK(t.mode == BP_BYPASS_MODE_RELAY && t.returns == 1 &&
		      t.last_return == BP_BYPASS_RET_NO_PEER,
	      "receiver gone: mode %u returns %u last_return %u", t.mode, t.returns,
	      t.last_return);
	CHECK(bp_bypass_tail_del(byp, &x.sk) == 0, "tail_del");
	CHECK(bp_bypass_tail_get(byp, &x.sk, &t) == -ENOENT, "tail entry left");
	conn_close(&x);
}

static void test_family(int family)
{
	struct conn x;

	conn_open(&x, family, EXPECT_COOKIE, 0);
	test_roles(&x);
	test_two_steps(&x);
	test_budget(&x);
	CHECK(bp_bypass_tail_del(byp, &x.sk) == 0 && bp_bypass_tail_del(byp, &x.ck) == 0,
	      "tail_del");
	bp_bypass_ctl_del(byp, &x.ck);
	conn_close(&x);
	test_no_receiver(family);
	CHECK(map_entries("bypass_tail") == 0, "bypass_tail entries left: %d",
	      map_entries("bypass_tail"));
}

int main(void)
{
	char line[768];
	int rc;

	rc = fixture_start(INSTANCE, line, sizeof(line));
	if (rc)
		return rc;
	STEP("IPv4: tail then INGRESS in order, tail budget, receiver gone", test_family(AF_INET));
	STEP("IPv6: tail then INGRESS in order, tail budget, receiver gone", test_family(AF_INET6));	return fixture_finish("bypass tail");
}
