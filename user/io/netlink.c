// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * netlink.c - a minimal rtnetlink client: learn the host's addressing, configure the namespace
 *
 * Theory of operation
 *
 * One request at a time over a NETLINK_ROUTE socket opened for that purpose (in whatever network
 * namespace the calling thread is in: the host's for nl_host_discover(), the target's for
 * nl_ns_configure(), which ns.c runs from a helper inside it). A request is built in a small
 * aligned buffer (header, family header, attributes), sent, and the replies are read into one
 * static receive buffer until NLMSG_DONE (dumps) or the NLMSG_ERROR acknowledgement (changes);
 * each message of a dump goes to a callback that fills a context struct. Replies are from the
 * kernel, but attributes are still walked only with the RTA_OK/RTA_NEXT bounds checks.
 *
 * Discovery (host namespace, once at start-up), per enabled family:
 *   1. the default route (main table, dst/0, unicast) with the lowest metric, restricted to the
 *      interface of -i if given; a multipath route contributes its first hop. It gives the
 *      upstream interface and the gateway (unless -g was given).
 *   2. no default route: "no default route on the host: ..." is logged as a warning and the
 *      interface is the one of -i, or else the first non-loopback interface that has a global
 *      address of that family; the family then has no gateway (upstream pasta refuses to start
 *      here; we give the namespace what can be given).
 *   3. the interface's first usable global address (IPv6: not tentative, not DAD-failed,
 *      preferring a non-deprecated one) and prefix length, unless -a gave one. With -a but no -n,
 *      the prefix length of a host address whose subnet holds the -a address, else the RFC 4632
 *      classful length (IPv4) or 64 (IPv6).
 *   4. a family left without an address is disabled, with a note.
 * Then c->ip6.our_ll (the address we send NDP/RAs from) becomes the IPv6 gateway if that is
 * link-local, else fe80::1; DNS servers and search domains come from /etc/resolv.conf (resolv.c)
 * where -D/-S did not set them; in pasta mode an unset MTU becomes 65520.
 *
 * Namespace configuration (--config-net): link MTU and up, the addresses (IPv6 with IFA_F_NODAD,
 * so it is usable at once), the default routes through the tap (IPv6 with the output interface,
 * required for a link-local gateway; "onlink" when the gateway lies outside the prefix).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "core/log.h"
#include "io/netlink.h"
#include "io/resolv.h"

#define NL_REQ_SIZE 512
#define NL_RECV_SIZE 65536
#define NL_TIMEOUT_SEC 5
#define NL_RESOLV_CONF "/etc/resolv.conf"
#define NL_DEFAULT_MTU 65520

typedef int (*nl_msg_cb)(const struct nlmsghdr *h, void *arg);

struct nl_req {
	union {
		struct nlmsghdr nlh;
		uint8_t buf[NL_REQ_SIZE];
	};
};

