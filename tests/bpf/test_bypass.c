// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_bypass.c - the loopback bypass's BPF side with real sockets, no daemon: the first version
 * (RELAY and INGRESS) and the loader
 *
 * The test plays all four roles of a forwarded connection itself (bypass_fixture.h), in its own
 * network namespace (unshare, lo up) so that nothing touches the machine's traffic, and in a
 * private mount namespace (bpffs mounted there if needed):
 *   our listener L (registered in bypass_listen) <- client C; A = accept(L)
 *   our B (S's key registered in bypass_expect after bind(), or B's cookie registered in
 *   bypass_expect_cookie) -> server listener; S = accept()
 * and moves bytes between A and B by hand where the daemon would splice them. For IPv4 and
 * IPv6 it checks:
 *   - C and S are in bypass_ends with their roles, A and B are not; a dual-stack client
 *     reaching an IPv4 listener through ::ffff:127.0.0.1 is keyed as AF_INET;
 *   - C's data goes over TCP (to A) before any permission, and after a stale one (allow !=
 *     passed); after a valid one (the relayed bytes read by S first) the next send arrives at S
 *     directly and nothing at A; the counters move; the same permission is not used twice;
 *   - budget: with S not reading, C's redirects stop after the budget and the direction goes
 *     back to RELAY (last_return BUDGET, never EGRESS by itself): the rest goes to A, the test
 *     relays it to B, and S reads the redirected bytes first, then the relayed ones, in order;
 *     after that return a new permission (the relay drained, S read everything) redirects
 *     again; with a receive hook, a reading S keeps the direction in INGRESS well past the
 *     budget;
 *   - the s2c direction the same way;
 *   - S closed: C's sends still succeed (never EACCES) and go to A (last_return NO_PEER);
 *   - closing every socket removes the endpoints' bypass_ends and bypass_cookies entries;
 *   - the server's expectation made by the program from B's registered cookie (no bind), and
 *     consumed at S's insertion (IPv6 here), as well as by key (IPv4).
 * Then the loader: pins and bpftool dumps; the pin directory is shared with a (simulated) tap
 * loader of the same process; stop detaches the sock_ops program from the cgroup and removes the
 * pins; a killed instance leaves no program on the cgroup and its pins go at the next start;
 * without privileges the start falls back with a reason.
 * The second version (EGRESS, A and B in bypass_out) is test_bypass_egress.c.
 *
 * Needs root; exits 77 (SKIP) only when bpf() is not permitted.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "bypass_fixture.h"
#include "killed_child.h"

#define INSTANCE "bpasst-test-bypass"

/* ---- The connection checks, per family ---- */

static void fill_pattern(char *buf, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)(seed * 131 + i * 7 + (i >> 8));
}

