// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ndp.c - the NDP responder and router advertisements
 *
 * Theory of operation: the guest's link has one other node, us, and we are its router. No state
 * is kept; the dispatcher learns the guest's MAC and addresses (struct guest_state) and we read
 * them.
 *
 * Validation (RFC 4861 6.1.1, 7.1.1) before anything is answered: IPv6 hop limit 255, ICMPv6 code
 * 0, the fixed part present, every option of non-zero length and inside the message. A message
 * from the unspecified address must not carry a source link-layer address option, and an NS
 * from it (DAD) must go to a solicited-node multicast address.
 *
 * Neighbour solicitations: the target must not be multicast, unspecified or loopback. Then:
 *   - from a unicast source (address resolution, unreachability detection): answered for any
 *     target except the guest's own addresses (c->ip6.addr, the global and link-local addresses
 *     it was seen using, and the NS's own source);
 *   - from :: (duplicate address detection, RFC 4862 5.4): the target is an address the guest
 *     wants to take, so it is answered only when that address is really taken, by us: the
 *     gateway or our link-local address. Anything else (its SLAAC, privacy or link-local
 *     addresses) gets no answer, so DAD succeeds.
 *
 * Neighbour advertisement, byte for byte the same as the BPF fast path builds (86 bytes):
 *   Ethernet  dst = the NS frame's Ethernet source (33:33:00:00:00:01 when the NS came from ::),
 *             src = c->our_mac, type 0x86dd
 *   IPv6      src = the NS target, dst = the NS source (ff02::1 when it is ::), hop limit 255,
 *             traffic class 0, flow label 0, next header 58
 *   ICMPv6    type 136, code 0, flags = Override
 *                                       | Solicited (unless the NS came from ::)
 *                                       | Router (when the target is the gateway or our_ll),
 *             target = the NS target, then option 2 (target link-layer address), length 1,
 *             c->our_mac
 *
 * Router solicitations (unless --no-ra) get an RA sent to the RS source (Ethernet: the frame's
 * source), or to ff02::1 when it came from ::. ndp_ra_build() builds the same RA to ff02::1 for
 * the periodic timer. RA: from our link-local address (c->ip6.our_ll, or the gateway when that is
 * the link-local one), hop limit 255, the header values of ndp.h, M and O while DHCPv6 is on, and
 * the options prefix (/64 of c->ip6.addr, host bits cleared), source link-layer address, MTU
 * (when configured), RDNSS (--dns-forward address, else the resolvers), DNSSL (the search domains
 * that encode, uncompressed, zero-padded to 8 bytes). Domains that would push the RA past the
 * IPv6 minimum MTU are left out with a debug log.
 *
 * Data path: dispatcher -> ndp_recv(parsed frame) -> options walked with pkt_* -> one NA or RA
 * built in the batch -> the edge writes it. Timer -> ndp_ra_build() -> batch.
 */
#include <string.h>
#include <arpa/inet.h>

#include "core/log.h"
#include "proto/dhcp.h"
#include "proto/ndp.h"

#define NDP_REDIRECT 137
#define NDP_ICMP_HDR_LEN 4 /* type, code, checksum */
#define NDP_RS_LEN 8 /* ICMPv6 header + reserved */
#define NDP_NS_LEN (NDP_ICMP_HDR_LEN + sizeof(struct bp_ndp_ns_na))
#define NDP_RA_PAYLOAD_MAX (NDP_MTU_MIN - 40) /* RA kept within the IPv6 minimum MTU */

static const struct in6_addr ndp_all_nodes = { { { 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
						   0, 0x01 } } };
static const uint8_t ndp_all_nodes_mac[BP_ETH_ALEN] = { 0x33, 0x33, 0, 0, 0, 0x01 };

static bool ndp_addr_eq(const void *a, const struct in6_addr *b)
{
	return !memcmp(a, b, sizeof(*b));
}

static bool ndp_addr_unspecified(const struct in6_addr *a)
{
	static const struct in6_addr any;

	return ndp_addr_eq(a, &any);
}

/* An address we use ourselves, towards the guest: the gateway and our link-local address. */
static bool ndp_addr_is_ours(const struct config *c, const struct in6_addr *a)
{
	if (c->ip6.have_gw && !ndp_addr_unspecified(&c->ip6.gw) && ndp_addr_eq(a, &c->ip6.gw))
		return true;
	return !ndp_addr_unspecified(&c->ip6.our_ll) && ndp_addr_eq(a, &c->ip6.our_ll);
}

