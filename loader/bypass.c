// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bypass.c - loading, attaching and pinning the loopback bypass (--bpf-bypass) with libbpf
 *
 * bp_bypass_start() goes through these steps; the first that fails undoes the earlier ones and
 * returns NULL with "BPF bypass: off: <reason>":
 *   1. probes: bpf() permitted (loader.c's probe), a cgroup v2 hierarchy mounted (its root read
 *      from /proc/self/mountinfo, or the caller's path), bpffs mounted or mountable (pin.c);
 *   2. open the skeleton of bpf/bypass.bpf.c, size the maps from max_conns, choose the receive
 *      hook and load. The hook is optional, so the object is loaded with each candidate in turn
 *      until one loads and attaches: fexit on __sk_msg_recvmsg (every read of redirected data
 *      passes it exactly once: sk_msg_recvmsg, which tcp_bpf_recvmsg calls, is a wrapper around
 *      it, and tcp_bpf_recvmsg_parser calls it directly), else fexit on sk_msg_recvmsg (kernels
 *      before the split), else the sock:sock_recv_length tracepoint (where fexit is not allowed,
 *      as under some lockdown setups), else none: the bypass then runs without read tracking;
 *   3. attach the sk_msg programs, bp_bypass_msg to bypass_sockets and bp_bypass_tail_msg to
 *      bypass_tailsock (a sockmap link where the kernel has them, so it goes away with our
 *      descriptor; else a plain program attachment), then the sock_ops
 *      program to the cgroup with a cgroup link, last, so that no socket is inserted before the
 *      rest is ready. Links are never pinned: a killed daemon leaves no program acting;
 *   4. remove pin directories of dead instances, then create or join <bpffs>/bpasst/<instance>/
 *      (the tap loader may have created it: a directory whose live owner is us is shared) and
 *      pin the maps there as bypass_* (mode 0600, chowned when asked), with bypass_instance
 *      naming the owner so that pin.c can tell our pins from a dead instance's.
 * bypass_sockets is not pinned: if the daemon dies, the sockhash goes with its descriptors,
 * which detaches the sk_msg program from every endpoint socket at once. Neither are bypass_out
 * and bypass_tailsock (our own sockets: the egress targets, and the relay's tails), for the same
 * reason.
 *
 * State: struct bp_bypass (the skeleton, the links, the pin paths, which hook runs).
 * bp_bypass_stop() undoes steps 4 to 2: links first (no new endpoint, no redirect), then pins
 * (the directory goes if nothing else is left in it), then the maps.
 *
 * The map accessors copy the daemon's keys and clear their padding: the whole struct is the hash
 * key, so stray bytes would make an entry unfindable.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "bpasst_maps.h"
#include "bypass.h"
#include "loader.h"
#include "pin.h"
#include "bypass.skel.h"

#define BYPASS_CONNS_DEFAULT 4096u
#define BYPASS_CONNS_MAX (1u << 20)

/* The receive hook candidates, in order of preference. */
enum bypass_hook {
	HOOK_FEXIT6, /* fexit/__sk_msg_recvmsg */
	HOOK_FEXIT5, /* fexit/sk_msg_recvmsg */
	HOOK_TP, /* tp_btf/sock_recv_length */
	HOOK_NONE,
};

static const char *const hook_names[] = {
	[HOOK_FEXIT6] = "fexit __sk_msg_recvmsg",
	[HOOK_FEXIT5] = "fexit sk_msg_recvmsg",
	[HOOK_TP] = "tracepoint sock_recv_length",
	[HOOK_NONE] = "none",
};

/* An sk_msg program on a sockhash. */
struct byp_msg_attach {
	int link_fd; /* sockmap link, or -1 */
	bool attached; /* attached with bpf_prog_attach() instead (no sockmap links) */
	int prog_fd, map_fd; /* for the detach of a plain attachment */
};

struct bp_bypass {
	struct bypass *skel;
	struct bpf_link *sockops_link;
	struct bpf_link *read_link;
	struct byp_msg_attach msg; /* bp_bypass_msg on bypass_sockets */
	struct byp_msg_attach tail; /* bp_bypass_tail_msg on bypass_tailsock */
	enum bypass_hook hook;
	char cgroup[PATH_MAX];
	char pin_dir[PATH_MAX];
};

/* snprintf that may truncate; returns whether everything fit. */
static bool byp_fmt(char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static bool byp_fmt(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!out || !len)
		return false;
	va_start(ap, fmt);
	n = vsnprintf(out, len, fmt, ap);
	va_end(ap);
	return n >= 0 && (size_t)n < len;
}

/* ---- libbpf messages: the first warning of a step goes into its reason (later ones tend to be
 * generic); printed only when verbose ---- */

static bool byp_verbose;
static bool byp_quiet; /* trying a receive hook candidate: its failure is not news */
static char byp_first_warning[256];

static int byp_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	va_list copy;
	size_t n;

	if (level == LIBBPF_WARN && !byp_first_warning[0]) {
		va_copy(copy, ap);
		vsnprintf(byp_first_warning, sizeof(byp_first_warning), fmt, copy);
		va_end(copy);
		n = strlen(byp_first_warning);
		while (n && byp_first_warning[n - 1] == '\n')
			byp_first_warning[--n] = '\0';
	}
	if (byp_verbose && !byp_quiet && level != LIBBPF_DEBUG)
		return vfprintf(stderr, fmt, ap);
	return 0;
}

/* ---- cgroup v2 ---- */

/* ---- Pins ---- */

struct byp_pin {
	const char *name;
	size_t skel_off; /* offset of the map pointer in struct bypass.maps */
};

static const struct byp_pin byp_pins[] = {
	{ "bypass_listen", offsetof(struct bypass, maps.bypass_listen) },
	{ "bypass_expect", offsetof(struct bypass, maps.bypass_expect) },
	{ "bypass_expect_cookie", offsetof(struct bypass, maps.bypass_expect_cookie) },
	{ "bypass_ends", offsetof(struct bypass, maps.bypass_ends) },
	{ "bypass_ctl", offsetof(struct bypass, maps.bypass_ctl) },
	{ "bypass_tail", offsetof(struct bypass, maps.bypass_tail) },
	{ "bypass_cookies", offsetof(struct bypass, maps.bypass_cookies) },
	{ "bypass_counters", offsetof(struct bypass, maps.bypass_counters) },
	{ "bypass_daemon", offsetof(struct bypass, maps.bypass_daemon) },
	{ "bypass_instance", offsetof(struct bypass, maps.bypass_instance) },
};

static struct bpf_map *byp_pin_map(const struct bp_bypass *b, size_t i)
{
	return *(struct bpf_map **)((char *)b->skel + byp_pins[i].skel_off);
}

/* Create <root>/bpasst/<instance>/, or join it when its live owner is this process (the tap
 * loader's directory). 0, or -errno with a reason. */
static int byp_dir_create(struct bp_bypass *b, const struct bp_bypass_params *p, const char *root,
			  const char *instance, char *reason, size_t reason_len, int depth)
{
	char base[PATH_MAX];
	uint32_t pid;
	int err;

	byp_fmt(base, sizeof(base), "%s/%s", root, BP_LOADER_PIN_SUBDIR);
	if (mkdir(base, 0755) && errno != EEXIST) {
		err = -errno;
		byp_fmt(reason, reason_len, "cannot create %s: %s", base, strerror(-err));
		return err;
	}
	if (!byp_fmt(b->pin_dir, sizeof(b->pin_dir), "%s/%s", base, instance)) {
		byp_fmt(reason, reason_len, "pin directory name too long");
		b->pin_dir[0] = '\0';
		return -ENAMETOOLONG;
	}
	if (mkdir(b->pin_dir, 0700)) {
		err = -errno;
		if (err == -EEXIST && pin_dir_owner_alive(b->pin_dir, &pid)) {
			if (pid == (uint32_t)getpid())
				return 0; /* ours: the tap loader made it */
			byp_fmt(reason, reason_len,
				"instance name '%s' is in use (pins in %s, PID %u)", instance,
				b->pin_dir, pid);
		} else if (err == -EEXIST && depth < 2) {
			pin_dir_remove(b->pin_dir); /* left by a dead instance of the same name */
			return byp_dir_create(b, p, root, instance, reason, reason_len, depth + 1);
		} else {
			byp_fmt(reason, reason_len, "cannot create %s: %s", b->pin_dir,
				strerror(-err));
		}
		b->pin_dir[0] = '\0';
		return err;
	}
	if (p->pin_uid != BP_LOADER_NO_CHOWN && chown(b->pin_dir, p->pin_uid, p->pin_gid)) {
		err = -errno;
		byp_fmt(reason, reason_len, "cannot chown %s: %s", b->pin_dir, strerror(-err));
		return err;
	}
	return 0;
}

static int byp_pin_maps(struct bp_bypass *b, const struct bp_bypass_params *p, char *reason,
			size_t reason_len)
{
	char path[PATH_MAX + 32];
	int err;

	for (size_t i = 0; i < sizeof(byp_pins) / sizeof(byp_pins[0]); i++) {
		byp_fmt(path, sizeof(path), "%s/%s", b->pin_dir, byp_pins[i].name);
		err = bpf_map__pin(byp_pin_map(b, i), path);
		if (err) {
			byp_fmt(reason, reason_len, "cannot pin %s: %s", path, strerror(-err));
			return err;
		}
		if (chmod(path, 0600) ||
		    (p->pin_uid != BP_LOADER_NO_CHOWN && chown(path, p->pin_uid, p->pin_gid))) {
			err = -errno;
			byp_fmt(reason, reason_len, "cannot set the mode or owner of %s: %s", path,
				strerror(-err));
			return err;
		}
	}
	return 0;
}

/* Unpin our maps; remove the directory (and bpasst/) when nothing else is left in them. */
static void byp_unpin_maps(struct bp_bypass *b)
{
	char parent[PATH_MAX], *slash;

	if (!b->pin_dir[0])
		return;
	for (size_t i = 0; i < sizeof(byp_pins) / sizeof(byp_pins[0]); i++) {
		struct bpf_map *m = byp_pin_map(b, i);

		if (m && bpf_map__is_pinned(m))
			bpf_map__unpin(m, NULL); /* fails harmlessly if the tap loader removed it */
	}
	if (!rmdir(b->pin_dir)) {
		byp_fmt(parent, sizeof(parent), "%s", b->pin_dir);
		slash = strrchr(parent, '/');
		if (slash) {
			*slash = '\0';
			rmdir(parent);
		}
	}
	b->pin_dir[0] = '\0';
}

/* ---- Loading with a receive hook candidate ---- */

/* Which candidates the running kernel's BTF offers. */
static void byp_hooks_available(bool avail[HOOK_NONE + 1])
{
	struct btf *vmlinux = btf__load_vmlinux_btf();

	for (int i = 0; i <= HOOK_NONE; i++)
		avail[i] = i == HOOK_NONE;
	if (!vmlinux)
		return;
	avail[HOOK_FEXIT6] = btf__find_by_name_kind(vmlinux, "__sk_msg_recvmsg", BTF_KIND_FUNC) > 0;
	/* The 5-argument sk_msg_recvmsg only where the 6-argument one does not exist: there it
	 * would miss the reads of tcp_bpf_recvmsg_parser. */
	avail[HOOK_FEXIT5] = !avail[HOOK_FEXIT6] &&
		btf__find_by_name_kind(vmlinux, "sk_msg_recvmsg", BTF_KIND_FUNC) > 0;
	avail[HOOK_TP] =
		btf__find_by_name_kind(vmlinux, "btf_trace_sock_recv_length", BTF_KIND_TYPEDEF) > 0;
	btf__free(vmlinux);
}

static struct bpf_program *byp_hook_prog(struct bypass *skel, enum bypass_hook h)
{
	switch (h) {
	case HOOK_FEXIT6:
		return skel->progs.bp_bypass_read;
	case HOOK_FEXIT5:
		return skel->progs.bp_bypass_read5;
	case HOOK_TP:
		return skel->progs.bp_bypass_read_tp;
	default:
		return NULL;
	}
}

/* Open, size and load the object with receive hook h (HOOK_NONE: none), and attach the hook.
 * 0, or -errno with a reason. */
static int byp_load(struct bp_bypass *b, uint32_t conns, enum bypass_hook h, char *reason,
		    size_t reason_len)
{
	uint32_t ends = conns * 2;
	int err;

	b->skel = bypass__open();
	if (!b->skel) {
		err = -errno;
		byp_fmt(reason, reason_len, "cannot open the bypass programs: %s", strerror(-err));
		return err;
	}
	bpf_map__set_max_entries(b->skel->maps.bypass_sockets, ends);
	bpf_map__set_max_entries(b->skel->maps.bypass_ends, ends);
	bpf_map__set_max_entries(b->skel->maps.bypass_ctl, ends);
	bpf_map__set_max_entries(b->skel->maps.bypass_cookies, ends);
	bpf_map__set_max_entries(b->skel->maps.bypass_readsum, ends);
	bpf_map__set_max_entries(b->skel->maps.bypass_expect, conns);
	bpf_map__set_max_entries(b->skel->maps.bypass_expect_cookie, conns);
	bpf_map__set_max_entries(b->skel->maps.bypass_out, ends);
	bpf_map__set_max_entries(b->skel->maps.bypass_tailsock, ends);
	bpf_map__set_max_entries(b->skel->maps.bypass_tail, ends);
	for (int i = 0; i < HOOK_NONE; i++)
		bpf_program__set_autoload(byp_hook_prog(b->skel, (enum bypass_hook)i), i == (int)h);
	byp_first_warning[0] = '\0';
	byp_quiet = h != HOOK_NONE;
	err = bypass__load(b->skel);
	if (err) {
		byp_fmt(reason, reason_len, "cannot load: %s%s%s", strerror(-err),
			byp_first_warning[0] ? ": " : "", byp_first_warning);
		goto fail;
	}
	if (h != HOOK_NONE) {
		b->read_link = bpf_program__attach(byp_hook_prog(b->skel, h));
		if (!b->read_link) {
			err = -errno;
			byp_fmt(reason, reason_len, "cannot attach: %s", strerror(-err));
			goto fail;
		}
		b->skel->bss->read_tracking = 1;
	}
	byp_quiet = false;
	b->hook = h;
	return 0;
fail:
	byp_quiet = false;
	bpf_link__destroy(b->read_link);
	b->read_link = NULL;
	bypass__destroy(b->skel);
	b->skel = NULL;
	return err;
}

/* ---- Start and stop ---- */

/* Attach an sk_msg program to a sockhash: a link if the kernel has sockmap links. 0, or -errno
 * with a reason. */
static int byp_msg_attach(struct byp_msg_attach *a, const struct bpf_program *prog,
			  const struct bpf_map *map, char *reason, size_t reason_len)
{
	int err;

	a->prog_fd = bpf_program__fd(prog);
	a->map_fd = bpf_map__fd(map);
	a->link_fd = bpf_link_create(a->prog_fd, a->map_fd, BPF_SK_MSG_VERDICT, NULL);
	if (a->link_fd >= 0)
		return 0;
	a->link_fd = -1;
	if (bpf_prog_attach(a->prog_fd, a->map_fd, BPF_SK_MSG_VERDICT, 0)) {
		err = -errno;
		byp_fmt(reason, reason_len, "cannot attach %s to %s: %s", bpf_program__name(prog),
			bpf_map__name(map), strerror(-err));
		return err;
	}
	a->attached = true;
	return 0;
}

static void byp_msg_detach(struct byp_msg_attach *a)
{
	if (a->link_fd >= 0)
		close(a->link_fd);
	a->link_fd = -1;
	if (a->attached)
		bpf_prog_detach2(a->prog_fd, a->map_fd, BPF_SK_MSG_VERDICT);
	a->attached = false;
}

static struct bp_bypass *byp_failed(struct bp_bypass *b, const char *reason, char *line,
				    size_t line_len, libbpf_print_fn_t old_print)
{
	byp_fmt(line, line_len, "BPF bypass: off: %s", reason);
	bp_bypass_stop(b);
	if (old_print)
		libbpf_set_print(old_print);
	return NULL;
}

struct bp_bypass *bp_bypass_start(const struct bp_bypass_params *p, char *line, size_t line_len)
{
	char reason[512] = "", hook_reason[512] = "", root[PATH_MAX], instance[64];
	bool avail[HOOK_NONE + 1];
	libbpf_print_fn_t old_print;
	struct bp_instance owner;
	uint32_t conns;
	struct bp_bypass *b;
	struct stat st;
	int err, cgfd;
	__u32 key = 0;

	byp_verbose = p->verbose != 0;
	old_print = libbpf_set_print(byp_libbpf_print);

	if (bp_loader_probe_bpf(reason, sizeof(reason)))
		return byp_failed(NULL, reason, line, line_len, old_print);
	conns = p->max_conns ? p->max_conns : BYPASS_CONNS_DEFAULT;
	if (conns > BYPASS_CONNS_MAX)
		return byp_failed(NULL, "max_conns too large", line, line_len, old_print);
	if (p->instance[0])
		byp_fmt(instance, sizeof(instance), "%.*s", (int)sizeof(p->instance) - 1,
			p->instance);
	else
		byp_fmt(instance, sizeof(instance), "%u", (unsigned)getpid());
	if (strchr(instance, '/') || !strcmp(instance, ".") || !strcmp(instance, ".."))
		return byp_failed(NULL, "invalid instance name", line, line_len, old_print);

	b = calloc(1, sizeof(*b));
	if (!b)
		return byp_failed(NULL, "out of memory", line, line_len, old_print);
	b->msg.link_fd = -1;
	b->tail.link_fd = -1;
	b->hook = HOOK_NONE;

	if (p->cgroup_path[0]) {
		byp_fmt(b->cgroup, sizeof(b->cgroup), "%.*s", (int)sizeof(p->cgroup_path) - 1,
			p->cgroup_path);
	} else if (pin_mount_find("cgroup2", NULL, true, b->cgroup)) {
		return byp_failed(b, "no cgroup v2 hierarchy is mounted", line, line_len,
				  old_print);
	}
	if (stat(b->cgroup, &st) || !S_ISDIR(st.st_mode)) {
		byp_fmt(reason, sizeof(reason), "cgroup %s: %s", b->cgroup,
			errno ? strerror(errno) : "not a directory");
		return byp_failed(b, reason, line, line_len, old_print);
	}
	if (pin_bpffs_find(root, reason, sizeof(reason)))
		return byp_failed(b, reason, line, line_len, old_print);

	/* Load, with the best receive hook that loads and attaches. */
	byp_hooks_available(avail);
	for (int h = 0; h <= HOOK_NONE; h++) {
		char why[300];
		size_t n;

		if (!avail[h])
			continue;
		err = byp_load(b, conns, (enum bypass_hook)h, why, sizeof(why));
		if (!err)
			break;
		if (h == HOOK_NONE)
			return byp_failed(b, why, line, line_len, old_print);
		n = strlen(hook_reason);
		byp_fmt(hook_reason + n, sizeof(hook_reason) - n, "%s%s: %s", n ? "; " : "",
			hook_names[h], why);
	}
	if (b->hook == HOOK_NONE && !hook_reason[0])
		byp_fmt(hook_reason, sizeof(hook_reason), "the kernel has no hookable function");

	/* Owner record (pin.c tells a live instance's pins from a dead one's by it). */
	memset(&owner, 0, sizeof(owner));
	owner.pid = (__u32)getpid();
	owner.pid_start_time = pin_pid_start_time(owner.pid);
	if (!stat("/proc/self/ns/net", &st))
		owner.netns_ino = st.st_ino;
	memcpy(owner.name, instance, sizeof(owner.name));
	if (bpf_map_update_elem(bpf_map__fd(b->skel->maps.bypass_instance), &key, &owner,
				BPF_ANY)) {
		byp_fmt(reason, sizeof(reason), "cannot write bypass_instance: %s",
			strerror(errno));
		return byp_failed(b, reason, line, line_len, old_print);
	}

	/* The sk_msg programs on their sockhashes. */
	if (byp_msg_attach(&b->msg, b->skel->progs.bp_bypass_msg, b->skel->maps.bypass_sockets,
			   reason, sizeof(reason)) ||
	    byp_msg_attach(&b->tail, b->skel->progs.bp_bypass_tail_msg,
			   b->skel->maps.bypass_tailsock, reason, sizeof(reason)))
		return byp_failed(b, reason, line, line_len, old_print);

	/* Pins. */
	pin_clean_stale(root);
	if (byp_dir_create(b, p, root, instance, reason, sizeof(reason), 0))
		return byp_failed(b, reason, line, line_len, old_print);
	if (byp_pin_maps(b, p, reason, sizeof(reason)))
		return byp_failed(b, reason, line, line_len, old_print);

	/* sock_ops on the cgroup, last. */
	cgfd = open(b->cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0) {
		byp_fmt(reason, sizeof(reason), "cannot open cgroup %s: %s", b->cgroup,
			strerror(errno));
		return byp_failed(b, reason, line, line_len, old_print);
	}
	b->sockops_link = bpf_program__attach_cgroup(b->skel->progs.bp_bypass_sockops, cgfd);
	err = -errno;
	close(cgfd); /* the link keeps its own reference */
	if (!b->sockops_link) {
		byp_fmt(reason, sizeof(reason), "cannot attach sock_ops to cgroup %s: %s",
			b->cgroup, strerror(-err));
		return byp_failed(b, reason, line, line_len, old_print);
	}

	if (b->hook != HOOK_NONE)
		byp_fmt(line, line_len,
			"BPF bypass: on (sock_ops on cgroup %s, maps in %s, receive hook: %s)",
			b->cgroup, b->pin_dir, hook_names[b->hook]);
	else
		byp_fmt(line, line_len,
			"BPF bypass: on (sock_ops on cgroup %s, maps in %s, no receive hook: %s)",
			b->cgroup, b->pin_dir, hook_reason);
	libbpf_set_print(old_print);
	return b;
}

void bp_bypass_stop(struct bp_bypass *b)
{
	if (!b)
		return;
	bpf_link__destroy(b->sockops_link);
	b->sockops_link = NULL;
	byp_msg_detach(&b->msg);
	byp_msg_detach(&b->tail);
	bpf_link__destroy(b->read_link);
	b->read_link = NULL;
	if (b->skel)
		byp_unpin_maps(b);
	bypass__destroy(b->skel);
	free(b);
}

bool bp_bypass_read_tracking(const struct bp_bypass *b)
{
	return b && b->hook != HOOK_NONE;
}

const char *bp_bypass_pin_dir(const struct bp_bypass *b)
{
	return b->pin_dir;
}

/* ---- Map accessors ---- */

static struct bp_bypass_key byp_key(const struct bp_bypass_key *k)
{
	struct bp_bypass_key c = *k;

	memset(c.pad, 0, sizeof(c.pad));
	return c;
}

static int byp_update(struct bpf_map *m, const void *key, const void *val, __u64 flags)
{
	return bpf_map_update_elem(bpf_map__fd(m), key, val, flags) ? -errno : 0;
}

/* Delete; an absent entry is not an error. */
static int byp_delete(struct bpf_map *m, const void *key)
{
	if (bpf_map_delete_elem(bpf_map__fd(m), key) && errno != ENOENT)
		return -errno;
	return 0;
}

int bp_bypass_listen_add(struct bp_bypass *b, const struct bp_bypass_listen *k)
{
	struct bp_bypass_listen c = *k;
	__u32 one = 1;

	memset(c.pad, 0, sizeof(c.pad));
	return byp_update(b->skel->maps.bypass_listen, &c, &one, BPF_ANY);
}

int bp_bypass_listen_del(struct bp_bypass *b, const struct bp_bypass_listen *k)
{
	struct bp_bypass_listen c = *k;

	memset(c.pad, 0, sizeof(c.pad));
	return byp_delete(b->skel->maps.bypass_listen, &c);
}

int bp_bypass_expect_add(struct bp_bypass *b, const struct bp_bypass_key *server, uint32_t flow_id)
{
	struct bp_bypass_key c = byp_key(server);
	__u32 v = flow_id;

	return byp_update(b->skel->maps.bypass_expect, &c, &v, BPF_ANY);
}

int bp_bypass_expect_del(struct bp_bypass *b, const struct bp_bypass_key *server)
{
	struct bp_bypass_key c = byp_key(server);

	return byp_delete(b->skel->maps.bypass_expect, &c);
}

int bp_bypass_expect_cookie_add(struct bp_bypass *b, uint64_t cookie, uint32_t flow_id)
{
	__u64 k = cookie;
	__u32 v = flow_id;

	return byp_update(b->skel->maps.bypass_expect_cookie, &k, &v, BPF_ANY);
}

int bp_bypass_expect_cookie_del(struct bp_bypass *b, uint64_t cookie)
{
	__u64 k = cookie;

	return byp_delete(b->skel->maps.bypass_expect_cookie, &k);
}

int bp_bypass_out_add(struct bp_bypass *b, const struct bp_bypass_key *sender, int our_fd)
{
	struct bp_bypass_key c = byp_key(sender);
	__u64 fd = (__u64)our_fd;

	if (our_fd < 0)
		return -EBADF;
	return byp_update(b->skel->maps.bypass_out, &c, &fd, BPF_ANY);
}

int bp_bypass_out_del(struct bp_bypass *b, const struct bp_bypass_key *sender)
{
	struct bp_bypass_key c = byp_key(sender);

	return byp_delete(b->skel->maps.bypass_out, &c);
}

int bp_bypass_end_get(const struct bp_bypass *b, const struct bp_bypass_key *k,
		      struct bp_bypass_end *out)
{
	struct bp_bypass_key c = byp_key(k);

	if (bpf_map_lookup_elem(bpf_map__fd(b->skel->maps.bypass_ends), &c, out))
		return -errno;
	return 0;
}

int bp_bypass_end_del(struct bp_bypass *b, const struct bp_bypass_key *k)
{
	struct bp_bypass_key c = byp_key(k);
	struct bp_bypass_end end;

	/* Without an entry there is no cookie to forget, but the sockets may still be there. */
	if (bpf_map_lookup_elem(bpf_map__fd(b->skel->maps.bypass_ends), &c, &end))
		end.socket_cookie = 0;
	return bp_bypass_end_forget(b, k, &end, true);
}

int bp_bypass_end_forget(struct bp_bypass *b, const struct bp_bypass_key *k,
			 const struct bp_bypass_end *end, bool out)
{
	struct bp_bypass_key c = byp_key(k);
	int err, ret;

	if (end->socket_cookie) { /* cookies start at 1 */
		byp_delete(b->skel->maps.bypass_cookies, &end->socket_cookie);
		byp_delete(b->skel->maps.bypass_readsum, &end->socket_cookie);
	}
	ret = byp_delete(b->skel->maps.bypass_ends, &c);
	err = byp_delete(b->skel->maps.bypass_sockets, &c);
	if (err && !ret)
		ret = err;
	if (out) {
		err = byp_delete(b->skel->maps.bypass_out, &c);
		if (err && !ret)
			ret = err;
	}
	return ret;
}

int bp_bypass_ctl_set(struct bp_bypass *b, const struct bp_bypass_key *sender,
		      const struct bp_bypass_ctl *ctl)
{
	struct bp_bypass_key c = byp_key(sender);
	struct bp_bypass_ctl v = *ctl;

	memset(v.peer.pad, 0, sizeof(v.peer.pad));
	return byp_update(b->skel->maps.bypass_ctl, &c, &v, BPF_ANY);
}

int bp_bypass_ctl_del(struct bp_bypass *b, const struct bp_bypass_key *sender)
{
	struct bp_bypass_key c = byp_key(sender);

	return byp_delete(b->skel->maps.bypass_ctl, &c);
}

int bp_bypass_tail_sock_add(struct bp_bypass *b, const struct bp_bypass_key *receiver, int our_fd)
{
	struct bp_bypass_key c = byp_key(receiver);
	__u64 fd = (__u64)our_fd;

	if (our_fd < 0)
		return -EBADF;
	return byp_update(b->skel->maps.bypass_tailsock, &c, &fd, BPF_ANY);
}

int bp_bypass_tail_set(struct bp_bypass *b, const struct bp_bypass_key *receiver,
		       const struct bp_bypass_tail *tail)
{
	struct bp_bypass_key c = byp_key(receiver);

	return byp_update(b->skel->maps.bypass_tail, &c, tail, BPF_ANY);
}

int bp_bypass_tail_get(const struct bp_bypass *b, const struct bp_bypass_key *receiver,
		       struct bp_bypass_tail *out)
{
	struct bp_bypass_key c = byp_key(receiver);

	if (bpf_map_lookup_elem(bpf_map__fd(b->skel->maps.bypass_tail), &c, out))
		return -errno;
	return 0;
}

int bp_bypass_tail_del(struct bp_bypass *b, const struct bp_bypass_key *receiver)
{
	struct bp_bypass_key c = byp_key(receiver);
	int err, ret;

	ret = byp_delete(b->skel->maps.bypass_tail, &c);
	err = byp_delete(b->skel->maps.bypass_tailsock, &c);
	return ret ? ret : err;
}

int bp_bypass_counters(const struct bp_bypass *b, struct bp_bypass_counters *sum)
{
	return pin_percpu_sum(bpf_map__fd(b->skel->maps.bypass_counters), (uint64_t *)sum,
			      BP_BYP_CNT_MAX);
}

int bp_bypass_daemon_stats_set(struct bp_bypass *b, const struct bp_bypass_daemon_stats *s)
{
	__u32 key = 0;

	return byp_update(b->skel->maps.bypass_daemon, &key, s, BPF_ANY);
}
