/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * netlink.h - what we learn from and set through rtnetlink
 *
 * nl_host_discover() runs in the host's namespace at start-up and completes struct config where
 * the command line left it unset: upstream interface per family (the default route's, or -i's;
 * --outbound-if4/6 are not implemented), its address and prefix length, the default gateway,
 * and the DNS servers and search domains from /etc/resolv.conf. A host with no default route is
 * not an error: a warning, and the guest gets what can be given. A family left without any
 * address is disabled. c->ip6.our_ll (the address we send NDP and RAs from), if unset, becomes
 * the IPv6 gateway when that is link-local, else fe80::1. In pasta mode an unset MTU becomes
 * 65520. nl_ns_configure() runs inside the target namespace for --config-net.
 */
#ifndef BPASST_NETLINK_H
#define BPASST_NETLINK_H

#include "core/config.h"

/* 0, or -1 on a fatal error (logged). */
int nl_host_discover(struct config *c);
/* Inside the target namespace: give ifindex the addresses (IPv6 without DAD), the default routes
 * and the MTU from c, and bring it up. 0, or -1 (logged). */
int nl_ns_configure(const struct config *c, int ifindex);
/* In the current namespace: set the transmit queue length of ifindex (rtnetlink, since the
 * SIOCSIFTXQLEN ioctl wants CAP_NET_ADMIN in the initial namespace). 0, or -errno (not logged). */
int nl_link_set_txqlen(int ifindex, unsigned qlen);

#endif /* BPASST_NETLINK_H */