static void test_c2s(struct conn *x)
{
	static char buf[8 * CHUNK], got[8 * CHUNK];
	struct bp_bypass_counters c0, c1;
	struct bp_bypass_end e, es;
	uint64_t passed, unread0;
	int err, expect_redir;
	bool tracking = bp_bypass_read_tracking(byp);

	/* Before any permission: over TCP to A. */
	c0 = counters();
	CHECK(send_all(x->c, "hello", 5) == 0, "send");
	CHECK(read_exact(x->a, got, 5) == 0 && !memcmp(got, "hello", 5), "hello not at A");
	e = end_of(&x->ck, &err);
	CHECK(!err && e.passed == 5 && e.redirected == 0 && e.mode == BP_BYPASS_MODE_RELAY,
	      "after hello: passed %llu redirected %llu mode %u", (unsigned long long)e.passed,
	      (unsigned long long)e.redirected, e.mode);
	CHECK(send_all(x->b, got, 5) == 0 && read_exact(x->s, got, 5) == 0, "relay hello to S");

	/* A stale permission (the sender sent more than allowed) does not switch. */
	grant(&x->ck, &x->sk, 4, 1, 1 << 20);
	CHECK(send_all(x->c, "abc", 3) == 0, "send");
	CHECK(read_exact(x->a, got, 3) == 0 && !memcmp(got, "abc", 3), "abc not at A");
	CHECK(!readable(x->s, 100), "data at S with a stale permission");
	e = end_of(&x->ck, &err);
	CHECK(!err && e.mode == BP_BYPASS_MODE_RELAY && e.passed == 8 && e.handovers == 0,
	      "stale permission used: mode %u passed %llu", e.mode, (unsigned long long)e.passed);
	CHECK(send_all(x->b, "abc", 3) == 0 && read_exact(x->s, got, 3) == 0, "relay abc");

	/* A valid one: the next send goes straight to S. */
	grant(&x->ck, &x->sk, 8, 2, 1 << 20);
	CHECK(send_all(x->c, "direct", 6) == 0, "send");
	CHECK(read_exact(x->s, got, 6) == 0 && !memcmp(got, "direct", 6), "direct not at S");
	CHECK(!readable(x->a, 100), "data at A after the hand-over");
	c1 = counters();
	CHECK(c1.handover_c2s == c0.handover_c2s + 1 && c1.bytes_c2s == c0.bytes_c2s + 6 &&
		      c1.msgs_redirected == c0.msgs_redirected + 1,
	      "counters: handover_c2s +%llu bytes_c2s +%llu",
	      (unsigned long long)(c1.handover_c2s - c0.handover_c2s),
	      (unsigned long long)(c1.bytes_c2s - c0.bytes_c2s));
	e = end_of(&x->ck, &err);
	CHECK(!err && e.mode == BP_BYPASS_MODE_INGRESS && e.redirected == 6 && e.handovers == 1 &&
		      e.used_gen == 2 && e.passed == 8,
	      "after hand-over: mode %u redirected %llu handovers %u gen %u", e.mode,
	      (unsigned long long)e.redirected, e.handovers, e.used_gen);
	es = end_of(&x->sk, &err);
	if (tracking)
		CHECK(!err && es.ingress_read == 6, "S ingress_read %llu, expected 6",
		      (unsigned long long)es.ingress_read);

	/* Budget: S stops reading; C's redirects stop after the budget, the rest goes to A. */
	grant(&x->ck, &x->sk, 8, 2, BUDGET); /* same gen: only the budget changes */
	unread0 = e.redirected - es.ingress_read;
	expect_redir = (int)((BUDGET - unread0) / CHUNK);
	c0 = counters();
	for (int i = 0; i < 8; i++) {
		fill_pattern(buf + i * CHUNK, CHUNK, (unsigned)i);
		CHECK(send_all(x->c, buf + i * CHUNK, CHUNK) == 0, "send chunk %d: %s", i,
		      strerror(errno));
	}
	e = end_of(&x->ck, &err);
	c1 = counters();
	CHECK(!err && e.redirected == 6 + (uint64_t)expect_redir * CHUNK &&
		      e.last_return == BP_BYPASS_RET_BUDGET && e.returns == 1 &&
		      e.mode == BP_BYPASS_MODE_RELAY && e.egressed == 0,
	      "budget: redirected %llu (expected %llu) last_return %u returns %u mode %u "
	      "egressed %llu",
	      (unsigned long long)e.redirected,
	      (unsigned long long)(6 + (uint64_t)expect_redir * CHUNK), e.last_return, e.returns,
	      e.mode, (unsigned long long)e.egressed);
	/* Over the budget the direction goes back to RELAY by itself, never to EGRESS. */
	CHECK(c1.return_budget == c0.return_budget + 1 && c1.to_egress_c2s == c0.to_egress_c2s &&
		      c1.return_no_out == c0.return_no_out,
	      "return_budget +%llu to_egress_c2s +%llu return_no_out +%llu",
	      (unsigned long long)(c1.return_budget - c0.return_budget),
	      (unsigned long long)(c1.to_egress_c2s - c0.to_egress_c2s),
	      (unsigned long long)(c1.return_no_out - c0.return_no_out));
	passed = e.passed;
	CHECK(passed == 8 + (uint64_t)(8 - expect_redir) * CHUNK, "passed %llu",
	      (unsigned long long)passed);
	/* The rest arrived at A over TCP; the relay carries it to B. S reads the redirected bytes
	 * (its ingress queue) first, then the relayed ones: the whole stream in order. */
	CHECK(relay(x->a, x->b, (size_t)(8 - expect_redir) * CHUNK) == 0, "relay the rest");
	CHECK(!readable(x->a, 50), "more than the rest at A");
	memset(got, 0, sizeof(got));
	CHECK(read_exact(x->s, got, (size_t)expect_redir * CHUNK) == 0 &&
		      !memcmp(got, buf, (size_t)expect_redir * CHUNK),
	      "S did not read the redirected bytes first");
	CHECK(read_exact(x->s, got + expect_redir * CHUNK, (size_t)(8 - expect_redir) * CHUNK) ==
			      0 &&
		      !memcmp(got + expect_redir * CHUNK, buf + expect_redir * CHUNK,
			      (size_t)(8 - expect_redir) * CHUNK),
	      "S did not read the relayed bytes after the redirected ones");
	CHECK(!readable(x->s, 50), "more than the stream at S");
	/* The used permission does not switch again. */
	CHECK(send_all(x->c, "x", 1) == 0 && relay(x->a, x->b, 1) == 0 &&
		      read_exact(x->s, got, 1) == 0 && got[0] == 'x',
	      "after the return, data goes over TCP");
	e = end_of(&x->ck, &err);
	CHECK(e.mode == BP_BYPASS_MODE_RELAY && e.handovers == 1 && e.passed == passed + 1,
	      "permission used twice: mode %u handovers %u", e.mode, e.handovers);

	/* After the budget return, a new permission (the relay drained, S read everything)
	 * redirects again. */
	grant(&x->ck, &x->sk, e.passed, 3, BUDGET);
	c0 = counters();
	fill_pattern(buf, CHUNK, 99);
	CHECK(send_all(x->c, buf, CHUNK) == 0, "send");
	CHECK(read_exact(x->s, got, CHUNK) == 0 && !memcmp(got, buf, CHUNK),
	      "after a new permission: chunk not at S");
	CHECK(!readable(x->a, 50), "after a new permission: data at A");
	e = end_of(&x->ck, &err);
	c1 = counters();
	CHECK(e.mode == BP_BYPASS_MODE_INGRESS && e.handovers == 2 && e.used_gen == 3 &&
		      e.returns == 1 && c1.handover_c2s == c0.handover_c2s + 1 &&
		      c1.bytes_c2s == c0.bytes_c2s + CHUNK,
	      "new permission after a budget return: mode %u handovers %u gen %u", e.mode,
	      e.handovers, e.used_gen);

	/* With the receive hook: a reading S keeps the direction in INGRESS past the budget. */
	if (!tracking) {
		printf("# no receive hook: the reading-receiver budget check does not apply\n");
		return;
	}
	c0 = counters();
	for (int i = 0; i < 8; i++) {
		fill_pattern(buf, CHUNK, (unsigned)i + 100);
		CHECK(send_all(x->c, buf, CHUNK) == 0, "send");
		CHECK(read_exact(x->s, got, CHUNK) == 0 && !memcmp(got, buf, CHUNK),
		      "chunk %d not at S", i);
	}
	c1 = counters();
	e = end_of(&x->ck, &err);
	CHECK(e.mode == BP_BYPASS_MODE_INGRESS && e.returns == 1 &&
		      c1.bytes_c2s - c0.bytes_c2s == 8 * CHUNK &&
		      c1.ingress_read - c0.ingress_read == 8 * CHUNK &&
		      c1.return_budget == c0.return_budget,
	      "reading receiver: mode %u returns %u bytes %llu read %llu", e.mode, e.returns,
	      (unsigned long long)(c1.bytes_c2s - c0.bytes_c2s),
	      (unsigned long long)(c1.ingress_read - c0.ingress_read));
	CHECK(!readable(x->a, 50), "data at A while redirecting");
}

