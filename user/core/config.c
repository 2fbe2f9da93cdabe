/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * config.c - the defaults of struct config, and the parsers for the values that go into it
 *
 * config_defaults() gives every field the value that means "not given on the command line":
 * zero for most (empty strings, no addresses, FWD_UNSET forwarding sets, MTU 0 = default), and
 * the few non-zero defaults below. conf.c (floor 5) then overwrites what the options say, using
 * the parsers below (declared in config_parse.h), and io/netlink.c completes what is still unset
 * from the host.
 *
 * The parsers are pure functions of their string arguments: they keep no state, allocate
 * nothing, print nothing, and report a reason in a caller's buffer. The forwarding-spec parser
 * works on a bounded copy of the spec (CONFIG_FWD_SPEC_MAX) and on a copy of the set, so that a
 * spec that fails halfway leaves the caller's set untouched.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/config_parse.h"
#include "core/log.h"

#define CONFIG_FWD_SPEC_MAX 1024

/* Locally administered, unicast: the MAC we use towards the guest unless -M says otherwise. */
static const uint8_t config_default_our_mac[BP_ETH_ALEN] = { 0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55 };

/* Upstream's default --log-size: 1 MiB. */
#define CONFIG_DEFAULT_LOG_SIZE (1024 * 1024)

void config_defaults(struct config *c, enum bpasst_mode mode, const char *prog_name)
{
	memset(c, 0, sizeof(*c));

	c->mode = mode;
	c->prog_name = prog_name ? prog_name : (mode == MODE_PASTA ? "pasta" : "passt");

	c->log_level = LOG_LVL_INFO;
	c->log_size = CONFIG_DEFAULT_LOG_SIZE;

	c->sock_fd = -1;
	memcpy(c->our_mac, config_default_our_mac, sizeof(c->our_mac));

	c->ip4.enabled = true;
	c->ip6.enabled = true;

	c->tcp_in.mode = c->udp_in.mode = FWD_UNSET;
	c->tcp_out.mode = c->udp_out.mode = FWD_UNSET;

	c->bpf = BPF_MODE_AUTO;
}

/* --- value parsers -------------------------------------------------------------------------- */

static int config_fail(char *err, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int config_fail(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -1;
}

/* Decimal digits only, no sign, no blanks, value <= max. */
bool config_parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (v > (max - (unsigned long)(*s - '0')) / 10)
			return false;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	*out = v;
	return true;
}

/* A name the kernel accepts for a network interface (see dev_valid_name()). */
int config_check_ifname(const char *s, char *err, size_t len)
{
	const char *p;

	if (!*s)
		return config_fail(err, len, "empty interface name");
	if (strlen(s) >= IFNAMSIZ)
		return config_fail(err, len,
				   "interface name '%s' is too long (at most %d characters)", s,
				   IFNAMSIZ - 1);
	if (!strcmp(s, ".") || !strcmp(s, ".."))
		goto bad;
	for (p = s; *p; p++) {
		if (*p == '/' || *p == ':' || *p == ' ' || (*p >= '\t' && *p <= '\r'))
			goto bad;
	}
	return 0;
bad:
	return config_fail(err, len, "'%s' is not a valid interface name", s);
}

/* xx:xx:xx:xx:xx:xx, one or two hex digits per byte; unicast and not all zero. */
int config_parse_mac(uint8_t mac[BP_ETH_ALEN], const char *arg, char *err, size_t len)
{
	uint8_t m[BP_ETH_ALEN] = { 0 };
	const char *p = arg;
	int i, digits;

	for (i = 0; i < BP_ETH_ALEN; i++) {
		for (digits = 0; digits < 3; digits++, p++) {
			int v;

			if (*p >= '0' && *p <= '9')
				v = *p - '0';
			else if (*p >= 'a' && *p <= 'f')
				v = *p - 'a' + 10;
			else if (*p >= 'A' && *p <= 'F')
				v = *p - 'A' + 10;
			else
				break;
			if (digits == 2)
				goto bad;
			m[i] = (uint8_t)(m[i] << 4 | v);
		}
		if (!digits || *p != (i == BP_ETH_ALEN - 1 ? '\0' : ':'))
			goto bad;
		p++;
	}
	if (m[0] & 1)
		return config_fail(err, len, "'%s' is a multicast MAC address", arg);
	if (!(m[0] | m[1] | m[2] | m[3] | m[4] | m[5]))
		return config_fail(err, len, "'%s' is the all-zero MAC address", arg);
	memcpy(mac, m, BP_ETH_ALEN);
	return 0;
bad:
	return config_fail(err, len, "'%s' is not a MAC address (xx:xx:xx:xx:xx:xx)", arg);
}

