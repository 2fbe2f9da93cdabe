// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * main.c - the wiring of passt and pasta: parse, set up, drop privileges, run the epoll loop
 *
 * Theory of operation
 *
 * Start-up, in order:
 *   1. config_defaults() and conf_parse() fill struct config from the command line (the mode
 *      comes from the program's name: "pasta..." is pasta, anything else passt); log level and
 *      log file are applied.
 *   2. nl_host_discover() completes the configuration from the host (upstream interface,
 *      addresses, gateway, DNS, search list), and what was chosen is logged at info level.
 *   3. Edges:
 *      - pasta: with --netns or a PID we go to the background first (fork; the parent waits on a
 *        pipe and exits 0 only once the child says the namespace is ready, 1 if the child dies
 *        before). ns_setup() creates or joins the namespace and its tap; the tap, the command's
 *        pidfd and the namespace watch go into epoll. When spawning a command (the default),
 *        we stay in the foreground, let the command start, and exit with its status.
 *      - passt: stream_listen() binds the UNIX socket (or stream_adopt() takes --fd), the qemu
 *        command line to use is printed, and unless -f we go to the background (double fork,
 *        the same 'ready' pipe; logs then go to syslog, or to the -l file).
 *   4. pasta: the BPF fast path is loaded (io/fastpath.c) while we still have privileges; with
 *      --bpf on and no fast path we exit. It is stopped (detached, unpinned) in main_cleanup().
 *      Then, with --bpf-bypass, the loopback bypass (io/bypass.c: programs, listeners, the
 *      splice hooks); stopped first thing in main_cleanup(), before the splice table goes.
 *   5. The --pid file is written, then privileges are dropped (passt started as root switches to
 *      --runas or "nobody": setgroups, setgid, setuid; pasta started as root keeps them unless
 *      --runas is given), and the waiting parent is told we are ready.
 *
 * The loop: every registered fd carries a union epoll_ref (core/epoll_ref.h). The loop switches on
 * its kind and calls the handler of the floor that owns it:
 *   TAP               tap_read_batch()  -> dispatch_frame() -> services -> output batch
 *   STREAM_LISTEN     stream_accept()   (a new qemu: guest state reset, first RA scheduled)
 *   STREAM            stream_handle()   -> dispatch_frame() ...; disconnect resets guest state
 *   PING              ping_sock_ready() -> echo replies into the output batch
 *   UDP               udp_sock_event()  -> datagrams and ICMP errors into the output batch
 *   UDP_LISTEN        udp_listen_event() (a -u port) -> datagrams into the output batch (pasta:
 *                                          from a loopback sender, to udp_splice instead)
 *   UDP_SPLICE        udp_splice_event() (pasta) -> -U listeners, loopback UDP flows
 *   TCP               tcp_sock_event()  -> segments for the guest into the output batch (also tcp's
 *                                          own timerfd, index TCP_INDEX_TIMER)
 *   TCP_LISTEN        tcp_listen_event() -> a connection on a -t port: SYN to the guest (pasta:
 *                                          from a loopback peer, to tcp_splice instead)
 *   TCP_SPLICE        tcp_splice_event() (pasta) -> loopback connections, -T listeners
 *   BYPASS            bypass_timer_event() (pasta --bpf-bypass): postponed hand-overs
 *   TIMER (1 s)       ping_expire(), udp_timer(), unsolicited router advertisements,
 *                     fwd_auto_tick() (pasta's -t/-u/-T/-U auto), bypass_tick(), mirror_tick()
 *   SIGNAL            SIGTERM/SIGINT: clean exit; SIGCHLD: has the command exited?
 *   CHILD             the command exited: exit with its status
 *   NETNS_WATCH       the joined namespace is gone: exit
 * After a batch of guest frames (TAP, STREAM) tcp_tap_batch_done() sends the ACKs and data TCP
 * deferred to the end of the batch, and udp_tap_batch_done() sends the datagrams UDP staged
 * from it (sendmmsg()). After each round the one output batch is flushed through the
 * active edge (tap_flush() or stream_flush()), and tcp_flushed() learns how many of its frames
 * went out; handlers never write to the guest themselves.
 *
 * State: one static struct main_state (configuration, guest state, output batch, edges, tables).
 * Clean exit: the socket file and the pid file are removed (errors only logged: after dropping
 * privileges that may be impossible), the namespace side is cleaned by ns_cleanup().
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "core/batch.h"
#include "core/config.h"
#include "core/epoll_ref.h"
#include "core/guest.h"
#include "core/log.h"
#include "flow/fwd_auto.h"
#include "flow/ping.h"
#include "flow/udp.h"
#include "flow/udp_splice.h"
#include "flow/tcp.h"
#include "flow/tcp_splice.h"
#include "io/bypass.h"
#include "io/dispatch.h"
#include "io/fastpath.h"
#include "io/mirror.h"
#include "io/netlink.h"
#include "io/ns.h"
#include "io/resolv.h"
#include "io/stream.h"
#include "io/tap.h"
#include "proto/ndp.h"

#define MAIN_EPOLL_EVENTS 64
#define MAIN_BATCH_FRAMES 256
#define MAIN_TAP_READ_MAX 64 /* frames per tap read round: well below MAIN_BATCH_FRAMES */
#define MAIN_RA_INITIAL_COUNT 3 /* RFC 4861 MAX_INITIAL_RTR_ADVERTISEMENTS */
#define MAIN_RA_INITIAL_INTERVAL 4 /* seconds, below MAX_INITIAL_RTR_ADVERT_INTERVAL (16) */

static struct main_state {
	struct config c;
	struct guest_state guest;
	struct frame_batch out;
	struct dispatch_ctx d;
	struct ns_state ns;
	bool ns_ready;
	struct stream_state stream;
	bool stream_ready;
	struct ping_table *ping;
	struct udp_ctx udp;
	bool udp_ready;
	struct udp_splice *udp_splice; /* pasta: the loopback path */
	bool dns_from_cmdline; /* -D gave resolvers: the first is --dns-forward's target */
	struct tcp_ctx *tcp;
	struct tcp_splice *tcp_splice; /* pasta: the loopback path */
	struct fwd_auto *fwd_auto; /* pasta: -t/-u/-T/-U auto, or NULL */
	int epollfd, timerfd, sigfd;
	int ready_fd; /* write end of the pipe the waiting parent reads, or -1 */
	bool pid_file_written;
	/* Unsolicited router advertisements: when the next one is due (CLOCK_MONOTONIC s, 0 none),
	 * and how many were sent since the guest side came up. */
	time_t ra_next;
	unsigned ra_sent;
	bool cmd_signalled; /* pasta: a SIGTERM/SIGINT was passed on to the command */
} m = {
	.epollfd = -1,
	.timerfd = -1,
	.sigfd = -1,
	.ready_fd = -1,
};

static time_t main_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* ---- Exit ---- */

static void main_cleanup(void)
{
	fwd_auto_free(m.fwd_auto); /* before the listener tables it fills */
	m.fwd_auto = NULL;
	bypass_stop(); /* before tcp_splice_free(): it removes the connections' map entries */
	fastpath_stop(); /* before ns_cleanup(): it detaches from the tap */
	if (m.stream_ready)
		stream_cleanup(&m.stream);
	m.stream_ready = false;
	if (m.ns_ready)
		ns_cleanup(&m.ns);
	m.ns_ready = false;
	ping_table_free(m.ping);
	m.ping = NULL;
	m.udp.splice = NULL;
	udp_splice_free(m.udp_splice);
	m.udp_splice = NULL;
	if (m.udp_ready)
		udp_cleanup(&m.udp);
	m.udp_ready = false;
	tcp_set_splice(m.tcp, NULL);
	tcp_splice_free(m.tcp_splice);
	m.tcp_splice = NULL;
	tcp_free(m.tcp);
	m.tcp = NULL;
	if (m.pid_file_written && unlink(m.c.pid_file) < 0 && errno != ENOENT)
		debug("cannot remove pid file %s: %s", m.c.pid_file, strerror(errno));
	m.pid_file_written = false;
}

static void __attribute__((noreturn)) main_exit(int status)
{
	main_cleanup();
	exit(status);
}

/* ---- Logging what was chosen ---- */

static const char *main_ip4_str(struct in_addr a, char *buf)
{
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN) ? buf : "?";
}

static const char *main_ip6_str(const struct in6_addr *a, char *buf)
{
	return inet_ntop(AF_INET6, a, buf, INET6_ADDRSTRLEN) ? buf : "?";
}

static void main_log_config(const struct config *c)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
	const uint8_t *mac = c->our_mac;

	info("Template interface: %s (IPv4), %s (IPv6)",
	     c->ip4.enabled && c->ip4.ifname[0] ? c->ip4.ifname : "none",
	     c->ip6.enabled && c->ip6.ifname[0] ? c->ip6.ifname : "none");
	info("MAC:");
	info("    host: %02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
	     mac[5]);
	if (c->ip4.enabled) {
		info("IPv4:");
		info("    address: %s/%d", main_ip4_str(c->ip4.addr, a), c->ip4.prefix_len);
		info("    gateway: %s", c->ip4.have_gw ? main_ip4_str(c->ip4.gw, b) : "none");
		info("    DHCP: %s", c->no_dhcp ? "off" : "on");
		for (unsigned i = 0; i < c->ip4.dns_count && i < CONF_MAX_DNS; i++)
			info("    DNS: %s", main_ip4_str(c->ip4.dns[i], a));
	} else {
		info("IPv4: disabled");
	}
	if (c->ip6.enabled) {
		info("IPv6:");
		info("    address: %s/%d", main_ip6_str(&c->ip6.addr, a), c->ip6.prefix_len);
		info("    gateway: %s", c->ip6.have_gw ? main_ip6_str(&c->ip6.gw, b) : "none");
		info("    our link-local: %s", main_ip6_str(&c->ip6.our_ll, a));
		info("    NDP: %s, router advertisements: %s, DHCPv6: %s", c->no_ndp ? "off" : "on",
		     c->no_ndp || c->no_ra ? "off" : "on", c->no_dhcpv6 ? "off" : "on");
		for (unsigned i = 0; i < c->ip6.dns_count && i < CONF_MAX_DNS; i++)
			info("    DNS: %s", main_ip6_str(&c->ip6.dns[i], a));
	} else {
		info("IPv6: disabled");
	}
	for (unsigned i = 0; i < c->search_count && i < CONF_MAX_SEARCH; i++)
		info("DNS search: %s", c->search[i]);
}

