/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fwd_auto.c - pasta's automatic port forwarding: listeners that follow the ports bound on the
 * other side
 *
 * THEORY OF OPERATION
 *
 * What is bound: the kernel lists the sockets of a network namespace in /proc/net/tcp, tcp6,
 * udp and udp6, one line each, with the local port and the state in hex. A TCP socket in state
 * 0A (LISTEN) or a UDP socket in state 07 (bound and not connected: a server) makes its port
 * "bound". As upstream pasta, the local address does not matter: a server bound to one address
 * only (127.0.0.1, or the tap's address) still has its port forwarded, to the same port, and
 * what happens then is what would happen with an explicit -t for that port (from the host's
 * loopback the splice path reaches the namespace's loopback, through the tap its address).
 * Also as upstream, -u auto (-U auto) follows the TCP listening ports too, because some
 * protocols (iperf3) set up a UDP transfer on the port of their TCP control connection.
 *
 * Which files: a file of /proc/net shows the namespace of the process that opened it, for its
 * whole life. The namespace's four files are opened once, at start, by a core/nsexec.h helper
 * that entered the namespace (before privileges are dropped); the host's are opened directly.
 * Each tick reads a file from offset 0 with pread() into a fixed buffer, line by line, with
 * bounds checks (fwd_auto_parse_line()): a malformed line is skipped and counted, never trusted.
 * A file is read at most once per tick, whichever directions need it.
 *
 * Each tick (once a second, from main.c's timer), for every direction in "auto" mode:
 *   1. want = ports bound on the scanned side (the namespace for -t/-u, the host for -T/-U),
 *      less the exclusions of the set (-t auto -t ~22, or -t auto,~22), less port 0, and less
 *      every port on which the reverse direction of the same protocol has a listener of ours
 *      right now (its table: static rules or auto). That last rule is what keeps us from
 *      forwarding our own listeners back: a -T listener in the namespace shows in the
 *      namespace's /proc/net/tcp, and without it -t auto would open a host listener that leads
 *      into it, which leads back to the host. (For the TCP ports that UDP follows, the TCP
 *      reverse table is taken away likewise.) All wants are computed before any listener
 *      changes, so a listener opened in this tick cannot feed another direction's scan in the
 *      same tick; in the next it is in the reverse table already.
 *   2. sync: a dynamic listener whose port is no longer wanted is closed (UDP: the owner is told
 *      first, fwd_auto_closing_fn, to close the flows that answer through it) and its slot
 *      freed with a new generation (fwd.c: queued events for it are ignored); then each wanted
 *      (port, family) without a listener gets one: -t/-u on the host's wildcard address, like
 *      an explicit rule without an address; -T/-U on 127.0.0.1 and ::1 in the namespace, opened
 *      in batches of FWD_AUTO_NS_BATCH by one helper visit. The target port is the same port.
 *      A listener that cannot be opened (the port is taken on this side, a privileged port
 *      after dropping privileges, no IPv6 loopback) is logged at debug level and not tried
 *      again for FWD_AUTO_RETRY_TICKS ticks, or until its port disappears and comes back.
 *
 * Others may follow the TCP listeners (fwd_auto_set_tcp_hook(): the loopback bypass registers
 * them for its programs): told after a listener is added and before one is closed.
 *
 * State: the scan files, per-direction maps (wanted ports, failed (port, family) pairs), a
 * read buffer, and the counters. Listener tables stay with their owners (tcp.c, udp.c,
 * tcp_splice.c, udp_splice.c), which see the new listeners through their usual epoll kinds;
 * this module only adds and removes entries, at the fixed capacity reserved at start.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "core/epoll_ref.h"
#include "core/log.h"
#include "core/nsexec.h"
#include "flow/fwd_auto.h"
#include "flow/tcp_splice.h"
#include "flow/udp_splice.h"

static const char *const fwd_auto_paths[FWD_AUTO_FILES] = {
	"/proc/net/tcp",
	"/proc/net/tcp6",
	"/proc/net/udp",
	"/proc/net/udp6",
};

static const char *const fwd_auto_opt[FWD_AUTO_DIRS] = { "-t", "-u", "-T", "-U" };

struct fwd_auto_dir {
	bool on;
	const struct fwd_set *set;
	struct fwd_listeners *fl;
	int side; /* FWD_AUTO_SIDE_*: where the ports are scanned */
	int sock_type;
	uint32_t kind, index_flags;
	struct fwd_auto_map want;
	struct fwd_auto_map failed[2]; /* [0] IPv4, [1] IPv6 */
};

/* Listeners to open inside the namespace, with one helper visit. */
struct fwd_auto_ns_job {
	uint16_t port;
	int af;
	int sock_type;
	int fd; /* result: fd or -errno */
};

struct fwd_auto {
	int epollfd, netns_fd, userns_fd;
	bool fam[2];
	struct fwd_auto_dir dir[FWD_AUTO_DIRS];
	int scan_fd[2][FWD_AUTO_FILES];
	bool own_fds; /* opened here (closed by fwd_auto_free()) */
	fwd_auto_closing_fn udp_closing;
	void *udp_closing_arg;
	fwd_auto_tcp_fn tcp_hook;
	void *tcp_hook_arg;
	/* per tick: the side's bound ports, read at most once */
	struct fwd_auto_map bound[2][2]; /* [side][0 TCP, 1 UDP] */
	bool bound_read[2][2];
	struct fwd_auto_map tmp;
	unsigned ticks;
	bool ns_warned;
	struct fwd_auto_ns_job jobs[FWD_AUTO_NS_BATCH];
	unsigned njobs;
	char buf[FWD_AUTO_READ_BUF];
	struct fwd_auto_stats st;
};

/* --- parsing ------------------------------------------------------------------------------ */

static int fwd_auto_hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Hex digits at *i (at most max of them, at least one): their count, value in *v. */
static unsigned fwd_auto_hex(const char *s, size_t len, size_t *i, unsigned max, unsigned long *v)
{
	unsigned n = 0;

	*v = 0;
	while (*i < len && fwd_auto_hexval(s[*i]) >= 0) {
		if (n < max)
			*v = *v << 4 | (unsigned long)fwd_auto_hexval(s[*i]);
		n++;
		(*i)++;
	}
	return n;
}

static size_t fwd_auto_blanks(const char *s, size_t len, size_t i)
{
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i;
}

/* ADDR:PORT, ADDR of 8 or 32 hex digits (addr_digits: the length required, 0: either). */
static bool fwd_auto_endpoint(const char *s, size_t len, size_t *i, unsigned *addr_digits,
			      uint16_t *port)
{
	unsigned long v;
	unsigned n;

	n = fwd_auto_hex(s, len, i, 0, &v);
	if ((n != 8 && n != 32) || (*addr_digits && n != *addr_digits))
		return false;
	*addr_digits = n;
	if (*i >= len || s[*i] != ':')
		return false;
	(*i)++;
	n = fwd_auto_hex(s, len, i, 4, &v);
	if (n < 1 || n > 4)
		return false;
	*port = (uint16_t)v;
	return *i < len && (s[*i] == ' ' || s[*i] == '\t');
}

bool fwd_auto_parse_line(const char *s, size_t len, uint16_t *port, unsigned *state)
{
	unsigned addr_digits = 0, n;
	uint16_t lport, rport;
	unsigned long v;
	size_t i = fwd_auto_blanks(s, len, 0), start = i;

	while (i < len && s[i] >= '0' && s[i] <= '9' && i - start < 10)
		i++;
	if (i == start || i >= len || s[i] != ':')
		return false;
	i = fwd_auto_blanks(s, len, i + 1);
	if (!fwd_auto_endpoint(s, len, &i, &addr_digits, &lport))
		return false;
	i = fwd_auto_blanks(s, len, i);
	if (!fwd_auto_endpoint(s, len, &i, &addr_digits, &rport))
		return false;
	i = fwd_auto_blanks(s, len, i);
	n = fwd_auto_hex(s, len, &i, 2, &v);
	if (n < 1 || n > 2 || (i < len && s[i] != ' ' && s[i] != '\t'))
		return false;
	*port = lport;
	*state = (unsigned)v;
	return true;
}

static void fwd_auto_take_line(const char *line, size_t len, unsigned want_state,
			       struct fwd_auto_map *map, unsigned long *bad, bool first)
{
	uint16_t port;
	unsigned state;

	if (!fwd_auto_parse_line(line, len, &port, &state)) {
		if (bad && !first && len)
			(*bad)++;
		return;
	}
	if (state == want_state && port)
		fwd_auto_map_set(map, port);
}

int fwd_auto_scan_fd(int fd, unsigned state, struct fwd_auto_map *map, char *buf, size_t size,
		     unsigned long *bad)
{
	bool skipping = false, first = true;
	size_t have = 0;
	off_t off = 0;

	if (fd < 0 || size < 2)
		return -EINVAL;
	for (;;) {
		ssize_t n = pread(fd, buf + have, size - have, off);
		size_t start = 0;
		char *nl;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!n)
			break;
		off += n;
		have += (size_t)n;
		while ((nl = memchr(buf + start, '\n', have - start))) {
			size_t end = (size_t)(nl - buf);

			if (!skipping)
				fwd_auto_take_line(buf + start, end - start, state, map, bad,
						   first);
			skipping = false;
			first = false;
			start = end + 1;
		}
		have -= start;
		memmove(buf, buf + start, have);
		if (have == size) { /* a line longer than the buffer: drop it */
			if (!skipping && bad)
				(*bad)++;
			skipping = true;
			first = false;
			have = 0;
		}
	}
	if (have && !skipping)
		fwd_auto_take_line(buf, have, state, map, bad, first);
	return 0;
}

/* --- scanning ----------------------------------------------------------------------------- */

/* Ports bound on side: proto 0 TCP (listening), 1 UDP (unconnected), read once per tick. */
static const struct fwd_auto_map *fwd_auto_bound(struct fwd_auto *fa, int side, int proto)
{
	struct fwd_auto_map *m = &fa->bound[side][proto];
	unsigned state = proto ? FWD_AUTO_STATE_UDP_UNCONNECTED : FWD_AUTO_STATE_TCP_LISTEN;
	int f;

	if (fa->bound_read[side][proto])
		return m;
	memset(m, 0, sizeof(*m));
	for (f = proto ? FWD_AUTO_F_UDP4 : FWD_AUTO_F_TCP4;
	     f <= (proto ? FWD_AUTO_F_UDP6 : FWD_AUTO_F_TCP6); f++) {
		int fd = fa->scan_fd[side][f], ret;

		if (fd < 0)
			continue;
		ret = fwd_auto_scan_fd(fd, state, m, fa->buf, sizeof(fa->buf), &fa->st.bad_lines);
		if (ret < 0) {
			fa->st.read_errors++;
			log_ratelimited(LOG_LVL_WARN, "auto forwarding: cannot read %s: %s",
					fwd_auto_paths[f], strerror(-ret));
		}
	}
	fa->bound_read[side][proto] = true;
	return m;
}

/* Ports that table has a listener on, added to m. */
static void fwd_auto_table_ports(const struct fwd_listeners *fl, struct fwd_auto_map *m)
{
	unsigned i;

	if (!fl)
		return;
	for (i = 0; i < fl->count; i++) {
		if (fl->l[i].fd >= 0)
			fwd_auto_map_set(m, fl->l[i].port);
	}
}

static void fwd_auto_and_not(struct fwd_auto_map *m, const struct fwd_auto_map *x)
{
	unsigned i;

	for (i = 0; i < FWD_AUTO_MAP_WORDS; i++)
		m->w[i] &= ~x->w[i];
}

static void fwd_auto_or(struct fwd_auto_map *m, const struct fwd_auto_map *x)
{
	unsigned i;

	for (i = 0; i < FWD_AUTO_MAP_WORDS; i++)
		m->w[i] |= x->w[i];
}

static void fwd_auto_compute_want(struct fwd_auto *fa, enum fwd_auto_dir_id id)
{
	struct fwd_auto_dir *d = &fa->dir[id];
	bool udp = d->sock_type == SOCK_DGRAM;
	/* The reverse direction of each protocol: -t <-> -T, -u <-> -U. */
	enum fwd_auto_dir_id rev_tcp =
		d->side == FWD_AUTO_SIDE_NS ? FWD_AUTO_TCP_OUT : FWD_AUTO_TCP_IN;
	enum fwd_auto_dir_id rev_udp =
		d->side == FWD_AUTO_SIDE_NS ? FWD_AUTO_UDP_OUT : FWD_AUTO_UDP_IN;
	unsigned i, p;

	/* TCP listening ports, less our own TCP listeners there */
	d->want = *fwd_auto_bound(fa, d->side, 0);
	memset(&fa->tmp, 0, sizeof(fa->tmp));
	fwd_auto_table_ports(fa->dir[rev_tcp].fl, &fa->tmp);
	fwd_auto_and_not(&d->want, &fa->tmp);
	if (udp) {
		struct fwd_auto_map *u = &fa->tmp;

		*u = *fwd_auto_bound(fa, d->side, 1);
		{
			struct fwd_auto_map ours;

			memset(&ours, 0, sizeof(ours));
			fwd_auto_table_ports(fa->dir[rev_udp].fl, &ours);
			fwd_auto_and_not(u, &ours);
		}
		fwd_auto_or(&d->want, u);
	}
	for (i = 0; i < d->set->count; i++) {
		const struct fwd_rule *r = &d->set->rule[i];

		if (!r->exclude)
			continue;
		for (p = r->first; p <= r->last && p <= 65535; p++)
			d->want.w[p / 64] &= ~(1ull << (p % 64));
	}
	d->want.w[0] &= ~1ull; /* port 0 */
}

/* --- listeners ---------------------------------------------------------------------------- */

static void fwd_auto_insert(struct fwd_auto *fa, enum fwd_auto_dir_id id, int af, uint16_t port,
			    int fd)
{
	struct fwd_auto_dir *d = &fa->dir[id];
	int fi = af == AF_INET6, slot;

	if (fd < 0) {
		fa->st.open_failed++;
		fwd_auto_map_set(&d->failed[fi], port);
		debug("auto forwarding: %s %s port %u (%s): cannot listen: %s", fwd_auto_opt[id],
		      d->sock_type == SOCK_STREAM ? "TCP" : "UDP", port, fi ? "IPv6" : "IPv4",
		      strerror(-fd));
		return;
	}
	slot = fwd_insert(d->fl, fd, af, port, port, fa->epollfd, d->kind, d->index_flags);
	if (slot < 0) {
		close(fd);
		fa->st.open_failed++;
		fwd_auto_map_set(&d->failed[fi], port);
		log_ratelimited(LOG_LVL_WARN, "auto forwarding: %s port %u: %s", fwd_auto_opt[id],
				port, strerror(-slot));
		return;
	}
	fa->st.added++;
	if (d->sock_type == SOCK_STREAM && fa->tcp_hook)
		fa->tcp_hook(fa->tcp_hook_arg, id, af, port, true);
	debug("auto forwarding: %s %s port %u (%s) %s", fwd_auto_opt[id],
	      d->sock_type == SOCK_STREAM ? "TCP" : "UDP", port, fi ? "IPv6" : "IPv4",
	      d->side == FWD_AUTO_SIDE_NS ? "from the host to the namespace"
					  : "from the namespace to the host");
}

static int fwd_auto_open_in_ns(void *arg)
{
	struct fwd_auto *fa = arg;
	unsigned i;

	for (i = 0; i < fa->njobs; i++) {
		struct fwd_auto_ns_job *j = &fa->jobs[i];

		j->fd = fwd_socket(j->af, j->sock_type, j->port, true, false);
	}
	return 0;
}

/* Open the queued namespace listeners of direction id, and register them. */
static void fwd_auto_ns_flush(struct fwd_auto *fa, enum fwd_auto_dir_id id)
{
	unsigned i;
	int ret;

	if (!fa->njobs)
		return;
	ret = nsexec_call(fa->netns_fd, fa->userns_fd, fwd_auto_open_in_ns, fa, NULL);
	if (ret < 0) {
		if (!fa->ns_warned)
			warn("auto forwarding: cannot enter the namespace to listen on %s ports: "
			     "%s",
			     fwd_auto_opt[id], strerror(-ret));
		fa->ns_warned = true;
		for (i = 0; i < fa->njobs; i++)
			fa->jobs[i].fd = ret;
	} else {
		fa->st.ns_visits++;
	}
	for (i = 0; i < fa->njobs; i++)
		fwd_auto_insert(fa, id, fa->jobs[i].af, fa->jobs[i].port, fa->jobs[i].fd);
	fa->njobs = 0;
}

static void fwd_auto_open(struct fwd_auto *fa, enum fwd_auto_dir_id id, int af, uint16_t port)
{
	struct fwd_auto_dir *d = &fa->dir[id];

	if (d->side == FWD_AUTO_SIDE_HOST) { /* -T/-U: inside the namespace */
		struct fwd_auto_ns_job *j = &fa->jobs[fa->njobs++];

		j->port = port;
		j->af = af;
		j->sock_type = d->sock_type;
		j->fd = -1;
		if (fa->njobs == FWD_AUTO_NS_BATCH)
			fwd_auto_ns_flush(fa, id);
		return;
	}
	fwd_auto_insert(fa, id, af, port,
			fwd_socket(af, d->sock_type, port, false, d->sock_type == SOCK_DGRAM));
}

static void fwd_auto_sync(struct fwd_auto *fa, enum fwd_auto_dir_id id, bool retry)
{
	struct fwd_auto_dir *d = &fa->dir[id];
	struct fwd_auto_map *have = &fa->tmp;
	struct fwd_auto_map have6;
	unsigned i, w;

	memset(have, 0, sizeof(*have));
	memset(&have6, 0, sizeof(have6));
	for (i = 0; i < d->fl->count; i++) {
		const struct fwd_listener *l = &d->fl->l[i];

		if (l->fd < 0)
			continue;
		if (l->dynamic && !fwd_auto_map_has(&d->want, l->port)) {
			if (d->sock_type == SOCK_DGRAM && fa->udp_closing)
				fa->udp_closing(fa->udp_closing_arg, id, fwd_index(d->fl, i),
						l->fd);
			if (d->sock_type == SOCK_STREAM && fa->tcp_hook)
				fa->tcp_hook(fa->tcp_hook_arg, id, l->af, l->port, false);
			debug("auto forwarding: %s port %u (%s) no longer bound, closed",
			      fwd_auto_opt[id], l->port, l->af == AF_INET6 ? "IPv6" : "IPv4");
			fwd_remove(d->fl, i);
			fa->st.removed++;
			continue;
		}
		fwd_auto_map_set(l->af == AF_INET6 ? &have6 : have, l->port);
	}
	for (w = 0; w < FWD_AUTO_MAP_WORDS; w++) {
		uint64_t bits = d->want.w[w];
		int f;

		for (f = 0; f < 2; f++) {
			if (retry)
				d->failed[f].w[w] = 0;
			else
				d->failed[f].w[w] &= bits; /* gone and back: try again */
		}
		while (bits) {
			unsigned port = w * 64 + (unsigned)__builtin_ctzll(bits);

			bits &= bits - 1;
			for (f = 0; f < 2; f++) {
				if (!fa->fam[f] || fwd_auto_map_has(f ? &have6 : have, port) ||
				    fwd_auto_map_has(&d->failed[f], port))
					continue;
				fwd_auto_open(fa, id, f ? AF_INET6 : AF_INET, (uint16_t)port);
			}
		}
	}
	fwd_auto_ns_flush(fa, id);
}

void fwd_auto_tick(struct fwd_auto *fa)
{
	bool retry;
	int id;

	if (!fa)
		return;
	memset(fa->bound_read, 0, sizeof(fa->bound_read));
	for (id = 0; id < FWD_AUTO_DIRS; id++) {
		if (fa->dir[id].on)
			fwd_auto_compute_want(fa, (enum fwd_auto_dir_id)id);
	}
	fa->st.scans++;
	retry = ++fa->ticks % FWD_AUTO_RETRY_TICKS == 0;
	for (id = 0; id < FWD_AUTO_DIRS; id++) {
		if (fa->dir[id].on)
			fwd_auto_sync(fa, (enum fwd_auto_dir_id)id, retry);
	}
}

/* --- set-up ------------------------------------------------------------------------------- */

static bool fwd_auto_dir_wanted(const struct config *c, enum fwd_auto_dir_id id)
{
	const struct fwd_set *sets[FWD_AUTO_DIRS] = { &c->tcp_in, &c->udp_in, &c->tcp_out,
						      &c->udp_out };
	bool udp = id == FWD_AUTO_UDP_IN || id == FWD_AUTO_UDP_OUT;

	return c->mode == MODE_PASTA && sets[id]->mode == FWD_AUTO &&
		!(udp ? c->no_udp : c->no_tcp);
}

bool fwd_auto_wanted(const struct config *c)
{
	int id;

	for (id = 0; id < FWD_AUTO_DIRS; id++) {
		if (fwd_auto_dir_wanted(c, (enum fwd_auto_dir_id)id))
			return true;
	}
	return false;
}

static int fwd_auto_open_files(int fds[FWD_AUTO_FILES])
{
	int f;

	for (f = 0; f < FWD_AUTO_FILES; f++) {
		fds[f] = open(fwd_auto_paths[f], O_RDONLY | O_CLOEXEC);
		/* No IPv6 in the kernel: no tcp6/udp6, nothing bound there either. */
		if (fds[f] < 0 && errno != ENOENT)
			return -errno;
	}
	return 0;
}

static int fwd_auto_open_ns_files(void *arg)
{
	return fwd_auto_open_files(arg);
}

struct fwd_auto *fwd_auto_new(const struct fwd_auto_params *p, int *err)
{
	static const uint32_t kinds[FWD_AUTO_DIRS] = { EPOLL_KIND_TCP_LISTEN, EPOLL_KIND_UDP_LISTEN,
						       EPOLL_KIND_TCP_SPLICE,
						       EPOLL_KIND_UDP_SPLICE };
	static const uint32_t flags[FWD_AUTO_DIRS] = { 0, 0, TCP_SPLICE_INDEX_LISTENER,
						       UDP_SPLICE_INDEX_LISTENER };
	const struct config *c = p->c;
	const struct fwd_set *sets[FWD_AUTO_DIRS] = { &c->tcp_in, &c->udp_in, &c->tcp_out,
						      &c->udp_out };
	bool need_side[2] = { false, false };
	struct fwd_auto *fa;
	int id, f, s, ret = 0;

	*err = 0;
	if (!fwd_auto_wanted(c))
		return NULL;
	fa = calloc(1, sizeof(*fa));
	if (!fa) {
		*err = -ENOMEM;
		err("auto forwarding: out of memory");
		return NULL;
	}
	fa->epollfd = p->epollfd;
	fa->netns_fd = p->netns_fd;
	fa->userns_fd = p->userns_fd;
	fa->fam[0] = c->ip4.enabled;
	fa->fam[1] = c->ip6.enabled;
	fa->udp_closing = p->udp_closing;
	fa->udp_closing_arg = p->udp_closing_arg;
	for (s = 0; s < 2; s++) {
		for (f = 0; f < FWD_AUTO_FILES; f++)
			fa->scan_fd[s][f] = p->scan_fds_given ? p->scan_fd[s][f] : -1;
	}
	fa->own_fds = !p->scan_fds_given;

	for (id = 0; id < FWD_AUTO_DIRS; id++) {
		struct fwd_auto_dir *d = &fa->dir[id];

		d->fl = p->table[id];
		d->set = sets[id];
		d->side = id <= FWD_AUTO_UDP_IN ? FWD_AUTO_SIDE_NS : FWD_AUTO_SIDE_HOST;
		d->sock_type =
			id == FWD_AUTO_UDP_IN || id == FWD_AUTO_UDP_OUT ? SOCK_DGRAM : SOCK_STREAM;
		d->kind = kinds[id];
		d->index_flags = flags[id];
		if (!fwd_auto_dir_wanted(c, (enum fwd_auto_dir_id)id))
			continue;
		if (!d->fl) {
			err("auto forwarding: %s auto: no listener table", fwd_auto_opt[id]);
			ret = -EINVAL;
			goto fail;
		}
		ret = fwd_reserve(d->fl, 65535u * ((unsigned)fa->fam[0] + (unsigned)fa->fam[1]));
		if (ret < 0) {
			err("auto forwarding: %s auto: cannot size the listener table: %s",
			    fwd_auto_opt[id], strerror(-ret));
			goto fail;
		}
		d->on = true;
		need_side[d->side] = true;
	}

	if (fa->own_fds && need_side[FWD_AUTO_SIDE_HOST]) {
		ret = fwd_auto_open_files(fa->scan_fd[FWD_AUTO_SIDE_HOST]);
		if (ret < 0) {
			err("auto forwarding: cannot open the host's /proc/net files: %s",
			    strerror(-ret));
			goto fail;
		}
	}
	if (fa->own_fds && need_side[FWD_AUTO_SIDE_NS]) {
		int result = 0;

		ret = nsexec_call(fa->netns_fd, fa->userns_fd, fwd_auto_open_ns_files,
				  fa->scan_fd[FWD_AUTO_SIDE_NS], &result);
		if (ret < 0 || result < 0) {
			ret = ret < 0 ? ret : result;
			err("auto forwarding: cannot open the namespace's /proc/net files: %s",
			    strerror(-ret));
			goto fail;
		}
	}
	fwd_auto_tick(fa);
	debug("auto forwarding: %s%s%s%s, %lu listeners at start",
	      fa->dir[FWD_AUTO_TCP_IN].on ? " -t" : "", fa->dir[FWD_AUTO_UDP_IN].on ? " -u" : "",
	      fa->dir[FWD_AUTO_TCP_OUT].on ? " -T" : "", fa->dir[FWD_AUTO_UDP_OUT].on ? " -U" : "",
	      fa->st.added);
	return fa;
fail:
	*err = ret;
	fwd_auto_free(fa);
	return NULL;
}

void fwd_auto_free(struct fwd_auto *fa)
{
	int s, f;

	if (!fa)
		return;
	for (s = 0; s < 2 && fa->own_fds; s++) {
		for (f = 0; f < FWD_AUTO_FILES; f++) {
			if (fa->scan_fd[s][f] >= 0)
				close(fa->scan_fd[s][f]);
		}
	}
	free(fa);
}

void fwd_auto_set_tcp_hook(struct fwd_auto *fa, fwd_auto_tcp_fn fn, void *arg)
{
	static const enum fwd_auto_dir_id tcp_dirs[] = { FWD_AUTO_TCP_IN, FWD_AUTO_TCP_OUT };
	unsigned k, i;

	if (!fa)
		return;
	fa->tcp_hook = fn;
	fa->tcp_hook_arg = arg;
	for (k = 0; fn && k < sizeof(tcp_dirs) / sizeof(tcp_dirs[0]); k++) {
		const struct fwd_auto_dir *d = &fa->dir[tcp_dirs[k]];

		for (i = 0; d->on && d->fl && i < d->fl->count; i++) {
			const struct fwd_listener *l = &d->fl->l[i];

			if (l->fd >= 0 && l->dynamic)
				fn(arg, tcp_dirs[k], l->af, l->port, true);
		}
	}
}

const struct fwd_auto_stats *fwd_auto_get_stats(const struct fwd_auto *fa)
{
	return &fa->st;
}

const struct fwd_auto_map *fwd_auto_ports(const struct fwd_auto *fa, enum fwd_auto_dir_id dir)
{
	return &fa->dir[dir].want;
}