/* Parse an IPv4 or IPv6 address; *af tells which. */
int config_parse_addr(const char *s, unsigned refuse, int *af, union config_addr *a, char *err,
		      size_t len)
{
	const char *what = NULL;

	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, &a->v4) == 1) {
		uint32_t h = ntohl(a->v4.s_addr);

		*af = AF_INET;
		if ((refuse & CONFIG_ADDR_NO_UNSPEC) && !h)
			what = "the unspecified address";
		else if ((refuse & CONFIG_ADDR_NO_LOOPBACK) && (h >> 24) == 127)
			what = "a loopback address";
		else if ((refuse & CONFIG_ADDR_NO_MULTICAST) &&
			 ((h >> 28) == 14 || h == 0xffffffff))
			what = "a multicast or broadcast address";
	} else if (inet_pton(AF_INET6, s, &a->v6) == 1) {
		*af = AF_INET6;
		if ((refuse & CONFIG_ADDR_NO_UNSPEC) && IN6_IS_ADDR_UNSPECIFIED(&a->v6))
			what = "the unspecified address";
		else if ((refuse & CONFIG_ADDR_NO_LOOPBACK) && IN6_IS_ADDR_LOOPBACK(&a->v6))
			what = "a loopback address";
		else if ((refuse & CONFIG_ADDR_NO_MULTICAST) && IN6_IS_ADDR_MULTICAST(&a->v6))
			what = "a multicast address";
		else if ((refuse & CONFIG_ADDR_NO_MAPPED) &&
			 (IN6_IS_ADDR_V4MAPPED(&a->v6) || IN6_IS_ADDR_V4COMPAT(&a->v6)))
			what = "an IPv4-mapped or -compatible address";
	} else {
		return config_fail(err, len, "'%s' is not an IPv4 or IPv6 address", s);
	}
	if (what)
		return config_fail(err, len, "'%s' is %s, not usable here", s, what);
	return 0;
}

/* Dot-decimal netmask (contiguous) or prefix length, 1 to 32. */
int config_parse_netmask(const char *arg, int *plen, char *err, size_t len)
{
	unsigned long n;
	struct in_addr m;

	if (config_parse_ulong(arg, 32, &n) && n >= 1) {
		*plen = (int)n;
		return 0;
	}
	if (inet_pton(AF_INET, arg, &m) == 1) {
		uint32_t h = ntohl(m.s_addr);

		if (h && !(~h & (~h + 1))) { /* ones, then zeroes: ~h + 1 is a power of two */
			*plen = 32 - __builtin_popcount(~h);
			return 0;
		}
	}
	return config_fail(err, len, "'%s' is not a netmask (1 to 32, or a dot-decimal mask)", arg);
}

/* Labels of 1-63 letters, digits, '-' or '_', separated by dots; one trailing dot allowed. */
int config_check_domain(const char *s, size_t n, size_t *used, char *err, size_t len)
{
	size_t i, label = 0;

	if (n && s[n - 1] == '.')
		n--;
	if (!n || n >= CONF_DOMAIN_MAX)
		return config_fail(err, len, "'%.*s' is not a valid domain (1 to %d characters)",
				   (int)n, s, CONF_DOMAIN_MAX - 1);
	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (ch == '.') {
			if (!label)
				goto bad;
			label = 0;
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
			goto bad;
		if (++label > 63)
			goto bad;
	}
	*used = n;
	return 0;
bad:
	return config_fail(err, len, "'%.*s' is not a valid domain", (int)n, s);
}

/* --- forwarding specs ---------------------------------------------------------------------- */

static int fwd_parse_port(const char *s, uint16_t *port, char *err, size_t len)
{
	unsigned long v;

	if (!config_parse_ulong(s, 999999, &v))
		return config_fail(err, len, "'%s' is not a port number", s);
	if (v < 1 || v > 65535)
		return config_fail(err, len, "port %lu is out of range (1-65535)", v);
	*port = (uint16_t)v;
	return 0;
}

