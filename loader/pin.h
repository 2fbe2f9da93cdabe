/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pin.h - bpffs and the pin directories of bpasst instances (internal to loader/)
 *
 * Where bpffs is (read from /proc/self/mountinfo, never assumed), mounting it at /sys/fs/bpf when
 * it is nowhere, the per-instance pin directory <bpffs>/bpasst/<instance>/, and removing the
 * directories that dead instances left behind.
 */
#ifndef BPASST_LOADER_PIN_H
#define BPASST_LOADER_PIN_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Find a mounted bpffs (preferring /sys/fs/bpf), or mount one at BP_LOADER_PIN_ROOT. Its mount
 * point goes to root. 0, or -errno with a reason. */
int pin_bpffs_find(char root[PATH_MAX], char *reason, size_t reason_len);

/* Mount point of a filesystem of type fstype (e.g. "bpf", "cgroup2") from /proc/self/mountinfo
 * into out: the first one found, unless a better one comes: mounted at prefer_point (if not NULL),
 * or mounting the filesystem's root (mountinfo's root field "/", if prefer_root; a cgroup
 * namespace may show only a subtree). 0, -ENOENT when there is none, or -errno. */
int pin_mount_find(const char *fstype, const char *prefer_point, bool prefer_root,
		   char out[PATH_MAX]);

/* Sum the one slot of per-CPU array map_fd, whose value is nr_u64 __u64 counters, over the
 * possible CPUs into sum. 0, or -errno. */
int pin_percpu_sum(int map_fd, uint64_t *sum, size_t nr_u64);

/* Remove every <root>/bpasst/<name>/ whose owner (its pinned "instance" map, else a numeric
 * directory name taken as a PID) is no longer running. Returns how many were removed. */
int pin_clean_stale(const char *root);

/* Is the instance whose pin directory is dir alive? 1 yes, 0 no (or cannot tell: no pid). */
int pin_dir_owner_alive(const char *dir, uint32_t *pid);

/* Remove the pinned files of dir and the directory itself (and its parent if empty). */
void pin_dir_remove(const char *dir);

/* Start time of process pid (field 22 of /proc/PID/stat), or 0 if it is not running. */
uint64_t pin_pid_start_time(uint32_t pid);

#endif /* BPASST_LOADER_PIN_H */
