// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dhcpv6.c - the stateful DHCPv6 server for the one guest on the link
 *
 * Theory of operation: one client, one address (c->ip6.addr), leased forever: no state, every
 * answer is computed from the config and the request.
 *
 *   SOLICIT              -> ADVERTISE, or REPLY with option 14 when the client asked for rapid
 *                           commit (RFC 8415 18.3.1)
 *   REQUEST, RENEW       -> REPLY (only when they name us in the Server Identifier)
 *   REBIND               -> REPLY (must not name a server)
 *   CONFIRM              -> REPLY with status Success when every address in the client's IAs is
 *                           the one we give, NotOnLink otherwise, nothing when it lists none
 *                           (RFC 8415 18.3.3)
 *   RELEASE, DECLINE     -> REPLY with status Success (when they name us)
 *   INFORMATION-REQUEST  -> REPLY with the DNS servers and domain list only (no IA options in the
 *                           request, RFC 8415 16.12)
 * Every reply carries our Server Identifier (DUID-LL of c->our_mac) and echoes the Client
 * Identifier. For each IA_NA of the request (up to DHCPV6_IA_MAX): the first gets c->ip6.addr
 * with T1, T2, preferred and valid lifetimes all infinite (0xffffffff), plus every other address
 * the client put in it with lifetimes 0 so that it drops them; later IA_NAs get status
 * NoAddrsAvail. IA_TA and IA_PD are not served. Options 23 (--dns-forward address, else the
 * resolvers) and 24 (search domains that encode, RFC 1035 without compression, as RFC 3646
 * requires) follow; domains that would push the reply past the IPv6 minimum MTU are left out.
 *
 * Parsing: the message header, then options walked with pkt_*: each option's length must fit in
 * what encloses it, at every level (IA_NA, IA_TA, IA_PD and IAADDR contents are walked too, to a
 * bounded depth); a Client or Server Identifier longer than a DUID can be, an IA shorter than its
 * fixed part, a duplicate identifier: the whole message is dropped with a debug log.
 *
 * Addressing: from our link-local address (c->ip6.our_ll, or the gateway when that is the
 * link-local one) to the client's source address and Ethernet source, UDP 547 -> 546, hop limit
 * 255. Requests must come from a non-multicast, specified address and be sent to ff02::1:2 or to
 * our link-local address.
 *
 * Data path: dispatcher -> dhcpv6_recv(parsed frame) -> options walked -> reply built in the
 * batch -> the edge writes it.
 */
#include <string.h>
#include <arpa/inet.h>
#include <linux/udp.h>

#include "core/log.h"
#include "proto/dhcp.h"
#include "proto/dhcpv6.h"

enum dhcpv6_msg_type {
	DHCPV6_SOLICIT = 1,
	DHCPV6_ADVERTISE = 2,
	DHCPV6_REQUEST = 3,
	DHCPV6_CONFIRM = 4,
	DHCPV6_RENEW = 5,
	DHCPV6_REBIND = 6,
	DHCPV6_REPLY = 7,
	DHCPV6_RELEASE = 8,
	DHCPV6_DECLINE = 9,
	DHCPV6_INFORMATION_REQUEST = 11,
};

enum dhcpv6_opt {
	DHCPV6_OPT_CLIENTID = 1,
	DHCPV6_OPT_SERVERID = 2,
	DHCPV6_OPT_IA_NA = 3,
	DHCPV6_OPT_IA_TA = 4,
	DHCPV6_OPT_IAADDR = 5,
	DHCPV6_OPT_STATUS_CODE = 13,
	DHCPV6_OPT_RAPID_COMMIT = 14,
	DHCPV6_OPT_DNS_SERVERS = 23,
	DHCPV6_OPT_DOMAIN_LIST = 24,
	DHCPV6_OPT_IA_PD = 25,
	DHCPV6_OPT_IAPREFIX = 26,
};

enum dhcpv6_status {
	DHCPV6_STATUS_SUCCESS = 0,
	DHCPV6_STATUS_NOADDRSAVAIL = 2,
	DHCPV6_STATUS_NOTONLINK = 4,
};