/* FIRST[-LAST], modifies s. */
static int fwd_parse_range(char *s, uint16_t *first, uint16_t *last, char *err, size_t len)
{
	char *dash = strchr(s, '-');

	if (dash)
		*dash = '\0';
	if (fwd_parse_port(s, first, err, len))
		return -1;
	if (!dash) {
		*last = *first;
		return 0;
	}
	if (fwd_parse_port(dash + 1, last, err, len))
		return -1;
	if (*last < *first)
		return config_fail(err, len, "range %u-%u is reversed", *first, *last);
	return 0;
}

static bool fwd_same_binding(const struct fwd_rule *a, const struct fwd_rule *b)
{
	if (a->has_addr != b->has_addr || strcmp(a->ifname, b->ifname))
		return false;
	if (!a->has_addr)
		return true;
	if (a->af != b->af)
		return false;
	if (a->af == AF_INET)
		return a->addr.v4.s_addr == b->addr.v4.s_addr;
	return !memcmp(&a->addr.v6, &b->addr.v6, sizeof(a->addr.v6));
}

/* One comma-separated item; appends to set. */
static int fwd_parse_item(char *item, enum bpasst_mode mode, const struct fwd_rule *binding,
			  struct fwd_set *set, enum fwd_mode *keyword, char *err, size_t len)
{
	struct fwd_rule r = *binding;
	char *colon;
	unsigned i;

	if (!*item)
		return config_fail(err, len, "empty entry");
	if (!strcmp(item, "all") || !strcmp(item, "auto")) {
		bool all = item[1] == 'l';

		if (all && mode == MODE_PASTA)
			return config_fail(err, len, "'all' is for passt only (pasta has 'auto')");
		if (!all && mode != MODE_PASTA)
			return config_fail(err, len, "'auto' is for pasta only (passt has 'all')");
		if (binding->has_addr || binding->ifname[0])
			return config_fail(err, len,
					   "'%s' cannot be bound to an address or interface", item);
		*keyword = all ? FWD_ALL : FWD_AUTO;
		return 0;
	}
	if (!strcmp(item, "none"))
		return config_fail(err, len, "'none' must be the whole spec");

	if (item[0] == '~') {
		if (strchr(item, ':'))
			return config_fail(err, len, "exclusion '%s' cannot have target ports",
					   item);
		r.exclude = true;
		item++;
	}
	colon = strchr(item, ':');
	if (colon)
		*colon = '\0';
	if (fwd_parse_range(item, &r.first, &r.last, err, len))
		return -1;
	r.to_first = r.first;
	if (colon) {
		bool to_range = strchr(colon + 1, '-');
		uint16_t to_last;

		if (fwd_parse_range(colon + 1, &r.to_first, &to_last, err, len))
			return -1;
		if (to_range && to_last - r.to_first != r.last - r.first)
			return config_fail(err, len,
					   "range %u-%u has %u ports but target %u-%u has %u",
					   r.first, r.last, r.last - r.first + 1U, r.to_first,
					   to_last, to_last - r.to_first + 1U);
		if ((unsigned)r.to_first + (r.last - r.first) > 65535)
			return config_fail(err, len, "target ports of %u-%u run past 65535",
					   r.first, r.last);
	}
	if (!r.exclude) {
		for (i = 0; i < set->count; i++) {
			const struct fwd_rule *o = &set->rule[i];

			if (!o->exclude && fwd_same_binding(o, &r) && o->first <= r.last &&
			    r.first <= o->last)
				return config_fail(err, len, "port %u is forwarded twice",
						   r.first > o->first ? r.first : o->first);
		}
	}
	if (set->count >= CONF_MAX_FWD_RULES)
		return config_fail(err, len, "too many forwarding rules (at most %d)",
				   CONF_MAX_FWD_RULES);
	set->rule[set->count++] = r;
	return 0;
}

/* ADDR, ADDR%IFNAME or %IFNAME before the '/'. */
static int fwd_parse_binding(char *s, struct fwd_rule *b, char *err, size_t len)
{
	char *pct = strchr(s, '%');
	union config_addr a;

	if (pct) {
		*pct = '\0';
		if (config_check_ifname(pct + 1, err, len))
			return -1;
		strcpy(b->ifname, pct + 1);
	}
	if (!*s) {
		if (!pct)
			return config_fail(err, len, "empty address before '/'");
		return 0;
	}
	if (config_parse_addr(s, CONFIG_ADDR_NO_MULTICAST, &b->af, &a, err, len))
		return -1;
	b->has_addr = true;
	if (b->af == AF_INET)
		b->addr.v4 = a.v4;
	else
		b->addr.v6 = a.v6;
	return 0;
}

