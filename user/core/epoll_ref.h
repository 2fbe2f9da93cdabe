/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * epoll_ref.h - the tagged reference each registered fd carries in epoll_event.data
 *
 * Events come back up the floors only through main.c's loop: it reads kind and index and calls the
 * handler of the floor that owns that kind. No callbacks are stored, so no floor needs to know
 * about one above it.
 */
#ifndef BPASST_EPOLL_REF_H
#define BPASST_EPOLL_REF_H

#include <stdint.h>

enum epoll_kind {
	EPOLL_KIND_NONE = 0,
	EPOLL_KIND_TAP, /* pasta: the tap fd */
	EPOLL_KIND_STREAM_LISTEN, /* passt: listening UNIX socket */
	EPOLL_KIND_STREAM, /* passt: the connected qemu */
	EPOLL_KIND_NETNS_WATCH, /* pasta: inotify/pidfd telling the namespace went away */
	EPOLL_KIND_TIMER, /* periodic timerfd */
	EPOLL_KIND_SIGNAL, /* signalfd */
	EPOLL_KIND_PING, /* ICMP/ICMPv6 echo socket, index = flow */
	EPOLL_KIND_TCP, /* TCP socket of a tap flow */
	EPOLL_KIND_TCP_LISTEN, /* listening socket of a forward, index = rule */
	EPOLL_KIND_TCP_SPLICE, /* one side of a spliced connection */
	EPOLL_KIND_UDP, /* UDP flow socket */
	EPOLL_KIND_UDP_LISTEN, /* UDP forwarded port */
	EPOLL_KIND_CHILD, /* pasta: pidfd of the command we run */
	EPOLL_KIND_UDP_SPLICE, /* pasta: -U listener or loopback UDP flow (flow/udp_splice.h) */
	EPOLL_KIND_BYPASS, /* pasta --bpf-bypass: the hand-over retry timer (io/bypass.h) */
	EPOLL_KIND_MAX,
};

union epoll_ref {
	struct {
		uint32_t kind;
		uint32_t index;
	};
	uint64_t u64;
};

static inline uint64_t epoll_ref_make(enum epoll_kind kind, uint32_t index)
{
	union epoll_ref r = { .kind = (uint32_t)kind, .index = index };
	return r.u64;
}

#endif /* BPASST_EPOLL_REF_H */
