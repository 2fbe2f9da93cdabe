// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fastpath.c - the BPF fast path seen from the daemon: parameters, start, configuration, stop
 *
 * Theory of operation
 *
 * The loader (loader/loader.h) does everything libbpf; this file turns what the daemon knows
 * into what the loader needs, and ties the loader's life to the daemon's:
 *   - fastpath_start(), from main.c before privileges are dropped: passt mode has no tap in a
 *     namespace of ours, so the fast path is off there (an error with --bpf on). In pasta mode
 *     it fills struct bp_loader_params: the mode (--bpf), the tap's ifindex and name and the
 *     namespace fd from struct ns_state (the loader attaches from inside that namespace), the
 *     instance name (--bpf-name, else our PID), the pins' owner when main will switch to
 *     another user (so that the daemon can still remove them), libbpf's messages at --debug, and
 *     the answer configuration from fastpath_tap_config(). The loader's one line is logged at
 *     info level; with --bpf on, an "off" line is an error and the caller exits.
 *   - fastpath_sync(), after each round of frames from the tap: the configuration depends on
 *     the guest's addresses as seen in its frames (NDP must not answer for them); when they
 *     changed, the configuration map is rewritten. Otherwise it costs two comparisons.
 *   - fastpath_stop(), from main.c's exit path (also SIGTERM/SIGINT, which main turns into a
 *     clean exit): the counters are logged in one line, then the loader detaches the program,
 *     unpins the maps and removes the pin directory. A daemon killed by SIGKILL cannot do this:
 *     the next start removes the pins of dead instances, and the filter goes with the tap.
 *
 * Echo requests: the daemon sends the guest's echo requests to the gateway-mapped address
 * (--map-host-loopback, by default the gateway) to the host's loopback through a ping socket
 * (flow/ping.c), and the guest gets a reply only if the host answers there. The program may
 * answer them itself only when the daemon's path would have answered too, so at start we ask
 * the kernel: a ping socket sends one echo request to 127.0.0.1 (::1) and waits up to
 * FASTPATH_ECHO_WAIT_MS for the reply. No ping socket (net.ipv4.ping_group_range), echo
 * ignored (net.ipv4.icmp_echo_ignore_all, net.ipv6.icmp.echo_ignore_all), no ::1: no BPF echo
 * for that family. When main will switch to another group, that group must be in
 * ping_group_range too, since the daemon's ping sockets are opened after the switch. With
 * --no-icmp or --no-map-gw the daemon does not answer echo to the gateway either: no BPF echo.
 *
 * State: one static struct fastpath_state (the loader handle, the PID that started it, the
 * echo families the host answers, and the guest addresses the configuration was built from).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "core/log.h"
#include "core/packet.h"
#include "io/fastpath.h"
#include "io/mirror.h"
#include "loader.h"
#include "proto/dhcp.h"

#define FASTPATH_ECHO_WAIT_MS 250 /* the loopback answers within microseconds */
#define FASTPATH_PING_GROUP_RANGE "/proc/sys/net/ipv4/ping_group_range"

static struct fastpath_state {
	struct bp_loader *loader; /* NULL: off */
	pid_t owner; /* the process that started it: only it stops it */
	unsigned host_echo; /* FASTPATH_HOST_ECHO* */
	struct in6_addr addr6_seen, addr6_ll_seen; /* the guest's, as in the configuration map */
} fp;

static bool fastpath_addr6_zero(const struct in6_addr *a)
{
	static const struct in6_addr any;

	return !memcmp(a, &any, sizeof(any));
}

/* RA part of the mapping: RDNSS and DNSSL as ndp.c sends them. */
static void fastpath_tap_config_dns(const struct config *c, struct bp_tap_config *t)
{
	if (!c->no_dns) {
		if (!fastpath_addr6_zero(&c->ip6.dns_forward)) {
			memcpy(t->rdnss[t->rdnss_count++], &c->ip6.dns_forward, 16);
		} else {
			for (unsigned i = 0; i < c->ip6.dns_count && i < CONF_MAX_DNS &&
			     t->rdnss_count < BP_RA_MAX_RDNSS;
			     i++)
				if (!fastpath_addr6_zero(&c->ip6.dns[i]))
					memcpy(t->rdnss[t->rdnss_count++], &c->ip6.dns[i], 16);
		}
	}
	if (!c->no_dns_search) {
		uint8_t names[BP_RA_DNSSL_MAX];
		size_t len = 0;

		for (unsigned i = 0; i < c->search_count && i < CONF_MAX_SEARCH; i++) {
			int n = dhcp_domain_encode(c->search[i], names + len, sizeof(names) - len);

			if (n > 0)
				len += (size_t)n;
		}
		if (bp_tap_config_set_dnssl(t, names, len))
			t->flags &= ~BP_CFG_RA; /* too long for BPF: the daemon answers RS */
	}
}

