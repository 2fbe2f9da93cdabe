// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * nsexec.c - run a short function inside another network namespace (see nsexec.h)
 *
 * Theory of operation: nsexec_call() clone()s a helper with CLONE_VM | CLONE_FILES | CLONE_VFORK
 * and no exit signal (so no SIGCHLD reaches the daemon's signalfd for it), on a static stack (one
 * is enough: the daemon is suspended while the helper runs). The helper enters the namespace,
 * calls fn, writes the outcome into the shared struct nsexec_job and _exit()s; the daemon wakes
 * up, reaps it with __WALL (a child without exit signal is a "clone" child to waitpid()) and reads
 * the job.
 *
 * State: the helper's stack only.
 */
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/nsfs.h>

#include "core/log.h"
#include "core/nsexec.h"

#define NSEXEC_STACK_SIZE (512 * 1024)

static uint8_t nsexec_stack[NSEXEC_STACK_SIZE] __attribute__((aligned(64)));

struct nsexec_job {
	int netns_fd, userns_fd;
	int (*fn)(void *arg);
	void *arg;
	int result;
	int enter_errno; /* 0: entered */
	const char *step; /* what failed */
	bool done;
};

/* In the helper: join the network namespace, through its user namespace if we must. */
static int nsexec_enter(struct nsexec_job *job)
{
	int userns = job->userns_fd, owned = -1, e;

	if (setns(job->netns_fd, CLONE_NEWNET) == 0)
		return 0;
	if (errno != EPERM) {
		job->step = "setns(network namespace)";
		return errno;
	}
	if (userns < 0) {
		owned = ioctl(job->netns_fd, NS_GET_USERNS);
		if (owned < 0) {
			job->step = "NS_GET_USERNS";
			return EPERM;
		}
		userns = owned;
	}
	e = setns(userns, CLONE_NEWUSER) < 0 ? errno : 0;
	if (owned >= 0)
		close(owned);
	if (e) {
		job->step = "setns(user namespace)";
		return e;
	}
	if (setns(job->netns_fd, CLONE_NEWNET) < 0) {
		job->step = "setns(network namespace) from its user namespace";
		return errno;
	}
	return 0;
}

static int nsexec_helper(void *arg)
{
	struct nsexec_job *job = arg;

	job->enter_errno = nsexec_enter(job);
	if (!job->enter_errno)
		job->result = job->fn(job->arg);
	job->done = true;
	_exit(0);
}

int nsexec_call(int netns_fd, int userns_fd, int (*fn)(void *arg), void *arg, int *result)
{
	struct nsexec_job job = {
		.netns_fd = netns_fd,
		.userns_fd = userns_fd,
		.fn = fn,
		.arg = arg,
		.result = -1,
	};
	pid_t pid;

	if (netns_fd < 0)
		return -EBADF;
	pid = clone(nsexec_helper, nsexec_stack + sizeof(nsexec_stack),
		    CLONE_VM | CLONE_FILES | CLONE_VFORK, &job);
	if (pid < 0) {
		int e = errno;

		debug("nsexec: clone() of the helper: %s", strerror(e));
		return -e;
	}
	/* CLONE_VFORK: the helper has exited by now; reap it. */
	while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
		;
	/* The helper wrote job through our memory; make sure the compiler reads it again. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!job.done) {
		debug("nsexec: the helper died before finishing");
		return -ECHILD;
	}
	if (job.enter_errno) {
		debug("nsexec: cannot enter the namespace: %s: %s", job.step ? job.step : "setns",
		      strerror(job.enter_errno));
		return -job.enter_errno;
	}
	if (result)
		*result = job.result;
	return 0;
}
