/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fwd_auto.h - pasta's automatic port forwarding ("auto"): follow the ports bound on the other side
 *
 * -t auto / -u auto: every TCP port listening (UDP port bound) in the namespace gets a listener on
 * the host that forwards to it; -T auto / -U auto: every port bound on the host gets a listener on
 * the namespace's loopback that forwards to the host's. Once a second (fwd_auto_tick()) the
 * kernel's socket tables, /proc/net/{tcp,tcp6,udp,udp6} of each side, are read again and the
 * listener tables are brought in line: a port that is no longer bound loses its listener. See
 * fwd_auto.c for the theory of operation, and the rules (exclusions, loops, UDP).
 *
 * Wiring (main.c, pasta only; the patch is in notes/autofwd-main.c.patch):
 *   - after the TCP/UDP translators and the splice modules exist, before privileges are dropped:
 *     fwd_auto_new() with their four listener tables (it opens the namespace's /proc files from
 *     inside the namespace, and forwards what is bound already);
 *   - the 1 s timer: fwd_auto_tick();
 *   - exit: fwd_auto_free() before the tables are freed.
 */
#ifndef BPASST_FWD_AUTO_H
#define BPASST_FWD_AUTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "flow/fwd.h"

#define FWD_AUTO_MAP_WORDS (65536 / 64)
#define FWD_AUTO_RETRY_TICKS 10 /* a port whose listener could not be opened: retried after */
#define FWD_AUTO_NS_BATCH 256 /* listeners opened per visit to the namespace */
#define FWD_AUTO_READ_BUF 65536 /* bytes per read of a /proc file */

/* The "st" column of /proc/net/{tcp,udp}[6] (the kernel's TCP states). */
#define FWD_AUTO_STATE_TCP_LISTEN 0x0a
#define FWD_AUTO_STATE_UDP_UNCONNECTED 0x07 /* TCP_CLOSE: bound, not connected */

/* A set of ports, one bit each. */
struct fwd_auto_map {
	uint64_t w[FWD_AUTO_MAP_WORDS];
};

static inline bool fwd_auto_map_has(const struct fwd_auto_map *m, unsigned port)
{
	return port < 65536 && (m->w[port / 64] >> (port % 64)) & 1;
}

static inline void fwd_auto_map_set(struct fwd_auto_map *m, unsigned port)
{
	if (port < 65536)
		m->w[port / 64] |= 1ull << (port % 64);
}

/* The four directions, in the order of struct fwd_auto_tables. */
enum fwd_auto_dir_id {
	FWD_AUTO_TCP_IN = 0, /* -t: scan the namespace, listen on the host */
	FWD_AUTO_UDP_IN, /* -u */
	FWD_AUTO_TCP_OUT, /* -T: scan the host, listen on the namespace's loopback */
	FWD_AUTO_UDP_OUT, /* -U */
	FWD_AUTO_DIRS,
};

/* Which files of a side: index into scan_fd[side][]. */
enum fwd_auto_file {
	FWD_AUTO_F_TCP4 = 0,
	FWD_AUTO_F_TCP6,
	FWD_AUTO_F_UDP4,
	FWD_AUTO_F_UDP6,
	FWD_AUTO_FILES,
};

#define FWD_AUTO_SIDE_HOST 0
#define FWD_AUTO_SIDE_NS 1

/* A UDP listener of direction dir (FWD_AUTO_UDP_IN or FWD_AUTO_UDP_OUT), epoll index `index`
 * (without the owner's flag bit) and socket fd, is about to be closed: flows that answer through
 * it must go first. */
typedef void (*fwd_auto_closing_fn)(void *arg, enum fwd_auto_dir_id dir, uint32_t index, int fd);

/* A TCP listener of direction dir (FWD_AUTO_TCP_IN: on the host; FWD_AUTO_TCP_OUT: on the
 * namespace's loopback) for (af, port) was added (added true), or is about to be closed. */
