// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ns.c - pasta's namespaces: create or join one, put the tap in it, run the command there
 *
 * Theory of operation
 *
 * The daemon never leaves the host's network namespace: its sockets must be host sockets. What
 * has to happen inside the target namespace (creating the tap, --config-net, sysctls) runs in a
 * short-lived helper: ns_call_in_netns() clone()s a child with CLONE_VM | CLONE_FILES |
 * CLONE_VFORK (same memory, same descriptor table; the daemon sleeps until it exits), which
 * setns()es into the target and runs the callback there. A descriptor opened by the helper (the
 * tap) stays valid in the daemon, and the callback's result comes back through shared memory.
 * A separate process rather than a thread, because joining a user namespace is refused to a
 * thread of a multi-threaded process or one sharing its fs_struct; and an unprivileged daemon
 * needs that: it has CAP_SYS_ADMIN over a network namespace owned by a child user namespace only
 * once it is in that user namespace. So the helper tries setns(netns) alone first (root, or a
 * namespace we have rights on) and on EPERM joins the user namespace (--userns, the PID's, or the
 * one owning the network namespace: NS_GET_USERNS) first.
 *
 * Three ways to get a target (ns_setup):
 *   - spawn (no --netns, no PID): fork a child that unshare()s user, network and UTS namespaces,
 *     reports on the `ready` pipe, and waits on the `start` pipe. Meanwhile the daemon writes the
 *     child's uid_map/gid_map (caller's uid/gid -> 0; "deny" to setgroups first unless we are
 *     root, root maps the whole range 0 0 4294967295) and opens /proc/CHILD/ns/{user,net}.
 *     ns_start_command() writes one 'g' byte and closes `start`: the child resets its signal
 *     state and execvp()s the command, or the user's shell ($SHELL, then the passwd entry, then
 *     /bin/sh; looked up before forking, since inside the child getuid() is already 0). A start
 *     pipe closed without the byte (the daemon died or gave up) makes the child exit instead.
 *   - --netns PATH|NAME (NAME means /run/netns/NAME), --userns PATH optional: join them. The
 *     namespace is watched with inotify on the directory holding PATH (IN_DELETE and moves), so
 *     "ip netns del" wakes us; ns_watch_gone() then confirms that PATH no longer names our
 *     namespace (gone, or a different inode). --no-netns-quit: no watch.
 *   - PID: /proc/PID/ns/net, and /proc/PID/ns/user unless --netns-only (or --userns). The watch is
 *     a pidfd of PID: readable once that process has exited.
 * A user namespace that is our own is not "joined" (setns would refuse it).
 *
 * Then the helper, inside: tap_open() (down, so the sysctl below applies before IPv6 starts on
 * it), with --config-net net.ipv6.conf.<tap>.accept_dad=0 through /proc/sys (a /proc/sys/net
 * file belongs to the network namespace of the task that opens it), tap_bring_up() (lo and the
 * tap), and with --config-net nl_ns_configure(). With --config-net, ns_setup() also sets
 * c->no_ra, as upstream does: the namespace's addresses and routes are given, and a router
 * advertisement would only add a second, SLAAC address and route.
 *
 * State: struct ns_state (the caller's) plus this file's watch description (path, the inode of
 * our namespace, the kind of watch), and the helper's stack; one namespace per process.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/nsfs.h>

#include "core/log.h"
#include "io/netlink.h"
#include "io/ns.h"
#include "io/tap.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define NS_HELPER_STACK_SIZE (512 * 1024)
#define NS_DEFAULT_MTU 65520
#define NS_RUN_NETNS "/run/netns"
#define NS_START_BYTE 'g'
#define NS_PATH_MAX (PATH_MAX + sizeof(NS_RUN_NETNS))

enum ns_watch_kind {
	NS_WATCH_NONE = 0,
	NS_WATCH_PID, /* watch_fd is a pidfd of the target process */
	NS_WATCH_PATH, /* watch_fd is an inotify on the directory of ns_watch.path */
};

static struct {
	enum ns_watch_kind kind;
	char path[NS_PATH_MAX];
	dev_t dev; /* our network namespace's nsfs inode */
	ino_t ino;
} ns_watch;

/* The helper's stack: the daemon is suspended while the helper runs (CLONE_VFORK), so one is
 * enough. */
static uint8_t ns_helper_stack[NS_HELPER_STACK_SIZE] __attribute__((aligned(64)));

struct ns_call {
	const struct ns_state *ns;
	int (*fn)(void *arg);
	void *arg;
	int result;
	int enter_errno; /* 0: entered */
	const char *enter_step;
	bool done;
};

static int ns_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* ---- entering the namespace (in the helper) ---- */

static int ns_enter(const struct ns_state *ns, struct ns_call *call)
{
	int userns = ns->userns_fd, owned = -1;

	if (setns(ns->netns_fd, CLONE_NEWNET) == 0)
		return 0;
	if (errno != EPERM) {
		call->enter_step = "setns(network namespace)";
		return -errno;
	}
	if (userns < 0) {
		owned = ioctl(ns->netns_fd, NS_GET_USERNS);
		if (owned < 0) {
			call->enter_step = "NS_GET_USERNS";
			return -EPERM;
		}
		userns = owned;
	}
	if (setns(userns, CLONE_NEWUSER) < 0) {
		int e = errno;

		if (owned >= 0)
			close(owned);
		call->enter_step = "setns(user namespace)";
		return -e;
	}
	if (owned >= 0)
		close(owned);
	if (setns(ns->netns_fd, CLONE_NEWNET) < 0) {
		call->enter_step = "setns(network namespace) from its user namespace";
		return -errno;
	}
	return 0;
}

static int ns_helper_main(void *arg)
{
	struct ns_call *call = arg;
	int ret = ns_enter(call->ns, call);

	if (ret < 0) {
		call->enter_errno = -ret;
		call->done = true;
		_exit(1);
	}
	call->result = call->fn(call->arg);
	call->done = true;
	_exit(0);
}

int ns_call_in_netns(const struct ns_state *ns, int (*fn)(void *arg), void *arg)
{
	struct ns_call call = { .ns = ns, .fn = fn, .arg = arg, .result = -1 };
	pid_t pid;

	if (ns->netns_fd < 0) {
		err("namespace: no target network namespace to enter");
		return -1;
	}
	pid = clone(ns_helper_main, ns_helper_stack + sizeof(ns_helper_stack),
		    CLONE_VM | CLONE_FILES | CLONE_VFORK | SIGCHLD, &call);
	if (pid < 0) {
		err("namespace: clone() of the helper: %s", strerror(errno));
		return -1;
	}
	/* CLONE_VFORK: the helper has exited by now; reap it (a SIGCHLD handler may beat us) */
	while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
		;
	if (!call.done) {
		err("namespace: the helper died before finishing");
		return -1;
	}
	if (call.enter_errno) {
		err("namespace: cannot enter the target namespace: %s: %s",
		    call.enter_step ? call.enter_step : "setns", strerror(call.enter_errno));
		return -1;
	}
	return call.result;
}

/* ---- spawning a namespace ---- */

static int ns_write_file(const char *path, const char *text)
{
	size_t len = strlen(text);
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		ret = -errno;
	close(fd);
	return ret;
}

static void ns_shell(char *buf, size_t size)
{
	const char *sh = getenv("SHELL");
	struct passwd *pw;

	if (!sh || !sh[0]) {
		pw = getpwuid(getuid());
		sh = pw && pw->pw_shell && pw->pw_shell[0] ? pw->pw_shell : "/bin/sh";
	}
	snprintf(buf, size, "%s", sh);
}

/* The spawned child: new namespaces, report, wait for the go, exec. Never returns. */
static void ns_child(int ready_fd, int start_fd, char **cmd, const char *shell)
{
	int e = 0;
	char go = 0;
	sigset_t none;
	ssize_t n;

	if (unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWUTS) < 0)
		e = errno;
	if (write(ready_fd, &e, sizeof(e)) != sizeof(e) || e)
		_exit(1);
	close(ready_fd);

	do {
		n = read(start_fd, &go, 1);
	} while (n < 0 && errno == EINTR);
	if (n != 1 || go != NS_START_BYTE)
		_exit(1);
	close(start_fd);

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);

	if (cmd && cmd[0]) {
		execvp(cmd[0], cmd);
		e = errno;
		fprintf(stderr, "pasta: cannot run %s: %s\n", cmd[0], strerror(e));
	} else {
		char *argv[2] = { (char *)shell, NULL };

		execv(shell, argv);
		e = errno;
		fprintf(stderr, "pasta: cannot run %s: %s\n", shell, strerror(e));
	}
	_exit(e == ENOENT ? 127 : 126);
}