#define DHCPV6_HDR_LEN 4 /* message type, transaction id */
#define DHCPV6_OPT_HDR_LEN 4 /* code, length */
#define DHCPV6_DUID_MAX 130 /* RFC 8415 11.1: type + up to 128 bytes */
#define DHCPV6_IA_NA_FIXED 12 /* IAID, T1, T2 */
#define DHCPV6_IA_TA_FIXED 4 /* IAID */
#define DHCPV6_IA_PD_FIXED 12
#define DHCPV6_IAADDR_FIXED 24 /* address, preferred and valid lifetimes */
#define DHCPV6_IAPREFIX_FIXED 25
#define DHCPV6_IA_MAX 4 /* IA_NAs answered; more are checked but not answered */
#define DHCPV6_IA_ADDR_MAX 4 /* other addresses per IA_NA answered with lifetime 0 */
#define DHCPV6_NEST_MAX 4 /* option nesting levels walked */
#define DHCPV6_INFINITE 0xffffffffu
#define DHCPV6_HOP_LIMIT 255
#define DHCPV6_PAYLOAD_MAX (1280 - 40 - 8) /* reply within the IPv6 minimum MTU */

static const struct in6_addr dhcpv6_all_servers = { { { 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
							1, 0, 2 } } };

/* One IA_NA of the request. */
struct dhcpv6_ia {
	uint8_t iaid[4];
	unsigned addr_count; /* IAADDRs in it, all counted */
	unsigned other_count; /* of those not ours, up to DHCPV6_IA_ADDR_MAX recorded */
	struct in6_addr other[DHCPV6_IA_ADDR_MAX];
};

/* What we read from the request. */
struct dhcpv6_request {
	uint8_t type;
	uint8_t xid[3];
	struct pkt client_id; /* DUID, data only; len 0 when absent */
	struct pkt server_id;
	bool have_client_id, have_server_id;
	unsigned ia_na_count; /* all counted; the first DHCPV6_IA_MAX recorded */
	struct dhcpv6_ia ia_na[DHCPV6_IA_MAX];
	bool have_ia_ta, have_ia_pd;
	unsigned addr_count, addr_not_ours; /* IAADDRs in IA_NA and IA_TA, for CONFIRM */
	bool rapid_commit;
};

static bool dhcpv6_addr_unspecified(const struct in6_addr *a)
{
	static const struct in6_addr any;

	return !memcmp(a, &any, sizeof(any));
}

/* Check that the options in v from off on are well formed, nested ones included. 0 or -1. */
static int dhcpv6_opts_check(const struct pkt *v, size_t off, unsigned depth)
{
	if (depth > DHCPV6_NEST_MAX) {
		debug("DHCPv6: options nested too deep, dropped");
		return -1;
	}
	while (off < v->len) {
		uint16_t code, len;
		size_t fixed;
		struct pkt body;

		if (!pkt_get_be16(v, off, &code) || !pkt_get_be16(v, off + 2, &len) ||
		    pkt_sub(v, off + DHCPV6_OPT_HDR_LEN, len, &body) < 0) {
			debug("DHCPv6: option runs past its container, dropped");
			return -1;
		}
		switch (code) {
		case DHCPV6_OPT_IA_NA:
			fixed = DHCPV6_IA_NA_FIXED;
			break;
		case DHCPV6_OPT_IA_TA:
			fixed = DHCPV6_IA_TA_FIXED;
			break;
		case DHCPV6_OPT_IA_PD:
			fixed = DHCPV6_IA_PD_FIXED;
			break;
		case DHCPV6_OPT_IAADDR:
			fixed = DHCPV6_IAADDR_FIXED;
			break;
		case DHCPV6_OPT_IAPREFIX:
			fixed = DHCPV6_IAPREFIX_FIXED;
			break;
		default:
			fixed = SIZE_MAX; /* not a container */
			break;
		}
		if (fixed != SIZE_MAX) {
			if (len < fixed) {
				debug("DHCPv6: option %u of %u bytes, shorter than its fixed part, "
				      "dropped",
				      code, len);
				return -1;
			}
			if (dhcpv6_opts_check(&body, fixed, depth + 1) < 0)
				return -1;
		}
		off += DHCPV6_OPT_HDR_LEN + (size_t)len;
	}
	return 0;
}

/* Record the IAADDRs of an IA (already checked) from off on. ia may be NULL (IA_TA, or beyond
 * DHCPV6_IA_MAX): then only the CONFIRM counters are updated. */
