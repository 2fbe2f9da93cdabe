// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * loader.c - probing, loading, pinning and attaching the BPF fast path with libbpf
 *
 * bp_loader_start() goes through these steps, and on the first that fails undoes the earlier
 * ones and returns NULL with "BPF fast path: off: <reason>":
 *   1. mode: off means off;
 *   2. probes: bpf() permitted (a one-slot array map is created and closed), TC programs
 *      loadable (libbpf_probe_bpf_prog_type), bpffs mounted or mountable (pin.c);
 *   3. open the tap skeleton, size flow_mirror, load (the verifier runs here);
 *   4. write tap_config and instance (our PID and its start time, the tap);
 *   5. remove stale pin directories of dead instances, create ours (mode 0700; an existing one
 *      whose owner is alive means the instance name is taken), pin tap_config, tap_counters,
 *      flow_mirror and instance there (mode 0600, optionally chowned);
 *   6. enter the tap's network namespace (setns), create the clsact qdisc if there is none,
 *      attach the program at egress (direct action, handle 1, priority 1, replacing a filter
 *      left there), return to our namespace.
 *
 * State: struct bp_loader (the skeleton, the pin paths, a dup of the namespace fd for the
 * detach, whether we created the qdisc, and for the flow mirror the time each entry was last
 * written, allocated once at start). bp_loader_stop() undoes steps 6 to 3.
 *
 * Memory accounting: libbpf 1.x raises RLIMIT_MEMLOCK itself only on kernels that still charge
 * BPF memory to it (before 5.11); newer kernels charge the memory cgroup, so no rlimit is needed.
 *
 * libbpf's messages are captured (the last warning becomes part of a failure's reason) and only
 * printed when the caller asks for verbose output.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/stat.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "loader.h"
#include "pin.h"
#include "tap.skel.h"

#define TC_HANDLE 1
#define TC_PRIORITY 1

struct bp_loader {
	struct tap *skel;
	char pin_dir[PATH_MAX];
	int netns_fd; /* dup of the caller's, or -1 */
	uint32_t ifindex;
	char tap_name[IF_NAMESIZE];
	bool qdisc_created;
	bool attached;
	uint32_t mirror_max;
	uint64_t *mirror_written_ns; /* per flow id: when its entry was last written, 0: never */
};

/* snprintf that may truncate (paths and reasons are cut rather than overflow); returns whether
 * everything fit. */
static bool loader_fmt(char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static bool loader_fmt(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, len, fmt, ap);
	va_end(ap);
	return n >= 0 && (size_t)n < len;
}

/* ---- libbpf messages ---- */

static bool libbpf_verbose;
static char libbpf_last_warning[256];

static int loader_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	va_list copy;
	size_t n;

	/* bpf_tc_hook_create() on a tap that already has a clsact qdisc: expected (-EEXIST). */
	if (strstr(fmt, "Kernel error message") && strstr(fmt, "%s")) {
		char msg[128];

		va_copy(copy, ap);
		vsnprintf(msg, sizeof(msg), fmt, copy);
		va_end(copy);
		if (strstr(msg, "Exclusivity flag on"))
			return 0;
	}
	if (level == LIBBPF_WARN) {
		va_copy(copy, ap);
		vsnprintf(libbpf_last_warning, sizeof(libbpf_last_warning), fmt, copy);
		va_end(copy);
		n = strlen(libbpf_last_warning);
		while (n && libbpf_last_warning[n - 1] == '\n')
			libbpf_last_warning[--n] = '\0';
	}
	if (libbpf_verbose && level != LIBBPF_DEBUG)
		return vfprintf(stderr, fmt, ap);
	return 0;
}

/* ---- Probes ---- */