static uint8_t nl_recv_buf[NL_RECV_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
static uint32_t nl_seq;

static int nl_open(void)
{
	struct timeval tv = { .tv_sec = NL_TIMEOUT_SEC };
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int fd;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0) {
		err("netlink: socket: %s", strerror(errno));
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		err("netlink: bind/setsockopt: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Start a request of the given type with a family header of hdr_len bytes (zeroed, returned). */
static void *nl_req_init(struct nl_req *r, uint16_t type, uint16_t flags, size_t hdr_len)
{
	memset(r, 0, sizeof(*r));
	r->nlh.nlmsg_len = NLMSG_LENGTH(hdr_len);
	r->nlh.nlmsg_type = type;
	r->nlh.nlmsg_flags = NLM_F_REQUEST | flags;
	r->nlh.nlmsg_seq = ++nl_seq;
	return NLMSG_DATA(&r->nlh);
}

static int nl_attr_add(struct nl_req *r, uint16_t type, const void *data, size_t len)
{
	size_t off = NLMSG_ALIGN(r->nlh.nlmsg_len);
	struct rtattr *rta;

	if (off + RTA_SPACE(len) > sizeof(r->buf)) {
		err("netlink: request too large (attribute %u)", type);
		return -1;
	}
	rta = (struct rtattr *)(void *)(r->buf + off);
	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	r->nlh.nlmsg_len = (uint32_t)(off + RTA_SPACE(len));
	return 0;
}

/* Send r; read replies until DONE or the final ack. Each data message goes to cb (if any).
 * Returns 0, a negative errno from the kernel's NLMSG_ERROR, or -EIO on a local failure. */
static int nl_do(int fd, struct nl_req *r, nl_msg_cb cb, void *arg)
{
	struct sockaddr_nl to = { .nl_family = AF_NETLINK };
	bool dump = (r->nlh.nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
	uint32_t seq = r->nlh.nlmsg_seq;
	int result = 0;

	if (!dump)
		r->nlh.nlmsg_flags |= NLM_F_ACK;
	if (sendto(fd, r->buf, r->nlh.nlmsg_len, 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
		err("netlink: send: %s", strerror(errno));
		return -EIO;
	}

	for (;;) {
		ssize_t n = recv(fd, nl_recv_buf, sizeof(nl_recv_buf), 0);
		struct nlmsghdr *h;
		size_t left;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err("netlink: receive: %s", strerror(errno));
			return -EIO;
		}
		left = (size_t)n;
		for (h = (struct nlmsghdr *)(void *)nl_recv_buf; NLMSG_OK(h, left);
		     h = NLMSG_NEXT(h, left)) {
			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_type == NLMSG_DONE)
				return result;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
					return -EIO;
				/* error 0 is the ack of a change; an error ends a dump too */
				return e->error ? e->error : result;
			}
			if (cb && result == 0)
				result = cb(h, arg);
		}
		if (n == 0)
			return -EIO;
	}
}

/* Fill tb[0..max] from the attributes of a message whose family header is hdr_len bytes. */
static void nl_parse_attrs(const struct nlmsghdr *h, size_t hdr_len, const struct rtattr **tb,
			   unsigned max)
{
	const struct rtattr *rta;
	size_t off = NLMSG_LENGTH(hdr_len);
	int len;

	memset(tb, 0, sizeof(*tb) * (max + 1));
	if (h->nlmsg_len < NLMSG_ALIGN(off))
		return;
	len = (int)(h->nlmsg_len - NLMSG_ALIGN(off));
	for (rta = (const struct rtattr *)(const void *)((const uint8_t *)h + NLMSG_ALIGN(off));
	     RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type <= max)
			tb[rta->rta_type] = rta;
	}
}

static bool nl_attr_copy(const struct rtattr *rta, void *dst, size_t len)
{
	if (!rta || RTA_PAYLOAD(rta) < len)
		return false;
	memcpy(dst, RTA_DATA(rta), len);
	return true;
}

static size_t nl_addr_len(int af)
{
	return af == AF_INET ? sizeof(struct in_addr) : sizeof(struct in6_addr);
}

/* ---- default routes ---- */

struct nl_route_ctx {
	int af;
	int only_ifindex; /* 0: any */
	bool found;
	int ifindex;
	uint32_t metric;
	bool have_gw;
	uint8_t gw[16];
};

static int nl_route_cb(const struct nlmsghdr *h, void *arg)
{
	struct nl_route_ctx *x = arg;
	const struct rtmsg *rtm = NLMSG_DATA(h);
	const struct rtattr *tb[RTA_MAX + 1];
	uint32_t table, metric = 0;
	int oif = 0;
	bool have_gw = false;
	uint8_t gw[16] = { 0 };
	size_t alen = nl_addr_len(x->af);

	if (h->nlmsg_type != RTM_NEWROUTE || h->nlmsg_len < NLMSG_LENGTH(sizeof(*rtm)))
		return 0;
	if (rtm->rtm_family != x->af || rtm->rtm_dst_len != 0 || rtm->rtm_type != RTN_UNICAST)
		return 0;
	nl_parse_attrs(h, sizeof(*rtm), tb, RTA_MAX);
	table = rtm->rtm_table;
	if (tb[RTA_TABLE])
		nl_attr_copy(tb[RTA_TABLE], &table, sizeof(table));
	if (table != RT_TABLE_MAIN)
		return 0;
	nl_attr_copy(tb[RTA_PRIORITY], &metric, sizeof(metric));
	nl_attr_copy(tb[RTA_OIF], &oif, sizeof(oif));
	have_gw = nl_attr_copy(tb[RTA_GATEWAY], gw, alen);

	if (tb[RTA_MULTIPATH] && !oif) {
		const struct rtnexthop *nh = RTA_DATA(tb[RTA_MULTIPATH]);
		size_t plen = RTA_PAYLOAD(tb[RTA_MULTIPATH]);

		if (plen >= sizeof(*nh) && nh->rtnh_len >= sizeof(*nh) && nh->rtnh_len <= plen) {
			const struct rtattr *rta = RTNH_DATA(nh);
			int len = (int)(nh->rtnh_len - RTNH_LENGTH(0));

			oif = nh->rtnh_ifindex;
			for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
				if (rta->rta_type == RTA_GATEWAY)
					have_gw = nl_attr_copy(rta, gw, alen);
			}
		}
	}
	if (!oif || (x->only_ifindex && oif != x->only_ifindex))
		return 0;
	if (x->found && metric >= x->metric)
		return 0;
	x->found = true;
	x->ifindex = oif;
	x->metric = metric;
	x->have_gw = have_gw;
	memcpy(x->gw, gw, sizeof(gw));
	return 0;
}