static int ns_write_maps(pid_t pid)
{
	char path[64], map[64];
	uid_t uid = geteuid();
	gid_t gid = getegid();
	int ret;

	if (uid != 0) {
		snprintf(path, sizeof(path), "/proc/%d/setgroups", (int)pid);
		ret = ns_write_file(path, "deny");
		if (ret < 0 && ret != -ENOENT) {
			err("namespace: writing %s: %s", path, strerror(-ret));
			return -1;
		}
	}
	snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
	if (uid == 0)
		snprintf(map, sizeof(map), "0 0 4294967295");
	else
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
	ret = ns_write_file(path, map);
	if (ret < 0) {
		err("namespace: writing %s (\"%s\"): %s", path, map, strerror(-ret));
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)pid);
	if (uid == 0)
		snprintf(map, sizeof(map), "0 0 4294967295");
	else
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
	ret = ns_write_file(path, map);
	if (ret < 0) {
		err("namespace: writing %s (\"%s\"): %s", path, map, strerror(-ret));
		return -1;
	}
	return 0;
}

static int ns_spawn(const struct config *c, struct ns_state *ns)
{
	char shell[PATH_MAX], path[64];
	int ready[2], start[2], e = 0;
	ssize_t n;
	pid_t pid;

	ns_shell(shell, sizeof(shell));
	if (pipe2(ready, O_CLOEXEC) < 0)
		goto fail_errno;
	if (pipe2(start, O_CLOEXEC) < 0) {
		close(ready[0]);
		close(ready[1]);
		goto fail_errno;
	}
	pid = fork();
	if (pid < 0) {
		close(ready[0]);
		close(ready[1]);
		close(start[0]);
		close(start[1]);
		goto fail_errno;
	}
	if (pid == 0) {
		close(ready[0]);
		close(start[1]);
		ns_child(ready[1], start[0], c->cmd, shell);
	}
	close(ready[1]);
	close(start[0]);
	ns->cmd_pid = pid;
	ns->start_pipe = start[1];

	do {
		n = read(ready[0], &e, sizeof(e));
	} while (n < 0 && errno == EINTR);
	close(ready[0]);
	if (n != sizeof(e)) {
		err("namespace: the child exited before creating its namespaces");
		return -1;
	}
	if (e) {
		err("namespace: unshare(user, network, UTS): %s%s", strerror(e),
		    e == EPERM || e == ENOSPC
			    ? " (are unprivileged user namespaces allowed? "
			      "see kernel.unprivileged_userns_clone, user.max_user_namespaces)"
			    : "");
		return -1;
	}
	if (ns_write_maps(pid) < 0)
		return -1;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	ns->netns_fd = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
	ns->userns_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (ns->netns_fd < 0 || ns->userns_fd < 0) {
		err("namespace: opening the child's namespaces: %s", strerror(errno));
		return -1;
	}
	ns->cmd_pidfd = ns_pidfd_open(pid);
	if (ns->cmd_pidfd < 0) {
		err("namespace: pidfd_open(%d): %s", (int)pid, strerror(errno));
		return -1;
	}
	return 0;

fail_errno:
	err("namespace: starting the child: %s", strerror(errno));
	return -1;
}

