// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bypass.bpf.c - the loopback bypass (--bpf-bypass): sock_ops, sk_msg and a receive hook
 *
 * Four kinds of program over the maps of include/bpasst_bypass.h (layouts and protocol summary there;
 * the daemon's half of the protocol is in user/io/bypass.c). A forwarded connection has four
 * sockets: the client's C, our A (accepted C), our B (connected to the server), the server's S.
 *
 * bp_bypass_sockops (sock_ops, attached by the loader to the root of the cgroup v2 hierarchy
 * with a bpf_link): sees every TCP socket of the machine, and acts on three kinds only. At
 * ACTIVE_ESTABLISHED, a socket whose remote end is one of our registered loopback listeners
 * (bypass_listen) is a client endpoint C; a socket whose cookie the daemon registered
 * (bypass_expect_cookie) is our B: its reversed 4-tuple is the server endpoint's key, which goes
 * into bypass_expect (the cookie entry is consumed). B's callback runs in tcp_finish_connect(),
 * before B sends the final ACK of the handshake, so always before S's. At PASSIVE_ESTABLISHED, a
 * socket whose own 4-tuple is in bypass_expect is a server endpoint S, and the entry is consumed.
 * Anything else costs two hash lookups (one at PASSIVE_ESTABLISHED) and is left alone. An
 * endpoint goes into bypass_sockets, gets its bypass_ends entry (mode relay) and its
 * bypass_cookies entry, and asks for state callbacks; when it reaches TCP_CLOSE its two entries
 * go (the kernel removes it from the sockhashes by itself).
 *
 * bp_bypass_msg (sk_msg, attached to bypass_sockets): runs at each sendmsg of C or S, under the
 * sender's socket lock, and decides where the message goes (bp_bypass_end.mode):
 *   RELAY    SK_PASS: over TCP to our A or B, then the daemon's splice; counted in end.passed.
 *   INGRESS  bpf_msg_redirect_hash(BPF_F_INGRESS) into the peer endpoint's psock ingress queue,
 *            while the bytes redirected and not yet read by the peer stay within ctl.budget;
 *            counted in end.redirected.
 *   EGRESS   bpf_msg_redirect_hash(flags 0) into OUR socket towards the peer (bypass_out: C's
 *            key -> B, S's key -> A), which sends it over TCP: the daemon and its pipes are
 *            skipped, the receiver's socket is untouched, and B's send buffer gives the sender
 *            TCP's backpressure (the kernel pushes the message with tcp_sendmsg_locked() on B,
 *            waiting for B's memory, or returning a short count / EAGAIN to a non-blocking
 *            sender). Counted in end.egressed when offered: a non-blocking sender's bytes
 *            refused with EAGAIN and sent again are counted again, so egressed is an upper
 *            bound, not a byte count (the daemon's relayed counts are exact). Poll semantics
 *            differ: the sender's own send buffer stays empty, so while our socket is full a
 *            non-blocking sender is told EAGAIN although poll() says writable (it spins until
 *            the receiver reads). That is why EGRESS is only used with --bpf-bypass=egress.
 * Switches, and why each keeps the order of the direction's bytes:
 *   granted (RELAY, EGRESS or INGRESS -> ctl.target): when ctl.gen != end.used_gen (a permission
 *     is used once), end.passed == ctl.allow and end.egressed == ctl.allow_egressed (the sender
 *     sent nothing since the daemon checked) and the sender is ESTABLISHED or CLOSE_WAIT. The
 *     daemon grants EGRESS only when every passed byte is written into our socket towards the
 *     receiver (the egress bytes queue behind them in the same socket), and INGRESS only when
 *     every earlier byte has been read by the receiver (which reads its ingress queue before its
 *     TCP queue, so nothing earlier may still be waiting there).
 *   INGRESS -> RELAY (budget: the receiver left more than ctl.budget redirected bytes unread)
 *     and INGRESS or EGRESS -> RELAY (the peer, the control entry or our socket is missing, or the
 *     sender is shutting down): always safe: the later bytes go over TCP to A or B, then behind
 *     everything already in the receiver's queues, or behind the egress bytes already in our
 *     socket towards it (the relay writes into the same socket).
 * The verdict is always SK_PASS: SK_DROP (also what a failed redirect returns) would make every
 * later send on the socket fail with EACCES; a failed redirect sends the message over TCP.
 *
 * bp_bypass_tail_msg (sk_msg, attached to bypass_tailsock, which holds some of OUR sockets): runs
 * at each write of our relay into our socket O towards a receiving endpoint R (R's key is O's
 * reversed). While the daemon has R's tail on (bypass_tail, mode INGRESS) it redirects the write
 * into R's ingress queue, under the same budget as the sender's INGRESS (R.ingress_in -
 * R.ingress_read); past it, without R, or when O is shutting down, it sets the tail's mode to
 * RELAY and passes, for good until the daemon switches it on again (order: later bytes over TCP
 * are read after the ingress queue). It runs only inside the daemon's own sendmsg, so the daemon,
 * which writes the entry between two of its writes, never races it. The daemon switches a tail on
 * only when everything it wrote into O has been read by R, and the sender to INGRESS (with the
 * tail on) only when everything the sender passed went through our relay into that tail: the
 * sender's bytes then queue behind ours.
 *
 * The receive hook (optional, one of three programs, chosen by the loader): it tells the sender's
 * budget how much of what it redirected the peer has consumed (end.ingress_read).
 *   bp_bypass_read: fexit on __sk_msg_recvmsg, the kernel function that copies data out of a
 *     socket's psock ingress queue. Every such read passes it exactly once: tcp_bpf_recvmsg
 *     calls sk_msg_recvmsg, a wrapper around it, and tcp_bpf_recvmsg_parser calls it directly.
 *   bp_bypass_read5: fexit on sk_msg_recvmsg, for kernels before that split.
 *   bp_bypass_read_tp: the sock:sock_recv_length tracepoint, after every recvmsg, for kernels
 *     that refuse fexit programs (kernel 6.18 here: EPERM for fexit and LSM programs, lockdown
 *     in integrity mode) but allow BTF tracepoints. It derives the psock bytes from the
 *     socket's total reads minus what was consumed over TCP (tcp_sock fields, read with CO-RE,
 *     so no vmlinux.h is needed): tcp_bpf_recvmsg reads either queue per call, never both. It
 *     runs after the socket lock is released; its update only ever raises ingress_read.
 * A read that is a peek does not count.
 * Without the hook (read_tracking 0), the sender sets the peer's ingress_read to its own
 * redirected count at each hand-over to INGRESS: the daemon grants one only when everything of
 * that direction reached the receiver and was read, so the budget then counts from the
 * hand-over.
 *
 * State: only the maps. Each bypass_ends entry is written by programs running for its own
 * socket under that socket's lock (sock_ops at establishment and close, sk_msg at send, the
 * receive hook at read); the one exception is the hand-over without read tracking above.
 * Built against UAPI headers only: the fexit programs see their arguments as BTF-typed pointers
 * whatever this file declares, so an opaque struct sock is enough.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>