static int nl_default_route(int fd, struct nl_route_ctx *x)
{
	struct nl_req r;
	struct rtmsg *rtm = nl_req_init(&r, RTM_GETROUTE, NLM_F_DUMP, sizeof(*rtm));

	rtm->rtm_family = (unsigned char)x->af;
	return nl_do(fd, &r, nl_route_cb, x);
}

/* ---- addresses ---- */

struct nl_addr_ctx {
	int af;
	int ifindex; /* interface whose first address we want; 0: any non-loopback */
	const uint8_t *match; /* also: a host subnet holding this address (-a without -n) */
	bool found;
	bool found_deprecated; /* the one found is deprecated: a later good one replaces it */
	int found_ifindex;
	uint8_t addr[16];
	int prefix_len;
	int match_prefix_len; /* -1: no host subnet holds x->match */
};

static bool nl_prefix_holds(const uint8_t *net, const uint8_t *a, int plen, size_t alen)
{
	int i;

	if (plen < 0 || (size_t)plen > alen * 8)
		return false;
	for (i = 0; i < plen; i++) {
		uint8_t bit = (uint8_t)(0x80 >> (i % 8));

		if ((net[i / 8] & bit) != (a[i / 8] & bit))
			return false;
	}
	return true;
}

static int nl_addr_cb(const struct nlmsghdr *h, void *arg)
{
	struct nl_addr_ctx *x = arg;
	const struct ifaddrmsg *ifa = NLMSG_DATA(h);
	const struct rtattr *tb[IFA_MAX + 1];
	size_t alen = nl_addr_len(x->af);
	uint32_t flags;
	uint8_t addr[16] = { 0 };
	bool deprecated;

	if (h->nlmsg_type != RTM_NEWADDR || h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa)))
		return 0;
	if (ifa->ifa_family != x->af || ifa->ifa_scope != RT_SCOPE_UNIVERSE)
		return 0;
	nl_parse_attrs(h, sizeof(*ifa), tb, IFA_MAX);
	flags = ifa->ifa_flags;
	if (tb[IFA_FLAGS])
		nl_attr_copy(tb[IFA_FLAGS], &flags, sizeof(flags));
	/* IPv4: IFA_LOCAL is our address (IFA_ADDRESS is the peer on point-to-point links) */
	if (!(x->af == AF_INET && nl_attr_copy(tb[IFA_LOCAL], addr, alen)) &&
	    !nl_attr_copy(tb[IFA_ADDRESS], addr, alen))
		return 0;

	if (x->match && x->match_prefix_len < 0 &&
	    nl_prefix_holds(addr, x->match, ifa->ifa_prefixlen, alen))
		x->match_prefix_len = ifa->ifa_prefixlen;

	if (flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED))
		return 0;
	if (x->ifindex && (int)ifa->ifa_index != x->ifindex)
		return 0;
	if (!x->ifindex && ifa->ifa_index == 1) /* lo: never an upstream */
		return 0;
	deprecated = flags & IFA_F_DEPRECATED;
	if (x->found && (!x->found_deprecated || deprecated))
		return 0;
	x->found = true;
	x->found_deprecated = deprecated;
	x->found_ifindex = (int)ifa->ifa_index;
	memcpy(x->addr, addr, sizeof(addr));
	x->prefix_len = ifa->ifa_prefixlen;
	return 0;
}

static int nl_addr_dump(int fd, struct nl_addr_ctx *x)
{
	struct nl_req r;
	struct ifaddrmsg *ifa = nl_req_init(&r, RTM_GETADDR, NLM_F_DUMP, sizeof(*ifa));

	ifa->ifa_family = (unsigned char)x->af;
	x->found = false;
	x->match_prefix_len = -1;
	return nl_do(fd, &r, nl_addr_cb, x);
}

/* ---- discovery per family ---- */