/* Value of /proc/sys/kernel/unprivileged_bpf_disabled, or -1 when it cannot be read. */
static int unprivileged_bpf_disabled(void)
{
	FILE *f = fopen("/proc/sys/kernel/unprivileged_bpf_disabled", "re");
	int v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%d", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

int bp_loader_probe_bpf(char *reason, size_t reason_len)
{
	int fd, err, sysctl;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "bpasst_probe", sizeof(__u32), sizeof(__u32), 1,
			    NULL);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	err = errno;
	if (err == EPERM || err == EACCES) {
		sysctl = unprivileged_bpf_disabled();
		if (sysctl > 0)
			loader_fmt(
				reason, reason_len,
				"bpf() not permitted: kernel.unprivileged_bpf_disabled=%d and no "
				"CAP_BPF/CAP_SYS_ADMIN (uid %u)",
				sysctl, (unsigned)geteuid());
		else
			loader_fmt(reason, reason_len, "bpf() not permitted: %s (uid %u)",
				   strerror(err), (unsigned)geteuid());
	} else if (err == ENOSYS) {
		loader_fmt(reason, reason_len, "bpf() not available in this kernel");
	} else {
		loader_fmt(reason, reason_len, "bpf() map creation failed: %s", strerror(err));
	}
	return -err;
}

/* ---- Helpers ---- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Run fn inside the network namespace netns_fd (-1: where we are), then come back. A failure to
 * come back would leave the daemon in the wrong namespace: that aborts. */
static int in_netns(int netns_fd, int (*fn)(struct bp_loader *l, void *arg), struct bp_loader *l,
		    void *arg)
{
	int self, err;

	if (netns_fd < 0)
		return fn(l, arg);
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return -errno;
	if (setns(netns_fd, CLONE_NEWNET)) {
		err = -errno;
		close(self);
		return err;
	}
	err = fn(l, arg);
	if (setns(self, CLONE_NEWNET)) {
		fprintf(stderr, "bpasst: cannot return to the original network namespace: %s\n",
			strerror(errno));
		abort();
	}
	close(self);
	return err;
}

static int tc_attach_here(struct bp_loader *l, void *arg)
{
	char *reason = arg;
	int err;

	if (!l->ifindex) {
		l->ifindex = if_nametoindex(l->tap_name);
		if (!l->ifindex) {
			loader_fmt(reason, 256, "no interface '%s' in the tap's namespace",
				   l->tap_name);
			return -ENODEV;
		}
	} else if (!l->tap_name[0] && !if_indextoname(l->ifindex, l->tap_name)) {
		loader_fmt(l->tap_name, sizeof(l->tap_name), "ifindex %u", l->ifindex);
	}

	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)l->ifindex, .attach_point = BPF_TC_EGRESS);
	err = bpf_tc_hook_create(&hook);
	if (!err) {
		l->qdisc_created = true;
	} else if (err != -EEXIST) {
		loader_fmt(reason, 256, "cannot create the clsact qdisc on %s: %s", l->tap_name,
			   strerror(-err));
		return err;
	}
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIORITY,
		    .prog_fd = bpf_program__fd(l->skel->progs.bp_tap_egress),
		    .flags = BPF_TC_F_REPLACE);
	err = bpf_tc_attach(&hook, &opts);
	if (err) {
		loader_fmt(reason, 256, "cannot attach the TC program at egress of %s: %s",
			   l->tap_name, strerror(-err));
		return err;
	}
	l->attached = true;
	return 0;
}

static int tc_detach_here(struct bp_loader *l, void *arg)
{
	(void)arg;
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)l->ifindex, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIORITY);

	if (l->attached)
		bpf_tc_detach(&hook, &opts); /* fails harmlessly if the tap is gone */
	if (l->qdisc_created) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
	}
	l->attached = l->qdisc_created = false;
	return 0;
}

static const char *const pinned_maps[] = { "tap_config", "tap_counters", "flow_mirror",
					   "instance" };

static struct bpf_map *map_by_name(struct bp_loader *l, const char *name)
{
	return bpf_object__find_map_by_name(l->skel->obj, name);
}