#include "bpasst_bypass.h"
#include "bpasst_maps.h"

char LICENSE[] SEC("license") = "GPL";

#define BP_AF_INET 2
#define BP_AF_INET6 10
#define BP_MSG_PEEK 2

/* Default sizes for 4096 connections; the loader resizes everything before loading. */
#define BP_BYPASS_ENDS_DEFAULT 8192
#define BP_BYPASS_LISTEN_MAX 131072 /* every port, both families; not preallocated */

/* bypass_sockets: the endpoints (C and S, never our own A and B) by their own key. Filled by
 * bp_bypass_sockops; the target of bp_bypass_msg's redirects; the kernel drops a socket from it
 * when it closes. The daemon deletes leftovers (bp_bypass_end_del). */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, BP_BYPASS_ENDS_DEFAULT);
	__type(key, struct bp_bypass_key);
	__type(value, __u64);
} bypass_sockets SEC(".maps");

/* bypass_listen: our loopback listeners per namespace (written by the daemon, read by
 * bp_bypass_sockops at ACTIVE_ESTABLISHED). Not preallocated: rarely written, possibly large. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BP_BYPASS_LISTEN_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct bp_bypass_listen);
	__type(value, __u32);
} bypass_listen SEC(".maps");

/* bypass_expect: the servers our B sockets are connecting to, by S's own key, value the daemon's
 * flow id (written by bp_bypass_sockops at B's establishment, or by the daemon; consumed by
 * bp_bypass_sockops at S's PASSIVE_ESTABLISHED). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BP_BYPASS_ENDS_DEFAULT / 2);
	__type(key, struct bp_bypass_key);
	__type(value, __u32);
} bypass_expect SEC(".maps");

/* bypass_expect_cookie: our B sockets about to connect, by socket cookie, value the daemon's
 * flow id (written by the daemon before connect(); consumed by bp_bypass_sockops at B's
 * ACTIVE_ESTABLISHED, which turns it into S's bypass_expect entry). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BP_BYPASS_ENDS_DEFAULT / 2);
	__type(key, __u64);
	__type(value, __u32);
} bypass_expect_cookie SEC(".maps");

/* bypass_out: per sending endpoint's key, OUR socket towards its peer (C's key -> B, S's key ->
 * A), inserted by the daemon; the target of egress redirects. No program is attached to it
 * (its sockets get tcp_bpf's base proto: only recvmsg changes, and only reads psock data first,
 * of which they have none). Not pinned. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, BP_BYPASS_ENDS_DEFAULT);
	__type(key, struct bp_bypass_key);
	__type(value, __u64);
} bypass_out SEC(".maps");

/* bypass_tailsock: per RECEIVING endpoint's key, OUR socket towards it (C's key -> A, S's key ->
 * B), inserted by the daemon when it first switches that tail on; bp_bypass_tail_msg is attached
 * to it and runs at each of our writes into those sockets. Not pinned. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, BP_BYPASS_ENDS_DEFAULT);
	__type(key, struct bp_bypass_key);
	__type(value, __u64);
} bypass_tailsock SEC(".maps");

/* bypass_tail: per receiving endpoint's key, whether our writes towards it go into its ingress
 * queue (struct bp_bypass_tail: switched on by the daemon, back off by bp_bypass_tail_msg). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BP_BYPASS_ENDS_DEFAULT);
	__type(key, struct bp_bypass_key);
	__type(value, struct bp_bypass_tail);
} bypass_tail SEC(".maps");

/* bypass_ends: one entry per endpoint in bypass_sockets: its mode and byte counts (written by the
 * programs of that endpoint's socket; read by the daemon, by the peer's bp_bypass_msg and by
 * bpftool). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BP_BYPASS_ENDS_DEFAULT);
	__type(key, struct bp_bypass_key);
	__type(value, struct bp_bypass_end);
} bypass_ends SEC(".maps");

/* bypass_ctl: the daemon's permission and budget per sending endpoint (written by the daemon
 * only, read by bp_bypass_msg). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BP_BYPASS_ENDS_DEFAULT);
	__type(key, struct bp_bypass_key);
	__type(value, struct bp_bypass_ctl);
} bypass_ctl SEC(".maps");

/* bypass_cookies: socket cookie -> the endpoint's key, for the receive hook and the close
 * callback, which start from a struct sock (written by bp_bypass_sockops). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BP_BYPASS_ENDS_DEFAULT);
	__type(key, __u64);
	__type(value, struct bp_bypass_key);
} bypass_cookies SEC(".maps");

/* bypass_counters: what the programs did, one slot per CPU (summed by readers). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bp_bypass_counters);
} bypass_counters SEC(".maps");

/* bypass_daemon: the daemon's own counters (written by the daemon once a second, for bpftool;
 * never touched by the programs). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bp_bypass_daemon_stats);
} bypass_daemon SEC(".maps");

/* bypass_instance: the process owning these pins (written once by the loader, read by the next
 * loader's stale-pin cleanup when the tap program's "instance" map is not there). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bp_instance);
} bypass_instance SEC(".maps");

/* bypass_readsum: per endpoint socket (by cookie), every byte it read, from either queue (not
 * peeks): the tracepoint variant of the receive hook derives ingress_read from it. Created at
 * the first read, removed at close. Program-internal: not pinned. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BP_BYPASS_ENDS_DEFAULT);
	__type(key, __u64);
	__type(value, __u64);
} bypass_readsum SEC(".maps");

/* Set by the loader once the receive hook is attached. */
volatile __u32 read_tracking;

