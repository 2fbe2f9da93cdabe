// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dhcp.c - the DHCP server for the one guest on the link
 *
 * Theory of operation: there is one client and one address to give, c->ip4.addr, leased forever,
 * so there is no lease table and no state: every request is answered from the config alone.
 *   DISCOVER            -> OFFER (or ACK with option 80 when the client asked for rapid commit,
 *                          RFC 4039)
 *   REQUEST             -> ACK, or NAK when the address it asks for (option 50, else ciaddr) is
 *                          not the one we give; no answer when it names another server (54)
 *   INFORM              -> ACK without yiaddr and without a lease time (RFC 2131 3.4)
 *   DECLINE, RELEASE    -> logged, no answer
 * Ignored, with a debug log and return 1: BOOTREPLY, htype/hlen other than Ethernet, a wrong magic
 * cookie, an option whose length runs past the message or is wrong for its type, no message type
 * (plain BOOTP), --no-dhcp. Not ours (return 0): anything but a UDP datagram to port 67.
 *
 * Replies carry, in this order: 53 message type, 54 server identifier, 51 lease time 0xffffffff
 * (not in INFORM answers), 1 netmask from the prefix length, 3 router (when there is a gateway),
 * 121 classless routes (only when the gateway is outside the guest's subnet: a /32 route to it
 * and the default route through it, since a client that gets 121 ignores 3), 6 DNS servers
 * (--dns-forward address, else the resolvers), 26 interface MTU (when -m/pasta set one), 80
 * rapid commit (in a rapid-commit ACK), 15 domain name (first search domain), 119 domain search
 * (RFC 3397, uncompressed, split over several options beyond 255 bytes), 255 end, then zero
 * padding up to the 300-byte BOOTP minimum. The options fit in a 576-byte datagram, or in the
 * larger size a client announces with option 57 (at most 1500): whatever does not fit among the
 * optional 15 and 119 is left out with a debug log, never truncated mid-option.
 *
 * The server identifier is the gateway; without one, the host-loopback mapping address; without
 * that, the first address of the guest's subnet that is not the guest's.
 *
 * Addressing (RFC 2131 4.1, for a guest that may have no address yet): from the server
 * identifier, UDP 67 -> 68. NAK: IP and Ethernet broadcast. Otherwise, when ciaddr is set and the
 * broadcast flag clear (a bound client renewing, or INFORM), unicast to ciaddr and the client's
 * MAC; else to 255.255.255.255, with Ethernet broadcast if the broadcast flag is set and the
 * client's MAC (chaddr) otherwise.
 *
 * Data path: dispatcher -> dhcp_recv(parsed frame) -> options walked with pkt_* over the UDP
 * payload -> one reply built in the batch -> the edge writes it.
 */
#include <string.h>
#include <arpa/inet.h>
#include <linux/udp.h>

#include "core/log.h"
#include "proto/dhcp.h"

#define DHCP_BOOTREQUEST 1
#define DHCP_FLAG_BROADCAST 0x8000
#define DHCP_TTL 64

enum dhcp_msg_type {
	DHCP_MSG_DISCOVER = 1,
	DHCP_MSG_OFFER = 2,
	DHCP_MSG_REQUEST = 3,
	DHCP_MSG_DECLINE = 4,
	DHCP_MSG_ACK = 5,
	DHCP_MSG_NAK = 6,
	DHCP_MSG_RELEASE = 7,
	DHCP_MSG_INFORM = 8,
};