static void dhcpv6_ia_addrs(const struct config *c, const struct pkt *body, size_t off,
			    struct dhcpv6_ia *ia, struct dhcpv6_request *rq)
{
	while (off < body->len) {
		uint16_t code, len;
		struct in6_addr a;

		if (!pkt_get_be16(body, off, &code) || !pkt_get_be16(body, off + 2, &len))
			return;
		if (code == DHCPV6_OPT_IAADDR &&
		    pkt_copy(body, off + DHCPV6_OPT_HDR_LEN, &a, sizeof(a))) {
			bool ours = !memcmp(&a, &c->ip6.addr, sizeof(a));

			rq->addr_count++;
			if (!ours)
				rq->addr_not_ours++;
			if (ia) {
				ia->addr_count++;
				if (!ours && ia->other_count < DHCPV6_IA_ADDR_MAX)
					ia->other[ia->other_count++] = a;
			}
		}
		off += DHCPV6_OPT_HDR_LEN + (size_t)len;
	}
}

/* Read the top-level options of a checked message. 0, or -1 (logged) to drop it. */
static int dhcpv6_request_read(const struct config *c, const struct pkt *msg,
			       struct dhcpv6_request *rq)
{
	size_t off = DHCPV6_HDR_LEN;

	while (off < msg->len) {
		uint16_t code, len;
		struct pkt body;

		if (!pkt_get_be16(msg, off, &code) || !pkt_get_be16(msg, off + 2, &len) ||
		    pkt_sub(msg, off + DHCPV6_OPT_HDR_LEN, len, &body) < 0)
			return -1;
		switch (code) {
		case DHCPV6_OPT_CLIENTID:
		case DHCPV6_OPT_SERVERID: {
			bool *have = code == DHCPV6_OPT_CLIENTID ? &rq->have_client_id
								 : &rq->have_server_id;

			if (*have || !len || len > DHCPV6_DUID_MAX) {
				debug("DHCPv6: duplicate, empty or oversized identifier (%u), "
				      "dropped",
				      len);
				return -1;
			}
			*have = true;
			if (code == DHCPV6_OPT_CLIENTID)
				rq->client_id = body;
			else
				rq->server_id = body;
			break;
		}
		case DHCPV6_OPT_IA_NA: {
			struct dhcpv6_ia *ia = NULL;

			if (rq->ia_na_count < DHCPV6_IA_MAX) {
				ia = &rq->ia_na[rq->ia_na_count];
				memset(ia, 0, sizeof(*ia));
				if (!pkt_copy(&body, 0, ia->iaid, sizeof(ia->iaid)))
					return -1;
			}
			rq->ia_na_count++;
			dhcpv6_ia_addrs(c, &body, DHCPV6_IA_NA_FIXED, ia, rq);
			break;
		}
		case DHCPV6_OPT_IA_TA:
			rq->have_ia_ta = true;
			dhcpv6_ia_addrs(c, &body, DHCPV6_IA_TA_FIXED, NULL, rq);
			break;
		case DHCPV6_OPT_IA_PD:
			rq->have_ia_pd = true;
			break;
		case DHCPV6_OPT_RAPID_COMMIT:
			rq->rapid_commit = true;
			break;
		default:
			break;
		}
		off += DHCPV6_OPT_HDR_LEN + (size_t)len;
	}
	return 0;
}

static void dhcpv6_duid(const struct config *c, uint8_t duid[DHCPV6_DUID_LEN])
{
	duid[0] = 0;
	duid[1] = 3; /* DUID-LL */
	duid[2] = 0;
	duid[3] = BP_ARPHRD_ETHER;
	memcpy(duid + 4, c->our_mac, BP_ETH_ALEN);
}

static void dhcpv6_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void dhcpv6_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Append an option header announcing len bytes of body, and the first fixed of them (zeroed):
 * a pointer to those, or NULL. The rest of the body (nested options) is appended after. */
static uint8_t *dhcpv6_opt_start(struct frame_builder *fb, uint16_t code, size_t len, size_t fixed)
{
	uint8_t *o = fb_put(fb, DHCPV6_OPT_HDR_LEN + fixed);

	if (!o)
		return NULL;
	dhcpv6_put_be16(o, code);
	dhcpv6_put_be16(o + 2, (uint16_t)len);
	return o + DHCPV6_OPT_HDR_LEN;
}

/* Append a whole option of len zeroed bytes of body: a pointer to the body, or NULL. */
static uint8_t *dhcpv6_opt_push(struct frame_builder *fb, uint16_t code, size_t len)
{
	return dhcpv6_opt_start(fb, code, len, len);
}

