// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pin.c - bpffs discovery and mounting, pin directories, stale pin cleanup
 *
 * bpffs: the loader never assumes where (or whether) bpffs is mounted. It reads
 * /proc/self/mountinfo (one line per mount: ... mount-point ... " - " fstype source options),
 * takes /sys/fs/bpf if a bpf mount is there, else the first bpf mount it finds; when there is
 * none it mounts one at /sys/fs/bpf (mode 0700), which needs CAP_SYS_ADMIN; failing that, the
 * fast path is off with the reason.
 *
 * Pin directories: <bpffs>/bpasst/<instance>/ holds the maps of one running instance. Each has
 * an "instance" map whose value names its owner (PID and the process start time, which tells a
 * reused PID from the original). A daemon killed with SIGKILL cannot remove its directory, so
 * every start first removes the directories whose owner is gone (pin_clean_stale). The loopback
 * bypass (loader/bypass.c) pins its bypass_* maps in the same directory, with its own owner
 * record "bypass_instance" for when the tap program is not loaded. Directories
 * that cannot be attributed (no readable instance map, and a name that is not a PID) are left
 * alone.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpasst_maps.h"
#include "loader.h"
#include "pin.h"

/* snprintf that may truncate (paths and reasons are cut rather than overflow); returns whether
 * everything fit. */
static bool pin_fmt(char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static bool pin_fmt(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, len, fmt, ap);
	va_end(ap);
	return n >= 0 && (size_t)n < len;
}

/* Undo mountinfo's octal escapes (\040 for a space, ...) in place. */
static void mountinfo_unescape(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

int pin_mount_find(const char *fstype, const char *prefer_point, bool prefer_root,
		   char out[PATH_MAX])
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	int found = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - "), *fields[5], *save = NULL, *tok;
		char type[64];
		bool best;
		int n = 0;

		if (!sep || sscanf(sep + 3, "%63s", type) != 1 || strcmp(type, fstype))
			continue;
		*sep = '\0';
		for (tok = strtok_r(line, " ", &save); tok && n < 5;
		     tok = strtok_r(NULL, " ", &save))
			fields[n++] = tok;
		if (n < 5)
			continue;
		mountinfo_unescape(fields[4]);
		best = (prefer_point && !strcmp(fields[4], prefer_point)) ||
			(prefer_root && !strcmp(fields[3], "/"));
		if (found || best) {
			pin_fmt(out, PATH_MAX, "%s", fields[4]);
			found = 0;
			if (best)
				break;
		}
	}
	fclose(f);
	return found;
}

int pin_percpu_sum(int map_fd, uint64_t *sum, size_t nr_u64)
{
	int ncpu = libbpf_num_possible_cpus(), err = 0;
	uint64_t *percpu;
	uint32_t key = 0;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	percpu = calloc((size_t)ncpu * nr_u64, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	memset(sum, 0, nr_u64 * sizeof(*sum));
	if (bpf_map_lookup_elem(map_fd, &key, percpu)) {
		err = -errno;
	} else {
		for (int cpu = 0; cpu < ncpu; cpu++)
			for (size_t i = 0; i < nr_u64; i++)
				sum[i] += percpu[(size_t)cpu * nr_u64 + i];
	}
	free(percpu);
	return err;
}

int pin_bpffs_find(char root[PATH_MAX], char *reason, size_t reason_len)
{
	int err = pin_mount_find("bpf", BP_LOADER_PIN_ROOT, false, root);

	if (!err)
		return 0;
	if (err != -ENOENT) {
		pin_fmt(reason, reason_len, "cannot read /proc/self/mountinfo: %s", strerror(-err));
		return err;
	}
	if (mkdir(BP_LOADER_PIN_ROOT, 0700) && errno != EEXIST) {
		err = -errno;
		pin_fmt(reason, reason_len, "no bpffs mounted, and %s cannot be created: %s",
			BP_LOADER_PIN_ROOT, strerror(-err));
		return err;
	}
	if (mount("bpffs", BP_LOADER_PIN_ROOT, "bpf", 0, "mode=0700")) {
		err = -errno;
		pin_fmt(reason, reason_len, "no bpffs mounted, and mounting one at %s failed: %s",
			BP_LOADER_PIN_ROOT, strerror(-err));
		return err;
	}
	pin_fmt(root, PATH_MAX, "%s", BP_LOADER_PIN_ROOT);
	return 0;
}

uint64_t pin_pid_start_time(uint32_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	FILE *f;
	int field;

	pin_fmt(path, sizeof(path), "/proc/%u/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return 0;
	}
	fclose(f);
	/* The command name (field 2) is in parentheses and may hold spaces: count from its end. */
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	for (field = 2; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	if (sscanf(p, "%llu", &start) != 1)
		return 0;
	return start ? start : 1;
}

/* True if dir exists and holds no entry but . and .. */
static bool pin_dir_is_empty(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	bool empty = true;

	if (!d)
		return false;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			empty = false;
			break;
		}
	}
	closedir(d);
	return empty;
}

/* Maps holding a struct bp_instance owner record: the tap program's, else the loopback bypass's
 * (loader/bypass.c; an instance may run either or both in the same directory). */
static const char *const owner_maps[] = { "instance", "bypass_instance" };

int pin_dir_owner_alive(const char *dir, uint32_t *pid_out)
{
	struct bp_instance owner;
	char path[PATH_MAX];
	const char *name;
	__u32 key = 0;
	char *end;
	int fd;

	*pid_out = 0;
	for (size_t i = 0; i < sizeof(owner_maps) / sizeof(owner_maps[0]); i++) {
		pin_fmt(path, sizeof(path), "%s/%s", dir, owner_maps[i]);
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		int err = bpf_map_lookup_elem(fd, &key, &owner);

		close(fd);
		if (!err && owner.pid) {
			uint64_t start = pin_pid_start_time(owner.pid);

			*pid_out = owner.pid;
			return start && (!owner.pid_start_time || start == owner.pid_start_time);
		}
	}
	/* No owner record and nothing pinned: what an instance that dropped privileges leaves
	 * behind (it could unpin its maps but not remove the directory bpffs gave to root). */
	if (pin_dir_is_empty(dir))
		return 0;
	/* No owner record: a directory named after a PID is that PID's. */
	name = strrchr(dir, '/');
	name = name ? name + 1 : dir;
	unsigned long v = strtoul(name, &end, 10);
	if (*name && !*end && v > 0 && v < UINT32_MAX) {
		*pid_out = (uint32_t)v;
		return pin_pid_start_time((uint32_t)v) != 0;
	}
	return 1; /* cannot tell: treat as alive, leave it alone */
}

void pin_dir_remove(const char *dir)
{
	char path[PATH_MAX], *slash;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (d) {
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			pin_fmt(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(dir);
	pin_fmt(path, sizeof(path), "%s", dir);
	slash = strrchr(path, '/');
	if (slash) {
		*slash = '\0';
		rmdir(path); /* the bpasst/ parent, if we were the last */
	}
}

int pin_clean_stale(const char *root)
{
	char base[PATH_MAX], dir[PATH_MAX];
	struct dirent *de;
	int removed = 0;
	DIR *d;

	pin_fmt(base, sizeof(base), "%s/%s", root, BP_LOADER_PIN_SUBDIR);
	d = opendir(base);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		uint32_t pid;

		if (de->d_name[0] == '.')
			continue;
		pin_fmt(dir, sizeof(dir), "%s/%s", base, de->d_name);
		if (!pin_dir_owner_alive(dir, &pid)) {
			pin_dir_remove(dir);
			removed++;
		}
	}
	closedir(d);
	return removed;
}