/* An address the guest uses (or was given). */
static bool ndp_addr_is_guests(const struct config *c, const struct guest_state *g,
			       const struct in6_addr *a)
{
	return ndp_addr_eq(a, &c->ip6.addr) || ndp_addr_eq(a, &g->addr6_seen) ||
		ndp_addr_eq(a, &g->addr6_ll_seen);
}

/* Check the options from off to the end of the message: each at least 8 bytes and inside. Sets
 * *has_sllao if a source link-layer address option is present. 0, or -1 (logged). */
static int ndp_opts_check(const struct pkt *msg, size_t off, bool *has_sllao)
{
	*has_sllao = false;
	while (off < msg->len) {
		uint8_t type, units;

		if (!pkt_get_u8(msg, off, &type) || !pkt_get_u8(msg, off + 1, &units)) {
			debug("NDP: truncated option header, dropped");
			return -1;
		}
		if (!units) {
			debug("NDP: option %u of length 0, dropped", type);
			return -1;
		}
		if (!pkt_at(msg, off, (size_t)units * 8)) {
			debug("NDP: option %u of %u bytes runs past the message, dropped", type,
			      units * 8);
			return -1;
		}
		if (type == BP_NDP_OPT_SRC_LLADDR)
			*has_sllao = true;
		off += (size_t)units * 8;
	}
	return 0;
}

/* The link-local address our RAs come from, or NULL if we have none. */
static const struct in6_addr *ndp_router_ll(const struct config *c)
{
	if (ip6_is_linklocal(&c->ip6.our_ll))
		return &c->ip6.our_ll;
	if (c->ip6.have_gw && ip6_is_linklocal(&c->ip6.gw))
		return &c->ip6.gw;
	return NULL;
}

static void ndp_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* ICMPv6 type and code; the checksum is left zero for ip_finish(). */
static bool ndp_icmp_push(struct frame_builder *fb, uint8_t type)
{
	uint8_t *h = fb_put(fb, NDP_ICMP_HDR_LEN);

	if (!h)
		return false;
	h[0] = type;
	return true;
}

static void ndp_lladdr_push(struct frame_builder *fb, uint8_t type, const uint8_t mac[BP_ETH_ALEN])
{
	struct bp_ndp_opt_lladdr *o = fb_put(fb, sizeof(*o));

	if (!o)
		return;
	o->type = type;
	o->len = 1;
	memcpy(o->addr, mac, BP_ETH_ALEN);
}

static void ndp_na_send(const struct config *c, const struct frame *f,
			const struct in6_addr *target, bool dad, struct frame_batch *out)
{
	const struct in6_addr *dst = dad ? &ndp_all_nodes : &f->src.v6;
	uint32_t flags = BP_NA_FLAG_OVERRIDE;
	struct frame_builder fb = batch_next(out);
	struct bp_ndp_ns_na *na;

	if (!dad)
		flags |= BP_NA_FLAG_SOLICITED;
	if (ndp_addr_is_ours(c, target))
		flags |= BP_NA_FLAG_ROUTER;

	eth_push(&fb, dad ? ndp_all_nodes_mac : f->src_mac, c->our_mac, BP_ETH_P_IPV6);
	ip6_push(&fb, target, dst, IPPROTO_ICMPV6, NDP_HOP_LIMIT);
	ndp_icmp_push(&fb, BP_NDP_NEIGH_ADVERT);
	na = fb_put(&fb, sizeof(*na));
	if (na) {
		na->flags = htonl(flags);
		memcpy(na->target, target, sizeof(na->target));
	}
	ndp_lladdr_push(&fb, BP_NDP_OPT_TGT_LLADDR, c->our_mac);
	ip_finish(&fb);
	if (!batch_commit(out, &fb))
		debug("NDP: no room for the NA in the batch, dropped");
}

static void ndp_ns_recv(const struct config *c, const struct guest_state *g, const struct frame *f,
			struct frame_batch *out)
{
	const struct bp_ndp_ns_na *ns = PKT_AT(&f->l4, NDP_ICMP_HDR_LEN, struct bp_ndp_ns_na);
	struct in6_addr target, snm;
	bool dad, has_sllao;