struct sock; /* opaque: only passed on to helpers */

/* The fields of the kernel's struct tcp_sock the tracepoint variant reads, relocated by libbpf
 * against the running kernel's BTF (CO-RE): no vmlinux.h needed. */
struct tcp_sock___bp {
	__u64 bytes_received; /* in-order bytes received over TCP since the connection began */
	__u32 rcv_nxt;
	__u32 copied_seq; /* first byte not yet read by the application */
} __attribute__((preserve_access_index));

static __always_inline void bp_byp_count(enum bp_bypass_counter idx, __u64 n)
{
	__u32 key = 0;
	__u64 *slot;

	if ((unsigned int)idx >= BP_BYP_CNT_MAX)
		return;
	slot = bpf_map_lookup_elem(&bypass_counters, &key);
	if (slot)
		slot[idx] += n;
}

/* ::ffff:a.b.c.d? */
static __always_inline int bp_v4mapped(__u32 w0, __u32 w1, __u32 w2)
{
	return w0 == 0 && w1 == 0 && w2 == bpf_htonl(0x0000ffff);
}

/* One 32-bit word of a context field. Volatile so that clang never merges two adjacent words
 * into one 64-bit load, which the verifier refuses on sock_ops and sk_msg contexts. */
#define BP_CTX_U32(field) (*(volatile __u32 *)&(field))