static void test_s2c(struct conn *x)
{
	struct bp_bypass_counters c0, c1;
	struct bp_bypass_end e;
	char got[16];
	int err;

	CHECK(send_all(x->s, "pong", 4) == 0 && relay(x->b, x->a, 4) == 0 &&
		      read_exact(x->c, got, 4) == 0 && !memcmp(got, "pong", 4),
	      "s2c over the relay");
	e = end_of(&x->sk, &err);
	CHECK(!err && e.passed == 4 && e.mode == BP_BYPASS_MODE_RELAY, "S passed %llu",
	      (unsigned long long)e.passed);
	c0 = counters();
	grant(&x->sk, &x->ck, 4, 1, BUDGET);
	CHECK(send_all(x->s, "back!", 5) == 0, "send");
	CHECK(read_exact(x->c, got, 5) == 0 && !memcmp(got, "back!", 5), "back! not at C");
	CHECK(!readable(x->b, 100), "s2c data at B after the hand-over");
	c1 = counters();
	CHECK(c1.handover_s2c == c0.handover_s2c + 1 && c1.bytes_s2c == c0.bytes_s2c + 5,
	      "s2c counters");
}

/* S goes away while C redirects: C's sends succeed and go over TCP. */
static void test_no_peer(struct conn *x)
{
	struct bp_bypass_counters c0, c1;
	struct bp_bypass_end e;
	char got[16];
	int err;

	e = end_of(&x->ck, &err);
	if (e.mode != BP_BYPASS_MODE_INGRESS)
		grant(&x->ck, &x->sk, e.passed, 9, BUDGET);
	c0 = counters();
	close(x->s);
	x->s = -1;
	for (int i = 0; i < 3; i++) {
		errno = 0;
		CHECK(send(x->c, "late", 4, MSG_NOSIGNAL) == 4, "send %d after S closed: %s", i,
		      strerror(errno));
		CHECK(read_exact(x->a, got, 4) == 0 && !memcmp(got, "late", 4),
		      "send %d after S closed not at A", i);
	}
	e = end_of(&x->ck, &err);
	c1 = counters();
	CHECK(e.mode == BP_BYPASS_MODE_RELAY && e.last_return == BP_BYPASS_RET_NO_PEER,
	      "no peer: mode %u last_return %u", e.mode, e.last_return);
	CHECK(c1.return_no_peer == c0.return_no_peer + 1, "return_no_peer counter");
}