	if (!ns) {
		debug("NDP: NS of %zu bytes too short, dropped", f->l4.len);
		return;
	}
	if (ndp_opts_check(&f->l4, NDP_NS_LEN, &has_sllao) < 0)
		return;
	memcpy(&target, ns->target, sizeof(target));
	if (target.s6_addr[0] == 0xff || ndp_addr_unspecified(&target) ||
	    IN6_IS_ADDR_LOOPBACK(&target)) {
		debug("NDP: NS for a multicast, unspecified or loopback target, dropped");
		return;
	}

	dad = ndp_addr_unspecified(&f->src.v6);
	if (dad) {
		ip6_solicited_node(&target, &snm);
		if (has_sllao || !ndp_addr_eq(&f->dst.v6, &snm)) {
			debug("NDP: DAD NS with a link-layer option or not to the solicited-node "
			      "address, dropped");
			return;
		}
		if (!ndp_addr_is_ours(c, &target)) {
			trace("NDP: DAD for an address the guest may take, not answered");
			return;
		}
	} else if (ndp_addr_is_guests(c, g, &target) || ndp_addr_eq(&f->src.v6, &target)) {
		trace("NDP: NS for the guest's own address, not answered");
		return;
	}
	ndp_na_send(c, f, &target, dad, out);
}

/* Option 31: the search domains that encode, while the RA stays within room bytes. */
static void ndp_dnssl_push(const struct config *c, struct frame_builder *fb, size_t room)
{
	uint8_t names[CONF_MAX_SEARCH * DHCP_DOMAIN_WIRE_MAX];
	size_t len = 0, opt_len, i;
	uint8_t *o;

	for (i = 0; i < c->search_count && i < CONF_MAX_SEARCH; i++) {
		int n = dhcp_domain_encode(c->search[i], names + len, sizeof(names) - len);

		if (n < 0) {
			debug("NDP: search domain '%.*s' does not encode, skipped", CONF_DOMAIN_MAX,
			      c->search[i]);
			continue;
		}
		if (8 + ((len + (size_t)n + 7) & ~(size_t)7) > room) {
			debug("NDP: search domain '%.*s' does not fit in the RA, skipped",
			      CONF_DOMAIN_MAX, c->search[i]);
			continue;
		}
		len += (size_t)n;
	}
	if (!len)
		return;
	opt_len = 8 + ((len + 7) & ~(size_t)7);
	o = fb_put(fb, opt_len); /* zeroed: the padding is already there */
	if (!o)
		return;
	o[0] = BP_NDP_OPT_DNSSL;
	o[1] = (uint8_t)(opt_len / 8);
	ndp_put_be32(o + 4, NDP_RA_DNSSL_LIFETIME);
	memcpy(o + 8, names, len);
}