enum dhcp_opt {
	DHCP_OPT_PAD = 0,
	DHCP_OPT_SUBNET_MASK = 1,
	DHCP_OPT_ROUTER = 3,
	DHCP_OPT_DNS = 6,
	DHCP_OPT_DOMAIN_NAME = 15,
	DHCP_OPT_MTU = 26,
	DHCP_OPT_REQUESTED_ADDR = 50,
	DHCP_OPT_LEASE_TIME = 51,
	DHCP_OPT_OVERLOAD = 52,
	DHCP_OPT_MSG_TYPE = 53,
	DHCP_OPT_SERVER_ID = 54,
	DHCP_OPT_MESSAGE = 56,
	DHCP_OPT_MAX_MSG_SIZE = 57,
	DHCP_OPT_RAPID_COMMIT = 80,
	DHCP_OPT_DOMAIN_SEARCH = 119,
	DHCP_OPT_CLASSLESS_ROUTES = 121,
	DHCP_OPT_END = 255,
};

#define DHCP_LEASE_INFINITE 0xffffffffu
#define DHCP_FIXED_LEN sizeof(struct bp_dhcp_fixed) /* 236 + the magic cookie */
#define DHCP_IP_UDP_LEN 28 /* IPv4 header without options + UDP header */
#define DHCP_MSG_MIN 576 /* every client takes an IP datagram this long (RFC 2131 2) */
#define DHCP_MSG_MAX 1500 /* we never build a longer one, whatever option 57 says */
#define DHCP_BOOTP_MIN_LEN 300 /* RFC 951 message length, padded to */
#define DHCP_OPTS_BUF (DHCP_MSG_MAX - DHCP_IP_UDP_LEN - DHCP_FIXED_LEN)
#define DHCP_MTU_MIN 68

_Static_assert(DHCP_BOOTP_MIN_LEN - DHCP_FIXED_LEN <= DHCP_OPTS_BUF, "padding fits");

/* What we read from the client's options. */
struct dhcp_request {
	uint8_t type; /* option 53, 0 if absent */
	bool have_req_addr;
	struct in_addr req_addr; /* option 50 */
	bool have_server_id;
	struct in_addr server_id; /* option 54 */
	bool rapid_commit; /* option 80 */
	uint16_t max_msg_size; /* option 57, 0 if absent */
};

/* The options of a reply, built before the frame. cap leaves room for the end option. */
struct dhcp_opts {
	uint8_t buf[DHCP_OPTS_BUF];
	size_t len;
	size_t cap;
};

int dhcp_domain_encode(const char *name, uint8_t *out, size_t cap)
{
	size_t len = strnlen(name, CONF_DOMAIN_MAX), len_at = 0, w = 1, i;

	if (len && name[len - 1] == '.')
		len--;
	if (!len || len + 2 > DHCP_DOMAIN_WIRE_MAX || len + 2 > cap)
		return -1;
	for (i = 0; i <= len; i++) {
		uint8_t ch;

		if (i == len || name[i] == '.') {
			size_t label_len = w - len_at - 1;

			if (!label_len || label_len > 63)
				return -1;
			out[len_at] = (uint8_t)label_len;
			len_at = w;
			out[w++] = 0; /* next label's length, or the root label */
			continue;
		}
		ch = (uint8_t)name[i];
		if (ch <= ' ' || ch == 0x7f)
			return -1;
		out[w++] = ch;
	}
	return (int)w;
}