/* ---- Background, pid file, privileges ---- */

/* Go to the background. Returns in the process that goes on (the child, or grandchild with
 * double_fork); the original process waits until main_ready() or the child's death, and exits 0
 * or 1 accordingly. */
static void main_daemonise(bool double_fork)
{
	int pipefd[2];
	pid_t pid;
	char byte;

	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		err("pipe: %s", strerror(errno));
		main_exit(1);
	}
	pid = fork();
	if (pid < 0) {
		err("fork: %s", strerror(errno));
		main_exit(1);
	}
	if (pid > 0) {
		ssize_t n;

		close(pipefd[1]);
		do {
			n = read(pipefd[0], &byte, 1);
		} while (n < 0 && errno == EINTR);
		/* Only the parent's own copies: the files and sockets belong to the child now. */
		_exit(n == 1 ? 0 : 1);
	}

	close(pipefd[0]);
	if (setsid() < 0)
		debug("setsid: %s", strerror(errno));
	if (double_fork) {
		pid = fork();
		if (pid < 0) {
			err("fork: %s", strerror(errno));
			_exit(1);
		}
		if (pid > 0)
			_exit(0); /* the middle process: the grandchild is no session leader */
	}
	m.ready_fd = pipefd[1];
}

static int main_write_pid_file(const char *path)
{
	char buf[32];
	int fd, len;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		err("cannot write pid file %s: %s", path, strerror(errno));
		return -1;
	}
	len = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (write(fd, buf, (size_t)len) != len) {
		err("cannot write pid file %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	m.pid_file_written = true;
	return 0;
}

/* Resolve --runas (UID[:GID] or LOGIN[:GROUP]; default "nobody") into ids. 0, or -1 (logged). */
static int main_runas_ids(const char *spec, uid_t *uid, gid_t *gid)
{
	char user[64], *group, *end;
	struct passwd *pw;
	unsigned long v;

	snprintf(user, sizeof(user), "%s", spec && *spec ? spec : "nobody");
	group = strchr(user, ':');
	if (group)
		*group++ = '\0';

	errno = 0;
	v = strtoul(user, &end, 10);
	if (*user && !*end && !errno) {
		*uid = (uid_t)v;
		pw = getpwuid(*uid);
		*gid = pw ? pw->pw_gid : (gid_t)v;
	} else {
		pw = getpwnam(user);
		if (!pw) {
			err("--runas: unknown user '%s'", user);
			return -1;
		}
		*uid = pw->pw_uid;
		*gid = pw->pw_gid;
	}

	if (group && *group) {
		struct group *gr;

		errno = 0;
		v = strtoul(group, &end, 10);
		if (!*end && !errno) {
			*gid = (gid_t)v;
		} else {
			gr = getgrnam(group);
			if (!gr) {
				err("--runas: unknown group '%s'", group);
				return -1;
			}
			*gid = gr->gr_gid;
		}
	}
	return 0;
}

/* passt started as root never keeps root: it becomes --runas or "nobody" once the socket is
 * bound. pasta started as root keeps its privileges unless --runas is given (its namespace work
 * is done by then, but later features need them). Not root: nothing to drop. */
static int main_drop_privileges(const struct config *c)
{
	uid_t uid;
	gid_t gid;

	if (geteuid() != 0) {
		if (c->runas[0])
			debug("--runas %s: not running as root, nothing to change", c->runas);
		return 0;
	}
	if (c->mode == MODE_PASTA && !c->runas[0])
		return 0;
	if (main_runas_ids(c->runas, &uid, &gid) < 0)
		return -1;
	if (uid == 0 && c->runas[0]) {
		warn("--runas %s: staying root as asked", c->runas);
		return 0;
	}
	/* Our socket and pid file become the new user's, so that it can remove them at exit. */
	if (m.stream_ready && m.stream.path[0] && chown(m.stream.path, uid, gid) < 0)
		debug("chown %s: %s", m.stream.path, strerror(errno));
	if (m.pid_file_written && chown(c->pid_file, uid, gid) < 0)
		debug("chown %s: %s", c->pid_file, strerror(errno));
	if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
		err("cannot drop privileges to %u:%u: %s", (unsigned)uid, (unsigned)gid,
		    strerror(errno));
		return -1;
	}
	if (uid != 0 && setuid(0) == 0) {
		err("privileges could be regained after dropping them");
		return -1;
	}
	info("Running as %u:%u", (unsigned)uid, (unsigned)gid);
	return 0;
}

