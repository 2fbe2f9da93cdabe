/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_conf.c - unit tests for the command line (user/conf.c) and the value parsers and defaults
 * (user/core/config.c)
 *
 * conf_parse() exits on errors, --help and --version, so every command line runs in a forked
 * child: config_defaults(), conf_parse(), then the child writes the resulting struct config to a
 * memfd and exits with CHILD_RETURNED. The parent reads back the exit status, stdout, stderr and
 * the struct, and checks them. Pointers inside the struct (cmd) stay comparable because the child
 * is a copy of the parent's address space. The forwarding-spec grammar and the other floor-1
 * parsers are pure functions and are called directly.
 *
 * Every check counts a failure and the program exits non-zero if any failed.
 */
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "core/config_parse.h"
#include "core/log.h"

#define CHILD_RETURNED 200 /* exit status of a child whose conf_parse() returned */
#define MAX_ARGS 64

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

/* The last run: what the child left behind. */
static struct {
	int status; /* exit status, -1 if killed */
	char out[32768];
	char err[4096];
	struct config c;
	bool have_config;
} R;

static char *run_argv[MAX_ARGS + 1];
static char run_desc[512];

static void read_memfd(int fd, char *buf, size_t size)
{
	ssize_t n = pread(fd, buf, size - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
}

/* Run conf_parse() on args (NULL-terminated, args[0] the program name) in a child. */
static void run(const char *const *args)
{
	int fd_out = memfd_create("out", 0), fd_err = memfd_create("err", 0);
	int fd_cfg = memfd_create("cfg", 0);
	int argc = 0, wstatus;
	pid_t pid;

	run_desc[0] = '\0';
	for (argc = 0; args[argc] && argc < MAX_ARGS; argc++) {
		run_argv[argc] = (char *)args[argc];
		snprintf(run_desc + strlen(run_desc), sizeof(run_desc) - strlen(run_desc), "%s%s",
			 argc ? " " : "", args[argc]);
	}
	run_argv[argc] = NULL;

	if (fd_out < 0 || fd_err < 0 || fd_cfg < 0) {
		perror("memfd_create");
		exit(2);
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (!pid) {
		struct config c;

		alarm(10);
		dup2(fd_out, STDOUT_FILENO);
		dup2(fd_err, STDERR_FILENO);
		config_defaults(&c, conf_mode_from_argv0(run_argv[0]), NULL);
		conf_parse(&c, argc, run_argv);
		fflush(stdout);
		if (write(fd_cfg, &c, sizeof(c)) != (ssize_t)sizeof(c))
			_exit(3);
		_exit(CHILD_RETURNED);
	}
	if (waitpid(pid, &wstatus, 0) != pid) {
		perror("waitpid");
		exit(2);
	}
	R.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
	read_memfd(fd_out, R.out, sizeof(R.out));
	read_memfd(fd_err, R.err, sizeof(R.err));
	R.have_config = pread(fd_cfg, &R.c, sizeof(R.c), 0) == (ssize_t)sizeof(R.c);
	close(fd_out);
	close(fd_err);
	close(fd_cfg);
}

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* The command line must parse: conf_parse() returned, nothing on stderr. */
#define OK(...) run_ok(__LINE__, ARGS(__VA_ARGS__))
static const struct config *run_ok(int line, const char *const *args)
{
	static struct config zero;

	run(args);
	CHECK(R.status == CHILD_RETURNED && R.have_config,
	      "line %d: '%s' should parse, got status %d, stderr: %s", line, run_desc, R.status,
	      R.err);
	CHECK(!R.err[0], "line %d: '%s' printed on stderr: %s", line, run_desc, R.err);
	return R.have_config ? &R.c : &zero;
}

/* The command line must fail: status 1, one line "<prog>: ..." containing what, no stdout. */
#define FAILS(what, ...) run_fails(__LINE__, what, ARGS(__VA_ARGS__))
static void run_fails(int line, const char *what, const char *const *args)
{
	const char *prog = conf_mode_from_argv0(args[0]) == MODE_PASTA ? "pasta" : "passt";
	size_t plen = strlen(prog);
	char *nl;

	run(args);
	CHECK(R.status == 1, "line %d: '%s' should exit 1, got %d", line, run_desc, R.status);
	CHECK(!strncmp(R.err, prog, plen) && R.err[plen] == ':' && R.err[plen + 1] == ' ',
	      "line %d: '%s': stderr should start with '%s: ', got: %s", line, run_desc, prog,
	      R.err);
	nl = strchr(R.err, '\n');
	CHECK(nl && !nl[1], "line %d: '%s': stderr should be exactly one line, got: %s", line,
	      run_desc, R.err);
	CHECK(strstr(R.err, what), "line %d: '%s': stderr should contain \"%s\", got: %s", line,
	      run_desc, what, R.err);
	CHECK(!R.out[0], "line %d: '%s': nothing expected on stdout, got: %s", line, run_desc,
	      R.out);
}

static bool addr4_is(struct in_addr a, const char *s)
{
	struct in_addr b;

	return inet_pton(AF_INET, s, &b) == 1 && a.s_addr == b.s_addr;
}

static bool addr6_is(const struct in6_addr *a, const char *s)
{
	struct in6_addr b;

	return inet_pton(AF_INET6, s, &b) == 1 && !memcmp(a, &b, sizeof(b));
}

static void test_defaults_and_modes(void)
{
	static const uint8_t mac[6] = { 0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55 };
	const struct config *c;

	c = OK("passt");
	CHECK(c->mode == MODE_PASST && !strcmp(c->prog_name, "passt"), "passt mode");
	CHECK(c->sock_fd == -1, "sock_fd default -1, got %d", c->sock_fd);
	CHECK(!memcmp(c->our_mac, mac, 6), "default MAC 9a:55:9a:55:9a:55");
	CHECK(c->log_level == LOG_LVL_INFO, "default log level info");
	CHECK(c->log_size == 1048576, "default log size 1 MiB, got %zu", c->log_size);
	CHECK(c->ip4.enabled && c->ip6.enabled, "both IP versions on by default");
	CHECK(c->bpf == BPF_MODE_AUTO, "bpf auto by default");
	CHECK(c->tcp_in.mode == FWD_UNSET && c->udp_in.mode == FWD_UNSET &&
		      c->tcp_out.mode == FWD_UNSET && c->udp_out.mode == FWD_UNSET,
	      "forwarding unset by default");
	CHECK(!c->foreground && c->mtu == 65520 && !c->target_pid && !c->cmd,
	      "passt other defaults (MTU 65520 when no -m)");

	c = OK("/usr/local/bin/pasta");
	CHECK(c->mode == MODE_PASTA && !strcmp(c->prog_name, "pasta"), "pasta from a path");
	CHECK(c->foreground && !c->cmd && !c->target_pid, "pasta spawning a shell: foreground");
	c = OK("pasta.avx2");
	CHECK(c->mode == MODE_PASTA, "pasta.avx2 is pasta");
	c = OK("/opt/bpasst");
	CHECK(c->mode == MODE_PASST, "any other name is passt");

	CHECK(conf_mode_from_argv0("pasta") == MODE_PASTA, "mode pasta");
	CHECK(conf_mode_from_argv0("/x/pasta/passt") == MODE_PASST, "basename decides");
	CHECK(conf_mode_from_argv0(NULL) == MODE_PASST, "NULL argv0");
}

static void test_version_help(void)
{
	char want[64];

	run(ARGS("passt", "--version"));
	snprintf(want, sizeof(want), "passt (bpasst) %s\n", BPASST_VERSION);
	CHECK(R.status == 0, "--version exits 0, got %d", R.status);
	CHECK(!strncmp(R.out, want, strlen(want)), "--version first line, got: %s", R.out);
	CHECK(strstr(R.out, "GPL-2.0-or-later") && strstr(R.out, "Copyright"),
	      "--version licence line, got: %s", R.out);
	CHECK(!R.err[0], "--version: nothing on stderr");
	run(ARGS("pasta", "--version"));
	CHECK(R.status == 0 && !strncmp(R.out, "pasta (bpasst) ", 15), "pasta --version: %s",
	      R.out);

	run(ARGS("passt", "-h"));
	CHECK(R.status == 0, "-h exits 0, got %d", R.status);
	CHECK(strstr(R.out, "Usage: passt") && strstr(R.out, "--socket") &&
		      strstr(R.out, "--one-off") && !strstr(R.out, "--netns") &&
		      !strstr(R.out, "--tcp-ns") && strstr(R.out, "--bpf"),
	      "passt help is passt's: %s", R.out);
	CHECK(strstr(R.out, "--tcp-ports SPEC") && strstr(R.out, "[not implemented yet]"),
	      "help marks options not implemented yet");
	run(ARGS("pasta", "--help"));
	CHECK(R.status == 0, "--help exits 0");
	CHECK(strstr(R.out, "Usage: pasta") && strstr(R.out, "--netns") &&
		      strstr(R.out, "--tcp-ns") && strstr(R.out, "--config-net") &&
		      !strstr(R.out, "--socket") && !strstr(R.out, "--one-off"),
	      "pasta help is pasta's: %s", R.out);
}

static void test_logging_process(void)
{
	const struct config *c;

	CHECK(OK("passt", "-d")->log_level == LOG_LVL_DEBUG, "-d");
	CHECK(OK("passt", "--debug")->log_level == LOG_LVL_DEBUG, "--debug");
	CHECK(OK("passt", "--trace")->log_level == LOG_LVL_TRACE, "--trace");
	CHECK(OK("passt", "-q")->log_level == LOG_LVL_WARN, "-q");
	CHECK(OK("passt", "-d", "-q")->log_level == LOG_LVL_WARN, "last of -d -q wins");
	CHECK(OK("passt", "-q", "--debug")->log_level == LOG_LVL_DEBUG, "last of -q -d wins");
	c = OK("passt", "-f", "-e", "-l", "/tmp/bpasst-test.log", "--log-size", "8192", "-P",
	       "/tmp/bpasst-test.pid", "--runas", "1000:1000");
	CHECK(c->foreground && c->stderr_log, "-f -e");
	CHECK(!strcmp(c->log_file, "/tmp/bpasst-test.log") && c->log_size == 8192, "-l --log-size");
	CHECK(!strcmp(c->pid_file, "/tmp/bpasst-test.pid"), "-P");
	CHECK(!strcmp(c->runas, "1000:1000"), "--runas");
	c = OK("passt", "--foreground", "--stderr", "--log-file=/tmp/x", "--pid", "/tmp/y",
	       "--runas=nobody");
	CHECK(c->foreground && c->stderr_log && !strcmp(c->log_file, "/tmp/x") &&
		      !strcmp(c->pid_file, "/tmp/y") && !strcmp(c->runas, "nobody"),
	      "long forms");

	FAILS("--log-size: 'abc' is not a size", "passt", "--log-size", "abc");
	FAILS("--log-size: '100' is not a size in bytes of at least 4096", "passt", "--log-size",
	      "100");
	FAILS("--log-size", "passt", "--log-size", "-1");
	FAILS("--log-file: empty path", "passt", "-l", "");
	FAILS("--runas: ':x' is not UID[:GID] or LOGIN[:GROUP]", "passt", "--runas", ":x");
	FAILS("--runas", "passt", "--runas", "a:");
	FAILS("--runas", "passt", "--runas", "a:b:c");
	FAILS("--runas: --runas value is too long", "passt", "--runas",
	      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
}

static void test_passt_socket(void)
{
	static char long_path[200];
	const struct config *c;

	c = OK("passt", "-s", "/tmp/bpasst-test.socket");
	CHECK(!strcmp(c->sock_path, "/tmp/bpasst-test.socket") && c->sock_fd == -1, "-s");
	c = OK("passt", "--socket-path", "/tmp/a.socket");
	CHECK(!strcmp(c->sock_path, "/tmp/a.socket"), "--socket-path alias");
	c = OK("passt", "--fd", "5");
	CHECK(c->sock_fd == 5 && c->one_off && !c->sock_path[0], "--fd implies one-off");
	c = OK("passt", "-s", "/tmp/a.socket", "-F", "7");
	CHECK(c->sock_fd == 7 && !c->sock_path[0], "-F after -s wins");
	c = OK("passt", "-F", "7", "-s", "/tmp/a.socket");
	CHECK(c->sock_fd == -1 && !strcmp(c->sock_path, "/tmp/a.socket"), "-s after -F wins");
	CHECK(OK("passt", "-1")->one_off, "-1");
	CHECK(OK("passt", "--one-off")->one_off, "--one-off");

	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[0] = '/';
	FAILS("--socket: socket path is too long (at most 107", "passt", "-s", long_path);
	FAILS("--fd: '1' is not a usable file descriptor", "passt", "--fd", "1");
	FAILS("--fd: 'x' is not a usable file descriptor", "passt", "--fd", "x");
	FAILS("--fd", "passt", "--fd", "99999999999");

	FAILS("option --socket is for passt only", "pasta", "-s", "/tmp/a");
	FAILS("option --one-off is for passt only", "pasta", "-1");
	FAILS("option --fd is for passt only", "pasta", "--fd", "5");
	FAILS("option --netns is for pasta only", "passt", "--netns", "x");
	FAILS("option --ns-ifname is for pasta only", "passt", "-I", "tap0");
	FAILS("option --config-net is for pasta only", "passt", "--config-net");
	FAILS("option --tcp-ns is for pasta only", "passt", "-T", "none");
	FAILS("option --udp-ns is for pasta only", "passt", "-U", "none");
}

static void test_pasta_namespace(void)
{
	static const uint8_t mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	const struct config *c;

	c = OK("pasta", "-I", "tap0", "--config-net", "--no-netns-quit", "--ns-mac-addr",
	       "02:00:00:00:00:01");
	CHECK(!strcmp(c->tap_name, "tap0") && c->config_net && c->no_netns_quit, "pasta opts");
	CHECK(c->ns_mac_set && !memcmp(c->ns_mac, mac, 6), "--ns-mac-addr");
	c = OK("pasta", "--netns", "testns");
	CHECK(!strcmp(c->netns, "/run/netns/testns") && c->netns_only && !c->foreground,
	      "--netns NAME -> /run/netns/NAME, netns-only");
	c = OK("pasta", "--netns", "/proc/1/ns/net", "--userns", "/proc/1/ns/user");
	CHECK(!strcmp(c->netns, "/proc/1/ns/net") && !strcmp(c->userns, "/proc/1/ns/user") &&
		      !c->netns_only,
	      "--netns PATH --userns PATH");
	c = OK("pasta", "--netns-only");
	CHECK(c->netns_only, "--netns-only");

	FAILS("--ns-ifname: interface name 'abcdefghijklmnop' is too long", "pasta", "-I",
	      "abcdefghijklmnop");
	FAILS("--ns-ifname: 'a/b' is not a valid interface name", "pasta", "-I", "a/b");
	FAILS("--ns-ifname: empty interface name", "pasta", "-I", "");
	FAILS("--userns needs --netns or a PID", "pasta", "--userns", "/proc/1/ns/user");
	FAILS("--ns-mac-addr: 'zz' is not a MAC address", "pasta", "--ns-mac-addr", "zz");
	FAILS("--netns: '..' is not a namespace name", "pasta", "--netns", "..");

	/* PID or COMMAND */
	c = OK("pasta", "1234");
	CHECK(c->target_pid == 1234 && !c->cmd && !c->foreground, "PID");
	c = OK("pasta", "--userns", "/proc/1/ns/user", "1234");
	CHECK(c->target_pid == 1234 && !strcmp(c->userns, "/proc/1/ns/user"), "PID + userns");
	c = OK("pasta", "--config-net", "sh", "-c", "echo -d --netns x");
	CHECK(c->cmd == &run_argv[2] && c->cmd_argc == 3 && c->config_net && c->foreground,
	      "COMMAND: options after it are its own");
	CHECK(c->log_level == LOG_LVL_INFO && !c->netns[0], "the command's -d/--netns not ours");
	c = OK("pasta", "--", "1234");
	CHECK(c->cmd == &run_argv[2] && c->cmd_argc == 1 && !c->target_pid,
	      "after --, digits are a command");
	c = OK("pasta", "-d", "--", "ip", "-4", "addr");
	CHECK(c->cmd == &run_argv[3] && c->cmd_argc == 3 && c->log_level == LOG_LVL_DEBUG,
	      "-- then command");
	c = OK("pasta", "12", "34");
	CHECK(c->cmd == &run_argv[1] && c->cmd_argc == 2 && !c->target_pid,
	      "two numbers: a command");
	c = OK("pasta", "-l", "--", "1234");
	CHECK(!strcmp(c->log_file, "--") && c->target_pid == 1234, "-- as an option's value");
	FAILS("'0' is not a valid PID", "pasta", "0");
	FAILS("'99999999999' is not a valid PID", "pasta", "99999999999");
	FAILS("--netns and a PID or command are mutually exclusive", "pasta", "--netns", "x",
	      "1234");
	FAILS("--netns and a PID or command are mutually exclusive", "pasta", "--netns", "x", "sh");
	FAILS("unexpected argument 'foo'", "passt", "foo");
	FAILS("unexpected argument '1234'", "passt", "-f", "1234");
}

static void test_addressing(void)
{
	static const uint8_t mac[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
	static const uint8_t mac1[6] = { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05 };
	const struct config *c;

	c = OK("passt", "-i", "eth0");
	CHECK(!strcmp(c->ifname, "eth0") && !strcmp(c->ip4.ifname, "eth0") &&
		      !strcmp(c->ip6.ifname, "eth0"),
	      "-i");
	c = OK("passt", "-4");
	CHECK(c->ip4.enabled && !c->ip6.enabled, "-4");
	c = OK("passt", "--ipv6-only");
	CHECK(!c->ip4.enabled && c->ip6.enabled, "-6");
	FAILS("--ipv4-only and --ipv6-only are mutually exclusive", "passt", "-4", "-6");

	c = OK("passt", "-a", "192.0.2.5");
	CHECK(addr4_is(c->ip4.addr, "192.0.2.5") && c->ip4.prefix_len == 0,
	      "-a without /LEN: prefix length left to netlink");
	CHECK(OK("passt", "-a", "192.0.2.5/28")->ip4.prefix_len == 28, "-a /28");
	CHECK(OK("passt", "-a", "192.0.2.5", "-n", "255.255.240.0")->ip4.prefix_len == 20,
	      "-n dotted");
	CHECK(OK("passt", "-n", "16")->ip4.prefix_len == 16, "-n bits");
	CHECK(OK("passt", "--netmask", "255.255.255.255")->ip4.prefix_len == 32, "-n /32");
	c = OK("passt", "-a", "2001:db8::5", "-a", "198.51.100.7");
	CHECK(addr6_is(&c->ip6.addr, "2001:db8::5") && c->ip6.prefix_len == 0 &&
		      addr4_is(c->ip4.addr, "198.51.100.7"),
	      "-a twice: one per IP version");
	CHECK(OK("passt", "-a", "2001:db8::5/56")->ip6.prefix_len == 56, "-a IPv6/56");
	CHECK(addr4_is(OK("passt", "-a", "192.0.2.1", "-a", "192.0.2.2")->ip4.addr, "192.0.2.2"),
	      "-a same version: last wins");
	FAILS("--netmask: the prefix length was already given with --address", "passt", "-a",
	      "192.0.2.5/24", "-n", "24");
	FAILS("--address: '300.1.1.1' is not an IPv4 or IPv6 address", "passt", "-a", "300.1.1.1");
	FAILS("--address: '127.0.0.1' is a loopback address", "passt", "-a", "127.0.0.1");
	FAILS("--address: '0.0.0.0' is the unspecified address", "passt", "-a", "0.0.0.0");
	FAILS("--address: '224.0.0.1' is a multicast", "passt", "-a", "224.0.0.1");
	FAILS("--address: '::ffff:192.0.2.1' is an IPv4-mapped", "passt", "-a", "::ffff:192.0.2.1");
	FAILS("--address: '192.0.2.5/33' has an invalid prefix length", "passt", "-a",
	      "192.0.2.5/33");
	FAILS("--address: '192.0.2.5/0' has an invalid prefix length", "passt", "-a",
	      "192.0.2.5/0");
	FAILS("--address: '2001:db8::1/129' has an invalid prefix length", "passt", "-a",
	      "2001:db8::1/129");
	FAILS("--netmask: '255.0.255.0' is not a netmask", "passt", "-n", "255.0.255.0");
	FAILS("--netmask: '0' is not a netmask", "passt", "-n", "0");
	FAILS("--netmask: '33' is not a netmask", "passt", "-n", "33");
	FAILS("--address: IPv4 address 192.0.2.1 given with --ipv6-only", "passt", "-a",
	      "192.0.2.1", "-6");
	FAILS("--address: IPv6 address 2001:db8::1 given with --ipv4-only", "passt", "-4", "-a",
	      "2001:db8::1");

	c = OK("passt", "-g", "192.0.2.1", "-g", "fe80::1");
	CHECK(c->ip4.have_gw && addr4_is(c->ip4.gw, "192.0.2.1"), "-g IPv4");
	CHECK(c->ip6.have_gw && addr6_is(&c->ip6.gw, "fe80::1"), "-g IPv6");
	FAILS("--gateway: 'gw' is not an IPv4 or IPv6 address", "passt", "-g", "gw");
	FAILS("--gateway: '255.255.255.255' is a multicast or broadcast", "passt", "-g",
	      "255.255.255.255");
	FAILS("--gateway: IPv6 address fe80::1 given with --ipv4-only", "passt", "-g", "fe80::1",
	      "-4");

	CHECK(OK("passt", "-m", "1500")->mtu == 1500, "-m");
	CHECK(OK("passt", "--mtu", "65520")->mtu == 65520, "-m max");
	CHECK(OK("passt", "-m", "576", "-4")->mtu == 576, "-m below 1280 with -4");
	CHECK(OK("passt", "-4", "-m", "68")->mtu == 68, "-m min with -4");
	FAILS("--mtu: 576 is below 1280, the minimum for IPv6", "passt", "-m", "576");
	FAILS("--mtu: '67' is not an MTU from 68 to 65520", "passt", "-m", "67", "-4");
	FAILS("--mtu: '65521' is not an MTU", "passt", "-m", "65521");
	FAILS("--mtu: '0' is not an MTU", "passt", "-m", "0");
	FAILS("--mtu: '1500x' is not an MTU", "passt", "-m", "1500x");

	CHECK(!memcmp(OK("passt", "-M", "02:11:22:33:44:55")->our_mac, mac, 6), "-M");
	CHECK(!memcmp(OK("passt", "--mac-addr", "0:1:2:3:4:5")->our_mac, mac1, 6),
	      "-M one-digit bytes");
	CHECK(!memcmp(OK("passt", "-M", "02:11:22:33:44:55")->our_mac, mac, 6), "-M");
	FAILS("--mac-addr: '01:00:5e:00:00:01' is a multicast MAC", "passt", "-M",
	      "01:00:5e:00:00:01");
	FAILS("--mac-addr: '00:00:00:00:00:00' is the all-zero MAC", "passt", "-M",
	      "00:00:00:00:00:00");
	FAILS("--mac-addr: '02:11:22:33:44' is not a MAC", "passt", "-M", "02:11:22:33:44");
	FAILS("--mac-addr: '02:11:22:33:44:55:66' is not a MAC", "passt", "-M",
	      "02:11:22:33:44:55:66");
	FAILS("--mac-addr: '002:11:22:33:44:55' is not a MAC", "passt", "-M", "002:11:22:33:44:55");
	FAILS("--mac-addr: 'g2:11:22:33:44:55' is not a MAC", "passt", "-M", "g2:11:22:33:44:55");
	FAILS("--interface: 'a b' is not a valid interface name", "passt", "-i", "a b");
}

static void test_dns(void)
{
	const struct config *c;

	c = OK("passt", "-D", "192.0.2.53", "-D", "2001:db8::53", "--dns", "198.51.100.53");
	CHECK(c->ip4.dns_count == 2 && addr4_is(c->ip4.dns[0], "192.0.2.53") &&
		      addr4_is(c->ip4.dns[1], "198.51.100.53"),
	      "repeated -D, IPv4 in order");
	CHECK(c->ip6.dns_count == 1 && addr6_is(&c->ip6.dns[0], "2001:db8::53"), "-D IPv6");
	CHECK(!c->no_dns, "-D addresses: DNS on");
	c = OK("passt", "-D", "192.0.2.53", "-D", "none");
	CHECK(c->no_dns && !c->ip4.dns_count && !c->ip6.dns_count, "-D none clears");
	c = OK("passt", "-D", "none", "-D", "192.0.2.1");
	CHECK(!c->no_dns && c->ip4.dns_count == 1, "-D after none");
	c = OK("passt", "-D", "192.0.2.1", "-D", "192.0.2.2", "-D", "192.0.2.3", "-D", "192.0.2.4",
	       "-D", "2001:db8::1");
	CHECK(c->ip4.dns_count == CONF_MAX_DNS && c->ip6.dns_count == 1, "-D up to the limit");
	FAILS("--dns: too many IPv4 resolvers (at most 4)", "passt", "-D", "192.0.2.1", "-D",
	      "192.0.2.2", "-D", "192.0.2.3", "-D", "192.0.2.4", "-D", "192.0.2.5");
	FAILS("--dns: too many IPv6 resolvers (at most 4)", "passt", "-D", "2001:db8::1", "-D",
	      "2001:db8::2", "-D", "2001:db8::3", "-D", "2001:db8::4", "-D", "2001:db8::5");
	FAILS("--dns: 'resolver' is not an IPv4 or IPv6 address", "passt", "-D", "resolver");
	FAILS("--dns: '0.0.0.0' is the unspecified address", "passt", "-D", "0.0.0.0");
	FAILS("option --dns needs an argument", "passt", "-D");

	c = OK("passt", "-S", "a.example b.example");
	CHECK(c->search_count == 2 && !strcmp(c->search[0], "a.example") &&
		      !strcmp(c->search[1], "b.example"),
	      "-S splits a space-separated list");
	c = OK("passt", "-S", "x.example", "--search", "  y.example\tz.example  ");
	CHECK(c->search_count == 3 && !strcmp(c->search[0], "x.example") &&
		      !strcmp(c->search[1], "y.example") && !strcmp(c->search[2], "z.example"),
	      "repeated -S add up");
	c = OK("passt", "-S", "x.example", "-S", "none");
	CHECK(c->no_dns_search && !c->search_count, "-S none");
	c = OK("passt", "-S", "none.");
	CHECK(!c->no_dns_search && c->search_count == 1 && !strcmp(c->search[0], "none"),
	      "-S none. is the domain 'none'");
	c = OK("passt", "-S", "a b c d e f g h");
	CHECK(c->search_count == CONF_MAX_SEARCH, "-S up to the limit");
	FAILS("--search: too many search domains (at most 8)", "passt", "-S", "a b c d e f g", "-S",
	      "h i");
	FAILS("--search: 'bad..example' is not a valid domain", "passt", "-S", "bad..example");
	FAILS("--search: 'bad!' is not a valid domain", "passt", "-S", "ok.example bad!");
	FAILS("--search: empty search list", "passt", "-S", "   ");
	FAILS("--search: "
	      "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example' is "
	      "not a valid domain",
	      "passt", "-S",
	      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example");
}

static void test_services_bpf(void)
{
	const struct config *c;

	c = OK("passt", "--no-dhcp", "--no-ndp", "--no-dhcpv6", "--no-ra", "--no-icmp");
	CHECK(c->no_dhcp && c->no_ndp && c->no_dhcpv6 && c->no_ra && c->no_icmp, "--no-*");
	CHECK(!c->no_tcp && !c->no_udp, "--no-tcp/udp not set");
	c = OK("pasta", "--no-dhcp", "--no-ra", "1");
	CHECK(c->no_dhcp && c->no_ra && !c->no_ndp, "pasta --no-*");

	CHECK(OK("passt", "--bpf", "on")->bpf == BPF_MODE_ON, "--bpf on");
	CHECK(OK("passt", "--bpf=off")->bpf == BPF_MODE_OFF, "--bpf off");
	CHECK(OK("passt", "--bpf", "on", "--bpf", "auto")->bpf == BPF_MODE_AUTO, "--bpf auto");
	CHECK(!strcmp(OK("pasta", "--bpf-name", "test_1.a-b", "1")->bpf_name, "test_1.a-b"),
	      "--bpf-name");
	FAILS("--bpf: 'maybe' is not auto, on or off", "passt", "--bpf", "maybe");
	FAILS("--bpf-name: 'a/b' is not a valid name", "passt", "--bpf-name", "a/b");
	FAILS("--bpf-name: empty BPF name", "passt", "--bpf-name", "");
}

static void test_not_implemented(void)
{
	static const char *const implemented[] = {
		"debug",
		"trace",
		"quiet",
		"foreground",
		"stderr",
		"log-file",
		"log-size",
		"version",
		"help",
		"runas",
		"pid",
		"socket",
		"socket-path",
		"fd",
		"one-off",
		"ns-ifname",
		"netns",
		"netns-only",
		"userns",
		"no-netns-quit",
		"config-net",
		"ns-mac-addr",
		"interface",
		"ipv4-only",
		"ipv6-only",
		"address",
		"netmask",
		"gateway",
		"mtu",
		"mac-addr",
		"dns",
		"search",
		"no-dhcp",
		"no-ndp",
		"no-dhcpv6",
		"no-ra",
		"no-icmp",
		"bpf",
		"bpf-name",
		"tcp-ports",
		"udp-ports",
		"dns-forward",
		"no-tcp",
		"no-udp",
		"map-host-loopback",
		"map-guest-addr",
		"map-gw",
		"no-map-gw",
		"outbound",
		"outbound-if4",
		"outbound-if6",
		"tcp-ns",
		"udp-ns",
		"bpf-bypass",
	};
	static const char *const not_yet[] = {
		"pcap",
	};
	const struct config *c;
	size_t i;

	for (i = 0; i < sizeof(implemented) / sizeof(implemented[0]); i++)
		CHECK(conf_option_state(implemented[i]) == 1, "--%s should be implemented",
		      implemented[i]);
	for (i = 0; i < sizeof(not_yet) / sizeof(not_yet[0]); i++)
		CHECK(conf_option_state(not_yet[i]) == 0, "--%s should be 'not implemented yet'",
		      not_yet[i]);
	CHECK(conf_option_state("no-such-option") == -1, "unknown option state");

	/* pasta's "auto" (flow/fwd_auto.c), with exclusions only. */
	c = OK("pasta", "-t", "auto", "-u", "auto", "-T", "auto", "-U", "auto", "1");
	CHECK(c->tcp_in.mode == FWD_AUTO && c->udp_in.mode == FWD_AUTO &&
		      c->tcp_out.mode == FWD_AUTO && c->udp_out.mode == FWD_AUTO,
	      "-t/-u/-T/-U auto");
	c = OK("pasta", "-t", "auto", "-t", "~22,~8000-8010", "1");
	CHECK(c->tcp_in.mode == FWD_AUTO && c->tcp_in.count == 2 && c->tcp_in.rule[0].exclude &&
		      c->tcp_in.rule[1].exclude && c->tcp_in.rule[1].first == 8000,
	      "-t auto -t ~22,~8000-8010");
	c = OK("pasta", "-u", "~53,auto", "1");
	CHECK(c->udp_in.mode == FWD_AUTO && c->udp_in.count == 1, "-u ~53,auto");
	FAILS("--tcp-ports: invalid spec 'auto': 'auto' takes only exclusions (~PORT[-LAST]) "
	      "beside it, not port 80",
	      "pasta", "-t", "80", "-t", "auto", "1");
	FAILS("--tcp-ns: invalid spec '8080': 'auto' takes only exclusions (~PORT[-LAST]) beside "
	      "it, not port 8080",
	      "pasta", "-T", "auto", "-T", "8080", "1");
	FAILS("--udp-ports: invalid spec '1.2.3.4/auto': 'auto' cannot be bound", "pasta", "-u",
	      "1.2.3.4/auto", "1");
	FAILS("--udp-ports: invalid spec 'auto': 'auto' is for pasta only", "passt", "-u", "auto");
	FAILS("option --udp-ns is for pasta only", "passt", "-U", "auto");
	FAILS("--tcp-ports: invalid spec 'none': 'none' conflicts with the ports given before",
	      "pasta", "-t", "auto", "-t", "none", "1");
	/* Loops through our own listeners. */
	FAILS("-t port 8080 goes to namespace port 8080, where -T listens itself (forwarding to "
	      "host port 8080): connections would loop through our own listeners",
	      "pasta", "-t", "8080", "-T", "8080", "1");
	FAILS("-u port 5000 goes to namespace port 6000, where -U listens itself",
	      "pasta", "-u", "5000:6000", "-U", "6000:7000", "1");
	FAILS("-T port 7000 goes to host port 5000, where -t listens itself", "pasta", "-t",
	      "5000:6000", "-T", "7000:5000", "1");
	FAILS("-t port 8081 goes to namespace port 8081, where -T listens itself", "pasta", "-t",
	      "8080-8090,~8080", "-T", "8070-8081", "1");
	c = OK("pasta", "-t", "8080", "-T", "8081", "-u", "8080", "-U", "8081", "1");
	CHECK(c->tcp_in.mode == FWD_SPEC && c->tcp_out.mode == FWD_SPEC, "different ports");
	c = OK("pasta", "-t", "8080", "-U", "8080", "-u", "9090", "-T", "9090", "1");
	CHECK(c->tcp_in.mode == FWD_SPEC, "TCP and UDP do not loop into each other");
	c = OK("pasta", "-t", "8080-8090,~8085", "-T", "8085", "1");
	CHECK(c->tcp_in.mode == FWD_SPEC, "an excluded -t port does not loop");
	c = OK("pasta", "-t", "auto", "-T", "8080", "1");
	CHECK(c->tcp_in.mode == FWD_AUTO, "auto is checked at run time");
	CHECK(OK("passt", "--map-host-loopback", "none")->no_map_gw,
	      "--map-host-loopback none is --no-map-gw");
	/* Address translation and outbound binding (flow/nat.c, TCP and UDP): accepted, stored. */
	c = OK("passt", "--map-host-loopback", "192.0.2.2", "--map-host-loopback", "2001:db8::9",
	       "--map-guest-addr", "169.254.1.2", "-o", "192.0.2.9", "--outbound-if4", "eth0",
	       "--outbound-if6", "eth1");
	CHECK(c->ip4.map_host_loopback.s_addr == inet_addr("192.0.2.2") &&
		      c->ip6.map_host_loopback.s6_addr[15] == 9 &&
		      c->ip4.map_guest_addr.s_addr == inet_addr("169.254.1.2") &&
		      c->ip4.outbound.s_addr == inet_addr("192.0.2.9") &&
		      !strcmp(c->ip4.outbound_if, "eth0") && !strcmp(c->ip6.outbound_if, "eth1"),
	      "--map-*, -o, --outbound-if*");
	CHECK(OK("passt", "--no-map-gw")->no_map_gw, "--no-map-gw");
	CHECK(!OK("passt", "--no-map-gw", "--map-gw")->no_map_gw, "--map-gw after --no-map-gw");
	CHECK(OK("passt", "--map-guest-addr", "none")->ip4.map_guest_addr.s_addr == 0,
	      "--map-guest-addr none");
	CHECK(OK("pasta", "--bpf-bypass", "1")->bpf_bypass, "--bpf-bypass");
	c = OK("pasta", "--bpf-bypass", "1");
	CHECK(c->bpf_bypass && c->bpf_bypass_mode == BPF_BYPASS_INGRESS, "--bpf-bypass: ingress");
	c = OK("pasta", "--bpf-bypass=egress", "1");
	CHECK(c->bpf_bypass && c->bpf_bypass_mode == BPF_BYPASS_EGRESS, "--bpf-bypass=egress");
	c = OK("pasta", "--bpf-bypass=egress", "--bpf-bypass=ingress", "1");
	CHECK(c->bpf_bypass && c->bpf_bypass_mode == BPF_BYPASS_INGRESS, "last --bpf-bypass wins");
	/* optional argument: a separate word is not its value but pasta's command */
	c = OK("pasta", "--bpf-bypass", "egress");
	CHECK(c->bpf_bypass && c->bpf_bypass_mode == BPF_BYPASS_INGRESS,
	      "--bpf-bypass egress: 'egress' is the command");
	FAILS("--bpf-bypass: 'sideways' is not ingress or egress", "pasta", "--bpf-bypass=sideways",
	      "1");
	FAILS("--bpf-bypass: '' is not ingress or egress", "pasta", "--bpf-bypass=", "1");
	FAILS("option --pcap is not implemented yet", "passt", "-p", "/tmp/x.pcap");
	FAILS("option --vhost-user is not implemented yet", "passt", "--vhost-user");
	FAILS("option --splice-only is not implemented yet", "pasta", "--splice-only");

	/* A value that asks for nothing is fine. */
	c = OK("passt", "-t", "none", "-u", "none");
	CHECK(c->tcp_in.mode == FWD_NONE && c->udp_in.mode == FWD_NONE, "-t none -u none");
	c = OK("pasta", "-t", "none", "-u", "none", "-T", "none", "-U", "none", "1");
	CHECK(c->tcp_in.mode == FWD_NONE && c->udp_in.mode == FWD_NONE &&
		      c->tcp_out.mode == FWD_NONE && c->udp_out.mode == FWD_NONE,
	      "pasta all none");

	/* The value is checked before "not implemented": a bad spec says what is bad. */
	FAILS("--tcp-ports: invalid spec '0': port 0 is out of range (1-65535)", "passt", "-t",
	      "0");
	FAILS("--udp-ports: invalid spec '80-22': range 80-22 is reversed", "passt", "-u", "80-22");
	FAILS("--tcp-ports: invalid spec 'all': 'all' is for passt only", "pasta", "-t", "all");
	FAILS("--tcp-ports: invalid spec 'auto': 'auto' is for pasta only", "passt", "-t", "auto");
	FAILS("--tcp-ports: invalid spec '22': ports given after 'none'", "passt", "-t", "none",
	      "-t", "22");
	FAILS("--dns-forward: 'x' is not an IPv4 or IPv6 address", "passt", "--dns-forward", "x");
}

static void test_option_errors(void)
{
	FAILS("unknown or ambiguous option '--foo'", "passt", "--foo");
	FAILS("unknown or ambiguous option '--foo'", "passt", "--foo=bar");
	FAILS("unknown or ambiguous option '--no'", "passt", "--no");
	FAILS("unknown option '-z'", "passt", "-z");
	FAILS("unknown option '-z'", "pasta", "-dz");
	FAILS("option --address needs an argument", "passt", "-a");
	FAILS("option --mtu needs an argument", "passt", "--mtu");
	FAILS("option --bpf-name needs an argument", "passt", "--bpf-name");
	FAILS("option --debug takes no argument", "passt", "--debug=1");
	FAILS("option --no-netns-quit takes no argument", "pasta", "--no-netns-quit=yes");
	/* Abbreviations that are unambiguous work, as with upstream's getopt_long(). */
	CHECK(OK("passt", "--fore")->foreground, "--fore abbreviates --foreground");
}

/* --- the forwarding grammar, called directly ---------------------------------------------- */

static struct fwd_set fs;
static char ferr[256];

static int spec(const char *s, enum bpasst_mode mode)
{
	ferr[0] = '\0';
	return config_parse_fwd_spec(s, mode, &fs, ferr, sizeof(ferr));
}

#define SPEC_OK(s, mode) CHECK(!spec(s, mode), "spec '%s' should parse: %s", s, ferr)
#define SPEC_FAILS(s, mode, what)                                                                  \
	do {                                                                                       \
		struct fwd_set before_ = fs;                                                       \
		CHECK(spec(s, mode) == -1 && strstr(ferr, what),                                   \
		      "spec '%s' should fail with \"%s\", got \"%s\"", s, what, ferr);             \
		CHECK(!memcmp(&before_, &fs, sizeof(fs)), "failed spec '%s' changed the set", s);  \
	} while (0)

static bool rule_is(unsigned i, unsigned first, unsigned last, unsigned to, bool excl)
{
	return i < fs.count && fs.rule[i].first == first && fs.rule[i].last == last &&
		fs.rule[i].to_first == to && fs.rule[i].exclude == excl;
}

static void test_fwd_grammar(void)
{
	char many[512] = "";
	int i;

	memset(&fs, 0, sizeof(fs));
	SPEC_OK("22", MODE_PASST);
	CHECK(fs.mode == FWD_SPEC && fs.count == 1 && rule_is(0, 22, 22, 22, false), "22");
	CHECK(!fs.rule[0].has_addr && fs.rule[0].af == AF_UNSPEC && !fs.rule[0].ifname[0],
	      "22: no binding");

	memset(&fs, 0, sizeof(fs));
	SPEC_OK("22:23", MODE_PASTA);
	CHECK(fs.count == 1 && rule_is(0, 22, 22, 23, false), "22:23");

	memset(&fs, 0, sizeof(fs));
	SPEC_OK("22,25", MODE_PASST);
	CHECK(fs.count == 2 && rule_is(0, 22, 22, 22, false) && rule_is(1, 25, 25, 25, false),
	      "22,25");

	memset(&fs, 0, sizeof(fs));
	SPEC_OK("22-80", MODE_PASST);
	CHECK(fs.count == 1 && rule_is(0, 22, 80, 22, false), "22-80");

	memset(&fs, 0, sizeof(fs));
	SPEC_OK("22-80:32-90", MODE_PASST);
	CHECK(fs.count == 1 && rule_is(0, 22, 80, 32, false), "22-80:32-90");
	SPEC_OK("100-110:1100", MODE_PASST);
	CHECK(fs.count == 2 && rule_is(1, 100, 110, 1100, false), "100-110:1100 (implied end)");
	SPEC_OK("65535", MODE_PASST);
	SPEC_OK("1", MODE_PASST);

	memset(&fs, 0, sizeof(fs));
	SPEC_OK("192.0.2.1/22", MODE_PASST);
	CHECK(fs.count == 1 && fs.rule[0].has_addr && fs.rule[0].af == AF_INET &&
		      addr4_is(fs.rule[0].addr.v4, "192.0.2.1") && !fs.rule[0].ifname[0],
	      "ADDR/PORT");
	SPEC_OK("198.51.100.1/22", MODE_PASST);
	CHECK(fs.count == 2, "same port on another address is fine");

	memset(&fs, 0, sizeof(fs));
	SPEC_OK("192.0.2.1%eth0/22", MODE_PASST);
	CHECK(fs.count == 1 && fs.rule[0].has_addr && !strcmp(fs.rule[0].ifname, "eth0"),
	      "ADDR%%IF/PORT");

	memset(&fs, 0, sizeof(fs));
	SPEC_OK("%eth0/22", MODE_PASTA);
	CHECK(fs.count == 1 && !fs.rule[0].has_addr && fs.rule[0].af == AF_UNSPEC &&
		      !strcmp(fs.rule[0].ifname, "eth0"),
	      "%%IF/PORT");

	memset(&fs, 0, sizeof(fs));
	SPEC_OK("2001:db8::1/8080-8081,~8081", MODE_PASST);
	CHECK(fs.count == 2 && fs.rule[0].af == AF_INET6 &&
		      addr6_is(&fs.rule[0].addr.v6, "2001:db8::1") && fs.rule[1].exclude &&
		      fs.rule[1].has_addr,
	      "IPv6 binding applies to every item");

	memset(&fs, 0, sizeof(fs));
	SPEC_OK("2000-5000,~3000-3010", MODE_PASST);
	CHECK(fs.mode == FWD_SPEC && fs.count == 2 && rule_is(0, 2000, 5000, 2000, false) &&
		      rule_is(1, 3000, 3010, 3000, true),
	      "range with exclusion");

	memset(&fs, 0, sizeof(fs));
	SPEC_OK("~20000-20010", MODE_PASTA);
	CHECK(fs.mode == FWD_SPEC && fs.count == 1 && rule_is(0, 20000, 20010, 20000, true),
	      "exclusions only: still SPEC before finishing");
	config_fwd_finish(&fs);
	CHECK(fs.mode == FWD_ALL, "exclusions only: all except, after finishing");

	memset(&fs, 0, sizeof(fs));
	SPEC_OK("all", MODE_PASST);
	CHECK(fs.mode == FWD_ALL && !fs.count, "all");
	SPEC_OK("~22", MODE_PASST);
	CHECK(fs.mode == FWD_ALL && fs.count == 1, "all, then an exclusion");
	config_fwd_finish(&fs);
	CHECK(fs.mode == FWD_ALL, "finish keeps all");

	memset(&fs, 0, sizeof(fs));
	SPEC_FAILS("8000-8010,auto", MODE_PASTA, "'auto' takes only exclusions");
	CHECK(fs.mode == FWD_UNSET && fs.count == 0, "ranges with auto: refused, set untouched");
	SPEC_OK("~8000-8010,auto", MODE_PASTA);
	CHECK(fs.mode == FWD_AUTO && fs.count == 1 && rule_is(0, 8000, 8010, 8000, true),
	      "exclusions with auto");
	SPEC_OK("~22", MODE_PASTA);
	CHECK(fs.mode == FWD_AUTO && fs.count == 2, "auto, then an exclusion");
	SPEC_FAILS("22", MODE_PASTA, "'auto' takes only exclusions (~PORT[-LAST]) beside it, "
				    "not port 22");
	config_fwd_finish(&fs);
	CHECK(fs.mode == FWD_AUTO, "finish keeps auto");
	{
		uint16_t to = 0;

		CHECK(!config_fwd_translate(&fs, 9000, &to), "auto translates nothing statically");
		memset(&fs, 0, sizeof(fs));
		SPEC_OK("8000-8010:9000,~8005", MODE_PASTA);
		CHECK(config_fwd_translate(&fs, 8001, &to) && to == 9001, "translate 8001");
		CHECK(!config_fwd_translate(&fs, 8005, &to), "excluded 8005");
		CHECK(!config_fwd_translate(&fs, 8011, &to), "8011 not forwarded");
		memset(&fs, 0, sizeof(fs));
		SPEC_OK("all", MODE_PASST);
		SPEC_OK("~100", MODE_PASST);
		CHECK(config_fwd_translate(&fs, 22, &to) && to == 22, "all: 22");
		CHECK(!config_fwd_translate(&fs, 100, &to), "all: ~100");
		CHECK(!config_fwd_translate(&fs, 50000, &to), "all: ephemeral 50000");
	}

	memset(&fs, 0, sizeof(fs));
	SPEC_OK("22", MODE_PASST);
	SPEC_OK("all", MODE_PASST);
	CHECK(fs.mode == FWD_ALL && fs.count == 1, "all after rules wins");
	SPEC_OK("80", MODE_PASST);
	CHECK(fs.mode == FWD_ALL && fs.count == 2, "rules after all keep all");
	config_fwd_finish(&fs);
	CHECK(fs.mode == FWD_ALL, "finish keeps all with rules");

	memset(&fs, 0, sizeof(fs));
	SPEC_OK("22", MODE_PASST);
	config_fwd_finish(&fs);
	CHECK(fs.mode == FWD_SPEC, "finish keeps a plain spec");

	memset(&fs, 0, sizeof(fs));
	SPEC_OK("none", MODE_PASST);
	CHECK(fs.mode == FWD_NONE && !fs.count, "none");
	SPEC_OK("none", MODE_PASST);
	CHECK(fs.mode == FWD_NONE, "none twice");
	SPEC_FAILS("22", MODE_PASST, "ports given after 'none'");

	memset(&fs, 0, sizeof(fs));
	SPEC_OK("22", MODE_PASST);
	SPEC_FAILS("none", MODE_PASST, "'none' conflicts with the ports given before");
	SPEC_FAILS("22", MODE_PASST, "port 22 is forwarded twice");
	SPEC_FAILS("20-30", MODE_PASST, "port 22 is forwarded twice");
	SPEC_FAILS("0", MODE_PASST, "port 0 is out of range (1-65535)");
	SPEC_FAILS("65536", MODE_PASST, "port 65536 is out of range");
	SPEC_FAILS("70000", MODE_PASST, "port 70000 is out of range");
	SPEC_FAILS("9999999", MODE_PASST, "'9999999' is not a port number");
	SPEC_FAILS("80-30", MODE_PASST, "range 80-30 is reversed");
	SPEC_FAILS("100-110:200-205", MODE_PASST,
		   "range 100-110 has 11 ports but target "
		   "200-205 has 6");
	SPEC_FAILS("65000-65535:65500", MODE_PASST, "run past 65535");
	SPEC_FAILS("http", MODE_PASST, "'http' is not a port number");
	SPEC_FAILS("", MODE_PASST, "empty spec");
	SPEC_FAILS("80,", MODE_PASST, "empty entry");
	SPEC_FAILS(",80", MODE_PASST, "empty entry");
	SPEC_FAILS("80-", MODE_PASST, "'' is not a port number");
	SPEC_FAILS("-80", MODE_PASST, "'' is not a port number");
	SPEC_FAILS("80 ", MODE_PASST, "'80 ' is not a port number");
	SPEC_FAILS("+80", MODE_PASST, "'+80' is not a port number");
	SPEC_FAILS("~80:81", MODE_PASST, "exclusion '~80:81' cannot have target ports");
	SPEC_FAILS("~", MODE_PASST, "'' is not a port number");
	SPEC_FAILS("300.1.1.1/80", MODE_PASST, "'300.1.1.1' is not an IPv4 or IPv6 address");
	SPEC_FAILS("224.0.0.1/80", MODE_PASST, "multicast");
	SPEC_FAILS("192.0.2.1%/80", MODE_PASST, "empty interface name");
	SPEC_FAILS("%a/b/80", MODE_PASST, "target addresses");
	SPEC_FAILS("/80", MODE_PASST, "empty address before '/'");
	SPEC_FAILS("0.0.0.0/5000:192.0.2.5/6000", MODE_PASST, "target addresses");
	SPEC_FAILS("192.0.2.1/all", MODE_PASST, "'all' cannot be bound");
	SPEC_FAILS("all", MODE_PASTA, "'all' is for passt only");
	SPEC_FAILS("auto", MODE_PASST, "'auto' is for pasta only");
	SPEC_FAILS("80,none", MODE_PASST, "'none' must be the whole spec");
	SPEC_FAILS("30-40,35", MODE_PASST, "port 35 is forwarded twice");
	CHECK(fs.mode == FWD_SPEC && fs.count == 1, "failed specs left the set alone");

	memset(&fs, 0, sizeof(fs));
	for (i = 1; i <= CONF_MAX_FWD_RULES; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s%d", i > 1 ? "," : "",
			 i);
	SPEC_OK(many, MODE_PASST);
	CHECK(fs.count == CONF_MAX_FWD_RULES, "rules up to the limit");
	SPEC_FAILS("1000", MODE_PASST, "too many forwarding rules (at most 64)");

	/* Through the command line: sets are finished after the last option. */
	{
		const struct config *c;

		c = OK("passt", "-t", "none", "-u", "none");
		CHECK(c->tcp_in.mode == FWD_NONE, "none via conf_parse");
	}
}

static void test_value_parsers(void)
{
	unsigned long v;
	int plen = 0;
	char err[128];
	size_t used;

	CHECK(config_parse_ulong("0", 10, &v) && v == 0, "ulong 0");
	CHECK(config_parse_ulong("18446744073709551615", (unsigned long)-1, &v) &&
		      v == (unsigned long)-1,
	      "ulong max");
	CHECK(!config_parse_ulong("18446744073709551616", (unsigned long)-1, &v), "ulong overflow");
	CHECK(!config_parse_ulong("11", 10, &v), "ulong above max");
	CHECK(!config_parse_ulong("", 10, &v) && !config_parse_ulong(" 1", 10, &v), "ulong junk");
	CHECK(!config_parse_netmask("255.255.255.128", &plen, err, sizeof(err)) && plen == 25,
	      "netmask /25");
	CHECK(config_parse_netmask("0.0.0.0", &plen, err, sizeof(err)) == -1, "netmask 0");
	CHECK(!config_check_domain("example.org.", 12, &used, err, sizeof(err)) && used == 11,
	      "trailing dot dropped");
	CHECK(config_check_domain(".example", 8, &used, err, sizeof(err)) == -1, "leading dot");
	CHECK(!config_check_ifname("eth0.100", err, sizeof(err)), "ifname with dot");
	CHECK(config_check_ifname("..", err, sizeof(err)) == -1, "ifname ..");
}

int main(void)
{
	/* Children run conf_parse(); don't let a hung one stall the suite. */
	signal(SIGPIPE, SIG_IGN);

	test_defaults_and_modes();
	test_version_help();
	test_logging_process();
	test_passt_socket();
	test_pasta_namespace();
	test_addressing();
	test_dns();
	test_services_bpf();
	test_not_implemented();
	test_option_errors();
	test_fwd_grammar();
	test_value_parsers();

	printf("test_conf: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
