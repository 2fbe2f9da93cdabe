/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bpasst_bypass.h - map layouts of the loopback bypass (--bpf-bypass), shared by bpf/bypass.bpf.c,
 * loader/bypass.c and the daemon (user/io/bypass.c)
 *
 * Floor 0: fixed-width types only, a _Static_assert on every layout.
 *
 * What the bypass does (the whole protocol is in user/io/bypass.c's theory of operation): a TCP
 * connection through one of our loopback forwards has four sockets: the client's (C), ours that
 * accepted it (A), ours connected to the server (B), and the server's (S). The splice path moves
 * C->S bytes from A to B and back. With the bypass, a sock_ops program (attached to the root of
 * the cgroup v2 hierarchy) puts C and S themselves in a sockhash when they become established,
 * but only those two: C because the socket it connected to is one of our registered loopback
 * listeners (map bypass_listen), S because its exact 4-tuple was registered by the daemon just
 * before B connected (map bypass_expect). An sk_msg program then redirects what C sends straight
 * into S's receive queue and the other way round, once the daemon has allowed it for that
 * direction (map bypass_ctl), which it does only when no earlier byte of that direction is still
 * anywhere on the relay path. Redirected data skips A and B, the pipes and the daemon.
 *
 * Maps (defined in bpf/bypass.bpf.c, pinned in the instance's directory beside the tap maps):
 *   bypass_sockets   sockhash, struct bp_bypass_key -> C or S (the endpoints, never our A or B);
 *                    not pinned, so that a killed daemon's sockhash, and with it the sk_msg
 *                    program on every endpoint, goes with its descriptors
 *   bypass_listen    hash, struct bp_bypass_listen -> __u32 (1): our loopback listeners
 *   bypass_expect    hash, struct bp_bypass_key (S's key) -> __u32 flow id: the server endpoint
 *                    that our B is connecting to; created by the sock_ops program itself when B
 *                    becomes established (B's cookie is in bypass_expect_cookie; B's established
 *                    callback always runs before S's), deleted when S is inserted
 *   bypass_expect_cookie  hash, __u64 socket cookie of our B -> __u32 flow id: written by the
 *                    daemon before B connects (no bind() needed: a port chosen by connect() can be
 *                    reused while earlier connections sit in TIME_WAIT, one chosen by bind(0)
 *                    cannot); the program deletes it when it turns it into bypass_expect
 *   bypass_out       sockhash, struct bp_bypass_key (a SENDER endpoint's key) -> OUR socket
 *                    towards that sender's peer (C's key -> B, S's key -> A), inserted by the
 *                    daemon by descriptor; the target of egress redirects. No program is
 *                    attached to it; not pinned (like bypass_sockets)
 *   bypass_tailsock  sockhash, struct bp_bypass_key (a RECEIVING endpoint's key) -> OUR socket
 *                    towards it (C's key -> A, S's key -> B), inserted by the daemon by descriptor
 *                    when it first switches that tail on; its sk_msg program (bp_bypass_tail_msg)
 *                    redirects our own writes into the receiver's ingress queue. Not pinned
 *   bypass_tail      hash, struct bp_bypass_key (the receiver's key) -> struct bp_bypass_tail
 *                    (below): whether our writes towards it go into its ingress queue
 *   bypass_ends      hash, struct bp_bypass_key -> struct bp_bypass_end: one per endpoint in
 *                    bypass_sockets; written by the programs only (the daemon reads, and deletes
 *                    leftovers)
 *   bypass_ctl       hash, struct bp_bypass_key (the sender's key) -> struct bp_bypass_ctl:
 *                    written by the daemon only (the programs read)
 *   bypass_cookies   hash, __u64 socket cookie -> struct bp_bypass_key: lets the receive hook
 *                    find an endpoint from its struct sock
 *   bypass_counters  per-CPU array, 1 slot: struct bp_bypass_counters (programs)
 *   bypass_daemon    array, 1 slot: struct bp_bypass_daemon_stats (the daemon's side, written
 *                    once a second)
 *   bypass_instance  array, 1 slot: struct bp_instance (bpasst_maps.h), the owner of the pins,
 *                    for the stale-pin cleanup when the tap program's "instance" is not there
 */
#ifndef BPASST_BYPASS_H
#define BPASST_BYPASS_H

#include <linux/types.h>

/* An endpoint socket as it sees itself: its network namespace (bpf_get_netns_cookie(), the same
 * value as getsockopt(SO_NETNS_COOKIE) on any socket of that namespace) and its 4-tuple. IPv4:
 * the address in [0] in network byte order, [1..3] zero; IPv6: the 16 bytes in network order.
 * Ports in host byte order. family: AF_INET (2) or AF_INET6 (10). All padding zero: the whole
 * struct is the hash key. A socket whose local and remote addresses are both IPv4-mapped
 * (::ffff:a.b.c.d: a dual-stack AF_INET6 socket talking IPv4) is keyed as AF_INET with the
 * IPv4 addresses, the same key its peer's AF_INET socket would give; so the daemon can always
 * key an endpoint from what its own socket (A or B) sees. */
struct bp_bypass_key {
	__u64 netns_cookie;
	__u32 local_ip[4];
	__u32 remote_ip[4];
	__u16 local_port;
	__u16 remote_port;
	__u8 family;
	__u8 pad[3];
};
_Static_assert(sizeof(struct bp_bypass_key) == 48, "bp_bypass_key layout");

/* One of our loopback listeners (127.0.0.1 or ::1, a forwarded port) in a namespace: a socket
 * of that namespace that becomes established towards it is a client endpoint (C). */
struct bp_bypass_listen {
	__u64 netns_cookie;
	__u32 ip[4]; /* as in struct bp_bypass_key */
	__u16 port; /* host byte order */
	__u8 family;
	__u8 pad[5];
};
_Static_assert(sizeof(struct bp_bypass_listen) == 32, "bp_bypass_listen layout");

enum bp_bypass_role {
	BP_BYPASS_ROLE_CLIENT = 1, /* C: connected to our listener; sends the c2s direction */
	BP_BYPASS_ROLE_SERVER = 2, /* S: accepted our B's connection; sends the s2c direction */
};

/*
 * Where what an endpoint sends goes. The daemon's policy (user/io/bypass.c): with
 * --bpf-bypass (ingress) it grants only INGRESS, and a budget return goes back to RELAY, whose
 * TCP backpressure holds a sender whose receiver stalls; with --bpf-bypass=egress it grants only
 * EGRESS. The program itself follows any granted target. Order of a direction's bytes is kept across switches:
 *   RELAY -> EGRESS   needs every byte the sender passed to TCP written by the relay into our
 *                     socket towards the receiver (passed == allow, pipe empty): egress data is
 *                     queued behind it in the same socket.
 *   RELAY or EGRESS -> INGRESS  needs every earlier byte in the receiver's ingress queue or
 *                     read: either READ by the receiver (its TCP receive queue empty, our socket
 *                     towards it fully acknowledged, and the counts unchanged since the daemon
 *                     checked), since the receiver reads its ingress queue before its TCP queue;
 *                     or, with our relay's tail into the receiver on (struct bp_bypass_tail), the
 *                     RELAY -> EGRESS condition: what we relayed went into that ingress queue.
 *   INGRESS -> RELAY (budget) and INGRESS/EGRESS -> RELAY (a target missing) are always safe:
 *                     later bytes arrive through TCP, which the receiver reads after its ingress
 *                     queue, and behind what is already in our socket.
 */
enum bp_bypass_mode {
	BP_BYPASS_MODE_RELAY = 0, /* over TCP to our A or B, then the daemon's splice relay */
	BP_BYPASS_MODE_INGRESS = 1, /* straight into the peer endpoint's receive queue */
	BP_BYPASS_MODE_EGRESS = 2, /* into our socket towards the peer (bypass_out): the daemon and
				    * the pipes are skipped, the receiver's socket is untouched and
				    * TCP's backpressure holds */
};
#define BP_BYPASS_MODE_REDIRECT BP_BYPASS_MODE_INGRESS /* the first version's name */

/* Why a direction went back from redirect to relay (bp_bypass_end.last_return). */
enum bp_bypass_return {
	BP_BYPASS_RET_NONE = 0,
	BP_BYPASS_RET_BUDGET, /* the peer left too much redirected data unread */
	BP_BYPASS_RET_NO_PEER, /* the peer endpoint is not in bypass_sockets (closed) */
	BP_BYPASS_RET_NO_CTL, /* the daemon removed the control entry (connection ending) */
	BP_BYPASS_RET_STATE, /* the sender is not ESTABLISHED or CLOSE_WAIT */
	BP_BYPASS_RET_NO_OUT, /* egress: our socket towards the peer is not in bypass_out */
};

/* An endpoint, written by the programs only. The counters are cumulative since the socket
 * became established. */
struct bp_bypass_end {
	__u64 socket_cookie;
	__u64 passed; /* bytes this endpoint sent that went over TCP (mode relay) */
	__u64 redirected; /* bytes this endpoint sent that went to the peer's receive queue */
	__u64 egressed; /* bytes this endpoint sent that went into our socket towards the peer */
	__u64 ingress_read; /* redirected bytes this endpoint has read (receive hook; without it,
			     * its ingress_in at its peer's last hand-over) */
	__u64 ingress_in; /* bytes put into this endpoint's psock ingress queue, by its peer's
			   * INGRESS redirects and by our relay's tail (struct bp_bypass_tail):
			   * ingress_in - ingress_read is what it has not read yet */
	__u32 role; /* enum bp_bypass_role */
	__u32 mode; /* enum bp_bypass_mode */
	__u32 used_gen; /* bp_bypass_ctl.gen of the last permission used */
	__u32 handovers; /* switches to INGRESS or EGRESS granted by the daemon */
	__u32 returns; /* switches the program made by itself (budget, missing target) */
	__u32 last_return; /* enum bp_bypass_return */
};
_Static_assert(sizeof(struct bp_bypass_end) == 72, "bp_bypass_end layout");

/* What the daemon allows a sender, written by the daemon only. The program switches the
 * sender's direction to `target` at its next sendmsg when gen != end.used_gen,
 * end.passed == allow and end.egressed == allow_egressed (so a permission is used once, and never
 * after the sender sent more than the daemon had relayed, or seen consumed, when it wrote it).
 * In INGRESS mode it stays while peer's ingress_in - peer's ingress_read + the message <= budget;
 * past it, the direction goes back to RELAY. */
struct bp_bypass_ctl {
	struct bp_bypass_key peer; /* the other endpoint: where ingress redirects go */
	__u64 allow; /* end.passed the permission is for (bytes the relay carried) */
	__u64 allow_egressed; /* end.egressed the permission is for */
	__u64 budget; /* bytes redirected and still unread at the peer, at most */
	__u32 gen; /* bumped by the daemon at every permission; 0 = none given */
	__u32 flow_id; /* the daemon's connection (for bpftool readers) */
	__u32 target; /* enum bp_bypass_mode: INGRESS or EGRESS */
	__u32 pad;
};
_Static_assert(sizeof(struct bp_bypass_ctl) == 88, "bp_bypass_ctl layout");

/* Redirected bytes a receiver may be made to hold unread, per direction: the bound of the whole
 * bypass (the tail's budget). The sender's own INGRESS budget is half of it when the relay's
 * tails are used (user/io/bypass_grant.c), so that a sender back on the relay over its budget
 * finds the tail still on. 16 MiB: of the order of what TCP itself may hold on a relayed
 * connection's four sockets (tcp_rmem and tcp_wmem maxima: 6 + 4 MiB each, by default). */
#define BP_BYPASS_BUDGET_DEFAULT (16u << 20)

/*
 * The relay's tail into a receiver (map bypass_tail, keyed by the RECEIVING endpoint R's key; our
 * socket O towards R is in the sockhash bypass_tailsock under the same key, with its own sk_msg
 * program). A sender that never pauses rarely leaves a moment where every byte it sent has been
 * read by R, which a switch to INGRESS needs. So the hand-over of an ingress direction goes in two
 * steps. First our relay's own writes into O are redirected into R's ingress queue (the tail):
 * that needs every byte we wrote into O read by R, which the daemon can wait for, since it alone
 * writes into O and can pause between two writes. Then the sender may switch to INGRESS as soon
 * as our relay has written everything it passed (the same check as RELAY -> EGRESS): its bytes
 * queue behind ours in R's ingress queue. Written by the daemon to switch the tail on (mode
 * INGRESS); the program (bp_bypass_tail_msg) runs only inside the daemon's own writes into O, so
 * the two never race. Past the budget (shared with the sender's INGRESS: R's ingress_in -
 * ingress_read) or with R missing, the program sets mode RELAY and our writes go over TCP again,
 * which keeps order for a reader that is not blocked (R reads its ingress queue first); only the
 * daemon switches it on again. The daemon holds its relay before the budget is reached
 * (user/io/bypass_grant.c, bypass_hold()), so that check is a safety net.
 */
struct bp_bypass_tail {
	__u64 budget; /* unread bytes R may hold (daemon: its own hold limit plus a slack) */
	__u64 redirected; /* bytes our writes put into R's ingress queue (program) */
	__u32 mode; /* INGRESS: redirect our writes; RELAY: over TCP (both write it) */
	__u32 flow_id; /* the daemon's connection (for bpftool readers) */
	__u32 returns; /* switches back to RELAY the program made (program) */
	__u32 last_return; /* enum bp_bypass_return of the last one (program) */
};
_Static_assert(sizeof(struct bp_bypass_tail) == 32, "bp_bypass_tail layout");

/* Program counters (per-CPU array bypass_counters, summed by readers). c2s: client to server. */
enum bp_bypass_counter {
	BP_BYP_CNT_INSERT_CLIENT = 0, /* C put in bypass_sockets */
	BP_BYP_CNT_INSERT_SERVER, /* S put in bypass_sockets */
	BP_BYP_CNT_INSERT_FAILED, /* sock_hash_update or bypass_ends update failed */
	BP_BYP_CNT_HANDOVER_C2S, /* relay -> redirect switches */
	BP_BYP_CNT_HANDOVER_S2C,
	BP_BYP_CNT_BYTES_C2S, /* bytes redirected */
	BP_BYP_CNT_BYTES_S2C,
	BP_BYP_CNT_MSGS_REDIRECTED,
	BP_BYP_CNT_MSGS_RELAYED, /* sendmsg verdicts of endpoints that went over TCP */
	BP_BYP_CNT_RETURN_BUDGET, /* redirect -> relay, by reason */
	BP_BYP_CNT_RETURN_NO_PEER,
	BP_BYP_CNT_RETURN_NO_CTL,
	BP_BYP_CNT_RETURN_STATE,
	BP_BYP_CNT_ENDS_CLOSED, /* endpoint entries removed when their socket closed */
	BP_BYP_CNT_INGRESS_READ, /* bytes read from redirected data (receive hook) */
	BP_BYP_CNT_TO_EGRESS_C2S, /* switches to EGRESS (granted) */
	BP_BYP_CNT_TO_EGRESS_S2C,
	BP_BYP_CNT_EGRESS_BYTES_C2S, /* bytes sent through our socket by egress redirects */
	BP_BYP_CNT_EGRESS_BYTES_S2C,
	BP_BYP_CNT_RETURN_NO_OUT,
	BP_BYP_CNT_EXPECT_FROM_COOKIE, /* bypass_expect entries made at our B's establishment */
	BP_BYP_CNT_TAIL_BYTES, /* bytes our relay's writes put into receivers' ingress queues */
	BP_BYP_CNT_TAIL_RETURNS, /* tails back to TCP (budget, receiver missing, state) */
	BP_BYP_CNT_MAX,
};

struct bp_bypass_counters {
	__u64 insert_client;
	__u64 insert_server;
	__u64 insert_failed;
	__u64 handover_c2s;
	__u64 handover_s2c;
	__u64 bytes_c2s;
	__u64 bytes_s2c;
	__u64 msgs_redirected;
	__u64 msgs_relayed;
	__u64 return_budget;
	__u64 return_no_peer;
	__u64 return_no_ctl;
	__u64 return_state;
	__u64 ends_closed;
	__u64 ingress_read;
	__u64 to_egress_c2s;
	__u64 to_egress_s2c;
	__u64 egress_bytes_c2s;
	__u64 egress_bytes_s2c;
	__u64 return_no_out;
	__u64 expect_from_cookie;
	__u64 tail_bytes;
	__u64 tail_returns;
};
_Static_assert(sizeof(struct bp_bypass_counters) == BP_BYP_CNT_MAX * sizeof(__u64),
	       "one __u64 per bypass counter index");

/* The daemon's side (array bypass_daemon, 1 slot, rewritten at most once a second). */
struct bp_bypass_daemon_stats {
	__u64 conns_registered; /* spliced connections offered to the bypass */
	__u64 conns_both_ends; /* ... whose two endpoints were found in bypass_ends */
	__u64 conns_no_ends; /* ... whose endpoints were not (e.g. a process outside the cgroup) */
	__u64 attempts; /* hand-over attempts (one per direction per try) */
	__u64 granted; /* permissions written */
	__u64 postponed_pending; /* our pipe still held bytes of the direction */
	__u64 postponed_count; /* the sender had sent more than we relayed */
	__u64 postponed_outq; /* our socket towards the receiver had unacknowledged bytes */
	__u64 postponed_rqueue; /* the receiver had unread bytes (sock_diag) */
	__u64 postponed_diag; /* sock_diag failed or did not find the receiver */
	__u64 gave_up; /* directions left on the relay after too many attempts */
	__u64 bypassed_now; /* connections with at least one direction redirecting (gauge) */
	__u64 granted_egress; /* permissions written with target EGRESS */
	__u64 upgrades; /* EGRESS -> INGRESS permissions */
	__u64 relayed_c2s; /* bytes our splice relay carried, client to server, all connections
			    * offered to the bypass (exact: what went through the bypass is the
			    * rest; the programs' egress counts are upper bounds) */
	__u64 relayed_s2c;
	__u64 tails_on; /* tails switched on (our writes into the receiver's ingress queue) */
	__u64 tail_returned; /* tails found back on TCP by a later attempt (budget, ...) */
	__u64 postponed_unread; /* the receiver had over half the budget unread (redirected) */
	__u64 held; /* relay writes held back: the receiver at its budget, or unread ingress data
		     * that a write over TCP would overtake (user/io/bypass_grant.c) */
};
_Static_assert(sizeof(struct bp_bypass_daemon_stats) == 160, "bp_bypass_daemon_stats layout");

#endif /* BPASST_BYPASS_H */