/* Tell the waiting parent we are up, and leave the terminal. */
static void main_ready(const struct config *c)
{
	int devnull;

	if (m.ready_fd < 0)
		return;
	if (write(m.ready_fd, "r", 1) != 1)
		warn("cannot notify the parent process: %s", strerror(errno));
	close(m.ready_fd);
	m.ready_fd = -1;

	log_to_syslog(true); /* writes to the -l file instead when one is open */
	if (c->stderr_log)
		log_to_stderr(true);
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
		if (!c->stderr_log)
			dup2(devnull, STDERR_FILENO);
		if (devnull > STDERR_FILENO)
			close(devnull);
	}
	if (chdir("/") < 0)
		debug("chdir /: %s", strerror(errno));
}

/* ---- Set-up ---- */

static void main_epoll_add(int fd, enum epoll_kind kind, uint32_t index)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = epoll_ref_make(kind, index) };

	if (epoll_ctl(m.epollfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		err("epoll_ctl (kind %d): %s", (int)kind, strerror(errno));
		main_exit(1);
	}
}

/* The resolver --dns-forward queries go to, as upstream's dns_host: the first -D address, else
 * the first nameserver of /etc/resolv.conf, loopback ones included (e.g. systemd-resolved's
 * 127.0.0.53, which the guest cannot be given directly). udp_init() already defaults to the
 * first of c->ip4.dns / c->ip6.dns (what -D or the filtered resolv.conf left). */
