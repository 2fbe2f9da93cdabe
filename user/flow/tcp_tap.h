/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tcp_tap.h - the guest-facing half of TCP: reading the guest's segments, building ours
 *
 * Parsing: tcp_tap_parse() turns a TCP frame from the guest (already walked by frame_parse())
 * into a struct tcp_seg: sequence and acknowledgement numbers, flags, window, the options we use
 * (MSS, window scale; only from SYNs), a view of the payload. It verifies the TCP checksum: a
 * segment with a bad one is refused, as a kernel would.
 *
 * Building: every segment we send to the guest goes into a frame batch slot: Ethernet, IPv4 or
 * IPv6, TCP header (+ MSS/window-scale options on SYNs), payload. tcp_tap_send_ctl() builds a
 * segment without data (SYN, SYN-ACK, ACK, FIN, RST); tcp_tap_send_data() reads data from a host
 * socket with MSG_PEEK straight into the payload area of as many consecutive slots as it needs,
 * with one recvmsg(), and finishes each frame (lengths, checksums) after it. Data is never copied
 * through an intermediate buffer and never consumed from the socket here.
 *
 * No state: the caller passes addresses and sequence numbers in.
 */
#ifndef BPASST_TCP_TAP_H
#define BPASST_TCP_TAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "core/batch.h"
#include "core/packet.h"

/* TCP header flags (byte 13). */
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20

/* Header sizes of the frames we build: Ethernet + IP + TCP without options. */
#define TCP_TAP_HDR4 (14 + 20 + 20)
#define TCP_TAP_HDR6 (14 + 40 + 20)

/* A segment from the guest, parsed. Ports and numbers in host order. */
struct tcp_seg {
	uint32_t seq, ack;
	uint16_t wnd; /* raw window field (not scaled) */
	uint8_t flags;
	uint16_t mss; /* MSS option, 0 if absent */
	int ws; /* window scale option (0..14), -1 if absent */
	struct pkt payload;
	size_t len; /* payload length */
};

/* Addresses of a segment we send: from the remote side (as the guest sees it) to the guest.
 * IPv4 addresses are v4-mapped. */
struct tcp_tap_addr {
	int af;
	const uint8_t *src_mac, *dst_mac;
	struct in6_addr src, dst;
	uint16_t sport, dport;
};

/* Parse the TCP segment of f (l4_proto TCP, not a fragment). 0, or -1 when malformed or the
 * checksum is wrong (logged at debug). */
int tcp_tap_parse(const struct frame *f, struct tcp_seg *s);

/* Options to put on a SYN or SYN-ACK: mss (0: none), ws (-1: none). */
struct tcp_syn_opts {
	uint16_t mss;
	int ws;
};

/* Build a segment without payload into out. opts only for SYN/SYN-ACK (NULL otherwise). false
 * when the batch is full (the frame is counted as dropped by the batch). */
bool tcp_tap_send_ctl(struct frame_batch *out, const struct tcp_tap_addr *a, uint32_t seq,
		      uint32_t ack, uint8_t flags, uint16_t wnd, const struct tcp_syn_opts *opts);

/* Read up to max_bytes (at most max_frames segments of mss bytes) from sock with MSG_PEEK into
 * new frames of out, sequence numbers from seq. skip > 0: the socket does not keep a peek offset,
 * so the first skip bytes are read into discard[skip] and thrown away. Returns bytes placed in
 * frames (> 0), 0 on end of stream (peer's FIN, no data past the peek position), -EAGAIN when
 * nothing is there, -ENOBUFS when out has no free slot, or -errno. *first_frame receives the index
 * of the first frame used in out. */
long tcp_tap_send_data(struct frame_batch *out, const struct tcp_tap_addr *a, int sock,
		       uint32_t seq, uint32_t ack, uint16_t wnd, size_t mss, size_t max_bytes,
		       unsigned max_frames, void *discard, size_t skip, unsigned *first_frame);

/* Answer a segment that belongs to no connection the way a kernel does (RFC 9293 3.10.7.1):
 * nothing for a RST; RST seq=SEG.ACK for an ACK; RST|ACK seq=0 ack=SEG.SEQ+SEG.LEN otherwise.
 * Addresses and MACs are those of f, swapped. */
bool tcp_tap_send_rst_reply(struct frame_batch *out, const struct frame *f, const struct tcp_seg *s,
			    const uint8_t our_mac[6]);

#endif /* BPASST_TCP_TAP_H */