/* Fill the addresses of a key from a context's (sock_ops or sk_msg: same field names) family
 * and addresses. An IPv4-mapped IPv6 socket (a dual-stack socket talking IPv4) is keyed as
 * AF_INET with the IPv4 addresses: that is how the daemon sees it from its own end. 0, or -1
 * for another family. */
#define BP_KEY_ADDRS(key, ctx)                                                                     \
	({                                                                                         \
		int ret_ = 0;                                                                      \
		__u32 fam_ = (ctx)->family;                                                        \
		if (fam_ == BP_AF_INET) {                                                          \
			(key)->family = BP_AF_INET;                                                \
			(key)->local_ip[0] = BP_CTX_U32((ctx)->local_ip4);                         \
			(key)->remote_ip[0] = BP_CTX_U32((ctx)->remote_ip4);                       \
		} else if (fam_ == BP_AF_INET6) {                                                  \
			__u32 l0_ = BP_CTX_U32((ctx)->local_ip6[0]);                               \
			__u32 l1_ = BP_CTX_U32((ctx)->local_ip6[1]);                               \
			__u32 l2_ = BP_CTX_U32((ctx)->local_ip6[2]);                               \
			__u32 l3_ = BP_CTX_U32((ctx)->local_ip6[3]);                               \
			__u32 r0_ = BP_CTX_U32((ctx)->remote_ip6[0]);                              \
			__u32 r1_ = BP_CTX_U32((ctx)->remote_ip6[1]);                              \
			__u32 r2_ = BP_CTX_U32((ctx)->remote_ip6[2]);                              \
			__u32 r3_ = BP_CTX_U32((ctx)->remote_ip6[3]);                              \
			if (bp_v4mapped(l0_, l1_, l2_) && bp_v4mapped(r0_, r1_, r2_)) {            \
				(key)->family = BP_AF_INET;                                        \
				(key)->local_ip[0] = l3_;                                          \
				(key)->remote_ip[0] = r3_;                                         \
			} else {                                                                   \
				(key)->family = BP_AF_INET6;                                       \
				(key)->local_ip[0] = l0_;                                          \
				(key)->local_ip[1] = l1_;                                          \
				(key)->local_ip[2] = l2_;                                          \
				(key)->local_ip[3] = l3_;                                          \
				(key)->remote_ip[0] = r0_;                                         \
				(key)->remote_ip[1] = r1_;                                         \
				(key)->remote_ip[2] = r2_;                                         \
				(key)->remote_ip[3] = r3_;                                         \
			}                                                                          \
		} else {                                                                           \
			ret_ = -1;                                                                 \
		}                                                                                  \
		ret_;                                                                              \
	})

/* The key of the socket behind a sock_ops or sk_msg context: local_port is in host order,
 * remote_port in network order in the upper 16 bits of the field on little-endian machines
 * (the kernel loads the 16-bit skc_dport and shifts it), so bpf_ntohl() gives the port. */
#define BP_KEY_FILL(key, ctx)                                                                      \
	({                                                                                         \
		__builtin_memset((key), 0, sizeof(*(key)));                                        \
		(key)->netns_cookie = bpf_get_netns_cookie(ctx);                                   \
		(key)->local_port = (__u16)BP_CTX_U32((ctx)->local_port);                          \
		(key)->remote_port = (__u16)bpf_ntohl(BP_CTX_U32((ctx)->remote_port));             \
		BP_KEY_ADDRS(key, ctx);                                                            \
	})

/* ---- sock_ops: insertion of endpoints, removal at close ---- */

