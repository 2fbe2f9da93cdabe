/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tcp_tap.c - the guest-facing half of TCP: parsing the guest's segments, building ours
 *
 * Parsing (tcp_tap_parse): the frame has been walked by frame_parse(), which already checked the
 * data offset against the segment; here the fixed header fields are read through the bounds-checked
 * accessors, the options walked with tcp_opts_walk() (MSS and window scale are kept, the rest -
 * SACK-permitted, timestamps - deliberately ignored: we never offer them, so the guest never uses
 * them), and the checksum verified over the pseudo-header and the whole segment.
 *
 * Building: a segment is Ethernet + IPv4 (no options, DF) or IPv6 + TCP (+ options on SYNs) +
 * payload, built with the core frame builders into the next slot of the batch.
 *
 * Data path host -> guest (tcp_tap_send_data): for n segments the headers are written first into
 * n consecutive batch slots, each slot committed with room for a full MSS of payload; then ONE
 * recvmsg(MSG_PEEK) scatters the socket's data straight into those payload areas (an iovec per
 * slot, plus a leading discard iovec when the kernel keeps no peek offset for us). Then each used
 * frame gets its real length and its checksums (ip_finish), the last one PSH, and the slots that
 * received nothing are given back by lowering the batch count. The bytes stay in the socket until
 * the guest acknowledges them; the caller consumes them then.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <linux/tcp.h>

#include "core/checksum.h"
#include "core/log.h"
#include "flow/tcp_tap.h"

#define TCP_TAP_TTL 64
/* Most segments built by one tcp_tap_send_data() call (one iovec each). */
#define TCP_TAP_FRAMES_MAX 128

#define TCPOPT_MSS_KIND 2
#define TCPOPT_WS_KIND 3

struct tcp_opts_found {
	uint16_t mss;
	int ws;
};

static void tcp_tap_opt(uint8_t kind, const struct pkt *data, void *arg)
{
	struct tcp_opts_found *o = arg;
	uint16_t mss;
	uint8_t ws;

	if (kind == TCPOPT_MSS_KIND && data->len == 2 && pkt_get_be16(data, 0, &mss))
		o->mss = mss;
	else if (kind == TCPOPT_WS_KIND && data->len == 1 && pkt_get_u8(data, 0, &ws))
		o->ws = ws > 14 ? 14 : ws; /* RFC 7323 2.3: treat larger values as 14 */
}

static bool tcp_tap_csum_ok(const struct frame *f)
{
	uint32_t pseudo;

	if (f->l3_kind == FRAME_L3_IP4) {
		if (f->l4.len > 0xffff)
			return false;
		pseudo = csum_pseudo4(f->src.v4, f->dst.v4, IPPROTO_TCP, (uint16_t)f->l4.len);
	} else {
		pseudo = csum_pseudo6(&f->src.v6, &f->dst.v6, IPPROTO_TCP, (uint32_t)f->l4.len);
	}
	if (!pkt_at(&f->l4, 0, f->l4.len))
		return false;
	return csum(f->l4.data, f->l4.len, pseudo) == 0;
}

int tcp_tap_parse(const struct frame *f, struct tcp_seg *s)
{
	struct tcp_opts_found o = { .mss = 0, .ws = -1 };
	struct pkt hdr;

	memset(s, 0, sizeof(*s));
	s->ws = -1;
	if (f->l4_proto != IPPROTO_TCP || f->fragment ||
	    (f->l3_kind != FRAME_L3_IP4 && f->l3_kind != FRAME_L3_IP6))
		return -1;
	if (!pkt_get_be32(&f->l4, 4, &s->seq) || !pkt_get_be32(&f->l4, 8, &s->ack) ||
	    !pkt_get_u8(&f->l4, 13, &s->flags) || !pkt_get_be16(&f->l4, 14, &s->wnd))
		return -1;
	if (pkt_sub(&f->l4, 0, f->l4_hdr_len, &hdr) < 0)
		return -1;
	if (!tcp_tap_csum_ok(f)) {
		debug("TCP: bad checksum from guest port %u, dropped", f->sport);
		return -1;
	}
	if (s->flags & TCP_SYN) {
		if (tcp_opts_walk(&hdr, tcp_tap_opt, &o) < 0)
			return -1;
		s->mss = o.mss;
		s->ws = o.ws;
	}
	s->payload = f->payload;
	s->len = f->payload.len;
	return 0;
}