/* c0: the counters from before S was closed (S's entries go when it reaches TCP_CLOSE, which
 * for a closed socket whose FIN was acknowledged is at once). */
static void test_closed(struct conn *x, struct bp_bypass_counters c0)
{
	struct bp_bypass_counters c1;
	int err_c = 0, err_s = 0, i;

	conn_close(x);
	for (i = 0; i < 40; i++) {
		end_of(&x->ck, &err_c);
		end_of(&x->sk, &err_s);
		if (err_c == -ENOENT && err_s == -ENOENT)
			break;
		usleep(50000);
	}
	c1 = counters();
	CHECK(err_c == -ENOENT && err_s == -ENOENT, "entries left after close: C %d S %d", err_c,
	      err_s);
	CHECK(c1.ends_closed - c0.ends_closed == 2, "ends_closed +%llu",
	      (unsigned long long)(c1.ends_closed - c0.ends_closed));
	CHECK(map_entries("bypass_ends") == 0 && map_entries("bypass_cookies") == 0,
	      "bypass_ends %d / bypass_cookies %d entries left", map_entries("bypass_ends"),
	      map_entries("bypass_cookies"));
}

/* A dual-stack client reaching an IPv4 listener through ::ffff:127.0.0.1 is keyed as AF_INET. */
static void test_v4mapped(void)
{
	struct sockaddr_in6 sin6;
	struct bp_bypass_listen lk;
	struct bp_bypass_key ck;
	struct bp_bypass_end e;
	int l, c, a, err;

	l = tcp_listener(AF_INET);
	memset(&lk, 0, sizeof(lk));
	lk.netns_cookie = netns_cookie;
	key_ip(AF_INET, lk.ip);
	lk.port = local_port(l);
	lk.family = AF_INET;
	CHECK(bp_bypass_listen_add(byp, &lk) == 0, "listen_add");
	c = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(lk.port);
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &sin6.sin6_addr);
	CHECK(connect(c, (struct sockaddr *)&sin6, sizeof(sin6)) == 0, "connect v4-mapped");
	a = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	ck = key_of(AF_INET, local_port(c), lk.port);
	e = end_of(&ck, &err);
	CHECK(!err && e.role == BP_BYPASS_ROLE_CLIENT, "v4-mapped client not keyed as AF_INET");
	CHECK(bp_bypass_end_del(byp, &ck) == 0, "end_del");
	end_of(&ck, &err);
	CHECK(err == -ENOENT, "end_del left the entry");
	CHECK(send_all(c, "ok", 2) == 0, "send after end_del");
	close(c);
	close(a);
	close(l);
	bp_bypass_listen_del(byp, &lk);
}