/* Walk the options after the magic cookie. 0, or -1 (logged) if the message must be dropped. */
static int dhcp_options_parse(const struct pkt *msg, struct dhcp_request *rq)
{
	size_t off = DHCP_FIXED_LEN;
	uint8_t code, len;

	memset(rq, 0, sizeof(*rq));
	while (off < msg->len) {
		const uint8_t *data;

		if (!pkt_get_u8(msg, off, &code))
			return -1;
		if (code == DHCP_OPT_PAD) {
			off++;
			continue;
		}
		if (code == DHCP_OPT_END)
			return 0;
		if (!pkt_get_u8(msg, off + 1, &len)) {
			debug("DHCP: option %u has no length byte, dropped", code);
			return -1;
		}
		data = pkt_at(msg, off + 2, len);
		if (!data) {
			debug("DHCP: option %u of length %u runs past the message, dropped", code,
			      len);
			return -1;
		}
		switch (code) {
		case DHCP_OPT_MSG_TYPE:
			if (len != 1)
				goto bad_len;
			rq->type = data[0];
			break;
		case DHCP_OPT_REQUESTED_ADDR:
			if (len != 4)
				goto bad_len;
			rq->have_req_addr = true;
			memcpy(&rq->req_addr.s_addr, data, 4);
			break;
		case DHCP_OPT_SERVER_ID:
			if (len != 4)
				goto bad_len;
			rq->have_server_id = true;
			memcpy(&rq->server_id.s_addr, data, 4);
			break;
		case DHCP_OPT_MAX_MSG_SIZE:
			if (len != 2)
				goto bad_len;
			rq->max_msg_size = (uint16_t)(data[0] << 8 | data[1]);
			break;
		case DHCP_OPT_RAPID_COMMIT:
			rq->rapid_commit = true;
			break;
		case DHCP_OPT_OVERLOAD:
			debug("DHCP: options in sname/file (overload) not read");
			break;
		default:
			break;
		}
		off += 2 + (size_t)len;
	}
	return 0; /* no end option: tolerated, the walk stayed inside the message */

bad_len:
	debug("DHCP: option %u has a wrong length (%u), dropped", code, len);
	return -1;
}

/* Room an option payload of len bytes takes once split into options of at most 255 bytes. */
static size_t dhcp_opt_split_len(size_t len)
{
	return len + 2 * ((len + 254) / 255);
}

static bool dhcp_opt_put(struct dhcp_opts *o, uint8_t code, const void *data, size_t len)
{
	if (len > 255 || o->len > o->cap || 2 + len > o->cap - o->len)
		return false;
	o->buf[o->len++] = code;
	o->buf[o->len++] = (uint8_t)len;
	if (len)
		memcpy(o->buf + o->len, data, len);
	o->len += len;
	return true;
}

static bool dhcp_opt_put_u32(struct dhcp_opts *o, uint8_t code, uint32_t host_value)
{
	uint32_t be = htonl(host_value);

	return dhcp_opt_put(o, code, &be, 4);
}

static struct in_addr dhcp_netmask(const struct config *c)
{
	struct in_addr mask;
	int plen = c->ip4.prefix_len;

	if (plen <= 0)
		mask.s_addr = 0;
	else if (plen >= 32)
		mask.s_addr = 0xffffffffu;
	else
		mask.s_addr = htonl(0xffffffffu << (32 - plen));
	return mask;
}

/* The address we answer from and identify ourselves with (option 54). */
static struct in_addr dhcp_server_id(const struct config *c)
{
	struct in_addr mask = dhcp_netmask(c), id;
	uint32_t net;

	if (c->ip4.have_gw && c->ip4.gw.s_addr)
		return c->ip4.gw;
	if (c->ip4.map_host_loopback.s_addr &&
	    c->ip4.map_host_loopback.s_addr != c->ip4.addr.s_addr)
		return c->ip4.map_host_loopback;
	net = ntohl(c->ip4.addr.s_addr & mask.s_addr);
	id.s_addr = htonl(net + 1);
	if (id.s_addr == c->ip4.addr.s_addr)
		id.s_addr = htonl(net + 2);
	return id;
}

