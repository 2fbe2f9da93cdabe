/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * nsexec.h - run a short function inside another network namespace, for a single-threaded daemon
 * that must itself stay where it is
 *
 * setns() changes the namespace of the calling thread, and the daemon's own sockets must stay in
 * the host's namespace. So the function runs in a short-lived helper process that shares the
 * daemon's memory and descriptor table (clone() with CLONE_VM | CLONE_FILES | CLONE_VFORK: the
 * daemon sleeps until the helper exits). The helper joins the network namespace and calls fn:
 * every descriptor it opens (a socket created in that namespace stays in that namespace for its
 * whole life) and everything it writes to memory are the daemon's afterwards.
 *
 * The helper first tries setns(netns) alone (root, or a namespace we have the rights on); on
 * EPERM it joins the user namespace first (userns_fd, or the one that owns the network namespace:
 * NS_GET_USERNS), because an unprivileged daemon holds CAP_SYS_ADMIN over a network namespace
 * owned by a child user namespace only from inside that user namespace. A process, not a thread:
 * a thread of a multi-threaded process is refused a user namespace.
 *
 * fn must not exit(), must not rely on per-process state (signal handlers, credentials: they are
 * the helper's), and should be short: the daemon's loop is stopped meanwhile. Floor 1: no
 * knowledge of who calls it; user/io/ns.c's ns_call_in_netns() does the same for its own set-up.
 */
#ifndef BPASST_NSEXEC_H
#define BPASST_NSEXEC_H

/* Run fn(arg) inside network namespace netns_fd (userns_fd: its user namespace, or -1 to ask
 * the kernel which one owns it when that is needed). Returns 0 when fn ran (its return value in
 * *result, if result is not NULL), or -errno when the namespace could not be entered or the
 * helper not started (logged at debug level with the step that failed). */
int nsexec_call(int netns_fd, int userns_fd, int (*fn)(void *arg), void *arg, int *result);

#endif /* BPASST_NSEXEC_H */