static void test_family(int family, enum conn_expect how)
{
	struct bp_bypass_counters c0;
	struct conn x;

	conn_open(&x, family, how, 0);
	test_roles(&x);
	test_c2s(&x);
	test_s2c(&x);
	c0 = counters();
	test_no_peer(&x);
	test_closed(&x, c0);
}

/* ---- Loader: pins, sharing, stop, killed instance, no privileges ---- */

/* The id of the map pinned at dir/name, or 0. */
static uint32_t pinned_map_id(const char *dir, const char *name)
{
	struct bpf_map_info info;
	char path[PATH_MAX + 64];
	__u32 len = sizeof(info);
	int fd;

	snprintf(path, sizeof(path), "%.*s/%s", PATH_MAX - 1, dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.id = 0;
	close(fd);
	return info.id;
}

/* How many sock_ops programs attached to cgroup use map map_id: 1 while an instance whose
 * bypass_listen is map_id runs (other instances, e.g. concurrent test runs, do not count). */
static int cgroup_progs_using(const char *cgroup, uint32_t map_id)
{
	__u32 ids[64], cnt = 64, flags = 0, maps[32];
	int cg = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC), n = 0;

	if (cg < 0)
		return -1;
	if (bpf_prog_query(cg, BPF_CGROUP_SOCK_OPS, 0, &flags, ids, &cnt)) {
		close(cg);
		return -1;
	}
	close(cg);
	for (__u32 i = 0; i < cnt; i++) {
		struct bpf_prog_info info;
		__u32 len = sizeof(info);
		int fd = bpf_prog_get_fd_by_id(ids[i]);

		if (fd < 0)
			continue;
		memset(&info, 0, sizeof(info));
		info.nr_map_ids = 32;
		info.map_ids = (__u64)(unsigned long)maps;
		if (!bpf_obj_get_info_by_fd(fd, &info, &len)) {
			for (__u32 j = 0; j < info.nr_map_ids && j < 32; j++)
				n += maps[j] == map_id;
		}
		close(fd);
	}
	return n;
}

static bool dump_has(const char *map, const char *word)
{
	char cmd[PATH_MAX + 128], out[65536];
	size_t n;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "bpftool map dump pinned '%s/%s' 2>&1", bp_bypass_pin_dir(byp),
		 map);
	p = popen(cmd, "r");
	if (!p)
		return false;
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	pclose(p);
	return strstr(out, word) != NULL;
}

