/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * loader.h - the BPF fast path as seen from the daemon (and the BPF tests)
 *
 * Everything libbpf lives behind this header: the daemon never includes a skeleton or libbpf.
 *
 * Life cycle: fill a struct bp_loader_params (mode, the tap and its namespace, the instance name,
 * the answer configuration), call bp_loader_start() while still privileged; it returns a handle,
 * or NULL when the fast path is off, and always writes the one line to log:
 *   "BPF fast path: on (tc egress on <tap>, ifindex <n>, maps in <pin dir>)"  or
 *   "BPF fast path: off: <reason>".
 * With mode BP_LOADER_ON a NULL return is fatal for the caller (the line says why); with AUTO the
 * daemon goes on without it (every frame then reaches the daemon, which answers everything).
 * While running: bp_loader_config_update() when the answer configuration changes (e.g. the
 * guest's addresses), bp_loader_mirror_update()/_delete() for the flow table mirror,
 * bp_loader_counters() to read the counters. bp_loader_stop() detaches and unpins everything.
 *
 * Privileges: start needs CAP_BPF/CAP_SYS_ADMIN (bpf()), CAP_NET_ADMIN in the tap's namespace
 * (TC attach) and CAP_SYS_ADMIN for setns() into it (and to mount bpffs if none is mounted).
 * After start, the maps are reached through file descriptors that stay valid when privileges
 * are dropped; stop needs CAP_NET_ADMIN to remove the TC filter (without it, the filter goes
 * away with the tap device when the daemon exits) and write access to the pin directory (give
 * pin_uid/pin_gid to let the unprivileged daemon remove its pins).
 */
#ifndef BPASST_LOADER_H
#define BPASST_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpasst_maps.h"

/* Same values as enum bpf_mode in user/core/config.h. */
enum bp_loader_mode {
	BP_LOADER_AUTO = 0, /* use the fast path when allowed, else fall back with a reason */
	BP_LOADER_ON = 1, /* the caller treats a fallback as a fatal error */
	BP_LOADER_OFF = 2, /* never load */
};

#define BP_LOADER_NO_CHOWN UINT32_MAX /* pin_uid/pin_gid: leave the pins owned by us */
#define BP_LOADER_PIN_ROOT "/sys/fs/bpf" /* where bpffs is mounted when none is */
#define BP_LOADER_PIN_SUBDIR "bpasst" /* pins go to <bpffs>/bpasst/<instance>/ */

struct bp_loader_params {
	uint32_t mode; /* enum bp_loader_mode */
	int32_t netns_fd; /* the tap's network namespace (setns() target), or -1: ours */
	uint32_t tap_ifindex; /* the tap's ifindex in that namespace; 0: look tap_name up there */
	char tap_name[16]; /* the tap's name (IFNAMSIZ), for the log line and the lookup */
	char instance[64]; /* pin directory name (--bpf-name); "": our PID */
	uint32_t flow_mirror_max; /* entries of flow_mirror (flow ids below it); 0: default */
	uint32_t pin_uid; /* owner given to the pins, or BP_LOADER_NO_CHOWN */
	uint32_t pin_gid;
	uint32_t verbose; /* non-zero: libbpf's messages (verifier log included) to stderr */
	struct bp_tap_config config; /* what the tap program answers, and with what */
};

struct bp_loader;

/* Probe, load, pin, attach. A handle, or NULL when the fast path is off; line (if not NULL)
 * receives the log line in both cases. Also removes pin directories of dead instances. */
struct bp_loader *bp_loader_start(const struct bp_loader_params *p, char *line, size_t line_len);

/* Detach the TC filter, unpin and close everything, free l. NULL is allowed. */
void bp_loader_stop(struct bp_loader *l);

/* Replace the answer configuration. 0, or -errno. */
int bp_loader_config_update(struct bp_loader *l, const struct bp_tap_config *cfg);

/* Write the mirror entry of flow flow_id (< flow_mirror_max): always when force (a new flow, a
 * state change), otherwise only if this entry was last written a second ago or more (byte count
 * refreshes: call it as often as convenient, it makes at most one syscall per flow per second).
 * m->updated_ns is set by the loader. 0 written, 1 skipped (too soon), or -errno. */
int bp_loader_mirror_update(struct bp_loader *l, uint32_t flow_id, const struct bp_flow_mirror *m,
			    bool force);

/* Remove the mirror entry of flow_id (a freed flow). 0 (also when there was none), or -errno. */
int bp_loader_mirror_delete(struct bp_loader *l, uint32_t flow_id);

/* The tap program's counters, summed over CPUs. 0, or -errno. */
int bp_loader_counters(const struct bp_loader *l, struct bp_tap_counters *sum);

/* The pin directory, e.g. "/sys/fs/bpf/bpasst/1234". */
const char *bp_loader_pin_dir(const struct bp_loader *l);

/* Can this process use bpf() at all? 0 if it can; otherwise -errno and a one-line reason (e.g.
 * "bpf() not permitted: kernel.unprivileged_bpf_disabled=2 and no CAP_BPF/CAP_SYS_ADMIN"). */
int bp_loader_probe_bpf(char *reason, size_t reason_len);

/* Set the DNSSL option of cfg from search domains already in DNS wire format (names_len bytes
 * of concatenated names, each ending with its zero-length root label, as dhcp_domain_encode()
 * writes them): type 31, length, reserved, lifetime BP_RA_DNS_LIFETIME, the names, zero padding
 * to a multiple of 8. names_len 0 clears it. 0, or -ENOSPC when the option would be longer than
 * BP_RA_DNSSL_MAX (then leave router solicitations to the daemon: clear BP_CFG_RA). */
int bp_tap_config_set_dnssl(struct bp_tap_config *cfg, const uint8_t *names, size_t names_len);

#endif /* BPASST_LOADER_H */