/* Ethernet, IP and TCP header (with SYN options) at the builder's cursor. The TCP header, or NULL
 * on overflow. */
static struct tcphdr *tcp_tap_hdr(struct frame_builder *fb, const struct tcp_tap_addr *a,
				  uint32_t seq, uint32_t ack, uint8_t flags, uint16_t wnd,
				  const struct tcp_syn_opts *opts)
{
	size_t opt_len = 0;
	struct tcphdr *th;
	uint8_t *o;

	if (a->af == AF_INET) {
		struct in_addr src, dst;

		memcpy(&src.s_addr, &a->src.s6_addr[12], 4);
		memcpy(&dst.s_addr, &a->dst.s6_addr[12], 4);
		if (!eth_push(fb, a->dst_mac, a->src_mac, BP_ETH_P_IP) ||
		    !ip4_push(fb, src, dst, IPPROTO_TCP, TCP_TAP_TTL))
			return NULL;
	} else {
		if (!eth_push(fb, a->dst_mac, a->src_mac, BP_ETH_P_IPV6) ||
		    !ip6_push(fb, &a->src, &a->dst, IPPROTO_TCP, TCP_TAP_TTL))
			return NULL;
	}
	if (opts) {
		if (opts->mss)
			opt_len += 4;
		if (opts->ws >= 0)
			opt_len += 4;
	}
	th = fb_put(fb, sizeof(*th) + opt_len);
	if (!th)
		return NULL;
	th->source = htons(a->sport);
	th->dest = htons(a->dport);
	th->seq = htonl(seq);
	th->ack_seq = htonl(ack);
	th->doff = (uint16_t)((sizeof(*th) + opt_len) / 4);
	((uint8_t *)th)[13] = flags;
	th->window = htons(wnd);
	o = (uint8_t *)(th + 1);
	if (opts && opts->mss) {
		o[0] = TCPOPT_MSS_KIND;
		o[1] = 4;
		o[2] = (uint8_t)(opts->mss >> 8);
		o[3] = (uint8_t)opts->mss;
		o += 4;
	}
	if (opts && opts->ws >= 0) {
		o[0] = 1; /* NOP, to keep the header 4-byte aligned */
		o[1] = TCPOPT_WS_KIND;
		o[2] = 3;
		o[3] = (uint8_t)opts->ws;
	}
	return th;
}

bool tcp_tap_send_ctl(struct frame_batch *out, const struct tcp_tap_addr *a, uint32_t seq,
		      uint32_t ack, uint8_t flags, uint16_t wnd, const struct tcp_syn_opts *opts)
{
	struct frame_builder fb = batch_next(out);

	if (!tcp_tap_hdr(&fb, a, seq, ack, flags, wnd, opts) || !ip_finish(&fb)) {
		batch_commit(out, &fb); /* counts the drop when the batch is full */
		return false;
	}
	return batch_commit(out, &fb);
}

/* Is the peer's FIN in? Used when the socket keeps no peek offset and a peek returned exactly the
 * bytes skipped: that is either "nothing new" or "end of stream". */
static bool tcp_tap_sock_rdhup(int sock)
{
	struct pollfd p = { .fd = sock, .events = POLLRDHUP };

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP));
}

