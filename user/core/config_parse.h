/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * config_parse.h - parsers for the values that go into struct config (floor 1)
 *
 * Pure functions over strings: numbers, MAC and IP addresses, netmasks, interface and domain
 * names, and the port-forwarding spec grammar of -t/-u/-T/-U. conf.c (floor 5) uses them for the
 * command line; they never exit, print or allocate. On error they return -1 (or false) and write
 * a short, human-readable reason into err (errlen bytes, always NUL-terminated).
 * Implemented in config.c, next to config_defaults().
 */
#ifndef BPASST_CONFIG_PARSE_H
#define BPASST_CONFIG_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "core/config.h"

/* Decimal digits only (no sign, no blanks, not empty), value <= max. */
bool config_parse_ulong(const char *s, unsigned long max, unsigned long *out);

/* xx:xx:xx:xx:xx:xx with one or two hex digits per byte; refuses multicast and all-zero. */
int config_parse_mac(uint8_t mac[BP_ETH_ALEN], const char *s, char *err, size_t errlen);

/* Kinds of addresses a caller refuses in config_parse_addr(). */
#define CONFIG_ADDR_NO_UNSPEC 1u /* 0.0.0.0, :: */
#define CONFIG_ADDR_NO_LOOPBACK 2u /* 127.0.0.0/8, ::1 */
#define CONFIG_ADDR_NO_MULTICAST 4u /* multicast, and 255.255.255.255 */
#define CONFIG_ADDR_NO_MAPPED 8u /* ::ffff:a.b.c.d and ::a.b.c.d */

union config_addr {
	struct in_addr v4;
	struct in6_addr v6;
};

/* An IPv4 or IPv6 address (no prefix, no zone); *af is set to AF_INET or AF_INET6. */
int config_parse_addr(const char *s, unsigned refuse, int *af, union config_addr *a, char *err,
		      size_t errlen);

/* IPv4 netmask: a prefix length 1-32 or a contiguous dot-decimal mask; gives the length. */
int config_parse_netmask(const char *s, int *prefix_len, char *err, size_t errlen);

/* A name the kernel accepts for a network interface: 1 to IFNAMSIZ-1 bytes, no '/', ':' or
 * blanks, not "." or "..". */
int config_check_ifname(const char *s, char *err, size_t errlen);

/* A DNS domain of n bytes (not NUL-terminated): dot-separated labels of 1-63 letters, digits,
 * '-' or '_', at most CONF_DOMAIN_MAX - 1 bytes in all. A single trailing dot is allowed: *used
 * is set to n without it, the length to store. */
int config_check_domain(const char *s, size_t n, size_t *used, char *err, size_t errlen);

/* Parse one forwarding spec (the argument of one -t/-u/-T/-U) and merge it into out, which the
 * caller zeroes (FWD_UNSET) before the first spec of a set. Grammar:
 *   none                                 nothing (only alone, once)
 *   [ADDR[%IFNAME]/ | %IFNAME/] ITEM[,ITEM]...
 *   ITEM: PORT[-LAST][:TOPORT[-TOLAST]]  forward, optionally to other ports (same count)
 *         ~PORT[-LAST]                   exclude, from everything the set forwards
 *         all                            passt only: every non-ephemeral port (FWD_ALL)
 *         auto                           pasta only: ports bound on the other side (FWD_AUTO)
 * Ports are 1-65535; a rule forwarding a port twice on the same binding is an error; ADDR/all
 * and target addresses (PORT:ADDR/PORT, newer upstream) are refused. Several specs merge: rules
 * add up, all/auto win over plain rules. Returns 0, or -1 with err set (out is then unchanged).
 */
int config_parse_fwd_spec(const char *spec, enum bpasst_mode mode, struct fwd_set *out, char *err,
			  size_t errlen);

/* After the last spec: a set made of exclusions only becomes FWD_ALL ("everything except"). */
void config_fwd_finish(struct fwd_set *set);

/* The port that port goes to under an explicit set (FWD_SPEC, or FWD_ALL: 1-49151 less the
 * exclusions); false when set does not forward it (also for FWD_AUTO, whose ports are only known
 * at run time). The first rule covering port decides, an exclusion anywhere wins. */
bool config_fwd_translate(const struct fwd_set *set, uint16_t port, uint16_t *to);

/* pasta: refuse forwards that lead into our own listeners. A connection from the host's loopback
 * to an `in` port (-t/-u) is spliced to the namespace's loopback at the target port; if that
 * port is an `out` port (-T/-U), our own listener takes it and sends it back to the host, and
 * the other way round: so no target port of one direction may be a listening port of the
 * other (this also rules out every longer cycle). in_opt/out_opt name the options in err ("-t",
 * "-T"). 0, or -1 with err naming the first such port. */
int config_fwd_check_loops(const struct fwd_set *in, const struct fwd_set *out, const char *in_opt,
			   const char *out_opt, char *err, size_t errlen);

#endif /* BPASST_CONFIG_PARSE_H */
