// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_loader.c - the loader end to end, as root, in a fresh network namespace
 *
 * Sets up what pasta has: a network namespace (unshare) holding a tap device whose fd we keep
 * open (carrier up, addresses 192.0.2.2/24 and 2001:db8::2/64), then, from outside it:
 *   - bp_loader_start() with the namespace fd: the log line says "on", the four maps are pinned
 *     with mode 0600 in a 0700 directory, `bpftool map dump pinned` prints their field names,
 *     `tc filter show` inside the namespace shows the program at egress in direct-action mode;
 *   - the namespace's own stack uses it: ping and ping -6 to the gateway get answers (ARP, NS
 *     and echo answered in BPF, nothing reaches the tap fd), the counters say so, and a router
 *     solicitation sent when the link comes up is answered with an RA that the kernel accepts
 *     (a default route via fe80::1 appears);
 *   - bp_loader_stop(): pins and filter gone;
 *   - stale pins: a child starts an instance and dies by SIGKILL; its pins stay until the next
 *     start, which removes them and replaces its filter; a live instance's name cannot be taken;
 *   - without privileges (uid 65534), start falls back with a reason.
 * Mounts happen in a private mount namespace, so nothing leaks into the machine's.
 *
 * Needs root (bpf(), CAP_NET_ADMIN, setns, /dev/net/tun); otherwise exits 77 (SKIP) with the
 * reason. Only documentation addresses, only inside the private namespace.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/if_tun.h>

#include "bpasst_maps.h"
#include "bpf_check.h"
#include "killed_child.h"
#include "loader.h"

#define TAP "bptap0"

static int orig_ns = -1, test_ns = -1, tap_fd = -1;

/* Run a shell command (inside the test namespace if in_ns), its output into out. Exit status. */
static int run(bool in_ns, const char *cmd, char *out, size_t out_len)
{
	size_t n = 0;
	FILE *p;
	int st;

	if (in_ns && setns(test_ns, CLONE_NEWNET))
		return -1;
	p = popen(cmd, "r");
	if (p) {
		while (out && n + 1 < out_len) {
			size_t r = fread(out + n, 1, out_len - 1 - n, p);

			if (!r)
				break;
			n += r;
		}
		if (out)
			out[n] = '\0';
		st = pclose(p);
	} else {
		st = -1;
	}
	if (in_ns && setns(orig_ns, CLONE_NEWNET)) {
		perror("setns back");
		exit(2);
	}
	return st == -1 ? -1 : (WIFEXITED(st) ? WEXITSTATUS(st) : 128);
}

static int run_quiet(bool in_ns, const char *cmd)
{
	char sink[4096];

	return run(in_ns, cmd, sink, sizeof(sink));
}