static void dhcpv6_status_push(struct frame_builder *fb, uint16_t status, const char *text)
{
	size_t len = strlen(text);
	uint8_t *o = dhcpv6_opt_push(fb, DHCPV6_OPT_STATUS_CODE, 2 + len);

	if (!o)
		return;
	dhcpv6_put_be16(o, status);
	memcpy(o + 2, text, len);
}

static void dhcpv6_iaaddr_push(struct frame_builder *fb, const struct in6_addr *a,
			       uint32_t lifetime)
{
	uint8_t *o = dhcpv6_opt_push(fb, DHCPV6_OPT_IAADDR, DHCPV6_IAADDR_FIXED);

	if (!o)
		return;
	memcpy(o, a, sizeof(*a));
	dhcpv6_put_be32(o + 16, lifetime); /* preferred */
	dhcpv6_put_be32(o + 20, lifetime); /* valid */
}

/* The IA_NA answers: the address in the first, NoAddrsAvail in the others. */
static void dhcpv6_ia_na_push(const struct config *c, const struct dhcpv6_request *rq,
			      struct frame_builder *fb)
{
	static const char no_addrs[] = "only one address per client";
	bool have_addr = !dhcpv6_addr_unspecified(&c->ip6.addr);
	unsigned i, n = rq->ia_na_count < DHCPV6_IA_MAX ? rq->ia_na_count : DHCPV6_IA_MAX;

	for (i = 0; i < n; i++) {
		const struct dhcpv6_ia *ia = &rq->ia_na[i];
		size_t len = DHCPV6_IA_NA_FIXED;
		uint8_t *o;
		unsigned j;

		if (i == 0 && have_addr)
			len += (1 + ia->other_count) * (DHCPV6_OPT_HDR_LEN + DHCPV6_IAADDR_FIXED);
		else
			len += DHCPV6_OPT_HDR_LEN + 2 + strlen(no_addrs);
		o = dhcpv6_opt_start(fb, DHCPV6_OPT_IA_NA, len, DHCPV6_IA_NA_FIXED);
		if (!o)
			return;
		memcpy(o, ia->iaid, 4);
		if (i == 0 && have_addr) {
			dhcpv6_put_be32(o + 4, DHCPV6_INFINITE); /* T1 */
			dhcpv6_put_be32(o + 8, DHCPV6_INFINITE); /* T2 */
			dhcpv6_iaaddr_push(fb, &c->ip6.addr, DHCPV6_INFINITE);
			for (j = 0; j < ia->other_count; j++)
				dhcpv6_iaaddr_push(fb, &ia->other[j], 0);
		} else {
			dhcpv6_status_push(fb, DHCPV6_STATUS_NOADDRSAVAIL, no_addrs);
		}
	}
}

/* Options 23 and 24. */
static void dhcpv6_dns_push(const struct config *c, struct frame_builder *fb, size_t payload_off)
{
	uint8_t names[CONF_MAX_SEARCH * DHCP_DOMAIN_WIRE_MAX];
	size_t len = 0, i;
	uint8_t *o;

	if (!c->no_dns) {
		struct in6_addr dns[CONF_MAX_DNS];
		unsigned n = 0;

		if (!dhcpv6_addr_unspecified(&c->ip6.dns_forward)) {
			dns[n++] = c->ip6.dns_forward;
		} else {
			for (i = 0; i < c->ip6.dns_count && i < CONF_MAX_DNS; i++)
				if (!dhcpv6_addr_unspecified(&c->ip6.dns[i]))
					dns[n++] = c->ip6.dns[i];
		}
		if (n && (o = dhcpv6_opt_push(fb, DHCPV6_OPT_DNS_SERVERS, n * sizeof(dns[0]))))
			memcpy(o, dns, n * sizeof(dns[0]));
	}
	if (c->no_dns_search)
		return;
	for (i = 0; i < c->search_count && i < CONF_MAX_SEARCH; i++) {
		int n = dhcp_domain_encode(c->search[i], names + len, sizeof(names) - len);

		if (n < 0) {
			debug("DHCPv6: search domain '%.*s' does not encode, skipped",
			      CONF_DOMAIN_MAX, c->search[i]);
			continue;
		}
		if (fb->len - payload_off + DHCPV6_OPT_HDR_LEN + len + (size_t)n >
		    DHCPV6_PAYLOAD_MAX) {
			debug("DHCPv6: search domain '%.*s' does not fit, skipped", CONF_DOMAIN_MAX,
			      c->search[i]);
			continue;
		}
		len += (size_t)n;
	}
	if (len && (o = dhcpv6_opt_push(fb, DHCPV6_OPT_DOMAIN_LIST, len)))
		memcpy(o, names, len);
}