/* Echo part: the address that the daemon maps to the host's loopback (flow/ping.c). */
static void fastpath_tap_config_echo(const struct config *c, unsigned host_echo,
				     struct bp_tap_config *t)
{
	if (c->no_icmp || c->no_map_gw)
		return;
	if (c->ip4.enabled && (host_echo & FASTPATH_HOST_ECHO4)) {
		struct in_addr map = c->ip4.map_host_loopback;

		if (!map.s_addr && c->ip4.have_gw)
			map = c->ip4.gw;
		if (map.s_addr) {
			t->flags |= BP_CFG_ECHO4;
			memcpy(t->ip4_echo, &map, 4);
		}
	}
	if (c->ip6.enabled && (host_echo & FASTPATH_HOST_ECHO6)) {
		struct in6_addr map = c->ip6.map_host_loopback;

		if (fastpath_addr6_zero(&map) && c->ip6.have_gw)
			map = c->ip6.gw;
		if (!fastpath_addr6_zero(&map)) {
			t->flags |= BP_CFG_ECHO6;
			memcpy(t->ip6_echo, &map, 16);
		}
	}
}

void fastpath_tap_config(const struct config *c, const struct guest_state *g, unsigned host_echo,
			 struct bp_tap_config *t)
{
	memset(t, 0, sizeof(*t));
	memcpy(t->our_mac, c->our_mac, 6);
	fastpath_tap_config_echo(c, host_echo, t);
	if (c->ip4.enabled) {
		t->flags |= BP_CFG_ARP;
		memcpy(t->ip4_guest, &c->ip4.addr, 4);
		if (c->ip4.have_gw) {
			t->flags |= BP_CFG_IP4_GW;
			memcpy(t->ip4_gw, &c->ip4.gw, 4);
		}
	}
	if (!c->ip6.enabled || c->no_ndp)
		return;
	t->flags |= BP_CFG_NDP;
	memcpy(t->ip6_guest, &c->ip6.addr, 16);
	memcpy(t->ip6_guest_seen, &g->addr6_seen, 16);
	memcpy(t->ip6_guest_ll_seen, &g->addr6_ll_seen, 16);
	memcpy(t->ip6_our_ll, &c->ip6.our_ll, 16);
	if (c->ip6.have_gw && !fastpath_addr6_zero(&c->ip6.gw)) {
		t->flags |= BP_CFG_IP6_GW;
		memcpy(t->ip6_gw, &c->ip6.gw, 16);
	}
	/* RA source: our link-local address, else a link-local gateway (as ndp.c). */
	if (ip6_is_linklocal(&c->ip6.our_ll))
		memcpy(t->ip6_ra_src, &c->ip6.our_ll, 16);
	else if (c->ip6.have_gw && ip6_is_linklocal(&c->ip6.gw))
		memcpy(t->ip6_ra_src, &c->ip6.gw, 16);
	if (c->no_ra || fastpath_addr6_zero((const struct in6_addr *)t->ip6_ra_src))
		return;
	t->flags |= BP_CFG_RA;
	if (!c->no_dhcpv6)
		t->flags |= BP_CFG_DHCPV6;
	if (!fastpath_addr6_zero(&c->ip6.addr)) {
		t->flags |= BP_CFG_RA_PREFIX;
		memcpy(t->ip6_prefix, &c->ip6.addr, 16);
		t->ip6_prefix_len = BP_RA_PREFIX_LEN;
	}
	t->mtu = c->mtu > 0 ? (uint32_t)c->mtu : 0;
	fastpath_tap_config_dns(c, t);
}

/* ---- Does the host answer echo requests on its loopback? ---- */

