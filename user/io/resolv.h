/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * resolv.h - the host's resolver configuration (/etc/resolv.conf), as the guest should see it
 *
 * resolv_parse() reads the text of a resolv.conf(5): "nameserver ADDR" lines (IPv4 or IPv6, an
 * IPv6 zone "%if" is kept apart), and "search"/"domain" lines (the last of them wins, as in the
 * C library). It keeps what it finds in a struct resolv_conf, in file order, without judging it.
 * resolv_apply() then completes a struct config where the command line left DNS unset (no -D,
 * no -S): it skips resolvers a guest cannot reach (loopback, e.g. systemd-resolved's 127.0.0.53,
 * and link-local ones), with a debug note each.
 */
#ifndef BPASST_RESOLV_H
#define BPASST_RESOLV_H

#include <stdbool.h>
#include <stddef.h>
#include <netinet/in.h>

#include "core/config.h"

#define RESOLV_MAX_NS 8 /* nameserver lines kept (the C library uses 3) */

struct resolv_ns {
	int af; /* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;
	bool scoped; /* IPv6 with a "%zone" suffix */
};

struct resolv_conf {
	struct resolv_ns ns[RESOLV_MAX_NS];
	unsigned ns_count;
	char search[CONF_MAX_SEARCH][CONF_DOMAIN_MAX];
	unsigned search_count;
	unsigned ignored; /* lines or entries that could not be used (bad address, too long, ...) */
};

/* Parse resolv.conf text (need not be NUL-terminated). Never fails: unusable lines are counted in
 * rc->ignored. */
void resolv_parse(const char *text, size_t len, struct resolv_conf *rc);
/* Read and parse a file (at most 64 KiB of it). 0, or -errno if it cannot be read (rc is then
 * empty). */
int resolv_read(const char *path, struct resolv_conf *rc);
/* True if a guest could use this resolver directly (not loopback, not link-local/scoped,
 * not unspecified). */
bool resolv_ns_usable(const struct resolv_ns *ns);
/* Complete c from rc: DNS servers only if c has none and !c->no_dns (only into families that are
 * enabled), search domains only if c has none and !c->no_dns_search. */
void resolv_apply(struct config *c, const struct resolv_conf *rc);

#endif /* BPASST_RESOLV_H */