/* Options 119 (all search domains that encode and fit) and 15 (the first one). */
static void dhcp_opts_domains(const struct config *c, struct dhcp_opts *o)
{
	uint8_t list[CONF_MAX_SEARCH * DHCP_DOMAIN_WIRE_MAX];
	const char *first = NULL;
	size_t len = 0, off, i;

	if (c->no_dns_search)
		return;
	for (i = 0; i < c->search_count && i < CONF_MAX_SEARCH; i++) {
		int n = dhcp_domain_encode(c->search[i], list + len, sizeof(list) - len);

		if (n < 0) {
			debug("DHCP: search domain '%.*s' does not encode, skipped",
			      CONF_DOMAIN_MAX, c->search[i]);
			continue;
		}
		if (!first)
			first = c->search[i];
		len += (size_t)n;
	}
	if (!first)
		return;

	/* Option 15: the first domain as text, without a trailing dot. */
	{
		size_t flen = strnlen(first, CONF_DOMAIN_MAX);

		if (flen && first[flen - 1] == '.')
			flen--;
		if (!dhcp_opt_put(o, DHCP_OPT_DOMAIN_NAME, first, flen))
			debug("DHCP: no room for the domain name option, left out");
	}

	/* Option 119: drop whole domains from the end until the list fits. */
	while (len && dhcp_opt_split_len(len) > o->cap - o->len) {
		size_t keep = 0, next = 0;

		while (next < len) { /* find the start of the last encoded name */
			keep = next;
			while (next < len && list[next])
				next += 1 + (size_t)list[next];
			next++;
		}
		debug("DHCP: search list does not fit, last domain left out");
		len = keep;
	}
	for (off = 0; off < len; off += 255) {
		size_t chunk = len - off < 255 ? len - off : 255;

		dhcp_opt_put(o, DHCP_OPT_DOMAIN_SEARCH, list + off, chunk);
	}
}

/* Everything but the message type and server identifier, for OFFER and ACK. */
static void dhcp_opts_config(const struct config *c, const struct dhcp_request *rq, uint8_t type,
			     struct dhcp_opts *o)
{
	struct in_addr mask = dhcp_netmask(c);
	bool put = true;

	if (rq->type != DHCP_MSG_INFORM)
		put &= dhcp_opt_put_u32(o, DHCP_OPT_LEASE_TIME, DHCP_LEASE_INFINITE);
	put &= dhcp_opt_put(o, DHCP_OPT_SUBNET_MASK, &mask.s_addr, 4);
	if (c->ip4.have_gw && c->ip4.gw.s_addr) {
		put &= dhcp_opt_put(o, DHCP_OPT_ROUTER, &c->ip4.gw.s_addr, 4);
		if ((c->ip4.gw.s_addr ^ c->ip4.addr.s_addr) & mask.s_addr) {
			uint8_t routes[14] = { 32 };

			/* gw/32 on-link (router 0.0.0.0), then 0.0.0.0/0 via gw */
			memcpy(routes + 1, &c->ip4.gw.s_addr, 4);
			memcpy(routes + 10, &c->ip4.gw.s_addr, 4);
			put &= dhcp_opt_put(o, DHCP_OPT_CLASSLESS_ROUTES, routes, sizeof(routes));
		}
	}
	if (!c->no_dns) {
		struct in_addr dns[CONF_MAX_DNS];
		unsigned n = 0, i;

		if (c->ip4.dns_forward.s_addr) {
			dns[n++] = c->ip4.dns_forward;
		} else {
			for (i = 0; i < c->ip4.dns_count && i < CONF_MAX_DNS; i++)
				if (c->ip4.dns[i].s_addr)
					dns[n++] = c->ip4.dns[i];
		}
		if (n)
			put &= dhcp_opt_put(o, DHCP_OPT_DNS, dns, n * sizeof(dns[0]));
	}
	if (c->mtu > 0) {
		int mtu = c->mtu > 0xffff ? 0xffff : c->mtu < DHCP_MTU_MIN ? DHCP_MTU_MIN : c->mtu;
		uint8_t be[2] = { (uint8_t)(mtu >> 8), (uint8_t)mtu };

		put &= dhcp_opt_put(o, DHCP_OPT_MTU, be, 2);
	}
	if (type == DHCP_MSG_ACK && rq->type == DHCP_MSG_DISCOVER)
		put &= dhcp_opt_put(o, DHCP_OPT_RAPID_COMMIT, NULL, 0);
	if (!put)
		debug("DHCP: an option did not fit in the reply, left out");
	dhcp_opts_domains(c, o);
}