long tcp_tap_send_data(struct frame_batch *out, const struct tcp_tap_addr *a, int sock,
		       uint32_t seq, uint32_t ack, uint16_t wnd, size_t mss, size_t max_bytes,
		       unsigned max_frames, void *discard, size_t skip, unsigned *first_frame)
{
	struct frame_builder fbs[TCP_TAP_FRAMES_MAX];
	struct iovec iov[TCP_TAP_FRAMES_MAX + 1];
	unsigned first = out->count, n, k, used;
	size_t hdr_len, got, left;
	struct msghdr mh;
	ssize_t ret;

	*first_frame = first;
	if (!mss || !max_bytes)
		return -EAGAIN;
	hdr_len = a->af == AF_INET ? TCP_TAP_HDR4 : TCP_TAP_HDR6;
	if (out->frame_max < hdr_len + mss)
		mss = out->frame_max > hdr_len ? out->frame_max - hdr_len : 0;
	if (!mss)
		return -ENOBUFS;
	n = (unsigned)((max_bytes + mss - 1) / mss);
	if (n > max_frames)
		n = max_frames;
	if (n > TCP_TAP_FRAMES_MAX)
		n = TCP_TAP_FRAMES_MAX;
	if (n > out->max_frames - out->count)
		n = out->max_frames - out->count;
	if (!n)
		return -ENOBUFS;

	k = 0;
	if (skip) {
		iov[k].iov_base = discard;
		iov[k].iov_len = skip;
		k++;
	}
	left = max_bytes;
	for (used = 0; used < n && left; used++) {
		size_t seg = left < mss ? left : mss;
		struct frame_builder *fb = &fbs[used];

		*fb = batch_next(out);
		if (!tcp_tap_hdr(fb, a, seq + (uint32_t)(used * mss), ack, TCP_ACK, wnd, NULL))
			break;
		/* Room for the payload, without zeroing it: recvmsg() writes it. */
		if (fb->cap - fb->len < seg)
			break;
		fb->len += seg;
		if (!batch_commit(out, fb))
			break;
		iov[k].iov_base = fb->buf + fb->len - seg;
		iov[k].iov_len = seg;
		k++;
		left -= seg;
	}
	if (!used || k == (skip ? 1u : 0u)) {
		out->count = first;
		return -ENOBUFS;
	}
	n = k - (skip ? 1 : 0);

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = k;
	ret = recvmsg(sock, &mh, MSG_PEEK | MSG_DONTWAIT);
	if (ret < 0) {
		int e = errno;

		out->count = first;
		return e == EAGAIN || e == EWOULDBLOCK ? -EAGAIN : -e;
	}
	if ((size_t)ret <= skip) {
		out->count = first;
		if ((size_t)ret < skip)
			return -EAGAIN; /* the queue lost data under us: the caller resyncs */
		if (ret == 0 || tcp_tap_sock_rdhup(sock))
			return 0;
		return -EAGAIN;
	}
	got = (size_t)ret - skip;

	/* Finish the frames that received data; give back the others. */
	left = got;
	for (used = 0; used < n && left; used++) {
		struct frame_builder *fb = &fbs[used];
		size_t seg = left < mss ? left : mss;
		size_t len;

		fb->len = hdr_len + seg;
		left -= seg;
		if (!left)
			fb->buf[fb->l3_off + (a->af == AF_INET ? 20 : 40) + 13] |= TCP_PSH;
		len = ip_finish(fb);
		out->len[first + used] = (uint32_t)len;
	}
	out->count = first + used;
	return (long)got;
}

bool tcp_tap_send_rst_reply(struct frame_batch *out, const struct frame *f, const struct tcp_seg *s,
			    const uint8_t our_mac[6])
{
	struct tcp_tap_addr a;
	uint32_t seq, ack;
	uint8_t flags;

	if (s->flags & TCP_RST)
		return false;
	memset(&a, 0, sizeof(a));
	a.af = f->l3_kind == FRAME_L3_IP4 ? AF_INET : AF_INET6;
	a.src_mac = our_mac;
	a.dst_mac = f->src_mac;
	if (a.af == AF_INET) {
		a.src.s6_addr[10] = a.src.s6_addr[11] = 0xff;
		a.dst.s6_addr[10] = a.dst.s6_addr[11] = 0xff;
		memcpy(&a.src.s6_addr[12], &f->dst.v4.s_addr, 4);
		memcpy(&a.dst.s6_addr[12], &f->src.v4.s_addr, 4);
	} else {
		a.src = f->dst.v6;
		a.dst = f->src.v6;
	}
	a.sport = f->dport;
	a.dport = f->sport;
	if (s->flags & TCP_ACK) {
		seq = s->ack;
		ack = 0;
		flags = TCP_RST;
	} else {
		seq = 0;
		ack = s->seq + (uint32_t)s->len + ((s->flags & TCP_SYN) ? 1 : 0) +
			((s->flags & TCP_FIN) ? 1 : 0);
		flags = TCP_RST | TCP_ACK;
	}
	return tcp_tap_send_ctl(out, &a, seq, ack, flags, 0, NULL);
}