/* ---- joining a namespace ---- */

/* Open a user namespace to join; -1 (not an error) if it is our own. -2 on error. */
static int ns_open_userns(const char *path)
{
	struct stat self, st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		err("namespace: opening user namespace %s: %s", path, strerror(errno));
		return -2;
	}
	if (ioctl(fd, NS_GET_NSTYPE) != CLONE_NEWUSER) {
		err("namespace: %s is not a user namespace", path);
		close(fd);
		return -2;
	}
	if (fstat(fd, &st) == 0 && stat("/proc/self/ns/user", &self) == 0 &&
	    st.st_dev == self.st_dev && st.st_ino == self.st_ino) {
		close(fd);
		return -1;
	}
	return fd;
}

static int ns_join(const struct config *c, struct ns_state *ns)
{
	char path[NS_PATH_MAX];
	struct stat st;

	if (c->target_pid > 0)
		snprintf(path, sizeof(path), "/proc/%d/ns/net", c->target_pid);
	else if (strchr(c->netns, '/'))
		snprintf(path, sizeof(path), "%s", c->netns);
	else
		snprintf(path, sizeof(path), "%s/%s", NS_RUN_NETNS, c->netns);

	ns->netns_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (ns->netns_fd < 0) {
		err("namespace: opening network namespace %s: %s", path, strerror(errno));
		return -1;
	}
	if (ioctl(ns->netns_fd, NS_GET_NSTYPE) != CLONE_NEWNET) {
		err("namespace: %s is not a network namespace", path);
		return -1;
	}
	if (fstat(ns->netns_fd, &st) < 0) {
		err("namespace: %s: %s", path, strerror(errno));
		return -1;
	}
	ns_watch.dev = st.st_dev;
	ns_watch.ino = st.st_ino;

	if (c->userns[0]) {
		ns->userns_fd = ns_open_userns(c->userns);
	} else if (c->target_pid > 0 && !c->netns_only) {
		char upath[64];

		snprintf(upath, sizeof(upath), "/proc/%d/ns/user", c->target_pid);
		ns->userns_fd = ns_open_userns(upath);
	}
	if (ns->userns_fd == -2) {
		ns->userns_fd = -1;
		return -1;
	}

	if (c->target_pid > 0) {
		ns->watch_fd = ns_pidfd_open(c->target_pid);
		if (ns->watch_fd < 0) {
			err("namespace: pidfd_open(%d): %s", c->target_pid, strerror(errno));
			return -1;
		}
		ns_watch.kind = NS_WATCH_PID;
	} else if (!c->no_netns_quit) {
		char dir[NS_PATH_MAX];
		char *slash;

		snprintf(ns_watch.path, sizeof(ns_watch.path), "%s", path);
		snprintf(dir, sizeof(dir), "%s", path);
		slash = strrchr(dir, '/');
		if (slash == dir)
			slash[1] = '\0';
		else if (slash)
			*slash = '\0';
		ns->watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (ns->watch_fd < 0 ||
		    inotify_add_watch(ns->watch_fd, dir,
				      IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF) <
			    0) {
			err("namespace: watching %s: %s", dir, strerror(errno));
			return -1;
		}
		ns_watch.kind = NS_WATCH_PATH;
	}
	return 0;
}