static __always_inline void bp_end_insert(struct bpf_sock_ops *skops, struct bp_bypass_key *key,
					  __u32 role)
{
	struct bp_bypass_end end = {};
	__u64 cookie;

	if (bpf_sock_hash_update(skops, &bypass_sockets, key, BPF_NOEXIST)) {
		bp_byp_count(BP_BYP_CNT_INSERT_FAILED, 1);
		return;
	}
	cookie = bpf_get_socket_cookie(skops);
	end.socket_cookie = cookie;
	end.role = role;
	end.mode = BP_BYPASS_MODE_RELAY;
	if (bpf_map_update_elem(&bypass_ends, key, &end, BPF_ANY)) {
		bpf_map_delete_elem(&bypass_sockets, key);
		bp_byp_count(BP_BYP_CNT_INSERT_FAILED, 1);
		return;
	}
	if (bpf_map_update_elem(&bypass_cookies, &cookie, key, BPF_ANY)) {
		bpf_map_delete_elem(&bypass_ends, key);
		bpf_map_delete_elem(&bypass_sockets, key);
		bp_byp_count(BP_BYP_CNT_INSERT_FAILED, 1);
		return;
	}
	bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
	bp_byp_count(role == BP_BYPASS_ROLE_CLIENT ? BP_BYP_CNT_INSERT_CLIENT
						   : BP_BYP_CNT_INSERT_SERVER,
		     1);
}

/* The key of the other end of the connection of the socket keyed k (same namespace: loopback). */
static __always_inline void bp_key_reverse(struct bp_bypass_key *out, const struct bp_bypass_key *k)
{
	__builtin_memset(out, 0, sizeof(*out));
	out->netns_cookie = k->netns_cookie;
	__builtin_memcpy(out->local_ip, k->remote_ip, sizeof(out->local_ip));
	__builtin_memcpy(out->remote_ip, k->local_ip, sizeof(out->remote_ip));
	out->local_port = k->remote_port;
	out->remote_port = k->local_port;
	out->family = k->family;
}

/* Our B became established and its cookie was registered: expect its server endpoint. B asks
 * for state callbacks so that, should S never become established (a reset handshake), the
 * expectation goes when B closes. */
static __always_inline void bp_expect_from_cookie(struct bpf_sock_ops *skops,
						  const struct bp_bypass_key *key)
{
	struct bp_bypass_key skey;
	__u64 cookie = bpf_get_socket_cookie(skops);
	__u32 *flow;

	flow = bpf_map_lookup_elem(&bypass_expect_cookie, &cookie);
	if (!flow)
		return;
	bp_key_reverse(&skey, key);
	if (bpf_map_update_elem(&bypass_expect, &skey, flow, BPF_ANY)) {
		bp_byp_count(BP_BYP_CNT_INSERT_FAILED, 1);
	} else {
		bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags |
							 BPF_SOCK_OPS_STATE_CB_FLAG);
		bp_byp_count(BP_BYP_CNT_EXPECT_FROM_COOKIE, 1);
	}
	bpf_map_delete_elem(&bypass_expect_cookie, &cookie);
}

static __always_inline void bp_end_closed(struct bpf_sock_ops *skops)
{
	struct bp_bypass_key *key, bkey, skey;
	struct bp_bypass_end *end;
	__u64 cookie = bpf_get_socket_cookie(skops);

	bpf_map_delete_elem(&bypass_readsum, &cookie);
	key = bpf_map_lookup_elem(&bypass_cookies, &cookie);
	if (!key) {
		/* Not an endpoint: one of our B (the only other sockets that ask for state
		 * callbacks). Its server's expectation, if S never consumed it. */
		if (BP_KEY_FILL(&bkey, skops))
			return;
		bp_key_reverse(&skey, &bkey);
		bpf_map_delete_elem(&bypass_expect, &skey);
		return;
	}
	end = bpf_map_lookup_elem(&bypass_ends, key);
	/* Only our own entry: the daemon may have removed it, and a new socket reused the key. */
	if (end && end->socket_cookie == cookie)
		bpf_map_delete_elem(&bypass_ends, key);
	bpf_map_delete_elem(&bypass_cookies, &cookie);
	bp_byp_count(BP_BYP_CNT_ENDS_CLOSED, 1);
}