static int pin_maps(struct bp_loader *l, const struct bp_loader_params *p, char *reason,
		    size_t reason_len)
{
	char path[PATH_MAX + 32];
	int err;

	for (size_t i = 0; i < sizeof(pinned_maps) / sizeof(pinned_maps[0]); i++) {
		loader_fmt(path, sizeof(path), "%s/%s", l->pin_dir, pinned_maps[i]);
		err = bpf_map__pin(map_by_name(l, pinned_maps[i]), path);
		if (err) {
			loader_fmt(reason, reason_len, "cannot pin %s: %s", path, strerror(-err));
			return err;
		}
		if (chmod(path, 0600) ||
		    (p->pin_uid != BP_LOADER_NO_CHOWN && chown(path, p->pin_uid, p->pin_gid))) {
			err = -errno;
			loader_fmt(reason, reason_len, "cannot set the mode or owner of %s: %s",
				   path, strerror(-err));
			return err;
		}
	}
	return 0;
}

static void unpin_maps(struct bp_loader *l)
{
	if (!l->pin_dir[0])
		return;
	for (size_t i = 0; i < sizeof(pinned_maps) / sizeof(pinned_maps[0]); i++) {
		struct bpf_map *m = map_by_name(l, pinned_maps[i]);

		if (m && bpf_map__is_pinned(m))
			bpf_map__unpin(m, NULL);
	}
	pin_dir_remove(l->pin_dir);
	l->pin_dir[0] = '\0';
}

/* Create <root>/bpasst/<instance>/; -EEXIST (with a reason) if a live instance has it. */
static int pin_dir_create(struct bp_loader *l, const struct bp_loader_params *p, const char *root,
			  const char *instance, char *reason, size_t reason_len)
{
	char base[PATH_MAX];
	uint32_t pid;
	int err;

	loader_fmt(base, sizeof(base), "%s/%s", root, BP_LOADER_PIN_SUBDIR);
	if (mkdir(base, 0755) && errno != EEXIST) {
		err = -errno;
		loader_fmt(reason, reason_len, "cannot create %s: %s", base, strerror(-err));
		return err;
	}
	if (!loader_fmt(l->pin_dir, sizeof(l->pin_dir), "%s/%s", base, instance)) {
		loader_fmt(reason, reason_len, "pin directory name too long");
		l->pin_dir[0] = '\0';
		return -ENAMETOOLONG;
	}
	if (mkdir(l->pin_dir, 0700)) {
		err = -errno;
		if (err == -EEXIST && pin_dir_owner_alive(l->pin_dir, &pid)) {
			loader_fmt(reason, reason_len,
				   "instance name '%s' is in use (pins in %s, PID %u)", instance,
				   l->pin_dir, pid);
		} else if (err == -EEXIST) {
			pin_dir_remove(l->pin_dir); /* left by a dead instance of the same name */
			return pin_dir_create(l, p, root, instance, reason, reason_len);
		} else {
			loader_fmt(reason, reason_len, "cannot create %s: %s", l->pin_dir,
				   strerror(-err));
		}
		l->pin_dir[0] = '\0';
		return err;
	}
	if (p->pin_uid != BP_LOADER_NO_CHOWN && chown(l->pin_dir, p->pin_uid, p->pin_gid)) {
		err = -errno;
		loader_fmt(reason, reason_len, "cannot chown %s: %s", l->pin_dir, strerror(-err));
		return err;
	}
	return 0;
}

/* ---- Start and stop ---- */

static struct bp_loader *start_failed(struct bp_loader *l, const char *reason, char *line,
				      size_t line_len)
{
	if (line && line_len)
		loader_fmt(line, line_len, "BPF fast path: off: %s", reason);
	bp_loader_stop(l);
	return NULL;
}

struct bp_loader *bp_loader_start(const struct bp_loader_params *p, char *line, size_t line_len)
{
	char reason[512] = "", root[PATH_MAX], instance[64];
	struct bp_instance owner;
	struct bp_loader *l;
	struct stat st;
	__u32 key = 0;
	int err;

	if (p->mode == BP_LOADER_OFF)
		return start_failed(NULL, "disabled (--bpf off)", line, line_len);
	if (!p->tap_ifindex && !p->tap_name[0])
		return start_failed(NULL, "no tap device (passt mode has no tap to attach to)",
				    line, line_len);

	libbpf_verbose = p->verbose != 0;
	libbpf_last_warning[0] = '\0';
	libbpf_set_print(loader_libbpf_print);