static long fastpath_ms_left(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

/* One echo request through a ping socket to 127.0.0.1 or ::1: true if the reply came back. */
static bool fastpath_loopback_echoes(int af)
{
	static const char payload[] = "bpasst echo probe";
	uint8_t req[8 + sizeof(payload)], reply[256];
	struct sockaddr_storage sa = { 0 };
	struct timespec deadline;
	socklen_t sa_len;
	bool answered = false;
	int fd;

	fd = socket(af, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    af == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6);
	if (fd < 0) {
		debug("BPF fast path: no ping socket for %s: %s", af == AF_INET ? "IPv4" : "IPv6",
		      strerror(errno));
		return false;
	}
	memset(req, 0, sizeof(req));
	req[0] = af == AF_INET ? 8 : BP_ICMPV6_ECHO_REQUEST; /* identifier: the kernel's */
	req[7] = 1; /* sequence 1 */
	memcpy(req + 8, payload, sizeof(payload));
	if (af == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&sa;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sa_len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&sa;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		sa_len = sizeof(*sin6);
	}
	if (sendto(fd, req, sizeof(req), 0, (struct sockaddr *)&sa, sa_len) < 0) {
		debug("BPF fast path: echo probe to the %s loopback: %s",
		      af == AF_INET ? "IPv4" : "IPv6", strerror(errno));
		close(fd);
		return false;
	}

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_nsec += FASTPATH_ECHO_WAIT_MS * 1000000L;
	deadline.tv_sec += deadline.tv_nsec / 1000000000L;
	deadline.tv_nsec %= 1000000000L;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		long left = fastpath_ms_left(&deadline);
		ssize_t n;

		if (left < 0 || poll(&pfd, 1, (int)left) <= 0)
			break;
		n = recv(fd, reply, sizeof(reply), 0);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			break;
		/* A ping socket only receives replies to its own identifier. */
		if (n == (ssize_t)sizeof(req) &&
		    reply[0] == (af == AF_INET ? 0 : BP_ICMPV6_ECHO_REPLY) &&
		    !memcmp(reply + 8, payload, sizeof(payload))) {
			answered = true;
			break;
		}
	}
	close(fd);
	return answered;
}

/* Is gid in net.ipv4.ping_group_range (which governs IPv6 ping sockets as well)? */
static bool fastpath_gid_may_ping(gid_t gid)
{
	unsigned long low, high;
	FILE *f = fopen(FASTPATH_PING_GROUP_RANGE, "re");
	int n;

	if (!f)
		return false;
	n = fscanf(f, "%lu %lu", &low, &high);
	fclose(f);
	return n == 2 && low <= (unsigned long)gid && (unsigned long)gid <= high;
}

/* FASTPATH_HOST_ECHO* for the families whose echo requests the daemon's path gets answered. */
static unsigned fastpath_host_echo(const struct config *c, gid_t run_gid)
{
	unsigned echo = 0;

	if (c->no_icmp || c->no_map_gw)
		return 0;
	if (run_gid != (gid_t)-1 && run_gid != getegid() && !fastpath_gid_may_ping(run_gid)) {
		debug("BPF fast path: group %u may not open ping sockets: echo left to the daemon",
		      (unsigned)run_gid);
		return 0;
	}
	if (c->ip4.enabled && fastpath_loopback_echoes(AF_INET))
		echo |= FASTPATH_HOST_ECHO4;
	if (c->ip6.enabled && fastpath_loopback_echoes(AF_INET6))
		echo |= FASTPATH_HOST_ECHO6;
	return echo;
}

/* ---- Life cycle ---- */

/* An "off" outcome: informational with auto/off, fatal with on. */
static int fastpath_off(const struct config *c, const char *line)
{
	if (c->bpf != BPF_MODE_ON) {
		info("%s", line);
		return 0;
	}
	err("%s", line);
	err("--bpf on: the BPF fast path cannot be loaded, exiting (--bpf auto falls back)");
	return -1;
}