SEC("sockops")
int bp_bypass_sockops(struct bpf_sock_ops *skops)
{
	struct bp_bypass_listen lkey;
	struct bp_bypass_key key;
	__u32 op = skops->op;

	if (op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB) {
		if (BP_KEY_FILL(&key, skops))
			return 1;
		__builtin_memset(&lkey, 0, sizeof(lkey));
		lkey.netns_cookie = key.netns_cookie;
		__builtin_memcpy(lkey.ip, key.remote_ip, sizeof(lkey.ip));
		lkey.port = key.remote_port;
		lkey.family = key.family;
		if (bpf_map_lookup_elem(&bypass_listen, &lkey))
			bp_end_insert(skops, &key, BP_BYPASS_ROLE_CLIENT);
		bp_expect_from_cookie(skops, &key);
	} else if (op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB) {
		if (BP_KEY_FILL(&key, skops))
			return 1;
		if (bpf_map_lookup_elem(&bypass_expect, &key)) {
			bp_end_insert(skops, &key, BP_BYPASS_ROLE_SERVER);
			bpf_map_delete_elem(&bypass_expect, &key);
		}
	} else if (op == BPF_SOCK_OPS_STATE_CB) {
		if (skops->args[1] == BPF_TCP_CLOSE)
			bp_end_closed(skops);
	}
	return 1;
}

/* ---- sk_msg: relay, ingress or egress, per sendmsg ---- */

static __always_inline int bp_sendable(struct sk_msg_md *msg)
{
	struct bpf_sock *sk = msg->sk;
	__u32 state;

	if (!sk)
		return 0;
	state = sk->state;
	return state == BPF_TCP_ESTABLISHED || state == BPF_TCP_CLOSE_WAIT;
}

static __always_inline void bp_count_return(__u32 reason)
{
	switch (reason) {
	case BP_BYPASS_RET_BUDGET:
		bp_byp_count(BP_BYP_CNT_RETURN_BUDGET, 1);
		break;
	case BP_BYPASS_RET_NO_PEER:
		bp_byp_count(BP_BYP_CNT_RETURN_NO_PEER, 1);
		break;
	case BP_BYPASS_RET_NO_CTL:
		bp_byp_count(BP_BYP_CNT_RETURN_NO_CTL, 1);
		break;
	case BP_BYPASS_RET_NO_OUT:
		bp_byp_count(BP_BYP_CNT_RETURN_NO_OUT, 1);
		break;
	default:
		bp_byp_count(BP_BYP_CNT_RETURN_STATE, 1);
		break;
	}
}

/* Back to relay: this message (and the next ones) go over TCP. */
static __always_inline int bp_return(struct bp_bypass_end *end, __u32 reason, __u32 size)
{
	end->mode = BP_BYPASS_MODE_RELAY;
	end->returns++;
	end->last_return = reason;
	__sync_fetch_and_add(&end->passed, size);
	bp_count_return(reason);
	bp_byp_count(BP_BYP_CNT_MSGS_RELAYED, 1);
	return SK_PASS;
}

static __always_inline void bp_count_to_egress(const struct bp_bypass_end *end)
{
	bp_byp_count(end->role == BP_BYPASS_ROLE_CLIENT ? BP_BYP_CNT_TO_EGRESS_C2S
							: BP_BYP_CNT_TO_EGRESS_S2C,
		     1);
}

/* A permission of the daemon, if it is new and for exactly what was sent so far: switch. */
static __always_inline void bp_maybe_switch(struct sk_msg_md *msg, struct bp_bypass_end *end,
					    const struct bp_bypass_ctl *ctl)
{
	struct bp_bypass_end *peer;
	__u32 target = ctl->target;

	if (ctl->gen == end->used_gen || end->passed != ctl->allow ||
	    end->egressed != ctl->allow_egressed || !bp_sendable(msg))
		return;
	if (target != BP_BYPASS_MODE_INGRESS && target != BP_BYPASS_MODE_EGRESS)
		return;
	end->used_gen = ctl->gen;
	end->mode = target;
	end->handovers++;
	if (target == BP_BYPASS_MODE_EGRESS) {
		bp_count_to_egress(end);
		return;
	}
	bp_byp_count(end->role == BP_BYPASS_ROLE_CLIENT ? BP_BYP_CNT_HANDOVER_C2S
							: BP_BYP_CNT_HANDOVER_S2C,
		     1);
	/* Without read tracking, everything redirected before this hand-over is known to be
	 * read (see the top of the file): the budget counts from here. */
	if (!read_tracking) {
		peer = bpf_map_lookup_elem(&bypass_ends, &ctl->peer);
		if (peer)
			peer->ingress_read = peer->ingress_in;
	}
}