static void main_dns_host(const struct config *c, struct udp_ctx *u)
{
	struct resolv_conf rc;
	bool v4 = false, v6 = false;

	if (m.dns_from_cmdline ||
	    (!c->ip4.dns_forward.s_addr && IN6_IS_ADDR_UNSPECIFIED(&c->ip6.dns_forward)))
		return;
	if (resolv_read("/etc/resolv.conf", &rc) < 0)
		return;
	for (unsigned i = 0; i < rc.ns_count; i++) {
		const struct resolv_ns *ns = &rc.ns[i];

		if (ns->af == AF_INET && !v4) {
			udp_dns_host_set(u, AF_INET, &ns->addr.v4, 0);
			v4 = true;
		} else if (ns->af == AF_INET6 && !v6 && !ns->scoped) {
			udp_dns_host_set(u, AF_INET6, &ns->addr.v6, 0);
			v6 = true;
		}
	}
}

/* epoll, the output batch, the ping table, UDP (and its -u listeners: opened here, in the
 * host's namespace, while we still have the privileges that low ports need). */
static void main_setup_core(struct config *c)
{
	size_t frame_max;

	m.epollfd = epoll_create1(EPOLL_CLOEXEC);
	if (m.epollfd < 0) {
		err("epoll_create1: %s", strerror(errno));
		main_exit(1);
	}

	if (c->mode == MODE_PASTA)
		frame_max = (size_t)(c->mtu > 0 ? c->mtu : BP_ETH_MAX_MTU) + BP_ETH_HLEN;
	else
		frame_max = BP_FRAME_MAX;
	if (frame_max > BP_FRAME_MAX)
		frame_max = BP_FRAME_MAX;
	if (batch_init(&m.out, MAIN_BATCH_FRAMES, frame_max) < 0) {
		err("cannot allocate the frame batch");
		main_exit(1);
	}

	m.ping = ping_table_new(PING_FLOWS_DEFAULT);
	if (!m.ping) {
		err("cannot allocate the ping table");
		main_exit(1);
	}

	m.d.c = c;
	m.d.guest = &m.guest;
	m.d.out = &m.out;
	m.d.epollfd = m.epollfd;
	m.d.ping = m.ping;

	if (udp_init(&m.udp, c, &m.guest, m.epollfd, UDP_FLOWS_DEFAULT) < 0)
		main_exit(1);
	m.udp_ready = true;
	main_dns_host(c, &m.udp);
	m.d.udp = c->no_udp ? NULL : &m.udp;
}