/* Build an RA to dst (Ethernet dst_mac) into the batch. true if it was committed. */
static bool ndp_ra_send(const struct config *c, const struct in6_addr *dst,
			const uint8_t dst_mac[BP_ETH_ALEN], struct frame_batch *out)
{
	const struct in6_addr *src = ndp_router_ll(c);
	struct frame_builder fb;
	struct bp_ndp_ra *ra;
	size_t l4_off;

	if (!src) {
		debug("NDP: no link-local address to send an RA from");
		return false;
	}
	fb = batch_next(out);
	eth_push(&fb, dst_mac, c->our_mac, BP_ETH_P_IPV6);
	ip6_push(&fb, src, dst, IPPROTO_ICMPV6, NDP_HOP_LIMIT);
	l4_off = fb.len;
	ndp_icmp_push(&fb, BP_NDP_ROUTER_ADVERT);
	ra = fb_put(&fb, sizeof(*ra));
	if (ra) {
		ra->cur_hop_limit = NDP_RA_CUR_HOP_LIMIT;
		ra->flags = c->no_dhcpv6 ? 0 : BP_RA_FLAG_MANAGED | BP_RA_FLAG_OTHER;
		ra->router_lifetime = htons(NDP_RA_ROUTER_LIFETIME);
		ra->reachable_time = htonl(NDP_RA_REACHABLE_TIME);
		ra->retrans_timer = htonl(NDP_RA_RETRANS_TIMER);
	}

	if (!ndp_addr_unspecified(&c->ip6.addr)) {
		struct bp_ndp_opt_prefix *p = fb_put(&fb, sizeof(*p));

		if (p) {
			p->type = BP_NDP_OPT_PREFIX_INFO;
			p->len = sizeof(*p) / 8;
			p->prefix_len = NDP_RA_PREFIX_LEN;
			p->flags = NDP_RA_PREFIX_FLAGS;
			p->valid_lifetime = htonl(NDP_RA_PREFIX_VALID_LIFETIME);
			p->preferred_lifetime = htonl(NDP_RA_PREFIX_PREFERRED_LIFETIME);
			memcpy(p->prefix, &c->ip6.addr, NDP_RA_PREFIX_LEN / 8);
		}
	}

	ndp_lladdr_push(&fb, BP_NDP_OPT_SRC_LLADDR, c->our_mac);

	if (c->mtu >= NDP_MTU_MIN) {
		struct bp_ndp_opt_mtu *m = fb_put(&fb, sizeof(*m));

		if (m) {
			m->type = BP_NDP_OPT_MTU;
			m->len = 1;
			m->mtu = htonl((uint32_t)c->mtu);
		}
	}

	if (!c->no_dns) {
		struct in6_addr dns[CONF_MAX_DNS];
		unsigned n = 0, i;

		if (!ndp_addr_unspecified(&c->ip6.dns_forward)) {
			dns[n++] = c->ip6.dns_forward;
		} else {
			for (i = 0; i < c->ip6.dns_count && i < CONF_MAX_DNS; i++)
				if (!ndp_addr_unspecified(&c->ip6.dns[i]))
					dns[n++] = c->ip6.dns[i];
		}
		if (n) {
			uint8_t *o = fb_put(&fb, 8 + n * sizeof(dns[0]));

			if (o) {
				o[0] = BP_NDP_OPT_RDNSS;
				o[1] = (uint8_t)(1 + 2 * n);
				ndp_put_be32(o + 4, NDP_RA_RDNSS_LIFETIME);
				memcpy(o + 8, dns, n * sizeof(dns[0]));
			}
		}
	}

	if (!c->no_dns_search && fb.len - l4_off < NDP_RA_PAYLOAD_MAX)
		ndp_dnssl_push(c, &fb, NDP_RA_PAYLOAD_MAX - (fb.len - l4_off));

	ip_finish(&fb);
	if (!batch_commit(out, &fb)) {
		debug("NDP: no room for the RA in the batch, dropped");
		return false;
	}
	return true;
}

static void ndp_rs_recv(const struct config *c, const struct frame *f, struct frame_batch *out)
{
	bool has_sllao, unspec;

	if (!pkt_at(&f->l4, 0, NDP_RS_LEN)) {
		debug("NDP: RS of %zu bytes too short, dropped", f->l4.len);
		return;
	}
	if (ndp_opts_check(&f->l4, NDP_RS_LEN, &has_sllao) < 0)
		return;
	unspec = ndp_addr_unspecified(&f->src.v6);
	if (unspec && has_sllao) {
		debug("NDP: RS from :: with a link-layer option, dropped");
		return;
	}
	if (c->no_ra)
		return;
	if (unspec)
		ndp_ra_send(c, &ndp_all_nodes, ndp_all_nodes_mac, out);
	else
		ndp_ra_send(c, &f->src.v6, f->src_mac, out);
}

int ndp_recv(const struct config *c, struct guest_state *g, const struct frame *f,
	     struct frame_batch *out)
{
	uint8_t type, code = 0;

	if (f->l3_kind != FRAME_L3_IP6 || f->fragment || f->l4_proto != IPPROTO_ICMPV6)
		return 0;
	if (!pkt_get_u8(&f->l4, 0, &type) || type < BP_NDP_ROUTER_SOLICIT || type > NDP_REDIRECT)
		return 0;
	if (c->no_ndp || !c->ip6.enabled)
		return 1;
	if (!pkt_get_u8(&f->l4, 1, &code) || code != 0 || f->ttl != NDP_HOP_LIMIT) {
		debug("NDP: type %u with code %u or hop limit %u, dropped", type, code, f->ttl);
		return 1;
	}

	switch (type) {
	case BP_NDP_NEIGH_SOLICIT:
		ndp_ns_recv(c, g, f, out);
		break;
	case BP_NDP_ROUTER_SOLICIT:
		ndp_rs_recv(c, f, out);
		break;
	default:
		break; /* RA, NA, redirect from the guest: nothing to answer */
	}
	return 1;
}

int ndp_ra_build(const struct config *c, const struct guest_state *g, struct frame_batch *out)
{
	(void)g;
	if (c->no_ndp || c->no_ra || !c->ip6.enabled)
		return 0;
	return ndp_ra_send(c, &ndp_all_nodes, ndp_all_nodes_mac, out) ? 1 : 0;
}