/* Into our socket towards the peer; RELAY if it is not in bypass_out. */
static __always_inline int bp_egress(struct sk_msg_md *msg, struct bp_bypass_end *end,
				     struct bp_bypass_key *key, __u32 size)
{
	long ret = bpf_msg_redirect_hash(msg, &bypass_out, key, 0);

	if (ret != SK_PASS)
		return bp_return(end, BP_BYPASS_RET_NO_OUT, size); /* never SK_DROP: sticky */
	__sync_fetch_and_add(&end->egressed, size);
	bp_byp_count(end->role == BP_BYPASS_ROLE_CLIENT ? BP_BYP_CNT_EGRESS_BYTES_C2S
							: BP_BYP_CNT_EGRESS_BYTES_S2C,
		     size);
	bp_byp_count(BP_BYP_CNT_MSGS_REDIRECTED, 1);
	return SK_PASS;
}

SEC("sk_msg")
int bp_bypass_msg(struct sk_msg_md *msg)
{
	struct bp_bypass_end *end, *peer;
	struct bp_bypass_ctl *ctl;
	struct bp_bypass_key key;
	__u32 size = msg->size;
	__u64 unread;
	long ret;

	if (BP_KEY_FILL(&key, msg))
		return SK_PASS;
	end = bpf_map_lookup_elem(&bypass_ends, &key);
	if (!end)
		return SK_PASS;
	ctl = bpf_map_lookup_elem(&bypass_ctl, &key);
	if (ctl)
		bp_maybe_switch(msg, end, ctl);

	if (end->mode == BP_BYPASS_MODE_RELAY) {
		__sync_fetch_and_add(&end->passed, size);
		bp_byp_count(BP_BYP_CNT_MSGS_RELAYED, 1);
		return SK_PASS;
	}
	if (!ctl)
		return bp_return(end, BP_BYPASS_RET_NO_CTL, size);
	if (!bp_sendable(msg))
		return bp_return(end, BP_BYPASS_RET_STATE, size);
	if (end->mode == BP_BYPASS_MODE_EGRESS)
		return bp_egress(msg, end, &key, size);

	/* INGRESS */
	peer = bpf_map_lookup_elem(&bypass_ends, &ctl->peer);
	if (!peer)
		return bp_return(end, BP_BYPASS_RET_NO_PEER, size);
	unread = peer->ingress_in - peer->ingress_read;
	/* Over budget: back to the relay, whose TCP backpressure holds the sender until the
	 * receiver reads (order: see the top). Not to EGRESS: there a stalled non-blocking sender
	 * is told EAGAIN while poll() says writable, and spins. */
	if (unread + size > ctl->budget)
		return bp_return(end, BP_BYPASS_RET_BUDGET, size);
	ret = bpf_msg_redirect_hash(msg, &bypass_sockets, &ctl->peer, BPF_F_INGRESS);
	if (ret != SK_PASS)
		return bp_return(end, BP_BYPASS_RET_NO_PEER, size); /* never SK_DROP: sticky */
	__sync_fetch_and_add(&end->redirected, size);
	__sync_fetch_and_add(&peer->ingress_in, size);
	bp_byp_count(end->role == BP_BYPASS_ROLE_CLIENT ? BP_BYP_CNT_BYTES_C2S
							: BP_BYP_CNT_BYTES_S2C,
		     size);
	bp_byp_count(BP_BYP_CNT_MSGS_REDIRECTED, 1);
	return SK_PASS;
}

/* ---- sk_msg on our own sockets: the relay's tail into a receiver ---- */

/* Back to TCP for our writes towards the receiver, until the daemon switches the tail on again. */
static __always_inline int bp_tail_return(struct bp_bypass_tail *tail, __u32 reason)
{
	tail->mode = BP_BYPASS_MODE_RELAY;
	tail->returns++;
	tail->last_return = reason;
	bp_byp_count(BP_BYP_CNT_TAIL_RETURNS, 1);
	return SK_PASS;
}