/* TCP: flow table, timer, and the -t listeners (bound here, before privileges are dropped). */
static void main_setup_tcp(struct config *c)
{
	struct rlimit rl;

	/* A socket per flow: TCP_FLOWS_DEFAULT flows need more than the usual 1024 descriptors.
	 * (The pasta command was started already and keeps its own limit.) */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			debug("setrlimit(RLIMIT_NOFILE): %s", strerror(errno));
	}
	m.tcp = tcp_new(c, &m.guest, m.epollfd, TCP_FLOWS_DEFAULT);
	if (!m.tcp)
		main_exit(1);
	/* --dns-forward over TCP goes where UDP's goes (main_dns_host() chose it). */
	tcp_dns_host_set(m.tcp, AF_INET, m.udp.dns4.set ? &m.udp.dns4.addr : NULL, m.udp.dns4.port);
	tcp_dns_host_set(m.tcp, AF_INET6, m.udp.dns6.set ? &m.udp.dns6.addr : NULL,
			 m.udp.dns6.port);
	m.d.tcp = m.tcp;
	/* pasta: loopback connections skip the tap (-t from the host's loopback, -T listeners
	 * opened inside the namespace now, while we have the rights). */
	if (c->mode == MODE_PASTA && !c->no_tcp) {
		m.tcp_splice = tcp_splice_new(c, m.epollfd, m.ns.netns_fd, m.ns.userns_fd, 0);
		if (!m.tcp_splice)
			main_exit(1);
		tcp_set_splice(m.tcp, m.tcp_splice);
	}
	if (c->mode == MODE_PASTA && !c->no_udp) {
		m.udp_splice = udp_splice_new(c, m.epollfd, m.ns.netns_fd, m.ns.userns_fd, 0);
		if (!m.udp_splice)
			main_exit(1);
		m.udp.splice = m.udp_splice;
	}
}

/* pasta's "auto" is closing a UDP listener: the flows that answer through it go first. */
static void main_udp_listener_closing(void *arg, enum fwd_auto_dir_id dir, uint32_t index, int fd)
{
	(void)arg;
	if (dir == FWD_AUTO_UDP_IN)
		udp_listener_gone(&m.udp, index);
	udp_splice_listener_gone(m.udp_splice, fd);
}

/* pasta: -t/-u/-T/-U auto (flow/fwd_auto.c). The namespace's /proc files are opened from inside
 * it now, while we surely may enter it; what is bound already is forwarded at once. */
static void main_setup_autofwd(struct config *c)
{
	struct fwd_auto_params p = {
		.c = c,
		.epollfd = m.epollfd,
		.netns_fd = m.ns.netns_fd,
		.userns_fd = m.ns.userns_fd,
		.udp_closing = main_udp_listener_closing,
	};
	int err;

	if (!fwd_auto_wanted(c))
		return;
	p.table[FWD_AUTO_TCP_IN] = c->no_tcp ? NULL : tcp_listeners(m.tcp);
	p.table[FWD_AUTO_UDP_IN] = c->no_udp ? NULL : &m.udp.listeners;
	p.table[FWD_AUTO_TCP_OUT] = m.tcp_splice ? tcp_splice_ns_listeners(m.tcp_splice) : NULL;
	p.table[FWD_AUTO_UDP_OUT] = m.udp_splice ? udp_splice_ns_listeners(m.udp_splice) : NULL;
	m.fwd_auto = fwd_auto_new(&p, &err);
	if (!m.fwd_auto)
		main_exit(1);
}