/* The link-local address we answer from, or NULL. */
static const struct in6_addr *dhcpv6_src(const struct config *c)
{
	if (ip6_is_linklocal(&c->ip6.our_ll))
		return &c->ip6.our_ll;
	if (c->ip6.have_gw && ip6_is_linklocal(&c->ip6.gw))
		return &c->ip6.gw;
	return NULL;
}

/* What goes in a reply besides the identifiers. */
enum dhcpv6_content {
	DHCPV6_CONTENT_LEASE, /* IA_NAs, DNS */
	DHCPV6_CONTENT_INFO, /* DNS only */
	DHCPV6_CONTENT_STATUS, /* a status code only */
};

static void dhcpv6_reply(const struct config *c, const struct frame *f,
			 const struct dhcpv6_request *rq, uint8_t type, enum dhcpv6_content what,
			 uint16_t status, struct frame_batch *out)
{
	const struct in6_addr *src = dhcpv6_src(c);
	struct frame_builder fb;
	size_t udp_off, payload_off;
	struct udphdr *udp;
	uint8_t *hdr, *o;

	if (!src) {
		debug("DHCPv6: no link-local address to answer from");
		return;
	}
	fb = batch_next(out);
	eth_push(&fb, f->src_mac, c->our_mac, BP_ETH_P_IPV6);
	ip6_push(&fb, src, &f->src.v6, IPPROTO_UDP, DHCPV6_HOP_LIMIT);
	udp_off = fb.len;
	udp = fb_put(&fb, sizeof(*udp));
	payload_off = fb.len;
	hdr = fb_put(&fb, DHCPV6_HDR_LEN);
	if (hdr) {
		hdr[0] = type;
		memcpy(hdr + 1, rq->xid, 3);
	}
	o = dhcpv6_opt_push(&fb, DHCPV6_OPT_SERVERID, DHCPV6_DUID_LEN);
	if (o)
		dhcpv6_duid(c, o);
	if (rq->have_client_id) {
		o = dhcpv6_opt_push(&fb, DHCPV6_OPT_CLIENTID, rq->client_id.len);
		if (o)
			pkt_copy(&rq->client_id, 0, o, rq->client_id.len);
	}
	if (what == DHCPV6_CONTENT_STATUS) {
		dhcpv6_status_push(&fb, status,
				   status == DHCPV6_STATUS_SUCCESS ? "success" : "not on link");
	} else {
		if (what == DHCPV6_CONTENT_LEASE) {
			dhcpv6_ia_na_push(c, rq, &fb);
			if (type == DHCPV6_REPLY && rq->type == DHCPV6_SOLICIT)
				dhcpv6_opt_push(&fb, DHCPV6_OPT_RAPID_COMMIT, 0);
		}
		dhcpv6_dns_push(c, &fb, payload_off);
	}
	if (udp && !fb.overflow) {
		udp->source = htons(BP_DHCPV6_SERVER_PORT);
		udp->dest = htons(BP_DHCPV6_CLIENT_PORT);
		udp->len = htons((uint16_t)(fb.len - udp_off));
	}
	ip_finish(&fb);
	if (!batch_commit(out, &fb))
		debug("DHCPv6: no room for the reply in the batch, dropped");
}

/* Does the request's Server Identifier name us? */
static bool dhcpv6_server_id_is_ours(const struct config *c, const struct dhcpv6_request *rq)
{
	uint8_t duid[DHCPV6_DUID_LEN];
	const uint8_t *theirs;

	if (!rq->have_server_id || rq->server_id.len != DHCPV6_DUID_LEN)
		return false;
	theirs = pkt_at(&rq->server_id, 0, DHCPV6_DUID_LEN);
	dhcpv6_duid(c, duid);
	return theirs && !memcmp(theirs, duid, DHCPV6_DUID_LEN);
}

int dhcpv6_recv(const struct config *c, struct guest_state *g, const struct frame *f,
		struct frame_batch *out)
{
	const struct pkt *msg = &f->payload;
	const struct in6_addr *our_ll = dhcpv6_src(c);
	struct dhcpv6_request rq;
	bool for_us;