int fastpath_start(const struct config *c, const struct ns_state *ns, const struct guest_state *g,
		   uid_t run_uid, gid_t run_gid)
{
	struct bp_loader_params p;
	char line[640];

	if (fp.loader)
		return 0;
	if (c->bpf == BPF_MODE_OFF)
		return fastpath_off(c, "BPF fast path: off: disabled (--bpf off)");
	if (c->mode != MODE_PASTA || !ns)
		return fastpath_off(c, "BPF fast path: off: passt mode has no tap to attach to");

	memset(&p, 0, sizeof(p));
	p.mode = c->bpf == BPF_MODE_ON ? BP_LOADER_ON : BP_LOADER_AUTO;
	p.netns_fd = ns->netns_fd;
	p.tap_ifindex = ns->tap_ifindex > 0 ? (uint32_t)ns->tap_ifindex : 0;
	snprintf(p.tap_name, sizeof(p.tap_name), "%s", ns->tap_name);
	snprintf(p.instance, sizeof(p.instance), "%s", c->bpf_name);
	p.pin_uid = run_uid == (uid_t)-1 ? BP_LOADER_NO_CHOWN : (uint32_t)run_uid;
	p.pin_gid = run_gid == (gid_t)-1 ? BP_LOADER_NO_CHOWN : (uint32_t)run_gid;
	p.verbose = log_get_level() >= LOG_LVL_DEBUG;
	p.flow_mirror_max = MIRROR_FLOW_IDS; /* TCP and UDP flows (io/mirror.h) */

	/* The echo probe costs up to 2 x FASTPATH_ECHO_WAIT_MS: not when the loader cannot run. */
	fp.host_echo = bp_loader_probe_bpf(line, sizeof(line)) ? 0 : fastpath_host_echo(c, run_gid);
	fastpath_tap_config(c, g, fp.host_echo, &p.config);
	fp.addr6_seen = g->addr6_seen;
	fp.addr6_ll_seen = g->addr6_ll_seen;

	fp.loader = bp_loader_start(&p, line, sizeof(line));
	if (!fp.loader)
		return fastpath_off(c, line);
	fp.owner = getpid();
	info("%s", line);
	debug("BPF fast path: answers ARP %s, NDP %s, RA %s, echo IPv4 %s, IPv6 %s",
	      p.config.flags & BP_CFG_ARP ? "on" : "off",
	      p.config.flags & BP_CFG_NDP ? "on" : "off", p.config.flags & BP_CFG_RA ? "on" : "off",
	      p.config.flags & BP_CFG_ECHO4 ? "on" : "off (host does not answer, or disabled)",
	      p.config.flags & BP_CFG_ECHO6 ? "on" : "off (host does not answer, or disabled)");
	return 0;
}

void fastpath_sync(const struct config *c, const struct guest_state *g)
{
	struct bp_tap_config t;
	int rc;

	if (!fp.loader)
		return;
	if (!memcmp(&fp.addr6_seen, &g->addr6_seen, sizeof(fp.addr6_seen)) &&
	    !memcmp(&fp.addr6_ll_seen, &g->addr6_ll_seen, sizeof(fp.addr6_ll_seen)))
		return;
	fastpath_tap_config(c, g, fp.host_echo, &t);
	rc = bp_loader_config_update(fp.loader, &t);
	if (rc < 0) {
		log_ratelimited(LOG_LVL_WARN, "BPF fast path: cannot update tap_config: %s",
				strerror(-rc));
		return; /* retried at the next call */
	}
	fp.addr6_seen = g->addr6_seen;
	fp.addr6_ll_seen = g->addr6_ll_seen;
	debug("BPF fast path: configuration updated for the guest's addresses");
}

void fastpath_stop(void)
{
	struct bp_tap_counters n;

	if (!fp.loader || fp.owner != getpid())
		return;
	if (!bp_loader_counters(fp.loader, &n))
		info("BPF fast path: stopping: answered ARP %llu, NA %llu, RA %llu, "
		     "echo %llu (IPv4) %llu (IPv6); passed %llu, dropped %llu",
		     (unsigned long long)n.answered_arp, (unsigned long long)n.answered_na,
		     (unsigned long long)n.answered_ra, (unsigned long long)n.answered_echo4,
		     (unsigned long long)n.answered_echo6, (unsigned long long)n.passed,
		     (unsigned long long)n.dropped);
	bp_loader_stop(fp.loader);
	fp.loader = NULL;
}

struct bp_loader *fastpath_loader(void)
{
	return fp.loader;
}