/* Signals as events: SIGTERM/SIGINT (exit) and SIGCHLD (command state). Called after the command's
 * process was forked, so that it does not inherit the blocked mask. */
static void main_setup_signals(void)
{
	struct itimerspec its = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) {
		err("sigprocmask: %s", strerror(errno));
		main_exit(1);
	}
	m.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (m.sigfd < 0) {
		err("signalfd: %s", strerror(errno));
		main_exit(1);
	}
	main_epoll_add(m.sigfd, EPOLL_KIND_SIGNAL, 0);

	m.timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (m.timerfd < 0 || timerfd_settime(m.timerfd, 0, &its, NULL) < 0) {
		err("timerfd: %s", strerror(errno));
		main_exit(1);
	}
	main_epoll_add(m.timerfd, EPOLL_KIND_TIMER, 0);
}

static void main_setup_pasta(struct config *c)
{
	if (ns_setup(c, &m.ns) < 0)
		main_exit(1);
	m.ns_ready = true;

	main_setup_signals();
	main_epoll_add(m.ns.tap_fd, EPOLL_KIND_TAP, 0);
	if (m.ns.cmd_pidfd >= 0)
		main_epoll_add(m.ns.cmd_pidfd, EPOLL_KIND_CHILD, 0);
	if (m.ns.watch_fd >= 0)
		main_epoll_add(m.ns.watch_fd, EPOLL_KIND_NETNS_WATCH, 0);
	info("Namespace interface: %s", m.ns.tap_name);
}

static void main_setup_passt(struct config *c)
{
	if (stream_init(&m.stream, m.epollfd) < 0)
		main_exit(1);
	m.stream_ready = true;

	if (c->sock_fd >= 0) {
		if (stream_adopt(&m.stream, c->sock_fd) < 0)
			main_exit(1);
		return;
	}
	if (stream_listen(&m.stream, c->sock_path) < 0)
		main_exit(1);

	info("UNIX domain socket bound at %s", m.stream.path);
	info("You can now start qemu (>= 7.2):");
	info("    qemu-system-x86_64 ... -device virtio-net-pci,netdev=s "
	     "-netdev stream,id=s,server=off,addr.type=unix,addr.path=%s",
	     m.stream.path);
}

/* ---- Router advertisements ---- */

static bool main_ra_enabled(const struct config *c)
{
	return c->ip6.enabled && !c->no_ndp && !c->no_ra;
}

/* The guest side came up (pasta's tap, a qemu connected): RAs from now on. */
static void main_ra_start(const struct config *c)
{
	m.ra_sent = 0;
	m.ra_next = main_ra_enabled(c) ? main_now() : 0;
}

static void main_ra_tick(const struct config *c, time_t now)
{
	unsigned wait;

	if (!m.ra_next || now < m.ra_next)
		return;
	if (c->mode == MODE_PASST && !stream_connected(&m.stream)) {
		m.ra_next = 0;
		return;
	}
	if (ndp_ra_build(c, &m.guest, &m.out) > 0) {
		m.ra_sent++;
		trace("unsolicited router advertisement %u sent", m.ra_sent);
	}
	if (m.ra_sent < MAIN_RA_INITIAL_COUNT)
		wait = MAIN_RA_INITIAL_INTERVAL;
	else
		wait = NDP_RA_INTERVAL_MIN +
			(unsigned)random() % (NDP_RA_INTERVAL_MAX - NDP_RA_INTERVAL_MIN + 1);
	m.ra_next = now + wait;
}

/* ---- The loop ---- */

static void main_guest_reset(void)
{
	memset(&m.guest, 0, sizeof(m.guest));
}