	if (bp_loader_probe_bpf(reason, sizeof(reason)))
		return start_failed(NULL, reason, line, line_len);
	if (libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SCHED_CLS, NULL) != 1)
		return start_failed(NULL, "the kernel cannot load TC (sched_cls) programs", line,
				    line_len);
	if (pin_bpffs_find(root, reason, sizeof(reason)))
		return start_failed(NULL, reason, line, line_len);

	l = calloc(1, sizeof(*l));
	if (!l)
		return start_failed(NULL, "out of memory", line, line_len);
	l->netns_fd = -1;
	l->ifindex = p->tap_ifindex;
	loader_fmt(l->tap_name, sizeof(l->tap_name), "%.*s", (int)sizeof(p->tap_name) - 1,
		   p->tap_name);
	l->mirror_max = p->flow_mirror_max ? p->flow_mirror_max : BP_FLOW_MIRROR_DEFAULT_MAX;
	l->mirror_written_ns = calloc(l->mirror_max, sizeof(*l->mirror_written_ns));
	if (!l->mirror_written_ns)
		return start_failed(l, "out of memory", line, line_len);
	if (p->netns_fd >= 0) {
		l->netns_fd = fcntl(p->netns_fd, F_DUPFD_CLOEXEC, 3);
		if (l->netns_fd < 0) {
			loader_fmt(reason, sizeof(reason), "cannot keep the namespace fd: %s",
				   strerror(errno));
			return start_failed(l, reason, line, line_len);
		}
	}

	/* Load. */
	l->skel = tap__open();
	if (!l->skel) {
		loader_fmt(reason, sizeof(reason), "cannot open the tap program: %s",
			   strerror(errno));
		return start_failed(l, reason, line, line_len);
	}
	bpf_map__set_max_entries(l->skel->maps.flow_mirror, l->mirror_max);
	err = tap__load(l->skel);
	if (err) {
		loader_fmt(reason, sizeof(reason), "cannot load the tap program: %s%s%s",
			   strerror(-err), libbpf_last_warning[0] ? ": " : "", libbpf_last_warning);
		return start_failed(l, reason, line, line_len);
	}

	/* Configuration and owner record. */
	err = bpf_map_update_elem(bpf_map__fd(l->skel->maps.tap_config), &key, &p->config, BPF_ANY);
	if (err) {
		loader_fmt(reason, sizeof(reason), "cannot write tap_config: %s", strerror(errno));
		return start_failed(l, reason, line, line_len);
	}
	if (p->instance[0])
		loader_fmt(instance, sizeof(instance), "%.*s", (int)sizeof(p->instance) - 1,
			   p->instance);
	else
		loader_fmt(instance, sizeof(instance), "%u", (unsigned)getpid());
	if (strchr(instance, '/') || !strcmp(instance, ".") || !strcmp(instance, ".."))
		return start_failed(l, "invalid instance name", line, line_len);
	memset(&owner, 0, sizeof(owner));
	owner.pid = (__u32)getpid();
	owner.pid_start_time = pin_pid_start_time(owner.pid);
	if (p->netns_fd >= 0 && !fstat(p->netns_fd, &st))
		owner.netns_ino = st.st_ino;
	else if (!stat("/proc/self/ns/net", &st))
		owner.netns_ino = st.st_ino;
	memcpy(owner.name, instance, sizeof(owner.name));

	/* Pins. */
	pin_clean_stale(root);
	if (pin_dir_create(l, p, root, instance, reason, sizeof(reason)))
		return start_failed(l, reason, line, line_len);
	if (pin_maps(l, p, reason, sizeof(reason)))
		return start_failed(l, reason, line, line_len);

	/* Attach. */
	err = in_netns(l->netns_fd, tc_attach_here, l, reason);
	if (err) {
		if (!reason[0])
			loader_fmt(reason, sizeof(reason), "cannot enter the tap's namespace: %s",
				   strerror(-err));
		return start_failed(l, reason, line, line_len);
	}
	owner.tap_ifindex = l->ifindex;
	memcpy(owner.tap_name, l->tap_name, sizeof(owner.tap_name));
	if (bpf_map_update_elem(bpf_map__fd(l->skel->maps.instance), &key, &owner, BPF_ANY)) {
		loader_fmt(reason, sizeof(reason), "cannot write the instance map: %s",
			   strerror(errno));
		return start_failed(l, reason, line, line_len);
	}

	if (line && line_len)
		loader_fmt(line, line_len,
			   "BPF fast path: on (tc egress on %s, ifindex %u, maps in %s)",
			   l->tap_name, l->ifindex, l->pin_dir);
	return l;
}