static const char *dhcp_type_str(uint8_t type)
{
	switch (type) {
	case DHCP_MSG_OFFER:
		return "OFFER";
	case DHCP_MSG_ACK:
		return "ACK";
	case DHCP_MSG_NAK:
		return "NAK";
	default:
		return "?";
	}
}

/* Build the reply of the given type to req and append it to out. */
static void dhcp_reply(const struct config *c, const struct frame *f,
		       const struct bp_dhcp_fixed *req, const struct dhcp_request *rq, uint8_t type,
		       struct frame_batch *out)
{
	static const uint8_t eth_bcast[BP_ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct in_addr server_id = dhcp_server_id(c), dst;
	bool bcast_flag = ntohs(req->flags) & DHCP_FLAG_BROADCAST;
	const uint8_t *client_mac = req->chaddr, *eth_dst;
	struct bp_dhcp_fixed *rep;
	struct frame_builder fb;
	struct dhcp_opts o;
	size_t max_msg, dhcp_len;
	struct udphdr *udp;
	uint32_t ciaddr;

	max_msg = rq->max_msg_size > DHCP_MSG_MIN ? rq->max_msg_size : DHCP_MSG_MIN;
	if (max_msg > DHCP_MSG_MAX)
		max_msg = DHCP_MSG_MAX;
	o.len = 0;
	o.cap = max_msg - DHCP_IP_UDP_LEN - DHCP_FIXED_LEN - 1; /* 1: the end option */

	dhcp_opt_put(&o, DHCP_OPT_MSG_TYPE, &type, 1);
	dhcp_opt_put(&o, DHCP_OPT_SERVER_ID, &server_id.s_addr, 4);
	if (type == DHCP_MSG_NAK) {
		static const char msg[] = "requested address not available";

		dhcp_opt_put(&o, DHCP_OPT_MESSAGE, msg, sizeof(msg) - 1);
	} else {
		dhcp_opts_config(c, rq, type, &o);
	}
	o.buf[o.len++] = DHCP_OPT_END;
	while (o.len < DHCP_BOOTP_MIN_LEN - DHCP_FIXED_LEN)
		o.buf[o.len++] = DHCP_OPT_PAD;

	if ((client_mac[0] & 1) || mac_is_zero(client_mac))
		client_mac = f->src_mac;
	memcpy(&ciaddr, req->ciaddr, 4);
	if (type == DHCP_MSG_NAK) {
		dst.s_addr = INADDR_BROADCAST;
		eth_dst = eth_bcast;
	} else if (ciaddr && !bcast_flag) {
		dst.s_addr = ciaddr;
		eth_dst = client_mac;
	} else {
		dst.s_addr = INADDR_BROADCAST;
		eth_dst = bcast_flag ? eth_bcast : client_mac;
	}

	dhcp_len = DHCP_FIXED_LEN + o.len;
	fb = batch_next(out);
	eth_push(&fb, eth_dst, c->our_mac, BP_ETH_P_IP);
	ip4_push(&fb, server_id, dst, IPPROTO_UDP, DHCP_TTL);
	udp = fb_put(&fb, sizeof(*udp));
	rep = fb_put(&fb, DHCP_FIXED_LEN);
	fb_append(&fb, o.buf, o.len);
	if (udp && rep) {
		udp->source = htons(BP_DHCP_SERVER_PORT);
		udp->dest = htons(BP_DHCP_CLIENT_PORT);
		udp->len = htons((uint16_t)(sizeof(*udp) + dhcp_len));
		rep->op = 2; /* BOOTREPLY */
		rep->htype = req->htype;
		rep->hlen = req->hlen;
		rep->xid = req->xid;
		rep->flags = req->flags;
		if (type != DHCP_MSG_NAK && rq->type != DHCP_MSG_DISCOVER)
			memcpy(rep->ciaddr, req->ciaddr, 4);
		if (type != DHCP_MSG_NAK && rq->type != DHCP_MSG_INFORM)
			memcpy(rep->yiaddr, &c->ip4.addr.s_addr, 4);
		memcpy(rep->giaddr, req->giaddr, 4);
		memcpy(rep->chaddr, req->chaddr, sizeof(rep->chaddr));
		rep->magic = htonl(BP_DHCP_MAGIC);
	}
	ip_finish(&fb);
	if (!batch_commit(out, &fb)) {
		debug("DHCP: no room for the %s in the batch, dropped", dhcp_type_str(type));
		return;
	}
	info("DHCP: %s to %02x:%02x:%02x:%02x:%02x:%02x", dhcp_type_str(type), req->chaddr[0],
	     req->chaddr[1], req->chaddr[2], req->chaddr[3], req->chaddr[4], req->chaddr[5]);
}

int dhcp_recv(const struct config *c, struct guest_state *g, const struct frame *f,
	      struct frame_batch *out)
{
	const struct bp_dhcp_fixed *req;
	struct dhcp_request rq;
	uint32_t requested;