static void test_pins(const char *cgroup)
{
	static const char *const pins[] = { "bypass_listen",	    "bypass_expect",
					    "bypass_expect_cookie", "bypass_ends",
					    "bypass_ctl",	    "bypass_cookies",
					    "bypass_counters",	    "bypass_daemon",
					    "bypass_instance" };
	struct bp_bypass_daemon_stats ds;
	char path[PATH_MAX + 64];
	struct stat st;

	for (size_t i = 0; i < sizeof(pins) / sizeof(pins[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", bp_bypass_pin_dir(byp), pins[i]);
		CHECK(!stat(path, &st) && (st.st_mode & 0777) == 0600, "pin %s", path);
	}
	snprintf(path, sizeof(path), "%s/bypass_sockets", bp_bypass_pin_dir(byp));
	CHECK(stat(path, &st) && errno == ENOENT, "bypass_sockets must not be pinned");
	snprintf(path, sizeof(path), "%s/bypass_out", bp_bypass_pin_dir(byp));
	CHECK(stat(path, &st) && errno == ENOENT, "bypass_out must not be pinned");
	memset(&ds, 0, sizeof(ds));
	ds.conns_registered = 3;
	CHECK(bp_bypass_daemon_stats_set(byp, &ds) == 0, "daemon stats");
	CHECK(dump_has("bypass_daemon", "conns_registered"), "bypass_daemon dump");
	CHECK(dump_has("bypass_counters", "handover_c2s"), "bypass_counters dump");
	CHECK(dump_has("bypass_instance", "pid_start_time"), "bypass_instance dump");
	CHECK(cgroup_progs_using(cgroup, pinned_map_id(bp_bypass_pin_dir(byp), "bypass_listen")) ==
		      1,
	      "our sock_ops program is not on cgroup %s", cgroup);
}

/* A tap loader of this process made the directory first (simulated: a pinned "instance" map
 * naming us): the bypass joins it, and leaves it and the tap's pins at stop. */
static void test_shared_dir(const char *root)
{
	struct bp_bypass_params p;
	struct bp_instance owner;
	char dir[PATH_MAX], path[PATH_MAX + 64], line[512];
	struct bp_bypass *b;
	struct stat st;
	__u32 key = 0;
	int fd;

	snprintf(dir, sizeof(dir), "%.*s/bpasst/%u", PATH_MAX - 64, root, (unsigned)getpid());
	snprintf(path, sizeof(path), "%s/bpasst", root);
	mkdir(path, 0755);
	CHECK(!mkdir(dir, 0700), "mkdir %s: %s", dir, strerror(errno));
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "instance", 4, sizeof(owner), 1, NULL);
	memset(&owner, 0, sizeof(owner));
	owner.pid = (__u32)getpid();
	snprintf(path, sizeof(path), "%s/instance", dir);
	CHECK(fd >= 0 && !bpf_map_update_elem(fd, &key, &owner, BPF_ANY) && !bpf_obj_pin(fd, path),
	      "simulated tap pins");
	params_fill(&p, "");
	b = bp_bypass_start(&p, line, sizeof(line));
	CHECK(b && !strcmp(bp_bypass_pin_dir(b), dir), "did not join %s: %s", dir, line);
	bp_bypass_stop(b);
	CHECK(!stat(path, &st), "the tap's pin went with the bypass");
	snprintf(path, sizeof(path), "%s/bypass_ends", dir);
	CHECK(stat(path, &st) && errno == ENOENT, "bypass pins left in the shared directory");
	snprintf(path, sizeof(path), "%s/instance", dir);
	unlink(path);
	rmdir(dir);
	if (fd >= 0)
		close(fd);
}

/* The child's part of test_killed(): an instance that will be killed. */
static const char *killed_start(void *arg)
{
	char line[512];
	struct bp_bypass_params p;
	struct bp_bypass *b;

	(void)arg;
	params_fill(&p, "bpasst-test-bypass-killed");
	b = bp_bypass_start(&p, line, sizeof(line));
	return b ? bp_bypass_pin_dir(b) : NULL;
}

static void test_killed(const char *cgroup)
{
	char line[512], dir[PATH_MAX];
	struct bp_bypass_params p;
	struct bp_bypass *b;
	int status, i;
	uint32_t map_id;
	struct stat st;
	ssize_t n;

	n = killed_child_run(killed_start, NULL, dir, &status);
	CHECK(WIFSIGNALED(status), "child not killed");
	CHECK(n > 0, "child could not start");
	if (n <= 0)
		return;
	map_id = pinned_map_id(dir, "bypass_listen");
	CHECK(map_id != 0, "no bypass_listen pinned by the killed instance");
	for (i = 0; i < 40 && cgroup_progs_using(cgroup, map_id) != 0; i++)
		usleep(50000);
	CHECK(map_id && cgroup_progs_using(cgroup, map_id) == 0,
	      "a killed instance left its sock_ops program on %s", cgroup);
	CHECK(!stat(dir, &st), "the killed instance left no pins");
	params_fill(&p, "bpasst-test-bypass-next");
	b = bp_bypass_start(&p, line, sizeof(line));
	CHECK(b != NULL, "start after a killed instance: %s", line);
	CHECK(stat(dir, &st) && errno == ENOENT, "stale pins %s not removed", dir);
	bp_bypass_stop(b);
}

static void test_unprivileged(void)
{
	struct bp_bypass_params p;
	char line[512] = "";
	int pipefd[2], status;
	pid_t child;
	ssize_t n;

	if (pipe(pipefd)) {
		CHECK(0, "pipe");
		return;
	}
	child = fork();
	if (child == 0) {
		struct bp_bypass *cb;

		close(pipefd[0]);
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(3);
		params_fill(&p, "bpasst-test-bypass-unpriv");
		cb = bp_bypass_start(&p, line, sizeof(line));
		if (write(pipefd[1], line, strlen(line)) < 0)
			_exit(3);
		_exit(cb ? 1 : 0);
	}
	close(pipefd[1]);
	n = read(pipefd[0], line, sizeof(line) - 1);
	close(pipefd[0]);
	line[n > 0 ? n : 0] = '\0';
	printf("# unprivileged: %s\n", line);
	CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && !WEXITSTATUS(status),
	      "unprivileged start did not fall back");
	CHECK(!strncmp(line, "BPF bypass: off: bpf() not permitted", 36), "line: %s", line);
}

