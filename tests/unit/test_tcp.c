/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_tcp.c - unit tests for the TCP translator (flow/tcp*.c) against real loopback sockets
 *
 * The test process plays both ends. The "guest" is a small TCP model that builds its segments
 * with the core frame builders, hands them to tcp_tap_recv() as dispatch would, and reads the
 * frames the translator appends to the batch (parsed back, checksums verified, with
 * tcp_tap_parse()). The "host" is ordinary sockets on 127.0.0.1 / ::1: the guest connects to the
 * gateway address, which the translator maps to the host's loopback. An epoll loop routes the
 * translator's socket and timer events exactly as main.c does.
 *
 * The bench (environment, guest model, host helpers) is tcp_harness.h; the guest model checks on
 * every segment it gets that the translator stays within the window the guest advertised and
 * never offers a window larger than a socket could take (tcp_wmem's maximum).
 *
 * Cases: handshake (SYN-ACK only after connect, MSS and window-scale options, window; an idle
 * flow makes no events); refused port -> RST; host -> guest and guest -> host bulk transfers
 * (byte-exact, IPv4 and IPv6, MTU 65520 and 1500; our advertised window respected and nothing
 * refused; a guest that, like Linux, sends only whole segments never stalls: no window smaller
 * than a segment); the window closing when the host peer stops reading and the window update
 * when it reads again; a guest ignoring the window (short write, tail area, nothing lost or
 * duplicated); half-close both ways with the flow freed and the host peer seeing a FIN, never a
 * RST (no unread bytes left at close); RST both ways; retransmission after frames the edge
 * dropped, on timeout (data and FIN after end of stream too) and on three duplicate ACKs with
 * NewReno partial ACKs; malformed segments (bad checksum, ACK or data to no flow, out-of-window
 * data, SYN on an established flow); flow table full (a RST for each SYN and for each connection
 * accepted on a forwarded port, one error line per second for both in the log, established flows
 * unaffected, room again once one closes); an inbound connection through a -t forward (SYN to the
 * guest from the gateway address, translated port, data both ways), repeated with random initial
 * sequence numbers, to the address the guest uses instead of the assigned one, and from a
 * --map-host-loopback address. Address translation (flow/nat.c: --dns-forward, --map-*,
 * --no-map-gw, --outbound*) is checked rule by rule and live in tcp_nat_cases.h. The data and
 * retransmission cases run again with SO_PEEK_OFF disabled (BPASST_TCP_NO_PEEK_OFF), the path of
 * kernels before 6.9.
 */
#include "tcp_harness.h"
#include "tcp_nat_cases.h"

/* ---- Cases ---- */

static void test_handshake_and_refused(int af)
{
	struct gconn gc, gr;
	struct env e;
	uint16_t port;
	int ls, hs;

	env_init(&e, 0, 0, NULL);
	ls = host_listen(af, &port);
	gconn_init(&gc, af, 40001, port);
	/* Before connect() completes nothing may go to the guest: check right after the SYN that
	 * anything in the batch is a SYN-ACK (loopback may complete at once). */
	CHECK_EQ(g_send(&e, &gc, TCP_SYN, NULL, 0), 0);
	CHECK(e.out.count <= 1);
	hs = -1;
	{
		uint64_t deadline = now_ms() + 5000;

		while (!gc.synack && now_ms() < deadline) {
			deliver1(&e, &gc);
			if (!gc.synack)
				env_poll(&e, 50);
		}
	}
	CHECK(gc.synack);
	CHECK_EQ(gc.last_flags, TCP_SYN | TCP_ACK);
	CHECK_EQ(gc.peer_ack, gc.isn + 1);
	CHECK_EQ(gc.peer_mss, af == AF_INET ? 65480 : 65460);
	CHECK(gc.peer_ws >= 0 && gc.peer_ws <= 14);
	CHECK(gc.peer_wnd > 0);
	CHECK_EQ(tcp_flow_count(e.t), 1);
	g_ack(&e, &gc);
	tcp_tap_batch_done(e.t, &e.out);
	hs = accept(ls, NULL, NULL);
	CHECK(hs >= 0);
	/* An idle established flow makes (almost) no events: nothing spins. */
	{
		uint64_t until = now_ms() + 200;
		int events = 0;

		deliver1(&e, &gc);
		while (now_ms() < until)
			events += env_poll(&e, 20);
		{
			unsigned frames = e.out.count;

			/* At most one window update: the SYN-ACK could offer 64 KiB only. */
			CHECK(events <= 2);
			CHECK(frames <= 1);
			deliver1(&e, &gc);
			if (frames)
				CHECK_EQ(gc.last_flags, TCP_ACK);
		}
	}

	/* A guest that offers no window scaling gets none. */
	{
		struct gconn g2;
		int hs2;

		gconn_init(&g2, af, 40002, port);
		g2.ws = -1;
		hs2 = open_outbound(&e, &g2, ls);
		CHECK_EQ(g2.peer_ws, -1);
		close(hs2);
		gconn_free(&g2);
	}

	/* Refused port: RST|ACK acknowledging the SYN, at once, and no flow kept. */
	gconn_init(&gr, af, 40003, unused_port(af));
	CHECK_EQ(g_send(&e, &gr, TCP_SYN, NULL, 0), 0);
	{
		uint64_t deadline = now_ms() + 5000;

		while (!gr.rst && now_ms() < deadline) {
			deliver1(&e, &gr);
			if (!gr.rst)
				env_poll(&e, 50);
		}
	}
	CHECK(gr.rst);
	CHECK_EQ(gr.last_flags, TCP_RST | TCP_ACK);
	CHECK(tcp_get_stats(e.t)->rst_to_tap >= 1);

	close(hs);
	close(ls);
	gconn_free(&gc);
	gconn_free(&gr);
	env_free(&e);
}

/* Host -> guest: size bytes written by the host peer arrive intact, within the guest's window. */
static void test_host_to_guest(int af, int mtu, size_t size, uint16_t guest_wnd, int guest_ws)
{
	uint8_t *data = malloc(size);
	uint64_t deadline;
	struct gconn gc;
	struct env e;
	uint16_t port;
	size_t written = 0;
	int ls, hs;

	CHECK(data != NULL);
	rng_fill(data, size);
	env_init(&e, 0, mtu, NULL);
	ls = host_listen(af, &port);
	gconn_init(&gc, af, 40010, port);
	gc.wnd = guest_wnd;
	gc.ws = guest_ws;
	if (mtu)
		gc.mss = (uint16_t)(mtu - (af == AF_INET ? 40 : 60));
	hs = open_outbound(&e, &gc, ls);

	deadline = now_ms() + 20000;
	while ((gc.rx_len < size || !gc.fin) && now_ms() < deadline) {
		uint32_t before = gc.rcv_nxt;

		if (written < size) {
			ssize_t n = send(hs, data + written, size - written, MSG_DONTWAIT);

			if (n > 0)
				written += (size_t)n;
			if (written == size)
				shutdown(hs, SHUT_WR);
		}
		env_poll(&e, 5);
		deliver1(&e, &gc);
		if (gc.rcv_nxt != before) {
			g_ack(&e, &gc);
			tcp_tap_batch_done(e.t, &e.out);
		}
	}
	CHECK_EQ(gc.rx_len, size);
	CHECK(!memcmp(gc.rx, data, size));
	CHECK(gc.fin);
	CHECK_EQ(gc.gap_segs, 0);
	/* Guest closes too: the flow goes away once its FIN is acked. */
	g_send(&e, &gc, TCP_FIN | TCP_ACK, NULL, 0);
	tcp_tap_batch_done(e.t, &e.out);
	deliver1(&e, &gc);
	CHECK_EQ(gc.peer_ack, gc.snd_nxt);
	CHECK_EQ(tcp_flow_count(e.t), 0);
	{
		char b;

		CHECK_EQ(recv(hs, &b, 1, 0), 0); /* the guest's FIN reached the host peer */
		usleep(20000);
		CHECK(!host_saw_reset(hs));
	}
	close(hs);
	close(ls);
	gconn_free(&gc);
	env_free(&e);
	free(data);
}

/* Guest -> host: the guest sends within our advertised window; the host peer reads (or, with
 * stall_ms, stops reading for a while). Checks the data and that nothing was refused. */
static void test_guest_to_host(int af, int mtu, size_t size, unsigned stall_ms, bool whole_segs)
{
	uint8_t *data = malloc(size), *got = malloc(size);
	uint64_t deadline, stall_until = 0;
	bool stalled = false;
	struct gconn gc;
	struct env e;
	size_t got_len = 0;
	uint16_t port;
	int ls, hs;

	CHECK(data && got);
	rng_fill(data, size);
	env_init(&e, 0, mtu, NULL);
	ls = host_listen(af, &port);
	gconn_init(&gc, af, 40020, port);
	if (mtu)
		gc.mss = (uint16_t)(mtu - (af == AF_INET ? 40 : 60));
	hs = open_outbound(&e, &gc, ls);
	deliver1(&e, &gc);

	deadline = now_ms() + 20000;
	while (got_len < size && now_ms() < deadline) {
		uint32_t sent = gc.snd_nxt - (gc.isn + 1);
		uint32_t edge = gc.peer_ack + gc.peer_wnd;
		unsigned segs = 0;

		/* A batch of segments within the window. With whole_segs, like Linux, never a
		 * segment cut short by the window (sender-side silly window avoidance). */
		while (sent < size && SEQ_LT(gc.snd_nxt, edge) && segs < 32) {
			uint32_t room = edge - gc.snd_nxt, n = gc.peer_mss;

			if (n > size - sent)
				n = (uint32_t)(size - sent);
			if (n > room && whole_segs)
				break;
			if (n > room)
				n = room;
			CHECK_EQ(g_send(&e, &gc, TCP_ACK | TCP_PSH, data + sent, n), 0);
			sent += n;
			segs++;
		}
		if (sent == size && gc.snd_nxt == gc.isn + 1 + size)
			CHECK_EQ(g_send(&e, &gc, TCP_FIN | TCP_ACK, NULL, 0), 0);
		tcp_tap_batch_done(e.t, &e.out);
		deliver1(&e, &gc);
		/* Everything sent within the window is acknowledged at once. */
		CHECK_EQ(gc.peer_ack, gc.snd_nxt);

		if (stall_ms && !stalled && got_len > size / 4) {
			stalled = true;
			stall_until = now_ms() + stall_ms;
		}
		if (!stalled || now_ms() >= stall_until) {
			ssize_t n = recv(hs, got + got_len, size - got_len, MSG_DONTWAIT);

			if (n > 0)
				got_len += (size_t)n;
		}
		env_poll(&e, segs ? 0 : 5);
		deliver1(&e, &gc);
	}
	CHECK_EQ(got_len, size);
	CHECK(!memcmp(got, data, size));
	CHECK_EQ(tcp_get_stats(e.t)->tail_refused, 0);
	if (stall_ms) {
		/* The window closed while the host peer did not read, and reopened by itself. */
		CHECK(tcp_get_stats(e.t)->window_updates >= 1);
	}
	{
		char b;
		uint64_t d2 = now_ms() + 2000;
		ssize_t n;

		while ((n = recv(hs, &b, 1, MSG_DONTWAIT)) < 0 && now_ms() < d2)
			env_poll(&e, 5);
		CHECK_EQ(n, 0); /* FIN passed on as shutdown(SHUT_WR) */
	}
	/* Host closes: FIN to the guest, flow freed after the guest's ACK. */
	close(hs);
	deadline = now_ms() + 2000;
	while (!gc.fin && now_ms() < deadline) {
		env_poll(&e, 5);
		deliver1(&e, &gc);
	}
	CHECK(gc.fin);
	g_ack(&e, &gc);
	tcp_tap_batch_done(e.t, &e.out);
	CHECK_EQ(tcp_flow_count(e.t), 0);
	close(ls);
	gconn_free(&gc);
	env_free(&e);
	free(data);
	free(got);
}

/* A guest that ignores our window while the host peer does not read: the part the socket refuses
 * goes to the tail area or is left unacknowledged; after retransmissions the stream is exact. */
static void test_guest_ignores_window(int af)
{
	size_t size = 24 << 20;
	uint8_t *data = malloc(size), *got = malloc(size);
	struct gconn gc;
	struct env e;
	size_t got_len = 0;
	uint64_t deadline;
	uint16_t port;
	int ls, hs, rcvbuf = 64 * 1024;

	CHECK(data && got);
	rng_fill(data, size);
	env_init(&e, 0, 0, NULL);
	ls = host_listen(af, &port);
	setsockopt(ls, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	gconn_init(&gc, af, 40030, port);
	hs = open_outbound(&e, &gc, ls);
	deliver1(&e, &gc);

	/* Blast everything at once, ignoring the window. */
	{
		uint32_t off = 0;

		while (off < size) {
			uint32_t n =
				size - off < gc.peer_mss ? (uint32_t)(size - off) : gc.peer_mss;

			g_send(&e, &gc, TCP_ACK, data + off, n);
			off += n;
		}
		tcp_tap_batch_done(e.t, &e.out);
		deliver1(&e, &gc);
	}
	CHECK(SEQ_LT(gc.peer_ack, gc.snd_nxt)); /* not all of it could be taken */
	CHECK(tcp_get_stats(e.t)->short_writes >= 1);
	CHECK(tcp_get_stats(e.t)->tail_refused > 0);

	/* Now read, and retransmit from the last ACK as a guest would. */
	deadline = now_ms() + 20000;
	while (got_len < size && now_ms() < deadline) {
		ssize_t n = recv(hs, got + got_len, size - got_len, MSG_DONTWAIT);

		if (n > 0)
			got_len += (size_t)n;
		env_poll(&e, 1);
		deliver1(&e, &gc);
		if (SEQ_LT(gc.peer_ack, gc.snd_nxt)) {
			uint32_t off = gc.peer_ack - (gc.isn + 1);
			uint32_t room = gc.peer_wnd, m = gc.peer_mss;

			if (room) {
				if (m > room)
					m = room;
				if (m > size - off)
					m = (uint32_t)(size - off);
				g_xmit_raw(&e, &gc, gc.peer_ack, gc.rcv_nxt, TCP_ACK, gc.wnd,
					   data + off, m, 0);
				tcp_tap_batch_done(e.t, &e.out);
				deliver1(&e, &gc);
			}
		}
	}
	if (got_len != size)
		fprintf(stderr,
			"stuck: peer_ack %u snd_nxt %u peer_wnd %u short %lu refused %lu upd %lu "
			"flows %u\n",
			gc.peer_ack - gc.isn, gc.snd_nxt - gc.isn, gc.peer_wnd,
			tcp_get_stats(e.t)->short_writes, tcp_get_stats(e.t)->tail_refused,
			tcp_get_stats(e.t)->window_updates, tcp_flow_count(e.t));
	CHECK_EQ(got_len, size);
	CHECK(!memcmp(got, data, size));
	close(hs);
	close(ls);
	gconn_free(&gc);
	env_free(&e);
	free(data);
	free(got);
}

/* Retransmission: on timeout, after frames the edge dropped, and on three duplicate ACKs. */
static void test_retransmit(int af)
{
	size_t size = 64 * 1024;
	uint8_t *data = malloc(size);
	struct gconn gc;
	struct env e;
	uint64_t deadline;
	uint16_t port;
	uint32_t first_seq;
	unsigned frames;
	int ls, hs;

	CHECK(data != NULL);
	rng_fill(data, size);
	env_init(&e, 0, 1500, NULL);
	ls = host_listen(af, &port);
	gconn_init(&gc, af, 40040, port);
	gc.mss = 1000;
	hs = open_outbound(&e, &gc, ls);
	deliver1(&e, &gc);

	/* 1. Frames dropped by the edge are sent again at the next chance, from the same seq. */
	CHECK_EQ(send(hs, data, 8000, 0), 8000);
	deadline = now_ms() + 2000;
	while (!e.out.count && now_ms() < deadline)
		env_poll(&e, 10);
	frames = e.out.count;
	CHECK(frames >= 1);
	first_seq = gc.rcv_nxt;
	tcp_flushed(e.t, 0, frames); /* the edge wrote nothing */
	batch_reset(&e.out);
	/* 2. No ACK from the guest: the retransmission timer sends them again. */
	deadline = now_ms() + 3000;
	while (gc.rx_len < 8000 && now_ms() < deadline) {
		env_poll(&e, 20);
		deliver1(&e, &gc);
	}
	CHECK_EQ(gc.rx_len, 8000);
	CHECK(!memcmp(gc.rx, data, 8000));
	CHECK_EQ(gc.rcv_nxt, first_seq + 8000);
	CHECK(tcp_get_stats(e.t)->retrans_timeout >= 1);
	CHECK(tcp_get_stats(e.t)->retrans_dropped >= 1);
	g_ack(&e, &gc);
	tcp_tap_batch_done(e.t, &e.out);
	deliver1(&e, &gc);

	/* 3. Lose one segment; three duplicate ACKs bring it back before any timeout. */
	CHECK_EQ(send(hs, data + 8000, 5000, 0), 5000);
	gc.drop_next = true;
	deadline = now_ms() + 2000;
	while (gc.gap_segs < 4 && now_ms() < deadline) {
		env_poll(&e, 10);
		deliver1(&e, &gc);
	}
	CHECK(gc.gap_segs >= 3);
	{
		unsigned i, before = tcp_get_stats(e.t)->retrans_fast;

		for (i = 0; i < 3; i++)
			g_ack(&e, &gc);
		tcp_tap_batch_done(e.t, &e.out);
		CHECK_EQ(tcp_get_stats(e.t)->retrans_fast, before + 1);
		deliver1(&e, &gc);
		CHECK_EQ(gc.rx_len, 9000); /* the lost head arrived */
	}
	/* Partial ACKs in recovery bring each following segment. */
	deadline = now_ms() + 2000;
	while (gc.rx_len < 13000 && now_ms() < deadline) {
		g_ack(&e, &gc);
		tcp_tap_batch_done(e.t, &e.out);
		deliver1(&e, &gc);
		env_poll(&e, 1);
		deliver1(&e, &gc);
	}
	CHECK_EQ(gc.rx_len, 13000);
	CHECK(!memcmp(gc.rx, data, 13000));
	CHECK_EQ(tcp_get_stats(e.t)->retrans_timeout, 1); /* recovered without a timeout */

	/* 4. End of stream, then the edge drops the data and the FIN: the timer sends both again. */
	g_ack(&e, &gc);
	tcp_tap_batch_done(e.t, &e.out);
	deliver1(&e, &gc);
	CHECK_EQ(send(hs, data + 13000, 3000, 0), 3000);
	shutdown(hs, SHUT_WR);
	deadline = now_ms() + 2000;
	while (now_ms() < deadline) {
		unsigned i, fins = 0;

		env_poll(&e, 10);
		for (i = 0; i < e.out.count; i++) {
			size_t len;
			uint8_t *p = batch_frame(&e.out, i, &len);
			struct frame f;
			struct tcp_seg sg;

			CHECK_EQ(frame_parse(p, len, &f), 0);
			CHECK_EQ(tcp_tap_parse(&f, &sg), 0);
			fins += !!(sg.flags & TCP_FIN);
		}
		if (fins)
			break;
	}
	CHECK(e.out.count >= 2);
	tcp_flushed(e.t, 0, e.out.count); /* all of it lost */
	batch_reset(&e.out);
	deadline = now_ms() + 3000;
	while (!gc.fin && now_ms() < deadline) {
		env_poll(&e, 20);
		deliver1(&e, &gc);
	}
	CHECK(gc.fin);
	CHECK_EQ(gc.rx_len, 16000);
	CHECK(!memcmp(gc.rx, data, 16000));

	close(hs);
	close(ls);
	gconn_free(&gc);
	env_free(&e);
	free(data);
}

/* Half-close, the host peer first: it sends and shuts down its side, then keeps reading what the
 * guest still sends after the FIN; the guest's last segments acknowledge everything at once. The
 * host peer must read all of it and a clean end of stream, never a reset. */
static void test_half_close_host_first(int af)
{
	size_t down = 60000, up = 200000; /* down: fits in the receive buffer unacked */
	uint8_t *data = malloc(up), *got = malloc(up + 1);
	uint64_t deadline;
	struct gconn gc;
	struct env e;
	size_t got_len = 0, written = 0;
	uint16_t port;
	int ls, hs;
	ssize_t n;

	CHECK(data && got);
	rng_fill(data, up);
	env_init(&e, 0, 0, NULL);
	ls = host_listen(af, &port);
	gconn_init(&gc, af, 40070, port);
	gc.ws = 4; /* a 1 MiB window: all of it arrives without an ACK */
	hs = open_outbound(&e, &gc, ls);
	deliver1(&e, &gc);
	/* Host -> guest, then the host's FIN; the guest receives it all but does not ACK yet. */
	deadline = now_ms() + 5000;
	while (!gc.fin && now_ms() < deadline) {
		if (written < down) {
			static uint8_t zeros[65536];
			size_t chunk =
				down - written < sizeof(zeros) ? down - written : sizeof(zeros);

			n = send(hs, zeros, chunk, MSG_DONTWAIT);
			if (n > 0)
				written += (size_t)n;
			if (written == down)
				shutdown(hs, SHUT_WR);
		}
		env_poll(&e, 5);
		deliver1(&e, &gc);
	}
	CHECK(gc.fin);
	CHECK_EQ(gc.rx_len, down);
	/* The guest sends its data and FIN, every segment acknowledging all of the above. */
	{
		uint32_t off = 0;

		while (off < up) {
			uint32_t m = up - off < 60000 ? (uint32_t)(up - off) : 60000;

			CHECK_EQ(g_send(&e, &gc, TCP_ACK, data + off, m), 0);
			off += m;
		}
		CHECK_EQ(g_send(&e, &gc, TCP_ACK | TCP_FIN, NULL, 0), 0);
		tcp_tap_batch_done(e.t, &e.out);
		deliver1(&e, &gc);
	}
	CHECK_EQ(gc.peer_ack, gc.snd_nxt);
	CHECK_EQ(tcp_flow_count(e.t), 0);
	deadline = now_ms() + 2000;
	for (;;) {
		n = recv(hs, got + got_len, up + 1 - got_len, MSG_DONTWAIT);
		if (n > 0) {
			got_len += (size_t)n;
			continue;
		}
		if (n == 0)
			break;
		CHECK(errno == EAGAIN); /* ECONNRESET here: the close turned into a reset */
		CHECK(now_ms() < deadline);
		usleep(1000);
	}
	CHECK_EQ(got_len, up);
	CHECK(!memcmp(got, data, up));
	CHECK(!host_saw_reset(hs));
	close(hs);
	close(ls);
	gconn_free(&gc);
	env_free(&e);
	free(data);
	free(got);
}

/* Malformed and unexpected segments. */
static void test_malformed(int af)
{
	struct gconn gc, gx;
	struct env e;
	uint16_t port;
	uint8_t payload[100];
	int ls, hs;

	memset(payload, 0xab, sizeof(payload));
	env_init(&e, 0, 0, NULL);
	ls = host_listen(af, &port);
	gconn_init(&gc, af, 40050, port);
	hs = open_outbound(&e, &gc, ls);
	deliver1(&e, &gc);

	/* Bad checksum: dropped, nothing sent, counted. */
	CHECK_EQ(g_xmit_raw(&e, &gc, gc.snd_nxt, gc.rcv_nxt, TCP_ACK, gc.wnd, payload, 100,
			    XMIT_CORRUPT),
		 -1);
	tcp_tap_batch_done(e.t, &e.out);
	CHECK_EQ(e.out.count, 0);
	CHECK_EQ(tcp_get_stats(e.t)->bad_segments, 1);

	/* Out of order (a gap): duplicate ACK, nothing written. */
	g_xmit_raw(&e, &gc, gc.snd_nxt + 5000, gc.rcv_nxt, TCP_ACK, gc.wnd, payload, 100, 0);
	deliver1(&e, &gc);
	CHECK_EQ(gc.peer_ack, gc.snd_nxt);
	CHECK_EQ(tcp_get_stats(e.t)->out_of_order, 1);
	/* Far out of window (2^31 away): the same. */
	g_xmit_raw(&e, &gc, gc.snd_nxt + 0x80000000u, gc.rcv_nxt, TCP_ACK, gc.wnd, payload, 100, 0);
	deliver1(&e, &gc);
	CHECK_EQ(gc.peer_ack, gc.snd_nxt);
	/* Old duplicate: ACKed, not written again. */
	g_send(&e, &gc, TCP_ACK, payload, 100);
	tcp_tap_batch_done(e.t, &e.out);
	deliver1(&e, &gc);
	g_xmit_raw(&e, &gc, gc.snd_nxt - 100, gc.rcv_nxt, TCP_ACK, gc.wnd, payload, 100, 0);
	deliver1(&e, &gc);
	CHECK_EQ(gc.peer_ack, gc.snd_nxt);
	{
		uint8_t buf[300];
		ssize_t n;

		usleep(20000);
		n = recv(hs, buf, sizeof(buf), MSG_DONTWAIT);
		CHECK_EQ(n, 100);
	}
	/* SYN on an established flow: a challenge ACK, the flow stays. */
	g_xmit_raw(&e, &gc, (uint32_t)rng(), 0, TCP_SYN, gc.wnd, NULL, 0, XMIT_SYN_OPTS);
	deliver1(&e, &gc);
	CHECK_EQ(gc.last_flags & (TCP_ACK | TCP_RST | TCP_SYN), TCP_ACK);
	CHECK_EQ(tcp_flow_count(e.t), 1);
	/* No flags at all: ignored. */
	CHECK_EQ(g_xmit_raw(&e, &gc, gc.snd_nxt, 0, 0, gc.wnd, payload, 10, 0), 0);
	tcp_tap_batch_done(e.t, &e.out);
	CHECK_EQ(e.out.count, 0);

	/* Segments for no flow: ACK -> RST seq=ACK; data without ACK -> RST|ACK; RST -> nothing. */
	gconn_init(&gx, af, 40051, port);
	g_xmit_raw(&e, &gx, 1000, 777777, TCP_ACK, 100, payload, 10, 0);
	deliver1(&e, &gx);
	CHECK(gx.rst);
	CHECK_EQ(gx.last_flags, TCP_RST);
	CHECK_EQ(gx.last_seq, 777777);
	gx.rst = false;
	g_xmit_raw(&e, &gx, 1000, 0, TCP_PSH, 100, payload, 10, 0);
	deliver1(&e, &gx);
	CHECK(gx.rst);
	CHECK_EQ(gx.last_flags, TCP_RST | TCP_ACK);
	g_xmit_raw(&e, &gx, 1000, 0, TCP_RST, 0, NULL, 0, 0);
	CHECK_EQ(e.out.count, 0);
	/* SYN|ACK to no flow: RST. */
	g_xmit_raw(&e, &gx, 1000, 5, TCP_SYN | TCP_ACK, 100, NULL, 0, 0);
	CHECK_EQ(e.out.count, 1);
	batch_reset(&e.out);
	CHECK_EQ(tcp_flow_count(e.t), 1);

	/* RST from the guest, in window: the host peer sees a reset. */
	g_xmit_raw(&e, &gc, gc.snd_nxt, 0, TCP_RST, 0, NULL, 0, 0);
	CHECK_EQ(tcp_flow_count(e.t), 0);
	{
		char b;
		ssize_t n = recv(hs, &b, 1, 0);

		CHECK(n < 0 && errno == ECONNRESET);
	}
	close(hs);

	/* RST from the host peer: RST to the guest. */
	{
		struct gconn g3;
		struct linger lg = { 1, 0 };
		uint64_t deadline = now_ms() + 2000;

		gconn_init(&g3, af, 40052, port);
		hs = open_outbound(&e, &g3, ls);
		deliver1(&e, &g3);
		setsockopt(hs, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(hs);
		while (!g3.rst && now_ms() < deadline) {
			env_poll(&e, 10);
			deliver1(&e, &g3);
		}
		CHECK(g3.rst);
		CHECK_EQ(tcp_flow_count(e.t), 0);
		gconn_free(&g3);
	}
	close(ls);
	gconn_free(&gc);
	gconn_free(&gx);
	env_free(&e);
}

/* Lines of the log file at path that contain what. */
static unsigned log_lines_with(const char *path, const char *what)
{
	char line[1024];
	unsigned n = 0;
	FILE *f = fopen(path, "r");

	CHECK(f != NULL);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, what) != NULL;
	fclose(f);
	return n;
}

/* Wait for the start of a CLOCK_MONOTONIC second: a burst from here stays within one. */
static void wait_second_start(void)
{
	struct timespec ts;

	do {
		usleep(1000);
		clock_gettime(CLOCK_MONOTONIC, &ts);
	} while (ts.tv_nsec > 100 * 1000000L);
}

/* Flow table full: SYNs beyond it (and connections accepted on a forwarded port) get a RST, an
 * error is logged at most once per second for both, and established flows keep working. */
static void test_table_full(void)
{
	static const char *msg = "flow table full";
	char log_path[] = "/tmp/test_tcp_log.XXXXXX";
	uint16_t hport = unused_port(AF_INET);
	struct fwd_set fs;
	struct gconn g[2], gx;
	struct env e;
	uint16_t port;
	int ls, hs[2], i, lfd;
	char buf[16];
	uint64_t deadline;

	lfd = mkstemp(log_path);
	CHECK(lfd >= 0);
	close(lfd);
	CHECK_EQ(log_open_file(log_path, 0), 0);
	memset(&fs, 0, sizeof(fs));
	fs.mode = FWD_SPEC;
	fs.rule[0] =
		(struct fwd_rule){ .first = hport, .last = hport, .to_first = 8080, .af = AF_INET };
	fs.count = 1;
	env_init(&e, 2, 0, &fs);
	ls = host_listen(AF_INET, &port);
	for (i = 0; i < 2; i++) {
		gconn_init(&g[i], AF_INET, (uint16_t)(40060 + i), port);
		hs[i] = open_outbound(&e, &g[i], ls);
		deliver1(&e, &g[i]);
	}
	CHECK_EQ(tcp_flow_count(e.t), 2);
	CHECK_EQ(log_lines_with(log_path, msg), 0);

	/* A burst of SYNs within one second: a RST each, one line in the log. */
	wait_second_start();
	for (i = 0; i < 20; i++) {
		gconn_init(&gx, AF_INET, (uint16_t)(41000 + i), port);
		CHECK_EQ(g_send(&e, &gx, TCP_SYN, NULL, 0), 0);
		deliver1(&e, &gx);
		CHECK(gx.rst);
		CHECK_EQ(gx.last_flags, TCP_RST | TCP_ACK);
		gconn_free(&gx);
	}
	/* A connection to the forwarded port in the same second: reset, no second line. */
	{
		struct sockaddr_in sa = { .sin_family = AF_INET,
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
					  .sin_port = htons(hport) };
		int cs = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ssize_t n;

		CHECK_EQ(connect(cs, (struct sockaddr *)&sa, sizeof(sa)), 0);
		deadline = now_ms() + 500;
		while (tcp_get_stats(e.t)->refused_full < 21 && now_ms() < deadline)
			env_poll(&e, 10);
		CHECK_EQ(e.out.count, 0); /* no SYN went to the guest */
		n = recv(cs, buf, sizeof(buf), 0);
		CHECK(n < 0 && errno == ECONNRESET);
		close(cs);
	}
	CHECK_EQ(tcp_get_stats(e.t)->refused_full, 21);
	CHECK_EQ(log_lines_with(log_path, msg), 1);
	CHECK_EQ(tcp_flow_count(e.t), 2);

	/* The next second: the next refusal is logged again. */
	usleep(1000 * 1000);
	gconn_init(&gx, AF_INET, 41999, port);
	CHECK_EQ(g_send(&e, &gx, TCP_SYN, NULL, 0), 0);
	deliver1(&e, &gx);
	CHECK(gx.rst);
	gconn_free(&gx);
	CHECK_EQ(log_lines_with(log_path, msg), 2);

	/* Both established flows still carry data both ways. */
	for (i = 0; i < 2; i++) {
		ssize_t n;

		g_send(&e, &g[i], TCP_ACK | TCP_PSH, "ping", 4);
		tcp_tap_batch_done(e.t, &e.out);
		deliver1(&e, &g[i]);
		deadline = now_ms() + 2000;
		while ((n = recv(hs[i], buf, sizeof(buf), 0)) < 0 && now_ms() < deadline)
			usleep(1000);
		CHECK_EQ(n, 4);
		CHECK_EQ(send(hs[i], "pong", 4, 0), 4);
		deadline = now_ms() + 2000;
		while (g[i].rx_len < 4 && now_ms() < deadline) {
			env_poll(&e, 10);
			deliver1(&e, &g[i]);
		}
		CHECK_EQ(g[i].rx_len, 4);
		CHECK(!memcmp(g[i].rx, "pong", 4));
	}
	/* One closes (RST from the guest): a new connection fits again. */
	g_xmit_raw(&e, &g[0], g[0].snd_nxt, 0, TCP_RST, 0, NULL, 0, 0);
	CHECK_EQ(tcp_flow_count(e.t), 1);
	close(hs[0]);
	gconn_free(&g[0]);
	gconn_init(&g[0], AF_INET, 40070, port);
	hs[0] = open_outbound(&e, &g[0], ls);
	CHECK_EQ(tcp_flow_count(e.t), 2);
	for (i = 0; i < 2; i++) {
		close(hs[i]);
		gconn_free(&g[i]);
	}
	close(ls);
	env_free(&e);
	log_to_stderr(true);
	unlink(log_path);
}

/* Inbound: a connection to a forwarded host port becomes a SYN to the guest: from the gateway
 * (or map_host, --map-host-loopback), to the address the guest was seen using (seen, when it
 * uses another one than assigned). */
static void test_inbound(int af, const char *seen, const char *map_host)
{
	uint16_t hport = unused_port(af), gport = 8080;
	struct fwd_set fs;
	struct gconn gc;
	struct env e;
	uint64_t deadline;
	struct sockaddr_storage ss;
	socklen_t sl;
	char buf[64];
	ssize_t n;
	int cs;

	memset(&fs, 0, sizeof(fs));
	fs.mode = FWD_SPEC;
	fs.rule[0] =
		(struct fwd_rule){ .first = hport, .last = hport, .to_first = gport, .af = af };
	fs.count = 1;
	env_init(&e, 0, 0, &fs);
	gconn_init(&gc, af, gport, 0);
	if (seen) {
		CHECK_EQ(inet_pton(af, seen, &gc.gaddr), 1);
		if (af == AF_INET)
			memcpy(&e.g.addr4_seen, &gc.gaddr, 4);
		else
			memcpy(&e.g.addr6_seen, &gc.gaddr, 16);
	}
	if (map_host) {
		CHECK_EQ(inet_pton(af, map_host, &gc.raddr), 1);
		if (af == AF_INET)
			memcpy(&e.c.ip4.map_host_loopback, &gc.raddr, 4);
		else
			memcpy(&e.c.ip6.map_host_loopback, &gc.raddr, 16);
	}

	cs = socket(af, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&ss, 0, sizeof(ss));
	if (af == AF_INET) {
		struct sockaddr_in *sa = (struct sockaddr_in *)&ss;

		sa->sin_family = AF_INET;
		sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sa->sin_port = htons(hport);
		sl = sizeof(*sa);
	} else {
		struct sockaddr_in6 *sa = (struct sockaddr_in6 *)&ss;

		sa->sin6_family = AF_INET6;
		sa->sin6_addr = in6addr_loopback;
		sa->sin6_port = htons(hport);
		sl = sizeof(*sa);
	}
	CHECK_EQ(connect(cs, (struct sockaddr *)&ss, sl), 0);
	sl = sizeof(ss);
	getsockname(cs, (struct sockaddr *)&ss, &sl);
	gc.rport = ntohs(af == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
				       : ((struct sockaddr_in6 *)&ss)->sin6_port);

	deadline = now_ms() + 2000;
	while (!gc.syn && now_ms() < deadline) {
		env_poll(&e, 10);
		deliver1(&e, &gc); /* matches only frames from raddr to gaddr:8080 */
	}
	CHECK(gc.syn);
	CHECK_EQ(gc.last_flags, TCP_SYN);
	CHECK(gc.peer_mss > 0);
	CHECK(gc.peer_ws >= 0);
	/* SYN-ACK from the guest, then data both ways. */
	gc.snd_nxt = gc.isn;
	CHECK_EQ(g_xmit_raw(&e, &gc, gc.isn, gc.rcv_nxt, TCP_SYN | TCP_ACK, gc.wnd, NULL, 0,
			    XMIT_SYN_OPTS),
		 0);
	gc.snd_nxt = gc.isn + 1;
	deliver1(&e, &gc);
	CHECK_EQ(gc.last_flags, TCP_ACK);
	CHECK_EQ(gc.peer_ack, gc.isn + 1);
	CHECK_EQ(tcp_get_stats(e.t)->opened_in, 1);

	g_send(&e, &gc, TCP_ACK | TCP_PSH, "hello host", 10);
	tcp_tap_batch_done(e.t, &e.out);
	deliver1(&e, &gc);
	n = recv(cs, buf, sizeof(buf), 0);
	CHECK_EQ(n, 10);
	CHECK(!memcmp(buf, "hello host", 10));
	CHECK_EQ(send(cs, "hello guest", 11, 0), 11);
	shutdown(cs, SHUT_WR);
	deadline = now_ms() + 2000;
	while (!gc.fin && now_ms() < deadline) {
		env_poll(&e, 10);
		deliver1(&e, &gc);
	}
	CHECK_EQ(gc.rx_len, 11);
	CHECK(!memcmp(gc.rx, "hello guest", 11));
	CHECK(gc.fin);
	g_send(&e, &gc, TCP_ACK | TCP_FIN, NULL, 0);
	tcp_tap_batch_done(e.t, &e.out);
	deliver1(&e, &gc);
	CHECK_EQ(recv(cs, buf, sizeof(buf), 0), 0);
	CHECK_EQ(tcp_flow_count(e.t), 0);
	usleep(20000);
	CHECK(!host_saw_reset(cs)); /* closed with a FIN, not a RST */
	close(cs);
	gconn_free(&gc);
	env_free(&e);
}

int main(void)
{
	int afs[2] = { AF_INET, AF_INET6 }, i;

	log_init("test_tcp", getenv("TEST_TCP_DEBUG") ? LOG_LVL_DEBUG : LOG_LVL_WARN);
	read_wmem_max();
	for (i = 0; i < 2; i++) {
		int af = afs[i];

		test_handshake_and_refused(af);
		test_host_to_guest(af, 0, 8 << 20, 65535, 2);
		test_host_to_guest(af, 1500, 2 << 20, 20000, -1);
		test_guest_to_host(af, 0, 16 << 20, 0, false);
		test_guest_to_host(af, 1500, 4 << 20, 0, false);
		test_guest_to_host(af, 0, 16 << 20, 300, false);
		host_listen_maxseg = 1400;
		test_guest_to_host(af, 0, 4 << 20, 0, true);
		test_guest_to_host(af, 0, 4 << 20, 300, true);
		host_listen_maxseg = 0;
		test_guest_ignores_window(af);
		test_half_close_host_first(af);
		test_retransmit(af);
		test_malformed(af);
		/* A random initial sequence number each time. */
		for (int k = 0; k < 8; k++)
			test_inbound(af, NULL, NULL);
		test_inbound(af, af == AF_INET ? "192.0.2.77" : "2001:db8::77", NULL);
		test_inbound(af, NULL, af == AF_INET ? "198.51.100.7" : "2001:db8:7::7");
		test_dns_forward(af);
	}
	test_table_full();
	test_map_outbound_live();
	test_nat_outbound_rules();
	test_nat_inbound_rules();
	test_nat_bind_outbound();

	/* Again without SO_PEEK_OFF (kernels before 6.9): already-sent bytes are peeked into a
	 * discard buffer instead. */
	setenv("BPASST_TCP_NO_PEEK_OFF", "1", 1);
	for (i = 0; i < 2; i++) {
		test_host_to_guest(afs[i], 0, 8 << 20, 65535, 2);
		test_host_to_guest(afs[i], 1500, 2 << 20, 20000, -1);
		test_half_close_host_first(afs[i]);
		test_retransmit(afs[i]);
		test_inbound(afs[i], NULL, NULL);
	}
	unsetenv("BPASST_TCP_NO_PEEK_OFF");
	printf("test_tcp: %lu checks passed\n", checks);
	return 0;
}