	(void)g;
	if (f->l3_kind != FRAME_L3_IP4 || f->fragment || f->l4_proto != IPPROTO_UDP ||
	    f->dport != BP_DHCP_SERVER_PORT)
		return 0;
	if (c->no_dhcp || !c->ip4.enabled)
		return 1;

	req = PKT_AT(&f->payload, 0, struct bp_dhcp_fixed);
	if (!req) {
		debug("DHCP: %zu bytes, shorter than a DHCP message, ignored", f->payload.len);
		return 1;
	}
	if (req->op != DHCP_BOOTREQUEST) {
		debug("DHCP: op %u is not BOOTREQUEST, ignored", req->op);
		return 1;
	}
	if (req->htype != BP_ARPHRD_ETHER || req->hlen != BP_ETH_ALEN) {
		debug("DHCP: htype %u hlen %u is not Ethernet, ignored", req->htype, req->hlen);
		return 1;
	}
	if (ntohl(req->magic) != BP_DHCP_MAGIC) {
		debug("DHCP: wrong magic cookie 0x%08x, ignored", ntohl(req->magic));
		return 1;
	}
	if (dhcp_options_parse(&f->payload, &rq) < 0)
		return 1;
	if (!c->ip4.addr.s_addr) {
		debug("DHCP: no IPv4 address to give, ignored");
		return 1;
	}

	switch (rq.type) {
	case 0:
		debug("DHCP: no message type (plain BOOTP), ignored");
		break;
	case DHCP_MSG_DISCOVER:
		dhcp_reply(c, f, req, &rq, rq.rapid_commit ? DHCP_MSG_ACK : DHCP_MSG_OFFER, out);
		break;
	case DHCP_MSG_REQUEST:
		if (rq.have_server_id && rq.server_id.s_addr != dhcp_server_id(c).s_addr) {
			debug("DHCP: REQUEST for another server, ignored");
			break;
		}
		if (rq.have_req_addr)
			requested = rq.req_addr.s_addr;
		else
			memcpy(&requested, req->ciaddr, 4);
		if (requested && requested != c->ip4.addr.s_addr)
			dhcp_reply(c, f, req, &rq, DHCP_MSG_NAK, out);
		else
			dhcp_reply(c, f, req, &rq, DHCP_MSG_ACK, out);
		break;
	case DHCP_MSG_INFORM:
		dhcp_reply(c, f, req, &rq, DHCP_MSG_ACK, out);
		break;
	case DHCP_MSG_DECLINE:
		info("DHCP: the guest declined its address: something else on its link uses it?");
		break;
	case DHCP_MSG_RELEASE:
		debug("DHCP: RELEASE, nothing to do");
		break;
	default:
		debug("DHCP: message type %u not for a server, ignored", rq.type);
		break;
	}
	return 1;
}