typedef void (*fwd_auto_tcp_fn)(void *arg, enum fwd_auto_dir_id dir, int af, uint16_t port,
				bool added);

struct fwd_auto_params {
	const struct config *c;
	int epollfd;
	int netns_fd, userns_fd; /* the namespace (userns_fd: its user namespace, or -1) */
	/* The listener tables of tcp.c (-t), udp.c (-u), tcp_splice.c (-T) and udp_splice.c (-U);
	 * NULL where the module does not exist (--no-tcp, --no-udp). An "auto" table must be empty:
	 * it is given its capacity here (fwd_reserve()). */
	struct fwd_listeners *table[FWD_AUTO_DIRS];
	fwd_auto_closing_fn udp_closing;
	void *udp_closing_arg;
	/* Tests: the /proc files to read instead of opening them (-1: none), for both sides. */
	bool scan_fds_given;
	int scan_fd[2][FWD_AUTO_FILES];
};

struct fwd_auto_stats {
	unsigned long scans; /* ticks that read the files */
	unsigned long added, removed; /* listeners */
	unsigned long open_failed; /* listeners that could not be opened (retried later) */
	unsigned long bad_lines; /* lines of the /proc files that did not parse */
	unsigned long read_errors;
	unsigned long ns_visits; /* helper runs that opened listeners in the namespace */
};

struct fwd_auto;

/* Set up automatic forwarding for the directions of p->c in FWD_AUTO mode (none: NULL, and
 * nothing else is done, which is not an error: check fwd_auto_wanted() first). Opens the /proc
 * files (the namespace's from inside it), sizes the tables and forwards what is bound now.
 * NULL with *err set (-errno, logged) on failure. */
struct fwd_auto *fwd_auto_new(const struct fwd_auto_params *p, int *err);
/* Is any direction of c in "auto" mode (and its protocol not disabled)? */
bool fwd_auto_wanted(const struct config *c);
/* Rescan and bring the listener tables in line (call once a second). */
void fwd_auto_tick(struct fwd_auto *fa);
/* Close the /proc files and free (the listeners stay in their tables). NULL is fine. */
void fwd_auto_free(struct fwd_auto *fa);
/* Tell fn about every TCP listener added or closed from now on, and at once about each one that
 * is open already (added true); NULL fn: stop. For a module that starts after the first scan
 * (the loopback bypass registers the listeners its programs watch). NULL fa: nothing. */
void fwd_auto_set_tcp_hook(struct fwd_auto *fa, fwd_auto_tcp_fn fn, void *arg);
const struct fwd_auto_stats *fwd_auto_get_stats(const struct fwd_auto *fa);
/* The ports direction dir forwards as of the last tick (tests, debug). */
const struct fwd_auto_map *fwd_auto_ports(const struct fwd_auto *fa, enum fwd_auto_dir_id dir);

/* --- /proc/net parsing (exposed for the unit tests) --- */

/* One line of /proc/net/{tcp,tcp6,udp,udp6} (len bytes, no newline needed): "SL: LOCAL_ADDR:PORT
 * REMOTE_ADDR:PORT ST ...", addresses of 8 (IPv4) or 32 (IPv6) hex digits, ports of 1-4 and the
 * state of 1-2 hex digits. true with *port and *state for such a line; false for the header and
 * anything malformed. Never reads past len. */
bool fwd_auto_parse_line(const char *line, size_t len, uint16_t *port, unsigned *state);

/* Read the file fd from offset 0 to its end (pread) with buffer buf of size bytes, and set in
 * map the port of every line in state `state` (port 0 excepted). Lines longer than the buffer
 * are skipped. *bad (if not NULL) is increased by the lines that did not parse (the header
 * line not counted). 0, or -errno of a failed read (map then holds what was read so far). */
int fwd_auto_scan_fd(int fd, unsigned state, struct fwd_auto_map *map, char *buf, size_t size,
		     unsigned long *bad);

#endif /* BPASST_FWD_AUTO_H */