/* The namespace with its tap. 0, or -1 with a reason. */
static int netns_setup(char *reason, size_t reason_len)
{
	struct ifreq ifr;

	orig_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (orig_ns < 0 || unshare(CLONE_NEWNET)) {
		snprintf(reason, reason_len, "cannot create a network namespace: %s",
			 strerror(errno));
		return -1;
	}
	test_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	tap_fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (tap_fd < 0) {
		snprintf(reason, reason_len, "cannot open /dev/net/tun: %s", strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", TAP);
	if (ioctl(tap_fd, TUNSETIFF, &ifr)) {
		snprintf(reason, reason_len, "cannot create the tap: %s", strerror(errno));
		return -1;
	}
	if (setns(orig_ns, CLONE_NEWNET)) {
		snprintf(reason, reason_len, "setns back: %s", strerror(errno));
		return -1;
	}
	if (run_quiet(true,
		      "ip link set lo up && "
		      "sysctl -qw net.ipv6.conf." TAP ".accept_dad=0 && "
		      "sysctl -qw net.ipv6.conf." TAP ".accept_ra=1 && "
		      "ip link set " TAP " address 02:00:5e:00:53:01 up && "
		      "ip addr add 192.0.2.2/24 dev " TAP " && "
		      "ip -6 addr add 2001:db8::2/64 dev " TAP " nodad")) {
		snprintf(reason, reason_len, "cannot configure the namespace (ip, sysctl)");
		return -1;
	}
	return 0;
}

static void params_fill(struct bp_loader_params *p, const char *instance)
{
	struct bp_tap_config *c = &p->config;
	static const uint8_t mac[6] = { 0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55 };
	static const uint8_t gw6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	static const uint8_t g6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };
	static const uint8_t ll[16] = { 0xfe, 0x80, [15] = 1 };
	static const uint8_t dnssl_names[] = { 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0 };

	memset(p, 0, sizeof(*p));
	p->mode = BP_LOADER_ON;
	p->netns_fd = test_ns;
	snprintf(p->tap_name, sizeof(p->tap_name), "%s", TAP);
	snprintf(p->instance, sizeof(p->instance), "%s", instance);
	p->pin_uid = p->pin_gid = BP_LOADER_NO_CHOWN;
	p->flow_mirror_max = 64;
	p->verbose = 1;

	c->flags = BP_CFG_ARP | BP_CFG_IP4_GW | BP_CFG_NDP | BP_CFG_RA | BP_CFG_ECHO4 |
		BP_CFG_ECHO6 | BP_CFG_IP6_GW | BP_CFG_RA_PREFIX;
	memcpy(c->our_mac, mac, 6);
	memcpy(c->ip4_guest, (uint8_t[]){ 192, 0, 2, 2 }, 4);
	memcpy(c->ip4_gw, (uint8_t[]){ 192, 0, 2, 1 }, 4);
	memcpy(c->ip4_echo, (uint8_t[]){ 192, 0, 2, 1 }, 4);
	memcpy(c->ip6_our_ll, ll, 16);
	memcpy(c->ip6_ra_src, ll, 16);
	memcpy(c->ip6_gw, gw6, 16);
	memcpy(c->ip6_echo, gw6, 16);
	memcpy(c->ip6_guest, g6, 16);
	memcpy(c->ip6_prefix, g6, 16);
	c->ip6_prefix_len = BP_RA_PREFIX_LEN;
	c->mtu = 1500;
	c->rdnss_count = 1;
	memcpy(c->rdnss[0], gw6, 16);
	CHECK(bp_tap_config_set_dnssl(c, dnssl_names, sizeof(dnssl_names)) == 0, "dnssl");
	CHECK(c->dnssl_len == 24 && c->dnssl[0] == 31 && c->dnssl[1] == 3 && c->dnssl[4] == 0xff &&
		      c->dnssl[8] == 7 && c->dnssl[16] == 0 && c->dnssl[23] == 0,
	      "dnssl option layout");
}

static bool pin_exists(const char *dir, const char *name, mode_t *mode)
{
	char path[PATH_MAX + 64];
	struct stat st;

	snprintf(path, sizeof(path), "%.*s/%s", PATH_MAX - 1, dir, name);
	if (stat(path, &st))
		return false;
	if (mode)
		*mode = st.st_mode;
	return true;
}

static bool dump_has(const char *dir, const char *map, const char *const *words)
{
	char cmd[PATH_MAX + 128], out[65536];

	snprintf(cmd, sizeof(cmd), "bpftool map dump pinned %.*s/%.32s 2>&1", PATH_MAX - 1, dir,
		 map);
	if (run(false, cmd, out, sizeof(out)))
		return false;
	for (; *words; words++) {
		if (!strstr(out, *words)) {
			fprintf(stderr, "bpftool dump of %s lacks '%s':\n%s\n", map, *words, out);
			return false;
		}
	}
	return true;
}

static int filters_on_tap(void)
{
	char out[8192], *p = out;
	int n = 0;

	if (run(true, "tc filter show dev " TAP " egress 2>&1", out, sizeof(out)))
		return -1;
	while ((p = strstr(p, "direct-action"))) { /* once per filter line */
		n++;
		p++;
	}
	return n;
}

static void test_start_stop(void)
{
	static const char *const counter_fields[] = { "eth_ip4", "answered_arp", "passed",
						      "drop_ndp_hop_limit", NULL };
	static const char *const config_fields[] = { "our_mac", "ip6_ra_src", "dnssl", NULL };
	static const char *const instance_fields[] = { "pid", "pid_start_time", "\"" TAP "\"",
						       NULL };
	static const char *const mirror_fields[] = { "bytes_from_guest",
						     "BP_FLOW_STATE_ESTABLISHED", "src_port",
						     NULL };
	struct bp_loader_params p;
	struct bp_tap_counters cnt;
	struct bp_flow_mirror fm;
	char line[512], dir[PATH_MAX], out[8192];
	struct bp_loader *l;
	struct stat st;
	mode_t mode = 0;
	int i;

	params_fill(&p, "bpasst-test-main");
	l = bp_loader_start(&p, line, sizeof(line));
	printf("# %s\n", line);
	CHECK(l != NULL, "start failed: %s", line);
	if (!l)
		return;
	CHECK(!strncmp(line, "BPF fast path: on (tc egress on " TAP, 37), "log line: %s", line);
	snprintf(dir, sizeof(dir), "%s", bp_loader_pin_dir(l));
	CHECK(strstr(dir, "/bpasst/bpasst-test-main") != NULL, "pin dir %s", dir);
	CHECK(!stat(dir, &st) && (st.st_mode & 0777) == 0700, "pin dir mode %o", st.st_mode & 0777);
	for (i = 0; i < 4; i++) {
		const char *name = (const char *[]){ "tap_config", "tap_counters", "flow_mirror",
						     "instance" }[i];

		CHECK(pin_exists(dir, name, &mode) && (mode & 0777) == 0600, "pin %s mode %o", name,
		      mode & 0777);
	}
	CHECK(!pin_exists(dir, "tap_scratch", NULL), "scratch map must not be pinned");

	memset(&fm, 0, sizeof(fm));
	fm.proto = 6;
	fm.state = BP_FLOW_STATE_ESTABLISHED;
	fm.tap.src_port = 40000;
	fm.tap.dst_port = 80;
	fm.bytes_from_guest = 1234;
	CHECK(bp_loader_mirror_update(l, 3, &fm, true) == 0, "mirror write");
	fm.bytes_from_guest = 2000;
	CHECK(bp_loader_mirror_update(l, 3, &fm, false) == 1, "mirror refresh not rate limited");
	CHECK(bp_loader_mirror_update(l, 64, &fm, true) == -ERANGE, "mirror id out of range");

	CHECK(dump_has(dir, "tap_counters", counter_fields), "counters dump");
	CHECK(dump_has(dir, "tap_config", config_fields), "config dump");
	CHECK(dump_has(dir, "instance", instance_fields), "instance dump");
	CHECK(dump_has(dir, "flow_mirror", mirror_fields), "mirror dump");
	CHECK(bp_loader_mirror_delete(l, 3) == 0, "mirror delete");

	CHECK(run(true, "tc filter show dev " TAP " egress", out, sizeof(out)) == 0 &&
		      strstr(out, "bp_tap_egress") && strstr(out, "direct-action"),
	      "tc filter: %s", out);

	/* The namespace's stack, answered in BPF. */
	CHECK(run_quiet(true, "ping -n -c 1 -W 3 192.0.2.1") == 0, "ping 192.0.2.1");
	CHECK(run_quiet(true, "ping -6 -n -c 1 -W 3 2001:db8::1") == 0, "ping 2001:db8::1");
	CHECK(bp_loader_counters(l, &cnt) == 0, "counters");
	CHECK(cnt.answered_arp >= 1 && cnt.answered_echo4 >= 1 && cnt.answered_na >= 1 &&
		      cnt.answered_echo6 >= 1,
	      "answered arp %llu echo4 %llu na %llu echo6 %llu",
	      (unsigned long long)cnt.answered_arp, (unsigned long long)cnt.answered_echo4,
	      (unsigned long long)cnt.answered_na, (unsigned long long)cnt.answered_echo6);

	/* Router solicitation at link up, answered with an RA the kernel accepts. */
	CHECK(run_quiet(true, "ip link set " TAP " down && ip link set " TAP " up") == 0,
	      "link down/up");
	for (i = 0; i < 40; i++) {
		if (run(true, "ip -6 route show default dev " TAP, out, sizeof(out)) == 0 &&
		    strstr(out, "fe80::1"))
			break;
		usleep(250000);
	}
	CHECK(strstr(out, "fe80::1") != NULL, "no default route from the RA: '%s'", out);
	CHECK(bp_loader_counters(l, &cnt) == 0 && cnt.answered_ra >= 1, "answered ra %llu",
	      (unsigned long long)cnt.answered_ra);
	CHECK(run(true, "ip -6 addr show dev " TAP, out, sizeof(out)) == 0 &&
		      strstr(out, "2001:db8::") && strstr(out, "dynamic"),
	      "no SLAAC address from the RA prefix: %s", out);

	bp_loader_stop(l);
	CHECK(stat(dir, &st) && errno == ENOENT, "pin dir %s still there after stop", dir);
	CHECK(filters_on_tap() == 0, "filter still attached after stop");
	CHECK(run(true, "tc qdisc show dev " TAP, out, sizeof(out)) == 0 && !strstr(out, "clsact"),
	      "clsact qdisc we created is still there: %s", out);
}

/* The child's part of test_stale(): an instance that will be killed. */
static const char *stale_start(void *arg)
{
	char line[512];
	struct bp_loader_params p;
	struct bp_loader *l;

	(void)arg;
	params_fill(&p, "bpasst-test-stale");
	l = bp_loader_start(&p, line, sizeof(line));
	return l ? bp_loader_pin_dir(l) : NULL;
}

static void test_stale(void)
{
	char line[512], stale_dir[PATH_MAX];
	struct bp_loader_params p;
	struct bp_loader *l, *l2;
	struct stat st;
	int status;
	ssize_t n;

	/* A child starts an instance, reports its pin directory, and is killed with SIGKILL. */
	n = killed_child_run(stale_start, NULL, stale_dir, &status);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child did not die by SIGKILL");
	CHECK(n > 0, "child could not start its instance");
	if (n <= 0)
		return;
	CHECK(!stat(stale_dir, &st), "the killed instance left no pins (%s)", stale_dir);
	CHECK((n = filters_on_tap()) == 1, "the killed instance's filter is not there (%zd)", n);

	/* The next start cleans up after it, and replaces its filter. */
	params_fill(&p, "bpasst-test-next");
	l = bp_loader_start(&p, line, sizeof(line));
	CHECK(l != NULL, "start after a killed instance: %s", line);
	CHECK(stat(stale_dir, &st) && errno == ENOENT, "stale pins %s not removed", stale_dir);
	CHECK((n = filters_on_tap()) == 1, "expected exactly one filter after the restart, not %zd",
	      n);

	/* A live instance's name cannot be taken, and its pins survive another start's cleanup. */
	params_fill(&p, "bpasst-test-next");
	p.netns_fd = -1; /* would not get far: the name check comes first */
	l2 = bp_loader_start(&p, line, sizeof(line));
	CHECK(l2 == NULL && strstr(line, "in use"), "a live instance name was taken: %s", line);
	bp_loader_stop(l2);
	if (l)
		CHECK(!stat(bp_loader_pin_dir(l), &st), "live instance's pins were removed");
	bp_loader_stop(l);
	CHECK(filters_on_tap() == 0, "filter left after stop");
}

static void test_unprivileged(void)
{
	struct bp_loader_params p;
	int pipefd[2], status;
	char line[512] = "";
	pid_t child;
	ssize_t n;

	if (pipe(pipefd)) {
		CHECK(0, "pipe");
		return;
	}
	child = fork();
	if (child == 0) {
		struct bp_loader *cl;

		close(pipefd[0]);
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(3);
		params_fill(&p, "bpasst-test-unpriv");
		p.mode = BP_LOADER_AUTO;
		p.verbose = 0;
		cl = bp_loader_start(&p, line, sizeof(line));
		if (write(pipefd[1], line, strlen(line)) < 0)
			_exit(3);
		_exit(cl ? 1 : 0);
	}
	close(pipefd[1]);
	n = read(pipefd[0], line, sizeof(line) - 1);
	close(pipefd[0]);
	line[n > 0 ? n : 0] = '\0';
	printf("# unprivileged: %s\n", line);
	CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && !WEXITSTATUS(status),
	      "unprivileged start did not fall back");
	CHECK(!strncmp(line, "BPF fast path: off: bpf() not permitted", 39), "line: %s", line);
}