struct nl_family_view {
	int af;
	const char *name; /* "IPv4", "IPv6" */
	bool *enabled;
	uint8_t *addr; /* in ip4_conf/ip6_conf */
	int *prefix_len;
	uint8_t *gw;
	bool *have_gw;
	char *ifname; /* IFNAMSIZ */
};

static bool nl_is_zero(const uint8_t *a, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (a[i])
			return false;
	}
	return true;
}

static int nl_classful_prefix(const uint8_t *a4)
{
	if (a4[0] < 128)
		return 8;
	if (a4[0] < 192)
		return 16;
	return 24;
}

static int nl_discover_family(int fd, struct config *c, struct nl_family_view *f)
{
	struct nl_route_ctx rt = { .af = f->af };
	struct nl_addr_ctx ad = { .af = f->af };
	size_t alen = nl_addr_len(f->af);
	bool addr_given = !nl_is_zero(f->addr, alen);
	const char *want_if = f->ifname[0] ? f->ifname : c->ifname;
	char ifname[IFNAMSIZ] = "";
	int ret;

	if (want_if[0]) {
		rt.only_ifindex = (int)if_nametoindex(want_if);
		if (!rt.only_ifindex) {
			err("%s: host interface %s not found", f->name, want_if);
			return -1;
		}
	}

	ret = nl_default_route(fd, &rt);
	if (ret < 0) {
		err("netlink: %s route dump failed: %s", f->name, strerror(-ret));
		return -1;
	}

	if (rt.found) {
		ad.ifindex = rt.ifindex;
		if (!*f->have_gw && rt.have_gw) {
			memcpy(f->gw, rt.gw, alen);
			*f->have_gw = true;
		}
	} else {
		ad.ifindex = rt.only_ifindex; /* 0: first interface with an address */
	}

	ad.match = addr_given ? f->addr : NULL;
	ret = nl_addr_dump(fd, &ad);
	if (ret < 0) {
		err("netlink: %s address dump failed: %s", f->name, strerror(-ret));
		return -1;
	}
	if (!ad.ifindex && ad.found)
		ad.ifindex = ad.found_ifindex;
	if (ad.ifindex)
		if_indextoname((unsigned)ad.ifindex, ifname);

	if (!rt.found) {
		warn("no default route on the host: %s %s%s%s", f->name,
		     ifname[0] ? "uses the addresses of " : "has no upstream interface", ifname,
		     *f->have_gw ? ", with the given gateway" : ", without a gateway");
	}

	if (!addr_given) {
		if (ad.found) {
			memcpy(f->addr, ad.addr, alen);
			if (!*f->prefix_len)
				*f->prefix_len = ad.prefix_len;
		}
	} else if (!*f->prefix_len) {
		if (ad.match_prefix_len >= 0)
			*f->prefix_len = ad.match_prefix_len;
		else
			*f->prefix_len = f->af == AF_INET ? nl_classful_prefix(f->addr) : 64;
	}

	if (nl_is_zero(f->addr, alen)) {
		if (*f->have_gw)
			info("%s: no global address on %s to give, %s disabled", f->name,
			     ifname[0] ? ifname : "the host", f->name);
		else
			info("%s: no address and no gateway on the host, %s disabled", f->name,
			     f->name);
		*f->enabled = false;
		return 0;
	}
	if (!*f->prefix_len)
		*f->prefix_len = f->af == AF_INET ? nl_classful_prefix(f->addr) : 64;
	if (!f->ifname[0] && ifname[0])
		snprintf(f->ifname, IFNAMSIZ, "%s", ifname);
	return 0;
}

static void nl_log_family(const struct nl_family_view *f)
{
	char a[INET6_ADDRSTRLEN] = "-", g[INET6_ADDRSTRLEN] = "-";

	if (!*f->enabled) {
		info("%s: disabled", f->name);
		return;
	}
	inet_ntop(f->af, f->addr, a, sizeof(a));
	if (*f->have_gw)
		inet_ntop(f->af, f->gw, g, sizeof(g));
	info("%s: interface %s, address %s/%d, gateway %s", f->name, f->ifname[0] ? f->ifname : "-",
	     a, *f->prefix_len, g);
}

