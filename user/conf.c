/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * conf.c - the command line of passt and pasta, turned into a struct config (floor 5)
 *
 * Theory of operation
 *
 * One table, conf_opts[], lists every option we know: its long name, its short name (same as
 * upstream passt), whether it takes an argument, which mode accepts it (passt, pasta or both),
 * whether its behaviour is implemented, and its --help line. The getopt_long() arrays and the
 * --help text are both built from that table, so an option cannot be parsed without being
 * documented or the other way round. Flipping an option to "implemented" is one boolean.
 *
 * conf_parse() walks argv with getopt_long() in "+" mode (stop at the first non-option, so that
 * pasta's COMMAND keeps its own options) and, for each option:
 *   1. rejects it if it belongs to the other mode;
 *   2. parses and checks its value, and stores it in struct config (conf_apply());
 *   3. rejects it if its behaviour is not implemented yet, unless the value means "do nothing"
 *      (-t none and friends): an option accepted before its behaviour exists says so, it is
 *      never silently ignored.
 * Rules that involve several options (-4 with -6, -n with -a ADDR/LEN, MTU below 1280 with IPv6,
 * --netns with a PID, ...) are checked after the walk, in conf_check(); then pasta's remaining
 * arguments become a PID or a COMMAND. Any error prints one line "<prog>: <what>" on stderr and
 * exits with status 1.
 *
 * State: none between calls; the per-call struct conf_state keeps what the cross-option checks
 * need. This file calls nothing but libc and floor-1 definitions, and never touches the network.
 *
 * Forwarding specs (-t/-u/-T/-U) are parsed completely here into struct fwd_set; the grammar is
 * described at config_parse_fwd_spec() in core/config_parse.h (floor 1, with the other value
 * parsers).
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "conf.h"
#include "core/config_parse.h"
#include "core/log.h"

#ifndef BPASST_VERSION
#define BPASST_VERSION "unknown"
#endif

#define CONF_ERR_MAX 256

/* Addresses each kind of option refuses (see config_parse_addr()). */
#define CONF_ADDR_HOST /* -a, -g */                                                                \
	(CONFIG_ADDR_NO_UNSPEC | CONFIG_ADDR_NO_LOOPBACK | CONFIG_ADDR_NO_MULTICAST |              \
	 CONFIG_ADDR_NO_MAPPED)
#define CONF_ADDR_OUTBOUND                                                                         \
	(CONFIG_ADDR_NO_UNSPEC | CONFIG_ADDR_NO_MULTICAST | CONFIG_ADDR_NO_MAPPED)
#define CONF_ADDR_MAP (CONFIG_ADDR_NO_UNSPEC | CONFIG_ADDR_NO_LOOPBACK | CONFIG_ADDR_NO_MULTICAST)
#define CONF_ADDR_DNS (CONFIG_ADDR_NO_UNSPEC | CONFIG_ADDR_NO_MULTICAST)
#define CONF_LOG_SIZE_MIN 4096
#define CONF_MTU_MIN 68
#define CONF_MTU_IPV6_MIN 1280

enum conf_scope {
	SCOPE_BOTH,
	SCOPE_PASST,
	SCOPE_PASTA,
};

/* clang-format off */
enum conf_opt_id {
	O_HEADER = 0, /* not an option: a heading in --help */
	O_DEBUG, O_TRACE, O_QUIET, O_FOREGROUND, O_STDERR, O_LOG_FILE, O_LOG_SIZE, O_RUNAS,
	O_PID_FILE, O_PCAP, O_STATS, O_HELP, O_VERSION, O_CHROOT_FALLBACK,
	O_SOCKET, O_FD, O_ONE_OFF, O_VHOST_USER, O_PRINT_CAPS, O_REPAIR_PATH, O_MIGRATE_EXIT,
	O_MIGRATE_NO_LINGER,
	O_NS_IFNAME, O_NETNS, O_USERNS, O_NETNS_ONLY, O_NO_NETNS_QUIT, O_CONFIG_NET, O_NS_MAC,
	O_NO_PIDNS, O_NO_COPY_ROUTES, O_NO_COPY_ADDRS, O_NO_SPLICE, O_SPLICE_ONLY,
	O_HOST_LO_TO_NS_LO,
	O_INTERFACE, O_IPV4_ONLY, O_IPV6_ONLY, O_ADDRESS, O_NETMASK, O_GATEWAY, O_MTU, O_MAC,
	O_OUTBOUND, O_OUTBOUND_IF4, O_OUTBOUND_IF6,
	O_DNS, O_DNS_FORWARD, O_DNS_HOST, O_SEARCH, O_DHCP_DNS, O_NO_DHCP_DNS, O_DHCP_SEARCH,
	O_NO_DHCP_SEARCH, O_HOSTNAME, O_FQDN,
	O_NO_DHCP, O_NO_NDP, O_NO_DHCPV6, O_NO_RA, O_NO_ICMP, O_NO_TCP, O_NO_UDP,
	O_MAP_GW, O_NO_MAP_GW, O_MAP_HOST_LOOPBACK, O_MAP_GUEST_ADDR, O_FREEBIND,
	O_TCP_PORTS, O_UDP_PORTS, O_TCP_NS, O_UDP_NS,
	O_BPF, O_BPF_NAME, O_BPF_BYPASS,
};
/* clang-format on */

struct conf_opt {
	enum conf_opt_id id;
	const char *name; /* long name; NULL for a heading */
	char short_name; /* 0: long only */
	const char *arg; /* name of the argument in --help; NULL: takes none */
	enum conf_scope scope;
	bool implemented;
	const char *help; /* NULL: an alias, not listed */
};

/* clang-format off */
#define HEADER(scope, text) { O_HEADER, NULL, 0, NULL, scope, true, text }

/* THE option table. Order is the order of --help. */
static const struct conf_opt conf_opts[] = {
	HEADER(SCOPE_BOTH, "Logging and process:"),
	{ O_DEBUG, "debug", 'd', NULL, SCOPE_BOTH, true, "Be verbose" },
	{ O_TRACE, "trace", 0, NULL, SCOPE_BOTH, true,
	  "Be extra verbose, show packets; implies -d" },
	{ O_QUIET, "quiet", 'q', NULL, SCOPE_BOTH, true, "Only print warnings and errors" },
	{ O_FOREGROUND, "foreground", 'f', NULL, SCOPE_BOTH, true, "Stay in the foreground" },
	{ O_STDERR, "stderr", 'e', NULL, SCOPE_BOTH, true, "Log to standard error too" },
	{ O_LOG_FILE, "log-file", 'l', "PATH", SCOPE_BOTH, true, "Log to file PATH" },
	{ O_LOG_SIZE, "log-size", 0, "SIZE", SCOPE_BOTH, true,
	  "Cap the log file at SIZE bytes (default 1048576)" },
	{ O_RUNAS, "runas", 0, "UID[:GID]|LOGIN[:GROUP]", SCOPE_BOTH, true,
	  "Run as this user (default: nobody if started as root)" },
	{ O_PID_FILE, "pid", 'P', "PATH", SCOPE_BOTH, true, "Write our PID to PATH" },
	{ O_PCAP, "pcap", 'p', "PATH", SCOPE_BOTH, false, "Capture guest-side frames to PATH" },
	{ O_STATS, "stats", 0, "DELAY", SCOPE_BOTH, false, "Print event statistics every DELAY s" },
	{ O_CHROOT_FALLBACK, "chroot-fallback", 0, NULL, SCOPE_BOTH, false,
	  "Fall back to chroot() if pivot_root() fails" },
	{ O_HELP, "help", 'h', NULL, SCOPE_BOTH, true, "Show this help and exit" },
	{ O_VERSION, "version", 0, NULL, SCOPE_BOTH, true, "Show the version and exit" },

	HEADER(SCOPE_PASST, "The hypervisor's socket (passt only):"),
	{ O_SOCKET, "socket", 's', "PATH", SCOPE_PASST, true,
	  "UNIX socket for qemu (default: first free /tmp/passt_N.socket)" },
	{ O_SOCKET, "socket-path", 's', "PATH", SCOPE_PASST, true, NULL },
	{ O_FD, "fd", 'F', "FD", SCOPE_PASST, true,
	  "Use the connected socket FD we inherited; implies -1" },
	{ O_ONE_OFF, "one-off", '1', NULL, SCOPE_PASST, true, "Quit when the first client leaves" },
	{ O_VHOST_USER, "vhost-user", 0, NULL, SCOPE_PASST, false,
	  "Speak vhost-user on the socket" },
	{ O_PRINT_CAPS, "print-capabilities", 0, NULL, SCOPE_PASST, false,
	  "Print vhost-user back-end capabilities" },
	{ O_REPAIR_PATH, "repair-path", 0, "PATH", SCOPE_PASST, false,
	  "Socket for passt-repair (migration)" },
	{ O_MIGRATE_EXIT, "migrate-exit", 0, NULL, SCOPE_PASST, false,
	  "Exit after migrating away" },
	{ O_MIGRATE_NO_LINGER, "migrate-no-linger", 0, NULL, SCOPE_PASST, false,
	  "Close sockets after migrating away" },

	HEADER(SCOPE_PASTA, "The namespace (pasta only):"),
	{ O_NS_IFNAME, "ns-ifname", 'I', "NAME", SCOPE_PASTA, true,
	  "Name of the tap in the namespace (default: the host's upstream name)" },
	{ O_NETNS, "netns", 0, "PATH|NAME", SCOPE_PASTA, true,
	  "Join this network namespace (NAME: /run/netns/NAME)" },
	{ O_USERNS, "userns", 0, "PATH", SCOPE_PASTA, true, "Join this user namespace" },
	{ O_NETNS_ONLY, "netns-only", 0, NULL, SCOPE_PASTA, true,
	  "With a PID: join its network namespace only, not its user namespace" },
	{ O_NO_NETNS_QUIT, "no-netns-quit", 0, NULL, SCOPE_PASTA, true,
	  "Keep running when the joined namespace goes away" },
	{ O_CONFIG_NET, "config-net", 0, NULL, SCOPE_PASTA, true,
	  "Give the tap its addresses, routes and MTU, and bring it up" },
	{ O_NS_MAC, "ns-mac-addr", 0, "MAC", SCOPE_PASTA, true, "MAC address of the tap" },
	{ O_NO_PIDNS, "no-pidns", 0, NULL, SCOPE_PASTA, false,
	  "Don't give the command a new PID namespace" },
	{ O_NO_COPY_ROUTES, "no-copy-routes", 0, NULL, SCOPE_PASTA, false,
	  "With --config-net, set the default route only" },
	{ O_NO_COPY_ADDRS, "no-copy-addrs", 0, NULL, SCOPE_PASTA, false,
	  "With --config-net, set one address only" },
	{ O_NO_SPLICE, "no-splice", 0, NULL, SCOPE_PASTA, false,
	  "No bypass path for local inbound traffic" },
	{ O_SPLICE_ONLY, "splice-only", 0, NULL, SCOPE_PASTA, false,
	  "No tap: forward loopback traffic only" },
	{ O_HOST_LO_TO_NS_LO, "host-lo-to-ns-lo", 0, NULL, SCOPE_PASTA, false,
	  "Deliver host loopback connections to loopback in the namespace" },

	HEADER(SCOPE_BOTH, "Interfaces and addresses:"),
	{ O_INTERFACE, "interface", 'i', "NAME", SCOPE_BOTH, true,
	  "Host interface to take addresses and routes from" },
	{ O_IPV4_ONLY, "ipv4-only", '4', NULL, SCOPE_BOTH, true, "IPv4 only" },
	{ O_IPV6_ONLY, "ipv6-only", '6', NULL, SCOPE_BOTH, true, "IPv6 only" },
	{ O_ADDRESS, "address", 'a', "ADDR[/LEN]", SCOPE_BOTH, true,
	  "Address for the guest (once per IP version)" },
	{ O_NETMASK, "netmask", 'n', "MASK|LEN", SCOPE_BOTH, true, "IPv4 netmask for the guest" },
	{ O_GATEWAY, "gateway", 'g', "ADDR", SCOPE_BOTH, true,
	  "Default gateway for the guest (once per IP version)" },
	{ O_MTU, "mtu", 'm', "MTU", SCOPE_BOTH, true,
	  "MTU to advertise, 68-65520 (1280 or more with IPv6)" },
	{ O_MAC, "mac-addr", 'M', "MAC", SCOPE_BOTH, true,
	  "Our MAC address (default 9a:55:9a:55:9a:55)" },
	{ O_OUTBOUND, "outbound", 'o', "ADDR", SCOPE_BOTH, true,
	  "Source address for outbound sockets" },
	{ O_OUTBOUND_IF4, "outbound-if4", 0, "NAME", SCOPE_BOTH, true,
	  "Bind IPv4 outbound sockets to interface NAME" },
	{ O_OUTBOUND_IF6, "outbound-if6", 0, "NAME", SCOPE_BOTH, true,
	  "Bind IPv6 outbound sockets to interface NAME" },
	{ O_MAP_HOST_LOOPBACK, "map-host-loopback", 0, "ADDR|none", SCOPE_BOTH, true,
	  "Guest address that reaches the host's loopback" },
	{ O_MAP_GUEST_ADDR, "map-guest-addr", 0, "ADDR|none", SCOPE_BOTH, true,
	  "Guest address that reaches the host's own address" },
	{ O_MAP_GW, "map-gw", 0, NULL, SCOPE_BOTH, true, "Map the gateway address to the host" },
	{ O_NO_MAP_GW, "no-map-gw", 0, NULL, SCOPE_BOTH, true,
	  "Don't map the gateway address to the host" },

	HEADER(SCOPE_BOTH, "DNS:"),
	{ O_DNS, "dns", 'D', "ADDR|none", SCOPE_BOTH, true,
	  "Resolver for the guest (repeatable; none: no resolver)" },
	{ O_DNS_FORWARD, "dns-forward", 0, "ADDR", SCOPE_BOTH, true,
	  "Forward DNS queries to ADDR to the host's resolver" },
	{ O_DNS_HOST, "dns-host", 0, "ADDR", SCOPE_BOTH, false,
	  "Host resolver for --dns-forward" },
	{ O_SEARCH, "search", 'S', "LIST|none", SCOPE_BOTH, true,
	  "Search domains, space-separated (repeatable)" },
	{ O_DHCP_DNS, "dhcp-dns", 0, NULL, SCOPE_PASTA, false, "Send resolvers via DHCP/NDP" },
	{ O_NO_DHCP_DNS, "no-dhcp-dns", 0, NULL, SCOPE_PASST, false,
	  "Don't send resolvers via DHCP/NDP" },
	{ O_DHCP_SEARCH, "dhcp-search", 0, NULL, SCOPE_PASTA, false,
	  "Send search domains via DHCP/NDP" },
	{ O_NO_DHCP_SEARCH, "no-dhcp-search", 0, NULL, SCOPE_PASST, false,
	  "Don't send search domains via DHCP/NDP" },
	{ O_HOSTNAME, "hostname", 'H', "NAME", SCOPE_BOTH, false, "Host name sent via DHCP" },
	{ O_FQDN, "fqdn", 0, "NAME", SCOPE_BOTH, false, "FQDN sent via DHCP and DHCPv6" },

	HEADER(SCOPE_BOTH, "Services and protocols:"),
	{ O_NO_DHCP, "no-dhcp", 0, NULL, SCOPE_BOTH, true, "No DHCP server" },
	{ O_NO_NDP, "no-ndp", 0, NULL, SCOPE_BOTH, true, "No NDP answers" },
	{ O_NO_DHCPV6, "no-dhcpv6", 0, NULL, SCOPE_BOTH, true, "No DHCPv6 server" },
	{ O_NO_RA, "no-ra", 0, NULL, SCOPE_BOTH, true, "No router advertisements" },
	{ O_NO_ICMP, "no-icmp", 0, NULL, SCOPE_BOTH, true, "Drop ICMP/ICMPv6 echo requests" },
	{ O_NO_TCP, "no-tcp", 0, NULL, SCOPE_BOTH, true, "Drop TCP" },
	{ O_NO_UDP, "no-udp", 0, NULL, SCOPE_BOTH, true, "Drop UDP" },
	{ O_FREEBIND, "freebind", 0, NULL, SCOPE_BOTH, false,
	  "Allow -t/-u to bind addresses not configured" },

	HEADER(SCOPE_BOTH, "Port forwarding (SPEC: none, [ADDR[%IF]/]PORT[-LAST][:TO[-TOLAST]],"
			   "~EXCL,..., all (passt), auto (pasta)):"),
	{ O_TCP_PORTS, "tcp-ports", 't', "SPEC", SCOPE_BOTH, true,
	  "TCP ports to forward to the guest" },
	{ O_UDP_PORTS, "udp-ports", 'u', "SPEC", SCOPE_BOTH, true,
	  "UDP ports to forward to the guest" },
	{ O_TCP_NS, "tcp-ns", 'T', "SPEC", SCOPE_PASTA, true,
	  "TCP ports to forward from the namespace" },
	{ O_UDP_NS, "udp-ns", 'U', "SPEC", SCOPE_PASTA, true,
	  "UDP ports to forward from the namespace" },

	HEADER(SCOPE_BOTH, "eBPF fast path (bpasst only):"),
	{ O_BPF, "bpf", 0, "auto|on|off", SCOPE_BOTH, true,
	  "auto: use it if it loads; on: fail without it; off: never" },
	{ O_BPF_NAME, "bpf-name", 0, "NAME", SCOPE_BOTH, true,
	  "Name of our pinned BPF objects (default: our PID)" },
	{ O_BPF_BYPASS, "bpf-bypass", 0, "[=ingress|egress]", SCOPE_BOTH, true,
	  "Let the BPF programs pass established flows directly" },
};
/* clang-format on */

#define CONF_N_OPTS (sizeof(conf_opts) / sizeof(conf_opts[0]))
#define CONF_VAL_LONG_BASE 256 /* getopt value of a long-only option: base + table index */

/* What the checks between options need to remember while walking argv. */
struct conf_state {
	bool v4_only, v6_only;
	bool addr4_has_len; /* -a IPv4/LEN */
	int netmask_len; /* -n, 0: not given */
};

static int conf_fail(char *err, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int conf_fail(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -1;
}

static void conf_die(const struct config *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

static void conf_die(const struct config *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", c->prog_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_FAILURE);
}

/* --- values into struct config ------------------------------------------------------------ */

static int conf_copy_str(char *dst, size_t size, const char *arg, const char *what, char *err,
			 size_t len)
{
	size_t n = strlen(arg);

	if (!n)
		return conf_fail(err, len, "empty %s", what);
	if (n >= size)
		return conf_fail(err, len, "%s is too long (at most %zu characters)", what,
				 size - 1);
	memcpy(dst, arg, n + 1);
	return 0;
}

static int conf_copy_ifname(char *dst, const char *arg, char *err, size_t len)
{
	if (config_check_ifname(arg, err, len))
		return -1;
	strcpy(dst, arg);
	return 0;
}

static int conf_add_search(struct config *c, const char *s, size_t n, char *err, size_t len)
{
	size_t used;

	if (config_check_domain(s, n, &used, err, len))
		return -1;
	if (c->search_count >= CONF_MAX_SEARCH)
		return conf_fail(err, len, "too many search domains (at most %d)", CONF_MAX_SEARCH);
	memcpy(c->search[c->search_count], s, used);
	c->search[c->search_count][used] = '\0';
	c->search_count++;
	return 0;
}

static int conf_parse_search(struct config *c, const char *arg, char *err, size_t len)
{
	const char *p = arg;
	bool any = false;

	if (!strcmp(arg, "none")) {
		c->no_dns_search = true;
		c->search_count = 0;
		memset(c->search, 0, sizeof(c->search));
		return 0;
	}
	c->no_dns_search = false;
	while (*p) {
		size_t n;

		p += strspn(p, " \t");
		n = strcspn(p, " \t");
		if (!n)
			break;
		if (conf_add_search(c, p, n, err, len))
			return -1;
		any = true;
		p += n;
	}
	if (!any)
		return conf_fail(err, len, "empty search list");
	return 0;
}

static int conf_parse_dns(struct config *c, const char *arg, char *err, size_t len)
{
	union config_addr a;
	int af;

	if (!strcmp(arg, "none")) {
		c->no_dns = true;
		c->ip4.dns_count = c->ip6.dns_count = 0;
		memset(c->ip4.dns, 0, sizeof(c->ip4.dns));
		memset(c->ip6.dns, 0, sizeof(c->ip6.dns));
		return 0;
	}
	if (config_parse_addr(arg, CONF_ADDR_DNS, &af, &a, err, len))
		return -1;
	c->no_dns = false;
	if (af == AF_INET) {
		if (c->ip4.dns_count >= CONF_MAX_DNS)
			return conf_fail(err, len, "too many IPv4 resolvers (at most %d)",
					 CONF_MAX_DNS);
		c->ip4.dns[c->ip4.dns_count++] = a.v4;
	} else {
		if (c->ip6.dns_count >= CONF_MAX_DNS)
			return conf_fail(err, len, "too many IPv6 resolvers (at most %d)",
					 CONF_MAX_DNS);
		c->ip6.dns[c->ip6.dns_count++] = a.v6;
	}
	return 0;
}

/* -a ADDR[/LEN] */
static int conf_parse_address(struct config *c, struct conf_state *st, const char *arg, char *err,
			      size_t len)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(arg, '/');
	unsigned long plen = 0;
	union config_addr a;
	int af;

	if (strlen(arg) >= sizeof(buf))
		return conf_fail(err, len, "'%s' is not an IPv4 or IPv6 address", arg);
	strcpy(buf, arg);
	if (slash)
		buf[slash - arg] = '\0';
	if (config_parse_addr(buf, CONF_ADDR_HOST, &af, &a, err, len))
		return -1;
	if (slash && (!config_parse_ulong(slash + 1, af == AF_INET ? 32 : 128, &plen) || !plen))
		return conf_fail(err, len, "'%s' has an invalid prefix length (1 to %d)", arg,
				 af == AF_INET ? 32 : 128);
	if (af == AF_INET) {
		c->ip4.addr = a.v4;
		c->ip4.prefix_len = (int)plen; /* 0: -n, or io/netlink.c decides */
		st->addr4_has_len = !!slash;
	} else {
		c->ip6.addr = a.v6;
		c->ip6.prefix_len = (int)plen; /* 0: io/netlink.c decides */
	}
	return 0;
}

/* An address option given once per IP version (-g, -o, --dns-forward, --map-*). */
static int conf_parse_addr_pair(const char *arg, unsigned refuse, bool allow_none,
				struct in_addr *v4, struct in6_addr *v6, char *err, size_t len)
{
	union config_addr a;
	int af;

	if (allow_none && !strcmp(arg, "none")) {
		memset(v4, 0, sizeof(*v4));
		memset(v6, 0, sizeof(*v6));
		return 0;
	}
	if (config_parse_addr(arg, refuse, &af, &a, err, len))
		return -1;
	if (af == AF_INET)
		*v4 = a.v4;
	else
		*v6 = a.v6;
	return 0;
}

/* --runas UID[:GID] or LOGIN[:GROUP]: checked for shape here, resolved by main.c. */
static int conf_parse_runas(struct config *c, const char *arg, char *err, size_t len)
{
	const char *colon = strchr(arg, ':');

	if (conf_copy_str(c->runas, sizeof(c->runas), arg, "--runas value", err, len))
		return -1;
	if (colon == arg || (colon && (!colon[1] || strchr(colon + 1, ':')))) {
		c->runas[0] = '\0';
		return conf_fail(err, len, "'%s' is not UID[:GID] or LOGIN[:GROUP]", arg);
	}
	return 0;
}

static int conf_parse_bpf_name(struct config *c, const char *arg, char *err, size_t len)
{
	const char *p;

	if (conf_copy_str(c->bpf_name, sizeof(c->bpf_name), arg, "BPF name", err, len))
		return -1;
	for (p = arg; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.'))
			break;
	}
	if (*p || !strcmp(arg, ".") || !strcmp(arg, "..")) {
		c->bpf_name[0] = '\0';
		return conf_fail(err, len, "'%s' is not a valid name (letters, digits, '_-.')",
				 arg);
	}
	return 0;
}

/* --- the option table at work ------------------------------------------------------------- */

static void conf_usage(const struct config *c, FILE *f)
{
	bool pasta = c->mode == MODE_PASTA;
	size_t i;

	if (pasta)
		fprintf(f,
			"Usage: pasta [OPTION]... [COMMAND [ARG]...]\n"
			"       pasta [OPTION]... PID\n"
			"       pasta [OPTION]... --netns PATH|NAME\n"
			"Connect a network namespace to the host's network, without privileges.\n");
	else
		fprintf(f,
			"Usage: passt [OPTION]...\n"
			"Connect a virtual machine to the host's network, without privileges.\n");

	for (i = 0; i < CONF_N_OPTS; i++) {
		const struct conf_opt *o = &conf_opts[i];
		char left[64];
		int n;

		if (o->scope != SCOPE_BOTH && (o->scope == SCOPE_PASTA) != pasta)
			continue;
		if (o->id == O_HEADER) {
			fprintf(f, "\n%s\n", o->help);
			continue;
		}
		if (!o->help)
			continue;
		if (o->short_name)
			n = snprintf(left, sizeof(left), "  -%c, --%s%s%s", o->short_name, o->name,
				     o->arg && o->arg[0] != '[' ? " " : "", o->arg ? o->arg : "");
		else
			n = snprintf(left, sizeof(left), "      --%s%s%s", o->name,
				     o->arg && o->arg[0] != '[' ? " " : "", o->arg ? o->arg : "");
		if (n < 30)
			fprintf(f, "%-30s %s%s\n", left, o->help,
				o->implemented ? "" : " [not implemented yet]");
		else
			fprintf(f, "%s\n%-30s %s%s\n", left, "", o->help,
				o->implemented ? "" : " [not implemented yet]");
	}
	fprintf(f,
		"\nOptions marked [not implemented yet] are recognised but refused for now;\n"
		"-t, -u, -T and -U accept 'none'.\n"
		"See %s(1) for details.\n",
		pasta ? "pasta" : "passt");
}

static void conf_version(const struct config *c)
{
	printf("%s (bpasst) %s\n", c->prog_name, BPASST_VERSION);
	printf("Copyright the bpasst authors. License GPL-2.0-or-later: "
	       "<https://www.gnu.org/licenses/>; "
	       "this is free software, with NO WARRANTY.\n");
}

/* Parse the value of option o and store it. *noop: the value asks for nothing to be done. */
static int conf_apply(struct config *c, struct conf_state *st, const struct conf_opt *o,
		      const char *arg, bool *noop, char *err, size_t len)
{
	char sub[CONF_ERR_MAX];
	unsigned long v;

	*noop = false;
	switch (o->id) {
	case O_DEBUG:
		c->log_level = LOG_LVL_DEBUG;
		return 0;
	case O_TRACE:
		c->log_level = LOG_LVL_TRACE;
		return 0;
	case O_QUIET:
		c->log_level = LOG_LVL_WARN;
		return 0;
	case O_FOREGROUND:
		c->foreground = true;
		return 0;
	case O_STDERR:
		c->stderr_log = true;
		return 0;
	case O_LOG_FILE:
		return conf_copy_str(c->log_file, sizeof(c->log_file), arg, "path", err, len);
	case O_LOG_SIZE:
		if (!config_parse_ulong(arg, SIZE_MAX, &v) || v < CONF_LOG_SIZE_MIN)
			return conf_fail(err, len, "'%s' is not a size in bytes of at least %d",
					 arg, CONF_LOG_SIZE_MIN);
		c->log_size = v;
		return 0;
	case O_RUNAS:
		return conf_parse_runas(c, arg, err, len);
	case O_PID_FILE:
		return conf_copy_str(c->pid_file, sizeof(c->pid_file), arg, "path", err, len);
	case O_HELP:
		conf_usage(c, stdout);
		exit(EXIT_SUCCESS);
	case O_VERSION:
		conf_version(c);
		exit(EXIT_SUCCESS);

	case O_SOCKET:
		if (conf_copy_str(c->sock_path, sizeof(((struct sockaddr_un *)0)->sun_path), arg,
				  "socket path", err, len))
			return -1;
		c->sock_fd = -1;
		return 0;
	case O_FD:
		if (!config_parse_ulong(arg, INT_MAX, &v) || v == 1 || v == 2)
			return conf_fail(err, len, "'%s' is not a usable file descriptor", arg);
		c->sock_fd = (int)v;
		c->sock_path[0] = '\0';
		c->one_off = true;
		return 0;
	case O_ONE_OFF:
		c->one_off = true;
		return 0;

	case O_NS_IFNAME:
		return conf_copy_ifname(c->tap_name, arg, err, len);
	case O_NETNS:
		if (strchr(arg, '/'))
			return conf_copy_str(c->netns, sizeof(c->netns), arg, "path", err, len);
		if (!*arg || !strcmp(arg, ".") || !strcmp(arg, ".."))
			return conf_fail(err, len, "'%s' is not a namespace name", arg);
		if ((size_t)snprintf(c->netns, sizeof(c->netns), "/run/netns/%s", arg) >=
		    sizeof(c->netns))
			return conf_fail(err, len, "namespace name is too long");
		return 0;
	case O_USERNS:
		if (conf_copy_str(c->userns, sizeof(c->userns), arg, "path", err, len))
			return -1;
		c->netns_only = false;
		return 0;
	case O_NETNS_ONLY:
		c->netns_only = true;
		c->userns[0] = '\0';
		return 0;
	case O_NO_NETNS_QUIT:
		c->no_netns_quit = true;
		return 0;
	case O_CONFIG_NET:
		c->config_net = true;
		return 0;
	case O_NS_MAC:
		if (config_parse_mac(c->ns_mac, arg, err, len))
			return -1;
		c->ns_mac_set = true;
		return 0;

	case O_INTERFACE:
		if (conf_copy_ifname(c->ifname, arg, err, len))
			return -1;
		strcpy(c->ip4.ifname, c->ifname);
		strcpy(c->ip6.ifname, c->ifname);
		return 0;
	case O_IPV4_ONLY:
		st->v4_only = true;
		return 0;
	case O_IPV6_ONLY:
		st->v6_only = true;
		return 0;
	case O_ADDRESS:
		return conf_parse_address(c, st, arg, err, len);
	case O_NETMASK:
		return config_parse_netmask(arg, &st->netmask_len, err, len);
	case O_GATEWAY: {
		union config_addr a;
		int af;

		if (config_parse_addr(arg, CONF_ADDR_HOST, &af, &a, err, len))
			return -1;
		if (af == AF_INET) {
			c->ip4.gw = a.v4;
			c->ip4.have_gw = true;
		} else {
			c->ip6.gw = a.v6;
			c->ip6.have_gw = true;
		}
		return 0;
	}
	case O_MTU:
		if (!config_parse_ulong(arg, BP_ETH_MAX_MTU, &v) || v < CONF_MTU_MIN)
			return conf_fail(err, len, "'%s' is not an MTU from %d to %d", arg,
					 CONF_MTU_MIN, BP_ETH_MAX_MTU);
		c->mtu = (int)v;
		return 0;
	case O_MAC:
		return config_parse_mac(c->our_mac, arg, err, len);
	case O_OUTBOUND:
		return conf_parse_addr_pair(arg, CONF_ADDR_OUTBOUND, false, &c->ip4.outbound,
					    &c->ip6.outbound, err, len);
	case O_OUTBOUND_IF4:
		return conf_copy_ifname(c->ip4.outbound_if, arg, err, len);
	case O_OUTBOUND_IF6:
		return conf_copy_ifname(c->ip6.outbound_if, arg, err, len);
	case O_MAP_HOST_LOOPBACK:
		/* "none": no guest address reaches the host's loopback, as --no-map-gw (upstream). */
		if (!strcmp(arg, "none")) {
			c->no_map_gw = true;
			return 0;
		}
		return conf_parse_addr_pair(arg, CONF_ADDR_MAP, true, &c->ip4.map_host_loopback,
					    &c->ip6.map_host_loopback, err, len);
	case O_MAP_GUEST_ADDR:
		return conf_parse_addr_pair(arg, CONF_ADDR_MAP, true, &c->ip4.map_guest_addr,
					    &c->ip6.map_guest_addr, err, len);
	case O_MAP_GW:
		c->no_map_gw = false;
		return 0;
	case O_NO_MAP_GW:
		c->no_map_gw = true;
		return 0;

	case O_DNS:
		return conf_parse_dns(c, arg, err, len);
	case O_DNS_FORWARD:
		return conf_parse_addr_pair(arg, CONF_ADDR_MAP, false, &c->ip4.dns_forward,
					    &c->ip6.dns_forward, err, len);
	case O_SEARCH:
		return conf_parse_search(c, arg, err, len);

	case O_NO_DHCP:
		c->no_dhcp = true;
		return 0;
	case O_NO_NDP:
		c->no_ndp = true;
		return 0;
	case O_NO_DHCPV6:
		c->no_dhcpv6 = true;
		return 0;
	case O_NO_RA:
		c->no_ra = true;
		return 0;
	case O_NO_ICMP:
		c->no_icmp = true;
		return 0;
	case O_NO_TCP:
		c->no_tcp = true;
		return 0;
	case O_NO_UDP:
		c->no_udp = true;
		return 0;

	case O_TCP_PORTS:
	case O_UDP_PORTS:
	case O_TCP_NS:
	case O_UDP_NS: {
		struct fwd_set *set = o->id == O_TCP_PORTS ? &c->tcp_in
			: o->id == O_UDP_PORTS		   ? &c->udp_in
			: o->id == O_TCP_NS		   ? &c->tcp_out
							   : &c->udp_out;

		if (config_parse_fwd_spec(arg, c->mode, set, sub, sizeof(sub)))
			return conf_fail(err, len, "invalid spec '%s': %s", arg, sub);
		*noop = set->mode == FWD_NONE;
		return 0;
	}

	case O_BPF:
		if (!strcmp(arg, "auto"))
			c->bpf = BPF_MODE_AUTO;
		else if (!strcmp(arg, "on"))
			c->bpf = BPF_MODE_ON;
		else if (!strcmp(arg, "off"))
			c->bpf = BPF_MODE_OFF;
		else
			return conf_fail(err, len, "'%s' is not auto, on or off", arg);
		return 0;
	case O_BPF_NAME:
		return conf_parse_bpf_name(c, arg, err, len);
	case O_BPF_BYPASS:
		c->bpf_bypass = true;
		if (!arg || !strcmp(arg, "ingress"))
			c->bpf_bypass_mode = BPF_BYPASS_INGRESS;
		else if (!strcmp(arg, "egress"))
			c->bpf_bypass_mode = BPF_BYPASS_EGRESS;
		else
			return conf_fail(err, len, "'%s' is not ingress or egress", arg);
		return 0;

	default:
		/* Options without a field of their own: nothing to store until implemented. */
		return 0;
	}
}

/* Rules between options, once all are read. */
static void conf_check(struct config *c, const struct conf_state *st)
{
	char a[INET6_ADDRSTRLEN];

	if (st->v4_only && st->v6_only)
		conf_die(c, "--ipv4-only and --ipv6-only are mutually exclusive");
	if (st->v4_only)
		c->ip6.enabled = false;
	if (st->v6_only)
		c->ip4.enabled = false;

	if (!c->ip4.enabled && c->ip4.addr.s_addr)
		conf_die(c, "--address: IPv4 address %s given with --ipv6-only",
			 inet_ntop(AF_INET, &c->ip4.addr, a, sizeof(a)));
	if (!c->ip4.enabled && c->ip4.have_gw)
		conf_die(c, "--gateway: IPv4 address %s given with --ipv6-only",
			 inet_ntop(AF_INET, &c->ip4.gw, a, sizeof(a)));
	if (!c->ip6.enabled && !IN6_IS_ADDR_UNSPECIFIED(&c->ip6.addr))
		conf_die(c, "--address: IPv6 address %s given with --ipv4-only",
			 inet_ntop(AF_INET6, &c->ip6.addr, a, sizeof(a)));
	if (!c->ip6.enabled && c->ip6.have_gw)
		conf_die(c, "--gateway: IPv6 address %s given with --ipv4-only",
			 inet_ntop(AF_INET6, &c->ip6.gw, a, sizeof(a)));

	if (st->netmask_len) {
		if (st->addr4_has_len)
			conf_die(c,
				 "--netmask: the prefix length was already given with --address");
		c->ip4.prefix_len = st->netmask_len;
	}

	/* IPv6 links carry at least 1280 bytes (RFC 8200): a smaller MTU is an error, not a
	 * silent switch to IPv4 only. */
	if (c->mtu && c->mtu < CONF_MTU_IPV6_MIN && c->ip6.enabled)
		conf_die(c, "--mtu: %d is below %d, the minimum for IPv6; add --ipv4-only", c->mtu,
			 CONF_MTU_IPV6_MIN);
	/* No -m: the default MTU, which the guest also learns by DHCP (option 26) and the RA, in
	 * both modes, as upstream does. */
	if (!c->mtu)
		c->mtu = BP_ETH_MAX_MTU;

	config_fwd_finish(&c->tcp_in);
	config_fwd_finish(&c->udp_in);
	config_fwd_finish(&c->tcp_out);
	config_fwd_finish(&c->udp_out);

	/* pasta: a -t/-u target that is a -T/-U port (or the other way) loops back into our own
	 * listener. ("auto" sets are checked at run time: fwd_auto.c never follows a port that
	 * the other direction listens on.) */
	if (c->mode == MODE_PASTA) {
		char sub[CONF_ERR_MAX];

		if (config_fwd_check_loops(&c->tcp_in, &c->tcp_out, "-t", "-T", sub, sizeof(sub)))
			conf_die(c, "%s", sub);
		if (config_fwd_check_loops(&c->udp_in, &c->udp_out, "-u", "-U", sub, sizeof(sub)))
			conf_die(c, "%s", sub);
	}
}

/* pasta's arguments after the options: PID, or COMMAND [ARG]... */
static void conf_pasta_args(struct config *c, int argc, char **argv, int first, bool after_dashes)
{
	const char *arg = first < argc ? argv[first] : NULL;
	unsigned long pid;

	if (arg && c->netns[0])
		conf_die(c, "--netns and a PID or command are mutually exclusive ('%s')", arg);

	if (arg && !after_dashes && first == argc - 1 && strspn(arg, "0123456789") == strlen(arg)) {
		if (!config_parse_ulong(arg, INT_MAX, &pid) || !pid)
			conf_die(c, "'%s' is not a valid PID", arg);
		c->target_pid = (int)pid;
	} else if (arg) {
		c->cmd = &argv[first];
		c->cmd_argc = argc - first;
	}

	if (c->userns[0] && !c->netns[0] && !c->target_pid)
		conf_die(c, "--userns needs --netns or a PID");
	if (c->netns[0] && !c->userns[0])
		c->netns_only = true;
	if (!c->netns[0] && !c->target_pid)
		c->foreground = true; /* we wait for the command (or shell) in the terminal */
}

static const struct conf_opt *conf_lookup_val(int val)
{
	size_t i;

	if (val >= CONF_VAL_LONG_BASE)
		return (size_t)(val - CONF_VAL_LONG_BASE) < CONF_N_OPTS
			? &conf_opts[val - CONF_VAL_LONG_BASE]
			: NULL;
	for (i = 0; val > 0 && i < CONF_N_OPTS; i++) {
		if (conf_opts[i].name && conf_opts[i].short_name == val)
			return &conf_opts[i];
	}
	return NULL;
}

int conf_option_state(const char *long_name)
{
	size_t i;

	for (i = 0; i < CONF_N_OPTS; i++) {
		if (conf_opts[i].name && !strcmp(conf_opts[i].name, long_name))
			return conf_opts[i].implemented ? 1 : 0;
	}
	return -1;
}

enum bpasst_mode conf_mode_from_argv0(const char *argv0)
{
	const char *base;

	if (!argv0)
		return MODE_PASST;
	base = strrchr(argv0, '/');
	base = base ? base + 1 : argv0;
	return strncmp(base, "pasta", 5) ? MODE_PASST : MODE_PASTA;
}

int conf_parse(struct config *c, int argc, char **argv)
{
	static struct option longopts[CONF_N_OPTS + 1];
	static char optstring[3 + 2 * CONF_N_OPTS];
	struct conf_state st = { 0 };
	bool after_dashes = false;
	size_t i, n = 0, s = 0;

	c->mode = conf_mode_from_argv0(argc > 0 ? argv[0] : NULL);
	c->prog_name = c->mode == MODE_PASTA ? "pasta" : "passt";

	optstring[s++] = '+'; /* stop at the first non-option: pasta's COMMAND */
	optstring[s++] = ':'; /* report a missing argument as ':' */
	for (i = 0; i < CONF_N_OPTS; i++) {
		const struct conf_opt *o = &conf_opts[i];

		if (!o->name)
			continue;
		longopts[n++] = (struct option){
			.name = o->name,
			/* an argument shown as "[=...]" is optional: --name=VALUE only */
			.has_arg = !o->arg	   ? no_argument
				: o->arg[0] == '[' ? optional_argument
						   : required_argument,
			.val = o->short_name ? o->short_name : CONF_VAL_LONG_BASE + (int)i,
		};
		if (o->short_name && !memchr(optstring, o->short_name, s)) {
			optstring[s++] = o->short_name;
			if (o->arg)
				optstring[s++] = ':';
		}
	}
	longopts[n] = (struct option){ 0 };
	optstring[s] = '\0';

	opterr = 0;
	optind = 0; /* full re-initialisation of getopt: conf_parse() may run more than once */
	for (;;) {
		char err[CONF_ERR_MAX] = "";
		int before = optind ? optind : 1;
		const struct conf_opt *o;
		bool noop;
		int val;

		val = getopt_long(argc, argv, optstring, longopts, NULL);
		if (val == -1) {
			after_dashes = optind == before + 1 && !strcmp(argv[optind - 1], "--");
			break;
		}
		if (val == ':') {
			o = conf_lookup_val(optopt);
			conf_die(c, "option --%s needs an argument", o ? o->name : "?");
		}
		if (val == '?') {
			o = conf_lookup_val(optopt);
			if (o)
				conf_die(c, "option --%s takes no argument", o->name);
			if (optopt)
				conf_die(c, "unknown option '-%c'", optopt);
			conf_die(c, "unknown or ambiguous option '%.*s'",
				 (int)strcspn(argv[optind - 1], "="), argv[optind - 1]);
		}
		o = conf_lookup_val(val);
		if (!o)
			conf_die(c, "internal error: option value %d", val);

		if (o->scope == SCOPE_PASST && c->mode == MODE_PASTA)
			conf_die(c, "option --%s is for passt only", o->name);
		if (o->scope == SCOPE_PASTA && c->mode != MODE_PASTA)
			conf_die(c, "option --%s is for pasta only", o->name);

		if (conf_apply(c, &st, o, optarg, &noop, err, sizeof(err)))
			conf_die(c, "--%s: %s", o->name, err);

		if (!o->implemented && !noop)
			conf_die(c, "option --%s is not implemented yet", o->name);
	}

	conf_check(c, &st);

	if (c->mode == MODE_PASTA)
		conf_pasta_args(c, argc, argv, optind, after_dashes);
	else if (optind < argc)
		conf_die(c, "unexpected argument '%s'", argv[optind]);

	return 0;
}