SEC("sk_msg")
int bp_bypass_tail_msg(struct sk_msg_md *msg)
{
	struct bp_bypass_key ours, receiver;
	struct bp_bypass_tail *tail;
	struct bp_bypass_end *peer;
	__u32 size = msg->size;
	long ret;

	if (BP_KEY_FILL(&ours, msg))
		return SK_PASS;
	bp_key_reverse(&receiver, &ours); /* loopback: the receiver is in our namespace */
	tail = bpf_map_lookup_elem(&bypass_tail, &receiver);
	if (!tail || tail->mode != BP_BYPASS_MODE_INGRESS)
		return SK_PASS;
	if (!bp_sendable(msg))
		return bp_tail_return(tail, BP_BYPASS_RET_STATE);
	peer = bpf_map_lookup_elem(&bypass_ends, &receiver);
	if (!peer)
		return bp_tail_return(tail, BP_BYPASS_RET_NO_PEER);
	if (peer->ingress_in - peer->ingress_read + size > tail->budget)
		return bp_tail_return(tail, BP_BYPASS_RET_BUDGET);
	ret = bpf_msg_redirect_hash(msg, &bypass_sockets, &receiver, BPF_F_INGRESS);
	if (ret != SK_PASS)
		return bp_tail_return(tail, BP_BYPASS_RET_NO_PEER); /* never SK_DROP: sticky */
	__sync_fetch_and_add(&peer->ingress_in, size);
	tail->redirected += size;
	bp_byp_count(BP_BYP_CNT_TAIL_BYTES, size);
	return SK_PASS;
}

/* ---- Receive hook: redirected bytes read by an endpoint ---- */

/* The endpoint entry of socket sk with its cookie, or NULL (not one of ours: one lookup). */
static __always_inline struct bp_bypass_end *bp_end_of(struct sock *sk, __u64 *cookie)
{
	struct bp_bypass_key *key;
	struct bp_bypass_end *end;

	*cookie = bpf_get_socket_cookie(sk);
	key = bpf_map_lookup_elem(&bypass_cookies, cookie);
	if (!key)
		return NULL;
	end = bpf_map_lookup_elem(&bypass_ends, key);
	if (!end || end->socket_cookie != *cookie)
		return NULL;
	return end;
}

/* fexit variants: copied is exactly what came out of the psock ingress queue. */
static __always_inline void bp_read_psock(struct sock *sk, int flags, int copied)
{
	struct bp_bypass_end *end;
	__u64 cookie;

	if (copied <= 0 || (flags & BP_MSG_PEEK))
		return;
	end = bp_end_of(sk, &cookie);
	if (!end)
		return;
	__sync_fetch_and_add(&end->ingress_read, (__u64)copied);
	bp_byp_count(BP_BYP_CNT_INGRESS_READ, (__u64)copied);
}

SEC("fexit/__sk_msg_recvmsg")
int BPF_PROG(bp_bypass_read, struct sock *sk, void *psock, void *msg, int len, int flags,
	     int *copied_from_self, int ret)
{
	bp_read_psock(sk, flags, ret);
	return 0;
}

SEC("fexit/sk_msg_recvmsg")
int BPF_PROG(bp_bypass_read5, struct sock *sk, void *psock, void *msg, int len, int flags, int ret)
{
	bp_read_psock(sk, flags, ret);
	return 0;
}

/* Tracepoint variant (sock:sock_recv_length, after every recvmsg of a socket): ret counts bytes
 * from either queue. What the application consumed over TCP is bytes_received - (rcv_nxt -
 * copied_seq); everything else it read came from the psock ingress queue, i.e. was redirected. */
SEC("tp_btf/sock_recv_length")
int BPF_PROG(bp_bypass_read_tp, struct sock *sk, int ret, int flags)
{
	struct tcp_sock___bp *tp;
	struct bp_bypass_end *end;
	__u64 cookie, *sum, total, tcp_read, psock_read;

	if (ret <= 0 || (flags & BP_MSG_PEEK))
		return 0;
	end = bp_end_of(sk, &cookie);
	if (!end)
		return 0;
	tp = (struct tcp_sock___bp *)bpf_skc_to_tcp_sock(sk);
	if (!tp)
		return 0;
	sum = bpf_map_lookup_elem(&bypass_readsum, &cookie);
	if (sum) {
		total = __sync_fetch_and_add(sum, (__u64)ret) + (__u64)ret;
	} else {
		total = (__u64)ret;
		bpf_map_update_elem(&bypass_readsum, &cookie, &total, BPF_NOEXIST);
	}
	tcp_read = tp->bytes_received - (__u32)(tp->rcv_nxt - tp->copied_seq);
	if (total < tcp_read)
		return 0;
	psock_read = total - tcp_read;
	if (psock_read > end->ingress_read) {
		bp_byp_count(BP_BYP_CNT_INGRESS_READ, psock_read - end->ingress_read);
		end->ingress_read = psock_read;
	}
	return 0;
}