/* ---- the tap, inside ---- */

struct ns_tap_job {
	const struct config *c;
	const char *name;
	const uint8_t *mac;
	int mtu;
	int fd;
	int ifindex;
};

static int ns_tap_job_run(void *arg)
{
	struct ns_tap_job *job = arg;
	const struct config *c = job->c;
	char path[PATH_MAX];
	int ret;

	job->fd = tap_open(job->name, job->mac, job->mtu, &job->ifindex);
	if (job->fd < 0)
		return -1;

	if (c->config_net && c->ip6.enabled) {
		snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/accept_dad", job->name);
		ret = ns_write_file(path, "0");
		if (ret < 0)
			debug("namespace: %s: %s", path, strerror(-ret));
	}

	if (tap_bring_up(job->name) < 0)
		goto fail;
	if (c->config_net && nl_ns_configure(c, job->ifindex) < 0)
		goto fail;
	return 0;
fail:
	close(job->fd);
	job->fd = -1;
	return -1;
}

static void ns_choose_tap_name(struct config *c)
{
	const char *name = "tap0";

	if (c->tap_name[0])
		return;
	if (c->ip4.enabled && c->ip4.ifname[0])
		name = c->ip4.ifname;
	else if (c->ip6.enabled && c->ip6.ifname[0])
		name = c->ip6.ifname;
	else if (c->ifname[0])
		name = c->ifname;
	snprintf(c->tap_name, sizeof(c->tap_name), "%s", name);
}