static void main_on_signal(const struct config *c)
{
	struct signalfd_siginfo si;

	while (read(m.sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		int status;

		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			/* pasta's command gets the signal first and we leave with its status; a
			 * second signal, or no command, ends us at once. */
			if (c->mode == MODE_PASTA && m.ns.cmd_pid > 0 && m.ns.start_pipe < 0 &&
			    !m.cmd_signalled) {
				info("Signal %s received, passing it to the command",
				     strsignal((int)si.ssi_signo));
				m.cmd_signalled = true;
				if (kill(m.ns.cmd_pid, (int)si.ssi_signo) == 0)
					break;
			}
			info("Signal %s received, exiting", strsignal((int)si.ssi_signo));
			main_exit(m.cmd_signalled ? 128 + (int)si.ssi_signo : 0);
			break;
		case SIGCHLD:
			if (c->mode == MODE_PASTA && m.ns.cmd_pid > 0) {
				status = ns_command_status(&m.ns);
				if (status >= 0) {
					debug("command exited with status %d", status);
					main_exit(status);
				}
			}
			break;
		default:
			break;
		}
	}
}

static void main_on_timer(const struct config *c)
{
	uint64_t expirations;
	time_t now = main_now();

	if (read(m.timerfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		debug("timerfd read: %s", strerror(errno));
	ping_expire(m.ping, now);
	{
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		udp_timer(&m.udp, &ts);
		udp_splice_timer(m.udp_splice, ts.tv_sec);
	}
	main_ra_tick(c, now);
	fwd_auto_tick(m.fwd_auto); /* rescan the bound ports (pasta's "auto") */
	bypass_tick();
	mirror_tick(m.tcp, &m.udp, m.tcp_splice, m.ping);
}

static void main_on_stream_status(const struct config *c, enum stream_status st)
{
	if (st == STREAM_CONNECTED) {
		main_guest_reset();
		main_ra_start(c);
		main_ra_tick(c, main_now());
	} else if (st == STREAM_DISCONNECTED) {
		main_guest_reset();
		udp_guest_gone(&m.udp);
		tcp_guest_gone(m.tcp);
		m.ra_next = 0;
		batch_reset(&m.out);
		if (c->one_off || m.stream.inherited) {
			info("%s, exiting",
			     c->one_off ? "One-off mode" : "Inherited socket closed");
			main_exit(0);
		}
	}
}

static void __attribute__((noreturn)) main_loop(struct config *c)
{
	struct epoll_event ev[MAIN_EPOLL_EVENTS];

	for (;;) {
		int n = epoll_wait(m.epollfd, ev, MAIN_EPOLL_EVENTS, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err("epoll_wait: %s", strerror(errno));
			main_exit(1);
		}

		for (int i = 0; i < n; i++) {
			union epoll_ref ref = { .u64 = ev[i].data.u64 };
			int status;

			switch ((enum epoll_kind)ref.kind) {
			case EPOLL_KIND_TAP:
				status = tap_read_batch(m.ns.tap_fd, &m.d, MAIN_TAP_READ_MAX);
				tcp_tap_batch_done(m.tcp, &m.out);
				if (status < 0) {
					if (m.ns.watch_fd >= 0 && ns_watch_gone(&m.ns)) {
						info("Namespace is gone, exiting");
						main_exit(0);
					}
					err("tap device failed, exiting");
					main_exit(1);
				}
				udp_tap_batch_done(&m.udp);
				fastpath_sync(c, &m.guest);
				break;
			case EPOLL_KIND_STREAM_LISTEN:
				main_on_stream_status(c, stream_accept(&m.stream, &m.d));
				break;
			case EPOLL_KIND_STREAM:
				status = (int)stream_handle(&m.stream, &m.d, ev[i].events);
				tcp_tap_batch_done(m.tcp, &m.out);
				udp_tap_batch_done(
					&m.udp); /* before a disconnect drops the stage */
				main_on_stream_status(c, (enum stream_status)status);
				break;
			case EPOLL_KIND_TCP:
				tcp_sock_event(m.tcp, ref.index, ev[i].events, &m.out);
				break;
			case EPOLL_KIND_TCP_LISTEN:
				tcp_listen_event(m.tcp, ref.index, ev[i].events, &m.out);
				break;
			case EPOLL_KIND_TCP_SPLICE:
				tcp_splice_event(m.tcp_splice, ref.index, ev[i].events);
				break;
			case EPOLL_KIND_BYPASS:
				bypass_timer_event();
				break;
			case EPOLL_KIND_PING:
				ping_sock_ready(m.ping, c, &m.guest, ref.index, &m.out);
				break;
			case EPOLL_KIND_UDP:
				udp_sock_event(&m.udp, ref.index, ev[i].events, &m.out);
				break;
			case EPOLL_KIND_UDP_LISTEN:
				udp_listen_event(&m.udp, ref.index, ev[i].events, &m.out);
				break;
			case EPOLL_KIND_UDP_SPLICE:
				udp_splice_event(m.udp_splice, ref.index, ev[i].events);
				break;
			case EPOLL_KIND_TIMER:
				main_on_timer(c);
				break;
			case EPOLL_KIND_SIGNAL:
				main_on_signal(c);
				break;
			case EPOLL_KIND_CHILD:
				status = ns_command_status(&m.ns);
				if (status >= 0) {
					debug("command exited with status %d", status);
					main_exit(status);
				}
				break;
			case EPOLL_KIND_NETNS_WATCH:
				if (ns_watch_gone(&m.ns)) {
					info("Namespace is gone, exiting");
					main_exit(0);
				}
				break;
			default:
				debug("event for unknown kind %u", ref.kind);
				break;
			}
		}

		if (!m.out.count)
			continue;
		if (c->mode == MODE_PASTA) {
			unsigned total = m.out.count;
			int written = tap_flush(m.ns.tap_fd, &m.out);

			tcp_flushed(m.tcp, written > 0 ? (unsigned)written : 0, total);
		} else {
			unsigned total = m.out.count;
			int written = stream_flush(&m.stream, &m.out);

			tcp_flushed(m.tcp, written > 0 ? (unsigned)written : 0, total);
			if (written < 0 && !stream_connected(&m.stream))
				main_on_stream_status(c, STREAM_DISCONNECTED);
		}
	}
}

int main(int argc, char **argv)
{
	struct config *c = &m.c;
	bool pasta_spawn;

	log_init(argc > 0 ? argv[0] : "passt", LOG_LVL_INFO);
	config_defaults(c, conf_mode_from_argv0(argc > 0 ? argv[0] : "passt"), NULL);
	conf_parse(c, argc, argv);

	log_init(c->prog_name, (enum log_level)c->log_level);
	if (c->log_file[0] && log_open_file(c->log_file, c->log_size) < 0) {
		err("cannot open log file %s: %s", c->log_file, strerror(errno));
		return 1;
	}
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());

	m.dns_from_cmdline = c->ip4.dns_count || c->ip6.dns_count;
	if (nl_host_discover(c) < 0)
		return 1;
	main_log_config(c);

	if (c->mode == MODE_PASTA) {
		/* A command of ours runs in the foreground; a namespace we join (--netns, PID) is
		 * served from the background once it is ready. */
		pasta_spawn = !c->netns[0] && !c->target_pid;
		if (!pasta_spawn && !c->foreground)
			main_daemonise(false);
		main_setup_core(c);
		main_setup_pasta(c);
		main_setup_tcp(c);
		main_setup_autofwd(c);
	} else {
		main_setup_core(c);
		main_setup_passt(c);
		main_setup_tcp(c);
		if (!c->foreground)
			main_daemonise(true);
		main_setup_signals();
	}

	/* BPF fast path: loaded here, before privileges are dropped */
	{
		uid_t run_uid =
			(uid_t)-1; /* who owns the pins: whom main_drop_privileges() becomes */
		gid_t run_gid = (gid_t)-1;

		if (c->mode == MODE_PASTA && geteuid() == 0 && c->runas[0] &&
		    main_runas_ids(c->runas, &run_uid, &run_gid) < 0)
			main_exit(1);
		if (fastpath_start(c, c->mode == MODE_PASTA ? &m.ns : NULL, &m.guest, run_uid,
				   run_gid) < 0)
			main_exit(1);
		if (bypass_start(c, c->mode == MODE_PASTA ? &m.ns : NULL, m.tcp_splice, m.epollfd,
				 run_uid, run_gid) < 0)
			main_exit(1);
		if (bypass_active()) /* "auto" listeners, now and later */
			fwd_auto_set_tcp_hook(m.fwd_auto, bypass_auto_listener, NULL);
	}

	if (c->pid_file[0] && main_write_pid_file(c->pid_file) < 0)
		main_exit(1);
	if (main_drop_privileges(c) < 0)
		main_exit(1);
	main_ready(c);

	if (c->mode == MODE_PASTA) {
		main_ra_start(c);
		if (m.ns.start_pipe >= 0 && ns_start_command(&m.ns) < 0)
			main_exit(1);
	}

	main_loop(c);
}