int main(void)
{
	char line[768], cgroup[PATH_MAX], root[PATH_MAX], dir[PATH_MAX];
	uint32_t listen_id;
	struct stat st;
	char *s, *e;
	int rc;

	rc = fixture_start(INSTANCE, line, sizeof(line));
	if (rc)
		return rc;
	s = strstr(line, "cgroup ") + 7;
	e = strchr(s, ',');
	snprintf(cgroup, sizeof(cgroup), "%.*s", (int)(e ? e - s : 0), s);
	snprintf(root, sizeof(root), "%s", bp_bypass_pin_dir(byp));
	*strstr(root, "/bpasst/") = '\0';

	STEP("pins and dumps", test_pins(cgroup));
	STEP("IPv4 (expect by key): roles, c2s, budget, s2c, no peer, close",
	     test_family(AF_INET, EXPECT_KEY));
	STEP("IPv6 (expect by cookie): roles, c2s, budget, s2c, no peer, close",
	     test_family(AF_INET6, EXPECT_COOKIE));
	STEP("IPv4-mapped client keyed as AF_INET, end_del", test_v4mapped());
	STEP("bypass_counters dump", CHECK(dump_has("bypass_counters", "ends_closed"), "dump"));

	snprintf(dir, sizeof(dir), "%s", bp_bypass_pin_dir(byp));
	listen_id = pinned_map_id(dir, "bypass_listen");
	bp_bypass_stop(byp);
	byp = NULL;
	STEP("stop", {
		CHECK(stat(dir, &st) && errno == ENOENT, "pin dir %s left", dir);
		CHECK(listen_id && cgroup_progs_using(cgroup, listen_id) == 0,
		      "sock_ops still on %s", cgroup);
	});
	STEP("shared pin directory", test_shared_dir(root));
	STEP("killed instance", test_killed(cgroup));
	STEP("unprivileged fallback", test_unprivileged());

	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("bypass ok\n");
	return 0;
}