int ns_setup(struct config *c, struct ns_state *ns)
{
	struct ns_tap_job job = { .c = c, .fd = -1 };
	int ret;

	memset(ns, 0, sizeof(*ns));
	ns->netns_fd = ns->userns_fd = ns->cmd_pidfd = ns->watch_fd = -1;
	ns->tap_fd = ns->start_pipe = -1;
	memset(&ns_watch, 0, sizeof(ns_watch));

	if (c->mtu <= 0)
		c->mtu = NS_DEFAULT_MTU;
	if (c->config_net && !c->no_ra) {
		/* as upstream: the addresses are configured, SLAAC would add a second one */
		debug("namespace: --config-net: no router advertisements");
		c->no_ra = true;
	}
	ns_choose_tap_name(c);
	if (!c->ns_mac_set)
		tap_random_mac(c->ns_mac);

	if (c->target_pid > 0 || c->netns[0])
		ret = ns_join(c, ns);
	else
		ret = ns_spawn(c, ns);
	if (ret < 0)
		goto fail;

	job.name = c->tap_name;
	job.mac = c->ns_mac;
	job.mtu = c->mtu;
	if (ns_call_in_netns(ns, ns_tap_job_run, &job) < 0 || job.fd < 0) {
		err("namespace: could not set up tap %s in the namespace", c->tap_name);
		goto fail;
	}
	ns->tap_fd = job.fd;
	ns->tap_ifindex = job.ifindex;
	snprintf(ns->tap_name, sizeof(ns->tap_name), "%s", c->tap_name);
	info("namespace: tap %s (index %d, MTU %d)%s", ns->tap_name, ns->tap_ifindex, c->mtu,
	     c->config_net ? ", configured" : "");
	return 0;
fail:
	ns_cleanup(ns);
	return -1;
}

int ns_start_command(struct ns_state *ns)
{
	char go = NS_START_BYTE;
	ssize_t n;

	if (ns->start_pipe < 0)
		return ns->cmd_pid ? -1 : 0;
	do {
		n = write(ns->start_pipe, &go, 1);
	} while (n < 0 && errno == EINTR);
	close(ns->start_pipe);
	ns->start_pipe = -1;
	if (n != 1) {
		err("namespace: starting the command: %s", strerror(errno));
		return -1;
	}
	return 0;
}

bool ns_watch_gone(struct ns_state *ns)
{
	struct pollfd pfd = { .fd = ns->watch_fd, .events = POLLIN };
	uint8_t buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct stat st;

	if (ns->watch_fd < 0)
		return false;
	switch (ns_watch.kind) {
	case NS_WATCH_PID:
		/* a pidfd polls readable once its process has exited */
		return poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLIN | POLLHUP | POLLERR));
	case NS_WATCH_PATH:
		while (read(ns->watch_fd, buf, sizeof(buf)) > 0)
			; /* the events only say "look again" */
		if (stat(ns_watch.path, &st) < 0)
			return errno == ENOENT || errno == ENOTDIR;
		return st.st_dev != ns_watch.dev || st.st_ino != ns_watch.ino;
	case NS_WATCH_NONE:
		break;
	}
	return false;
}

int ns_command_status(struct ns_state *ns)
{
	siginfo_t si;
	int ret;

	if (ns->cmd_pid <= 0)
		return -1;
	memset(&si, 0, sizeof(si));
	do {
		ret = waitid(P_PID, (id_t)ns->cmd_pid, &si, WEXITED | WNOHANG);
	} while (ret < 0 && errno == EINTR);
	if (ret < 0 || si.si_pid == 0)
		return -1;

	ns->cmd_pid = 0;
	if (ns->cmd_pidfd >= 0) {
		close(ns->cmd_pidfd);
		ns->cmd_pidfd = -1;
	}
	if (si.si_code == CLD_EXITED)
		return si.si_status;
	return 128 + si.si_status;
}

void ns_cleanup(struct ns_state *ns)
{
	int *fds[] = { &ns->netns_fd, &ns->userns_fd, &ns->cmd_pidfd, &ns->watch_fd, &ns->tap_fd };
	unsigned i;

	if (ns->start_pipe >= 0) {
		/* the command never started: closing without the go byte makes the child exit */
		close(ns->start_pipe);
		ns->start_pipe = -1;
		if (ns->cmd_pid > 0) {
			while (waitpid(ns->cmd_pid, NULL, 0) < 0 && errno == EINTR)
				;
			ns->cmd_pid = 0;
		}
	}
	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
	}
	ns_watch.kind = NS_WATCH_NONE;
}