void bp_loader_stop(struct bp_loader *l)
{
	if (!l)
		return;
	if (l->skel && (l->attached || l->qdisc_created))
		in_netns(l->netns_fd, tc_detach_here, l, NULL);
	if (l->skel)
		unpin_maps(l);
	tap__destroy(l->skel);
	if (l->netns_fd >= 0)
		close(l->netns_fd);
	free(l->mirror_written_ns);
	free(l);
}

/* ---- While running ---- */

int bp_loader_config_update(struct bp_loader *l, const struct bp_tap_config *cfg)
{
	__u32 key = 0;

	if (bpf_map_update_elem(bpf_map__fd(l->skel->maps.tap_config), &key, cfg, BPF_ANY))
		return -errno;
	return 0;
}

int bp_loader_mirror_update(struct bp_loader *l, uint32_t flow_id, const struct bp_flow_mirror *m,
			    bool force)
{
	struct bp_flow_mirror entry;
	uint64_t now;

	if (flow_id >= l->mirror_max)
		return -ERANGE;
	now = now_ns();
	if (!force && l->mirror_written_ns[flow_id] &&
	    now - l->mirror_written_ns[flow_id] < 1000000000ull)
		return 1;
	entry = *m;
	entry.updated_ns = now;
	if (bpf_map_update_elem(bpf_map__fd(l->skel->maps.flow_mirror), &flow_id, &entry, BPF_ANY))
		return -errno;
	l->mirror_written_ns[flow_id] = now;
	return 0;
}

int bp_loader_mirror_delete(struct bp_loader *l, uint32_t flow_id)
{
	if (flow_id >= l->mirror_max)
		return -ERANGE;
	l->mirror_written_ns[flow_id] = 0;
	if (bpf_map_delete_elem(bpf_map__fd(l->skel->maps.flow_mirror), &flow_id) &&
	    errno != ENOENT)
		return -errno;
	return 0;
}

int bp_loader_counters(const struct bp_loader *l, struct bp_tap_counters *sum)
{
	return pin_percpu_sum(bpf_map__fd(l->skel->maps.tap_counters), (uint64_t *)sum,
			      BP_TAP_CNT_MAX);
}

const char *bp_loader_pin_dir(const struct bp_loader *l)
{
	return l->pin_dir;
}

int bp_tap_config_set_dnssl(struct bp_tap_config *cfg, const uint8_t *names, size_t names_len)
{
	size_t opt_len = 8 + ((names_len + 7) & ~(size_t)7);

	memset(cfg->dnssl, 0, sizeof(cfg->dnssl));
	cfg->dnssl_len = 0;
	if (!names_len)
		return 0;
	if (opt_len > BP_RA_DNSSL_MAX)
		return -ENOSPC;
	cfg->dnssl[0] = 31; /* DNSSL (RFC 8106) */
	cfg->dnssl[1] = (uint8_t)(opt_len / 8);
	cfg->dnssl[4] = (uint8_t)(BP_RA_DNS_LIFETIME >> 24);
	cfg->dnssl[5] = (uint8_t)(BP_RA_DNS_LIFETIME >> 16);
	cfg->dnssl[6] = (uint8_t)(BP_RA_DNS_LIFETIME >> 8);
	cfg->dnssl[7] = (uint8_t)BP_RA_DNS_LIFETIME;
	memcpy(cfg->dnssl + 8, names, names_len);
	cfg->dnssl_len = (__u32)opt_len;
	return 0;
}
