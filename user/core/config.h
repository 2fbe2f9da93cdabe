/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * config.h - struct config: everything the command line and the host's network state decide
 *
 * Plain data (floor 1). conf.c fills it once from the command line; io/netlink.c then completes
 * what was left unset from the host (upstream interface, addresses, routes, MTU); nothing reads the
 * command line again. Every handler gets a const pointer to it.
 *
 * Run-time state learned from the guest (its MAC, the addresses it actually uses) is not here but
 * in struct guest_state (core/guest.h), because it changes while we run.
 */
#ifndef BPASST_CONFIG_H
#define BPASST_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <net/if.h>
#include <netinet/in.h>

#include "bpasst_wire.h"

enum bpasst_mode {
	MODE_PASST = 0, /* qemu over a UNIX stream socket */
	MODE_PASTA, /* tap device in a network namespace */
};

enum bpf_mode {
	BPF_MODE_AUTO = 0,
	BPF_MODE_ON,
	BPF_MODE_OFF,
};

/* --bpf-bypass[=MODE]: how far the loopback bypass may go (io/bypass.c) */
enum bpf_bypass_mode {
	BPF_BYPASS_INGRESS = 0, /* into the peer's receive queue, egress as the fallback */
	BPF_BYPASS_EGRESS, /* only into our socket towards the peer: receivers keep their semantics */
};

#define CONF_MAX_DNS 4
#define CONF_MAX_SEARCH 8
#define CONF_DOMAIN_MAX 254
#define CONF_MAX_FWD_RULES 64

/* One port-forwarding rule: ports [first, last] on the listening side map to
 * [to_first, to_first + last - first] on the other side. */
struct fwd_rule {
	uint16_t first, last, to_first;
	bool exclude; /* ~RANGE: carve out of "all"/"auto" or other ranges */
	bool has_addr; /* bound to an address */
	int af; /* AF_INET, AF_INET6, or AF_UNSPEC for both */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;
	char ifname[IFNAMSIZ]; /* bound to an interface (ADDR%IF/...), or "" */
};

enum fwd_mode {
	FWD_UNSET = 0,
	FWD_NONE, /* "none" */
	FWD_SPEC, /* explicit rules */
	FWD_ALL, /* "all" (passt) */
	FWD_AUTO, /* "auto" (pasta): follow bound ports */
};

struct fwd_set {
	enum fwd_mode mode;
	unsigned count;
	struct fwd_rule rule[CONF_MAX_FWD_RULES];
};

struct ip4_conf {
	bool enabled;
	struct in_addr addr; /* address given to the guest (host's, or -a) */
	int prefix_len; /* -n or host's */
	struct in_addr gw; /* default gateway (host's, or -g) */
	bool have_gw;
	struct in_addr dns[CONF_MAX_DNS];
	unsigned dns_count;
	struct in_addr dns_forward; /* --dns-forward: guest-visible resolver address, or 0 */
	struct in_addr map_host_loopback; /* --map-host-loopback; defaults to gw */
	struct in_addr map_guest_addr; /* --map-guest-addr, or 0 */
	struct in_addr outbound; /* --outbound / -o, or 0 */
	char outbound_if[IFNAMSIZ]; /* --outbound-if4 */
	char ifname[IFNAMSIZ]; /* upstream interface for IPv4 (-i or default route's) */
};

struct ip6_conf {
	bool enabled;
	struct in6_addr addr; /* global address given to the guest */
	int prefix_len; /* typically 64 */
	struct in6_addr gw; /* default gateway (often link-local) */
	bool have_gw;
	struct in6_addr our_ll; /* the link-local address we answer NDP and send RAs from */
	struct in6_addr dns[CONF_MAX_DNS];
	unsigned dns_count;
	struct in6_addr dns_forward;
	struct in6_addr map_host_loopback;
	struct in6_addr map_guest_addr;
	struct in6_addr outbound;
	char outbound_if[IFNAMSIZ];
	char ifname[IFNAMSIZ];
};

struct config {
	enum bpasst_mode mode;
	const char *prog_name;

	/* logging and process */
	int log_level; /* enum log_level */
	char log_file[PATH_MAX];
	size_t log_size;
	bool foreground; /* -f; pasta: implied when running a command */
	bool stderr_log; /* -e */
	char pid_file[PATH_MAX];
	char runas[64]; /* --runas UID[:GID] or LOGIN[:GROUP] */

	/* passt: qemu socket */
	char sock_path[PATH_MAX]; /* -s; empty: choose /tmp/passt_N.socket */
	int sock_fd; /* --fd; -1 if unset */
	bool one_off; /* -1/--one-off: quit after the first qemu disconnects */

	/* pasta: namespace */
	char netns[PATH_MAX]; /* --netns PATH|NAME, or "" */
	char userns[PATH_MAX]; /* --userns PATH, or "" */
	int target_pid; /* PID argument: join its namespaces, or 0 */
	bool netns_only; /* --netns-only */
	bool config_net; /* --config-net */
	bool no_netns_quit; /* --no-netns-quit */
	char tap_name[IFNAMSIZ]; /* -I; default: host's upstream interface name */
	uint8_t ns_mac[BP_ETH_ALEN]; /* --ns-mac-addr, or all zero: random */
	bool ns_mac_set;
	char **cmd; /* pasta COMMAND [ARGS]; NULL: the user's shell */
	int cmd_argc;

	/* interfaces and addressing */
	char ifname[IFNAMSIZ]; /* -i: host upstream interface for both families */
	int mtu; /* -m; 0: default (65520) */
	uint8_t our_mac[BP_ETH_ALEN]; /* -M: MAC we use towards the guest */
	struct ip4_conf ip4;
	struct ip6_conf ip6;
	bool no_map_gw; /* --no-map-gw */

	/* DNS */
	char search[CONF_MAX_SEARCH][CONF_DOMAIN_MAX];
	unsigned search_count;
	bool no_dns; /* -D none */
	bool no_dns_search; /* -S none */

	/* services */
	bool no_dhcp, no_ndp, no_dhcpv6, no_ra, no_icmp, no_tcp, no_udp;

	/* forwarding: in = host to guest (-t/-u), out = namespace to host (-T/-U) */
	struct fwd_set tcp_in, udp_in, tcp_out, udp_out;

	/* BPF */
	enum bpf_mode bpf;
	char bpf_name[64]; /* --bpf-name; "" : PID */
	bool bpf_bypass; /* --bpf-bypass */
	enum bpf_bypass_mode bpf_bypass_mode; /* --bpf-bypass=MODE (default ingress) */
};

/* Defaults that apply before any option: modes, "no rule" forwards, fd -1, MAC 9a:55:9a:55:9a:55. */
void config_defaults(struct config *c, enum bpasst_mode mode, const char *prog_name);

#endif /* BPASST_CONFIG_H */