int config_parse_fwd_spec(const char *spec, enum bpasst_mode mode, struct fwd_set *out, char *err,
			  size_t errlen)
{
	struct fwd_set set; /* work copy: out only changes on success */
	enum fwd_mode keyword = FWD_UNSET;
	struct fwd_rule binding = { .af = AF_UNSPEC };
	char buf[CONFIG_FWD_SPEC_MAX];
	char *list = buf, *item, *slash;

	if (!strcmp(spec, "none")) {
		if (out->mode != FWD_UNSET && out->mode != FWD_NONE)
			return config_fail(err, errlen,
					   "'none' conflicts with the ports given before");
		out->mode = FWD_NONE;
		return 0;
	}
	if (out->mode == FWD_NONE)
		return config_fail(err, errlen, "ports given after 'none'");
	if (!*spec)
		return config_fail(err, errlen, "empty spec");
	if (strlen(spec) >= sizeof(buf))
		return config_fail(err, errlen, "spec is too long (at most %zu characters)",
				   sizeof(buf) - 1);
	strcpy(buf, spec);

	slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		list = slash + 1;
		if (strchr(list, '/'))
			return config_fail(err, errlen,
					   "target addresses (PORT:ADDR/PORT) are not "
					   "supported");
		if (fwd_parse_binding(buf, &binding, err, errlen))
			return -1;
	}

	set = *out;
	for (item = list;;) {
		char *comma = strchr(item, ',');

		if (comma)
			*comma = '\0';
		if (fwd_parse_item(item, mode, &binding, &set, &keyword, err, errlen))
			return -1;
		if (!comma)
			break;
		item = comma + 1;
	}

	if (keyword != FWD_UNSET)
		set.mode = keyword; /* all/auto: also covers SPEC given before */
	else if (set.mode == FWD_UNSET)
		set.mode = FWD_SPEC;
	/* "auto" follows what is bound: ports given explicitly beside it would be forwarded
	 * whether bound or not, and to other ports, which upstream refuses too. Exclusions are
	 * what "auto" takes (upstream accepts only "auto" alone; ours is a superset). */
	if (set.mode == FWD_AUTO) {
		unsigned i;

		for (i = 0; i < set.count; i++) {
			if (!set.rule[i].exclude)
				return config_fail(err, errlen,
						   "'auto' takes only exclusions (~PORT[-LAST]) "
						   "beside it, not port %u",
						   set.rule[i].first);
		}
	}
	*out = set;
	return 0;
}

bool config_fwd_translate(const struct fwd_set *set, uint16_t port, uint16_t *to)
{
	bool found = false;
	unsigned i;

	if (set->mode != FWD_SPEC && set->mode != FWD_ALL)
		return false;
	for (i = 0; i < set->count; i++) {
		const struct fwd_rule *r = &set->rule[i];

		if (port < r->first || port > r->last)
			continue;
		if (r->exclude)
			return false;
		if (!found) {
			*to = (uint16_t)(r->to_first + (port - r->first));
			found = true;
		}
	}
	if (!found && set->mode == FWD_ALL && port >= 1 && port <= 49151) {
		*to = port;
		found = true;
	}
	return found;
}

int config_fwd_check_loops(const struct fwd_set *in, const struct fwd_set *out, const char *in_opt,
			   const char *out_opt, char *err, size_t errlen)
{
	unsigned p;

	for (p = 1; p <= 65535; p++) {
		uint16_t q, r;

		if (config_fwd_translate(in, (uint16_t)p, &q) && config_fwd_translate(out, q, &r))
			return config_fail(err, errlen,
					   "%s port %u goes to namespace port %u, where %s "
					   "listens itself (forwarding to host port %u): "
					   "connections would loop through our own listeners",
					   in_opt, p, q, out_opt, r);
		if (config_fwd_translate(out, (uint16_t)p, &q) && config_fwd_translate(in, q, &r))
			return config_fail(err, errlen,
					   "%s port %u goes to host port %u, where %s listens "
					   "itself (forwarding to namespace port %u): "
					   "connections would loop through our own listeners",
					   out_opt, p, q, in_opt, r);
	}
	return 0;
}

void config_fwd_finish(struct fwd_set *s)
{
	unsigned i;

	if (s->mode != FWD_SPEC)
		return;
	for (i = 0; i < s->count; i++) {
		if (!s->rule[i].exclude)
			return;
	}
	s->mode = FWD_ALL;
}
