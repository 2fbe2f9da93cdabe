// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * resolv.c - parse /etc/resolv.conf and hand its resolvers and search list to the guest
 *
 * Theory of operation: resolv_parse() walks the text line by line (a line ends at '\n'; a final
 * line without one counts too). Each line is cut at the first '#' or ';' (comments), split into
 * whitespace-separated words, and only three keywords matter:
 *   nameserver ADDR      one resolver; ADDR is an IPv4 or IPv6 literal, IPv6 may carry "%zone"
 *   search D1 D2 ...     the search list (replaces any earlier search/domain line)
 *   domain D             a one-entry search list (likewise: the last search/domain line wins)
 * Everything else (options, sortlist, unknown words) is skipped. Domains are kept without a
 * trailing dot; a domain longer than CONF_DOMAIN_MAX - 1 or with characters that cannot appear in
 * a DNS name is counted in rc->ignored and dropped.
 *
 * State: none; all results go to the caller's struct resolv_conf. Nothing here allocates.
 *
 * resolv_apply() is the policy: a guest cannot reach the host's loopback resolver (127.0.0.53 of
 * systemd-resolved, ::1) nor a link-local one of the host's link, so those are skipped with a
 * debug note (--dns-forward would be the way to offer them, not implemented yet).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "io/resolv.h"

#define RESOLV_FILE_MAX 65536
#define RESOLV_WORD_MAX 256

/* Copy the next whitespace-separated word of [*p, end) into word (cut to size - 1 bytes, *cut set
 * if it was longer); false at the end of the line. */
static bool resolv_next_word(const char **p, const char *end, char *word, size_t size, bool *cut)
{
	const char *s = *p;
	size_t n = 0;

	while (s < end && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\v' || *s == '\f'))
		s++;
	if (s >= end)
		return false;
	*cut = false;
	while (s < end && !(*s == ' ' || *s == '\t' || *s == '\r' || *s == '\v' || *s == '\f')) {
		if (n + 1 < size)
			word[n++] = *s;
		else
			*cut = true;
		s++;
	}
	word[n] = '\0';
	*p = s;
	return true;
}

static void resolv_add_ns(struct resolv_conf *rc, const char *word)
{
	struct resolv_ns ns = { 0 };
	char buf[INET6_ADDRSTRLEN + 1];
	const char *pct = strchr(word, '%');
	size_t alen = pct ? (size_t)(pct - word) : strlen(word);

	if (rc->ns_count >= RESOLV_MAX_NS || alen == 0 || alen >= sizeof(buf)) {
		rc->ignored++;
		return;
	}
	memcpy(buf, word, alen);
	buf[alen] = '\0';
	if (!pct && inet_pton(AF_INET, buf, &ns.addr.v4) == 1) {
		ns.af = AF_INET;
	} else if (inet_pton(AF_INET6, buf, &ns.addr.v6) == 1) {
		ns.af = AF_INET6;
		ns.scoped = pct != NULL;
	} else {
		rc->ignored++;
		return;
	}
	rc->ns[rc->ns_count++] = ns;
}

static bool resolv_domain_ok(const char *d)
{
	for (; *d; d++) {
		unsigned char ch = (unsigned char)*d;

		if (ch <= ' ' || ch >= 0x7f || ch == '/' || ch == '\\' || ch == '"')
			return false;
	}
	return true;
}

/* Add one search domain (the list was reset by the caller for a new search/domain line). */
static void resolv_add_search(struct resolv_conf *rc, const char *word, bool cut)
{
	size_t n = strlen(word);

	while (n > 0 && word[n - 1] == '.')
		n--;
	if (cut || n == 0 || n >= CONF_DOMAIN_MAX || rc->search_count >= CONF_MAX_SEARCH ||
	    !resolv_domain_ok(word)) {
		rc->ignored++;
		return;
	}
	memcpy(rc->search[rc->search_count], word, n);
	rc->search[rc->search_count][n] = '\0';
	rc->search_count++;
}

static void resolv_parse_line(const char *s, const char *end, struct resolv_conf *rc)
{
	char word[RESOLV_WORD_MAX];
	bool cut;
	const char *c;

	for (c = s; c < end; c++) {
		if (*c == '#' || *c == ';') {
			end = c;
			break;
		}
	}
	if (!resolv_next_word(&s, end, word, sizeof(word), &cut) || cut)
		return;

	if (!strcmp(word, "nameserver")) {
		if (!resolv_next_word(&s, end, word, sizeof(word), &cut) || cut) {
			rc->ignored++;
			return;
		}
		resolv_add_ns(rc, word);
	} else if (!strcmp(word, "search") || !strcmp(word, "domain")) {
		bool domain = word[0] == 'd';

		rc->search_count = 0;
		while (resolv_next_word(&s, end, word, sizeof(word), &cut)) {
			resolv_add_search(rc, word, cut);
			if (domain)
				break;
		}
	}
}

void resolv_parse(const char *text, size_t len, struct resolv_conf *rc)
{
	const char *p = text, *end = text + len;

	memset(rc, 0, sizeof(*rc));
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl : end;

		resolv_parse_line(p, line_end, rc);
		p = nl ? nl + 1 : end;
	}
}