int nl_host_discover(struct config *c)
{
	struct nl_family_view v4 = {
		.af = AF_INET,
		.name = "IPv4",
		.enabled = &c->ip4.enabled,
		.addr = (uint8_t *)&c->ip4.addr,
		.prefix_len = &c->ip4.prefix_len,
		.gw = (uint8_t *)&c->ip4.gw,
		.have_gw = &c->ip4.have_gw,
		.ifname = c->ip4.ifname,
	};
	struct nl_family_view v6 = {
		.af = AF_INET6,
		.name = "IPv6",
		.enabled = &c->ip6.enabled,
		.addr = (uint8_t *)&c->ip6.addr,
		.prefix_len = &c->ip6.prefix_len,
		.gw = (uint8_t *)&c->ip6.gw,
		.have_gw = &c->ip6.have_gw,
		.ifname = c->ip6.ifname,
	};
	struct resolv_conf rc;
	int fd, ret = 0;

	fd = nl_open();
	if (fd < 0)
		return -1;
	if (c->ip4.enabled && nl_discover_family(fd, c, &v4) < 0)
		ret = -1;
	if (ret == 0 && c->ip6.enabled && nl_discover_family(fd, c, &v6) < 0)
		ret = -1;
	close(fd);
	if (ret < 0)
		return -1;

	/* We answer NDP and send RAs from the gateway's address if the guest would expect a
	 * link-local router there, else from fe80::1. */
	if (IN6_IS_ADDR_UNSPECIFIED(&c->ip6.our_ll)) {
		if (c->ip6.have_gw && IN6_IS_ADDR_LINKLOCAL(&c->ip6.gw)) {
			c->ip6.our_ll = c->ip6.gw;
		} else {
			memset(&c->ip6.our_ll, 0, sizeof(c->ip6.our_ll));
			c->ip6.our_ll.s6_addr[0] = 0xfe;
			c->ip6.our_ll.s6_addr[1] = 0x80;
			c->ip6.our_ll.s6_addr[15] = 0x01;
		}
	}

	if (!c->ip4.enabled && !c->ip6.enabled)
		warn("no usable IPv4 or IPv6 address on the host: the guest gets no addresses");
	nl_log_family(&v4);
	nl_log_family(&v6);

	if ((!c->no_dns && !c->ip4.dns_count && !c->ip6.dns_count) ||
	    (!c->no_dns_search && !c->search_count)) {
		ret = resolv_read(NL_RESOLV_CONF, &rc);
		if (ret < 0)
			debug("%s: %s, no DNS information from it", NL_RESOLV_CONF, strerror(-ret));
		else
			resolv_apply(c, &rc);
	}

	if (c->mode == MODE_PASTA && c->mtu == 0)
		c->mtu = NL_DEFAULT_MTU;
	return 0;
}

/* ---- namespace configuration ---- */

static int nl_link_set(int fd, int ifindex, int mtu)
{
	struct nl_req r;
	struct ifinfomsg *ifi = nl_req_init(&r, RTM_NEWLINK, 0, sizeof(*ifi));
	uint32_t m = (uint32_t)mtu;

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	if (mtu > 0 && nl_attr_add(&r, IFLA_MTU, &m, sizeof(m)) < 0)
		return -EIO;
	return nl_do(fd, &r, NULL, NULL);
}

int nl_link_set_txqlen(int ifindex, unsigned qlen)
{
	struct nl_req r;
	struct ifinfomsg *ifi = nl_req_init(&r, RTM_NEWLINK, 0, sizeof(*ifi));
	uint32_t q = qlen;
	int fd, ret;

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	if (nl_attr_add(&r, IFLA_TXQLEN, &q, sizeof(q)) < 0)
		return -EIO;
	fd = nl_open();
	if (fd < 0)
		return -EIO;
	ret = nl_do(fd, &r, NULL, NULL);
	close(fd);
	return ret;
}

static int nl_addr_add(int fd, int ifindex, int af, const void *addr, int prefix_len)
{
	struct nl_req r;
	struct ifaddrmsg *ifa;
	size_t alen = nl_addr_len(af);
	int ret;

	ifa = nl_req_init(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifa));
	ifa->ifa_family = (unsigned char)af;
	ifa->ifa_prefixlen = (unsigned char)prefix_len;
	ifa->ifa_index = (unsigned)ifindex;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	if (nl_attr_add(&r, IFA_ADDRESS, addr, alen) < 0)
		return -EIO;
	if (af == AF_INET) {
		uint32_t a, bcast;

		memcpy(&a, addr, sizeof(a));
		if (nl_attr_add(&r, IFA_LOCAL, addr, alen) < 0)
			return -EIO;
		if (prefix_len < 31) {
			bcast = a | htonl(prefix_len ? (0xffffffffu >> prefix_len) : 0xffffffffu);
			if (nl_attr_add(&r, IFA_BROADCAST, &bcast, sizeof(bcast)) < 0)
				return -EIO;
		}
	} else {
		uint32_t flags = IFA_F_NODAD;

		ifa->ifa_flags = IFA_F_NODAD;
		if (nl_attr_add(&r, IFA_FLAGS, &flags, sizeof(flags)) < 0)
			return -EIO;
	}
	ret = nl_do(fd, &r, NULL, NULL);
	return ret == -EEXIST ? 0 : ret;
}