int main(void)
{
	char reason[512];
	struct bp_loader *off;
	struct bp_loader_params p;

	if (geteuid() != 0) {
		printf("SKIP: the loader test needs root (bpf(), CAP_NET_ADMIN, setns, tun)\n");
		return BPF_TEST_SKIP;
	}
	if (bp_loader_probe_bpf(reason, sizeof(reason))) {
		printf("SKIP: %s\n", reason);
		return BPF_TEST_SKIP;
	}
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		printf("SKIP: cannot make a private mount namespace: %s\n", strerror(errno));
		return BPF_TEST_SKIP;
	}
	if (netns_setup(reason, sizeof(reason))) {
		printf("SKIP: %s\n", reason);
		return BPF_TEST_SKIP;
	}

	memset(&p, 0, sizeof(p));
	p.mode = BP_LOADER_OFF;
	off = bp_loader_start(&p, reason, sizeof(reason));
	CHECK(!off && !strcmp(reason, "BPF fast path: off: disabled (--bpf off)"), "off: %s",
	      reason);
	printf("%s mode off\n", failures ? "not ok" : "ok");

	int before = failures;
	test_start_stop();
	printf("%s start, pins, dumps, live answers, stop\n", failures > before ? "not ok" : "ok");
	before = failures;
	test_stale();
	printf("%s stale pins of a killed instance\n", failures > before ? "not ok" : "ok");
	before = failures;
	test_unprivileged();
	printf("%s unprivileged fallback\n", failures > before ? "not ok" : "ok");

	close(tap_fd);
	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("loader ok\n");
	return 0;
}
