/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ns.h - pasta's namespaces: create or join a user+network namespace, run the command in it
 *
 * The daemon itself stays in the host's network namespace (its L4 sockets must be host sockets);
 * only the tap device lives in the target namespace. ns_setup() prepares the namespace (a child
 * that unshares user+net and waits, or an existing one joined by --netns/--userns or a PID),
 * creates the tap inside it (io/tap.h) and configures it when --config-net (io/netlink.h).
 * ns_start_command() then lets the waiting child exec the command, once the daemon is ready.
 */
#ifndef BPASST_NS_H
#define BPASST_NS_H

#include <net/if.h>
#include <stdbool.h>
#include <sys/types.h>

#include "core/config.h"

struct ns_state {
	int netns_fd; /* the target network namespace (open fd, for setns), -1 if none */
	int userns_fd; /* its user namespace, -1 if none */
	pid_t cmd_pid; /* the command's process (spawned by us), 0 if none */
	int cmd_pidfd; /* pidfd of cmd_pid (epoll: readable when it exits), -1 if none */
	int watch_fd; /* epoll: readable when a joined namespace may have gone away, -1 if none */
	int tap_fd; /* the tap, O_NONBLOCK, opened inside the namespace */
	int tap_ifindex; /* ifindex of the tap inside the namespace */
	char tap_name[IFNAMSIZ];
	int start_pipe; /* write end: ns_start_command() lets the waiting child exec, or -1 */
};

/* Create or join the namespace, create the tap, configure it if c->config_net. Fills in
 * c->tap_name, c->ns_mac (random) and c->mtu (65520) if unset, and sets c->no_ra with
 * --config-net. 0, or -1 (logged). */
int ns_setup(struct config *c, struct ns_state *ns);
/* Let the command run (pasta spawned a namespace with a command). 0, or -1. */
int ns_start_command(struct ns_state *ns);
/* After watch_fd was readable: true if the joined namespace is gone (the daemon should exit). */
bool ns_watch_gone(struct ns_state *ns);
/* After cmd_pidfd was readable: reap the command; returns its exit status as a shell would
 * (128 + signal for a signal), or -1 if it has not exited. */
int ns_command_status(struct ns_state *ns);
/* Run fn(arg) inside the target network namespace (and, if needed for the rights, its user
 * namespace), then come back. fn runs in a short-lived helper process that shares our memory and
 * descriptor table (clone with CLONE_VM | CLONE_FILES | CLONE_VFORK; we sleep meanwhile): what it
 * writes to memory and the fds it opens are ours afterwards, but it must not exit() or rely on
 * per-process state (signal handlers, credentials). Returns fn's result, or -1 if the namespace
 * could not be entered. */
int ns_call_in_netns(const struct ns_state *ns, int (*fn)(void *arg), void *arg);
void ns_cleanup(struct ns_state *ns);

#endif /* BPASST_NS_H */