static int nl_route_add_default(int fd, int ifindex, int af, const void *gw, bool onlink)
{
	struct nl_req r;
	struct rtmsg *rtm;
	uint32_t oif = (uint32_t)ifindex;
	int ret;

	rtm = nl_req_init(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, sizeof(*rtm));
	rtm->rtm_family = (unsigned char)af;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_scope = RT_SCOPE_UNIVERSE;
	rtm->rtm_type = RTN_UNICAST;
	rtm->rtm_flags = onlink ? RTNH_F_ONLINK : 0;
	if (nl_attr_add(&r, RTA_GATEWAY, gw, nl_addr_len(af)) < 0 ||
	    nl_attr_add(&r, RTA_OIF, &oif, sizeof(oif)) < 0)
		return -EIO;
	ret = nl_do(fd, &r, NULL, NULL);
	return ret == -EEXIST ? 0 : ret;
}

int nl_ns_configure(const struct config *c, int ifindex)
{
	char str[INET6_ADDRSTRLEN];
	int fd, ret;

	fd = nl_open();
	if (fd < 0)
		return -1;

	ret = nl_link_set(fd, ifindex, c->mtu > 0 ? c->mtu : NL_DEFAULT_MTU);
	if (ret < 0) {
		err("--config-net: setting MTU %d and link up: %s",
		    c->mtu > 0 ? c->mtu : NL_DEFAULT_MTU, strerror(-ret));
		goto fail;
	}

	if (c->ip4.enabled && c->ip4.addr.s_addr) {
		ret = nl_addr_add(fd, ifindex, AF_INET, &c->ip4.addr, c->ip4.prefix_len);
		if (ret < 0) {
			inet_ntop(AF_INET, &c->ip4.addr, str, sizeof(str));
			err("--config-net: adding %s/%d: %s", str, c->ip4.prefix_len,
			    strerror(-ret));
			goto fail;
		}
	}
	if (c->ip6.enabled && !IN6_IS_ADDR_UNSPECIFIED(&c->ip6.addr)) {
		ret = nl_addr_add(fd, ifindex, AF_INET6, &c->ip6.addr, c->ip6.prefix_len);
		if (ret < 0) {
			inet_ntop(AF_INET6, &c->ip6.addr, str, sizeof(str));
			err("--config-net: adding %s/%d: %s", str, c->ip6.prefix_len,
			    strerror(-ret));
			goto fail;
		}
	}

	if (c->ip4.enabled && c->ip4.have_gw) {
		bool onlink = !c->ip4.addr.s_addr ||
			!nl_prefix_holds((const uint8_t *)&c->ip4.addr, (const uint8_t *)&c->ip4.gw,
					 c->ip4.prefix_len, 4);

		ret = nl_route_add_default(fd, ifindex, AF_INET, &c->ip4.gw, onlink);
		if (ret < 0) {
			inet_ntop(AF_INET, &c->ip4.gw, str, sizeof(str));
			err("--config-net: default route via %s: %s", str, strerror(-ret));
			goto fail;
		}
	}
	if (c->ip6.enabled && c->ip6.have_gw) {
		bool onlink = !IN6_IS_ADDR_LINKLOCAL(&c->ip6.gw) &&
			(IN6_IS_ADDR_UNSPECIFIED(&c->ip6.addr) ||
			 !nl_prefix_holds(c->ip6.addr.s6_addr, c->ip6.gw.s6_addr, c->ip6.prefix_len,
					  16));

		ret = nl_route_add_default(fd, ifindex, AF_INET6, &c->ip6.gw, onlink);
		if (ret < 0) {
			inet_ntop(AF_INET6, &c->ip6.gw, str, sizeof(str));
			err("--config-net: default route via %s: %s", str, strerror(-ret));
			goto fail;
		}
	}
	close(fd);
	return 0;
fail:
	close(fd);
	return -1;
}