	(void)g;
	if (f->l3_kind != FRAME_L3_IP6 || f->fragment || f->l4_proto != IPPROTO_UDP ||
	    f->dport != BP_DHCPV6_SERVER_PORT)
		return 0;
	for_us = !memcmp(&f->dst.v6, &dhcpv6_all_servers, sizeof(f->dst.v6)) ||
		(our_ll && !memcmp(&f->dst.v6, our_ll, sizeof(f->dst.v6)));
	if (!for_us)
		return 0;
	if (c->no_dhcpv6 || !c->ip6.enabled)
		return 1;
	if (f->src.v6.s6_addr[0] == 0xff || dhcpv6_addr_unspecified(&f->src.v6)) {
		debug("DHCPv6: request from a multicast or unspecified address, ignored");
		return 1;
	}

	memset(&rq, 0, sizeof(rq));
	if (!pkt_get_u8(msg, 0, &rq.type) || !pkt_copy(msg, 1, rq.xid, sizeof(rq.xid))) {
		debug("DHCPv6: message of %zu bytes too short, ignored", msg->len);
		return 1;
	}
	if (dhcpv6_opts_check(msg, DHCPV6_HDR_LEN, 0) < 0 || dhcpv6_request_read(c, msg, &rq) < 0)
		return 1;

	switch (rq.type) {
	case DHCPV6_SOLICIT:
		if (rq.have_server_id || !rq.have_client_id)
			goto invalid;
		info("DHCPv6: SOLICIT, sending %s", rq.rapid_commit ? "REPLY" : "ADVERTISE");
		dhcpv6_reply(c, f, &rq, rq.rapid_commit ? DHCPV6_REPLY : DHCPV6_ADVERTISE,
			     DHCPV6_CONTENT_LEASE, 0, out);
		break;
	case DHCPV6_REQUEST:
	case DHCPV6_RENEW:
		if (!rq.have_client_id)
			goto invalid;
		if (!dhcpv6_server_id_is_ours(c, &rq))
			goto other_server;
		info("DHCPv6: %s, sending REPLY", rq.type == DHCPV6_REQUEST ? "REQUEST" : "RENEW");
		dhcpv6_reply(c, f, &rq, DHCPV6_REPLY, DHCPV6_CONTENT_LEASE, 0, out);
		break;
	case DHCPV6_REBIND:
		if (rq.have_server_id || !rq.have_client_id)
			goto invalid;
		info("DHCPv6: REBIND, sending REPLY");
		dhcpv6_reply(c, f, &rq, DHCPV6_REPLY, DHCPV6_CONTENT_LEASE, 0, out);
		break;
	case DHCPV6_CONFIRM:
		if (rq.have_server_id || !rq.have_client_id)
			goto invalid;
		if (!rq.addr_count) {
			debug("DHCPv6: CONFIRM without addresses, not answered (RFC 8415 18.3.3)");
			break;
		}
		info("DHCPv6: CONFIRM, sending REPLY (%s)",
		     rq.addr_not_ours ? "NotOnLink" : "Success");
		dhcpv6_reply(c, f, &rq, DHCPV6_REPLY, DHCPV6_CONTENT_STATUS,
			     rq.addr_not_ours ? DHCPV6_STATUS_NOTONLINK : DHCPV6_STATUS_SUCCESS,
			     out);
		break;
	case DHCPV6_RELEASE:
	case DHCPV6_DECLINE:
		if (!rq.have_client_id)
			goto invalid;
		if (!dhcpv6_server_id_is_ours(c, &rq))
			goto other_server;
		info("DHCPv6: %s, sending REPLY",
		     rq.type == DHCPV6_RELEASE ? "RELEASE" : "DECLINE");
		dhcpv6_reply(c, f, &rq, DHCPV6_REPLY, DHCPV6_CONTENT_STATUS, DHCPV6_STATUS_SUCCESS,
			     out);
		break;
	case DHCPV6_INFORMATION_REQUEST:
		if (rq.ia_na_count || rq.have_ia_ta || rq.have_ia_pd)
			goto invalid;
		if (rq.have_server_id && !dhcpv6_server_id_is_ours(c, &rq))
			goto other_server;
		info("DHCPv6: INFORMATION-REQUEST, sending REPLY");
		dhcpv6_reply(c, f, &rq, DHCPV6_REPLY, DHCPV6_CONTENT_INFO, 0, out);
		break;
	default:
		debug("DHCPv6: message type %u not for a server, ignored", rq.type);
		break;
	}
	return 1;

invalid:
	debug("DHCPv6: message type %u with identifiers or IAs it must not have, ignored", rq.type);
	return 1;
other_server:
	debug("DHCPv6: message type %u for another server, ignored", rq.type);
	return 1;
}