int resolv_read(const char *path, struct resolv_conf *rc)
{
	static char buf[RESOLV_FILE_MAX];
	size_t len = 0;
	int fd, ret = 0;

	memset(rc, 0, sizeof(*rc));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len < sizeof(buf)) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (ret == 0)
		resolv_parse(buf, len, rc);
	return ret;
}

bool resolv_ns_usable(const struct resolv_ns *ns)
{
	if (ns->af == AF_INET) {
		uint32_t a = ntohl(ns->addr.v4.s_addr);

		return a != 0 && (a >> 24) != 127 && (a >> 16) != 0xa9fe; /* 169.254/16 */
	}
	if (ns->af == AF_INET6) {
		const struct in6_addr *a = &ns->addr.v6;

		return !ns->scoped && !IN6_IS_ADDR_UNSPECIFIED(a) && !IN6_IS_ADDR_LOOPBACK(a) &&
			!IN6_IS_ADDR_LINKLOCAL(a) && !IN6_IS_ADDR_V4MAPPED(a);
	}
	return false;
}

void resolv_apply(struct config *c, const struct resolv_conf *rc)
{
	unsigned i;

	if (!c->no_dns && c->ip4.dns_count == 0 && c->ip6.dns_count == 0) {
		for (i = 0; i < rc->ns_count; i++) {
			const struct resolv_ns *ns = &rc->ns[i];
			char str[INET6_ADDRSTRLEN];

			inet_ntop(ns->af, &ns->addr, str, sizeof(str));
			if (!resolv_ns_usable(ns)) {
				debug("resolv.conf: skipping %s%s (guests cannot reach it)", str,
				      ns->scoped ? "%zone" : "");
				continue;
			}
			if (ns->af == AF_INET && c->ip4.enabled &&
			    c->ip4.dns_count < CONF_MAX_DNS) {
				c->ip4.dns[c->ip4.dns_count++] = ns->addr.v4;
			} else if (ns->af == AF_INET6 && c->ip6.enabled &&
				   c->ip6.dns_count < CONF_MAX_DNS) {
				c->ip6.dns[c->ip6.dns_count++] = ns->addr.v6;
			} else {
				debug("resolv.conf: not using nameserver %s (family disabled or "
				      "list full)",
				      str);
			}
		}
	}

	if (!c->no_dns_search && c->search_count == 0) {
		for (i = 0; i < rc->search_count && i < CONF_MAX_SEARCH; i++) {
			memcpy(c->search[i], rc->search[i], sizeof(c->search[i]));
			c->search_count++;
		}
	}
}
