# SPDX-License-Identifier: GPL-2.0-or-later
"""benchlib.lofwd: the loopback-forward group (issue 7): through a -t forward on host loopback.

A client in the host namespace connects to 127.0.0.1:PORT, pasta forwards it (-t) to a server on
the namespace's 127.0.0.1; the same client and server run for every implementation:

  direct         no forwarder: client and server in one namespace on 127.0.0.1 (the reference);
  bpasst-bypass  bpasst as root with --bpf-bypass (the data of an established connection moves
                 in the kernel, sockmap/sk_msg, straight into the peer endpoint's receive queue:
                 INGRESS; a receiver that leaves more than the budget unread sends its peer back
                 to the splice relay, whose TCP backpressure holds it, until it caught up);
  bpasst-bypass-egress  the same with --bpf-bypass=egress: EGRESS only (into the daemon's own
                 socket towards the peer: the receiver's socket keeps its full semantics; a
                 non-blocking sender whose receiver stalls spins, a documented limitation);
  bpasst         bpasst without it (as bpasst-test): the splice path;
  bpasst-root    the same as root, when asked for (--impls +bpasst-root);
  debian-pasta   Debian's /usr/bin/pasta (its splice path).

Rows (bench "lofwd"), all IPv4:

  throughput     iperf3 -t S, one stream, server bound to 127.0.0.1, host -> namespace and
                 namespace -> host (-R): received rate, and the forwarder's CPU (% of one CPU);
  64 B rr        BUILD/tests/bench/tcp_rr rr: 64-byte request/response on one connection
                 (TCP_NODELAY, COUNT round trips after COUNT/10 of warm-up, C client and epoll
                 echo server), median and p99 in us, median of RR_RUNS runs; scheduled freely,
                 and with client, server and forwarder pinned to CPU 0 ("one CPU");
  connections    tcp_rr crr: connect, 1-byte request/response, shutdown, wait for the server's
                 close, close; 8 in flight (one epoll thread), for CRR_TIME s (bounded by a count
                 too); completed connections per second, median of RR_RUNS runs, and failures.
                 net.ipv4.ip_local_port_range is widened to 10000-65000 in the namespaces where
                 connections are opened (client and forwarder), so TIME_WAIT does not run out of
                 ports; the same for every implementation.

The bypass's figures are its own or none: when the bypass did not start (the daemon printed
"BPF bypass: off: <reason>", refused the option, or said nothing) every row of that bypass
variant is n/a with that reason.  When it did, two of its pinned maps (in the directory that the
"BPF bypass: on (..., maps in DIR)" line names, read with bpftool) are read around each
throughput and rr measurement: bypass_daemon, the daemon's statistics, whose relayed_c2s and
relayed_s2c count exactly the bytes its splice relay carried (the daemon rewrites that map once
a second when it changed, so the reading after a measurement is taken once it went
DAEMON_STILL s without a change), and bypass_counters, the programs' counters.  The share of the
bytes moved (throughput: what iperf3 sent, the larger of sent and received, its control
connection's few kilobytes left out and so counted as relayed; rr: (COUNT + warm-up) x 64 B x 2
per run) that did not go through the relay is reported as "bypassed" (%),
the same way for both variants, and a figure below BYPASS_MIN_SHARE % is replaced by n/a with
the reason (it would be the splice path's).  The programs' counters check the policy: with
--bpf-bypass the daemon grants INGRESS only (into the receiver's queue; over the budget back to
the relay), with --bpf-bypass=egress EGRESS only (into the daemon's own socket towards the
receiver); a variant whose programs switched to the other target has its figures n/a too.  They
are not used for the share: the egress byte counts are upper bounds (resent bytes count again).
Connection-rate rows need the bypass on only: they measure what its set-up costs short
connections.

Targets (issue 7): bypass throughput >= 2x direct (both directions); bypass median latency <=
direct (free and one CPU); bpasst without the bypass >= Debian's pasta on every throughput,
latency and connection-rate row; connections per second with the bypass >= 0.8x without.  A
target whose row is n/a is reported n/a with the reason, and is not met.  "bypass" in the
targets is bpasst-bypass; the egress variant's ratios (against direct and bpasst) are printed in
the table without a target.
"""

import json
import os
import statistics
import subprocess
import time

from benchlib.common import (PORT_FWD_CRR, PORT_FWD_IPERF, PORT_FWD_RR, BenchSkip, log, na_row,
                             row, run_in, set_affinity, wait_listening)
from benchlib.measure import iperf

BENCH = "lofwd"
IMPLS = ["direct", "bpasst-bypass", "bpasst-bypass-egress", "bpasst", "bpasst-root",
         "debian-pasta"]
BYPASS = "bpasst-bypass"
BYPASS_EGRESS = "bpasst-bypass-egress"
BYPASS_IMPLS = (BYPASS, BYPASS_EGRESS)
BYPASS_MIN_SHARE = 50  # % of the bytes moved that the bypass must have carried
RR_SIZE = 64
CRR_PARALLEL = 8
CRR_MAX_COUNT = 2000000
PORT_RANGE = "10000 65000"

CASE_TPUT = {False: "throughput host -> namespace", True: "throughput namespace -> host"}
CASE_RR = {False: "64 B request/response", True: "64 B request/response, one CPU"}
CASE_CRR = "connections, 1 B request/response"

# struct bp_bypass_counters (include/bpasst_bypass.h), in order: one little-endian __u64 each.
# A daemon built before the EGRESS mode has the first 15 only; the others then read 0.
BYPASS_COUNTERS = ("insert_client", "insert_server", "insert_failed", "handover_c2s",
                   "handover_s2c", "bytes_c2s", "bytes_s2c", "msgs_redirected", "msgs_relayed",
                   "return_budget", "return_no_peer", "return_no_ctl", "return_state",
                   "ends_closed", "ingress_read", "to_egress_c2s", "to_egress_s2c",
                   "egress_bytes_c2s", "egress_bytes_s2c", "return_no_out", "expect_from_cookie",
                   "tail_bytes", "tail_returns")
BYPASS_COUNTERS_V1 = 15
# struct bp_bypass_daemon_stats (include/bpasst_bypass.h), in order: one __u64 each; relayed_*
# are the last two (a daemon without them cannot give the share: its figures are n/a)
DAEMON_STATS = ("conns_registered", "conns_both_ends", "conns_no_ends", "attempts", "granted",
                "postponed_pending", "postponed_count", "postponed_outq", "postponed_rqueue",
                "postponed_diag", "gave_up", "bypassed_now", "granted_egress", "upgrades",
                "relayed_c2s", "relayed_s2c", "tails_on", "tail_returned", "postponed_unread",
                "held")
DAEMON_STILL = 1.15  # s: bypass_daemon is rewritten (when changed) on the daemon's 1 s tick
DAEMON_SETTLE_MAX = 10  # s
# the programs' counters that show a switch to the other variant's target
WRONG_TARGET = {"bpasst-bypass": ("EGRESS", ("to_egress_c2s", "to_egress_s2c")),
                "bpasst-bypass-egress": ("INGRESS", ("handover_c2s", "handover_s2c"))}


# --------------------------------------------------------------------------------------------
# the bypass's maps


def parse_percpu_dump(doc):
    """Sum bpftool's JSON dump of the per-CPU array bypass_counters into {name: value}."""
    if not isinstance(doc, list) or not doc:
        raise ValueError("empty map dump")
    entry = doc[0]
    total = dict.fromkeys(BYPASS_COUNTERS, 0)
    if "values" in entry:  # raw: one list of "0x.." bytes per CPU
        for per_cpu in entry["values"]:
            raw = bytes(int(b, 16) for b in per_cpu["value"])
            if len(raw) < 8 * BYPASS_COUNTERS_V1:
                raise ValueError(f"value of {len(raw)} bytes, expected at least "
                                 f"{8 * BYPASS_COUNTERS_V1}")
            for i, name in enumerate(BYPASS_COUNTERS[:len(raw) // 8]):
                total[name] += int.from_bytes(raw[8 * i:8 * i + 8], "little")
    elif "formatted" in entry:  # with BTF only
        for per_cpu in entry["formatted"]["values"]:
            for name in BYPASS_COUNTERS:
                total[name] += int(per_cpu["value"].get(name, 0))
    else:
        raise ValueError(f"unknown map dump format: {str(entry)[:200]}")
    return total


def parse_daemon_dump(doc):
    """bpftool's JSON dump of the 1-slot array bypass_daemon as {name: value}; raises
    ValueError without the relayed_* fields."""
    if not isinstance(doc, list) or not doc:
        raise ValueError("empty map dump")
    entry = doc[0]
    if "formatted" in entry:
        value = entry["formatted"]["value"]
        out = {name: int(value[name]) for name in DAEMON_STATS if name in value}
    elif "value" in entry:
        raw = bytes(int(b, 16) for b in entry["value"])
        out = {name: int.from_bytes(raw[8 * i:8 * i + 8], "little")
               for i, name in enumerate(DAEMON_STATS[:len(raw) // 8])}
    else:
        raise ValueError(f"unknown map dump format: {str(entry)[:200]}")
    if "relayed_c2s" not in out or "relayed_s2c" not in out:
        raise ValueError("no relayed_c2s/relayed_s2c (a daemon older than the relayed counts)")
    return out


def _dump(world, name):
    if not world.bypass_pins:
        raise RuntimeError("the 'BPF bypass: on' line named no map directory")
    path = os.path.join(world.bypass_pins, name)
    try:
        r = subprocess.run(["bpftool", "-j", "map", "dump", "pinned", path],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RuntimeError(f"bpftool: {e}") from None
    if r.returncode != 0:
        raise RuntimeError(f"bpftool map dump pinned {path}: {r.stderr.strip()[-300:]}")
    try:
        return json.loads(r.stdout)
    except ValueError as e:
        raise RuntimeError(f"{path}: {e}") from None


def bypass_counters(world):
    """The bypass's program counters now, summed over CPUs; raises RuntimeError if unreadable."""
    try:
        return parse_percpu_dump(_dump(world, "bypass_counters"))
    except (ValueError, KeyError, TypeError) as e:
        raise RuntimeError(f"bypass_counters: {e}") from None


def daemon_stats(world):
    """The daemon's statistics now (bypass_daemon); raises RuntimeError if unreadable."""
    try:
        return parse_daemon_dump(_dump(world, "bypass_daemon"))
    except (ValueError, KeyError, TypeError) as e:
        raise RuntimeError(f"bypass_daemon: {e}") from None


def settled_daemon_stats(world):
    """bypass_daemon once it went DAEMON_STILL s without a change (so every byte relayed before
    the call is in it); raises RuntimeError if it keeps changing for DAEMON_SETTLE_MAX s."""
    deadline = time.monotonic() + DAEMON_SETTLE_MAX
    last = since = None
    while True:
        st = daemon_stats(world)
        now = time.monotonic()
        moving = {k: v for k, v in st.items() if k != "bypassed_now"}
        if moving != last:
            last, since = moving, now
        elif now - since >= DAEMON_STILL:
            return st
        if now > deadline:
            raise RuntimeError(f"bypass_daemon kept changing for {DAEMON_SETTLE_MAX} s")
        time.sleep(0.2)


def _delta(before, after):
    return {k: after[k] - before[k] for k in before}


class BypassWatch:
    """The bypass's maps around one measurement in a bypass world (a no-op in the others)."""

    def __init__(self, world):
        self.on = world.impl in BYPASS_IMPLS
        self.world = world
        self.error = None
        self.before = self.stats_before = self.delta = self.relayed = None
        if self.on:
            try:
                self.stats_before = settled_daemon_stats(world)
                self.before = bypass_counters(world)
            except RuntimeError as e:
                self.error = f"bypass on, but its maps cannot be read: {e}"

    def stop(self):
        if not self.on or self.error is not None:
            return
        try:
            self.delta = _delta(self.before, bypass_counters(self.world))
            stats = _delta(self.stats_before, settled_daemon_stats(self.world))
        except RuntimeError as e:
            self.error = f"bypass on, but its maps cannot be read: {e}"
            return
        self.relayed = stats["relayed_c2s"] + stats["relayed_s2c"]
        wrong, names = WRONG_TARGET[self.world.impl]
        switches = sum(self.delta[n] for n in names)
        if switches:
            self.error = (f"{self.world.impl}: the programs switched {switches} times to "
                          f"{wrong}, which this variant never grants: not its figure")

    def share_bytes(self, total):
        """% of the `total` bytes moved that did not go through the daemon's relay."""
        if total <= 0:
            return 0.0
        return max(0.0, 100.0 * (total - self.relayed) / total)


def _checked(world, case, rows, share, what):
    """rows if the bypass carried enough (or this is not the bypass); else one n/a row.

    share is the % the bypass carried (None outside the bypass world); a "bypassed" row is
    appended to what is returned in the bypass world, whatever the verdict.
    """
    if share is None:
        return rows
    info = row(BENCH, case, world.impl, "bypassed", round(share, 1), "%", "higher",
               compare=False)
    if share < BYPASS_MIN_SHARE:
        return [na_row(BENCH, case, world.impl,
                       f"bypass on, but it carried only {share:.1f}% of the {what} "
                       f"(the rest went through the splice path): not its figure"), info]
    return rows + [info]


# --------------------------------------------------------------------------------------------
# measurements


def _tool(args):
    exe = os.path.join(args.build, "tests", "bench", "tcp_rr")
    if not os.access(exe, os.X_OK):
        raise BenchSkip(f"{exe} not built")
    return exe


def _widen_port_range(world):
    for place in {id(p): p for p in (world.fwd_client, world.ns)}.values():
        r = run_in(place, ["sysctl", "-qw", f"net.ipv4.ip_local_port_range={PORT_RANGE}"],
                   check=False)
        if r.returncode != 0:
            log(f"{world.impl}: could not widen ip_local_port_range in {place.name}: "
                f"{r.stderr.strip()[-200:]}")


def _kv(line, tag):
    words = line.split()
    if not words or words[0] != tag:
        raise RuntimeError(f"tcp_rr printed {line!r}")
    return {k: float(v) for k, v in (w.split("=", 1) for w in words[1:] if "=" in w)}


def _server(world, exe, port):
    srv = world.topo.spawn(None, world.ns.argv([exe, "server", "127.0.0.1", port]))
    try:
        wait_listening(world.ns, port)
    except BaseException:
        srv.terminate(grace=2)
        raise
    return srv


def _throughput(world, args):
    rows = []
    for reverse in (False, True):
        case = CASE_TPUT[reverse]
        watch = BypassWatch(world)
        docs = [iperf(world, world.fwd_client, world.ns, world.fwd_addr, PORT_FWD_IPERF,
                      ["-R"] if reverse else [], args.time, bind="127.0.0.1")
                for _ in range(args.runs)]
        watch.stop()
        if watch.error:
            rows.append(na_row(BENCH, case, world.impl, watch.error))
            continue
        rates = [d["end"]["sum_received"]["bits_per_second"] / 1e9 for d in docs]
        got = [row(BENCH, case, world.impl, "throughput", round(statistics.median(rates), 3),
                   "Gbit/s", "higher")]
        cpu = [d["daemon_cpu_percent"] for d in docs if "daemon_cpu_percent" in d]
        if cpu:
            got.append(row(BENCH, case, world.impl, "forwarder CPU",
                           round(statistics.median(cpu)), "%", "lower", compare=False))
        total = sum(max(d["end"]["sum_sent"]["bytes"], d["end"]["sum_received"]["bytes"])
                    for d in docs)
        rows += _checked(world, case, got, watch.share_bytes(total) if watch.on else None,
                         "bytes")
    return rows


def _rr(world, args, exe):
    rows = []
    daemon = [world.daemon_pid] if world.daemon_pid else []
    for one_cpu in (False, True):
        case = CASE_RR[one_cpu]
        srv = _server(world, exe, PORT_FWD_RR)
        watch = BypassWatch(world)
        try:
            pin = []
            if one_cpu:
                from helpers import descendants
                set_affinity([srv.pid] + descendants(srv.pid) + daemon, {0})
                pin = ["taskset", "-c", "0"]
            res = []
            for _ in range(args.rr_runs):
                r = run_in(world.fwd_client, pin + [exe, "rr", world.fwd_addr, PORT_FWD_RR,
                                                    args.lo_rr_count, args.lo_rr_count // 10,
                                                    RR_SIZE], timeout=120)
                res.append(_kv(r.stdout.strip(), "rr"))
        finally:
            if one_cpu:
                set_affinity(daemon, set(range(os.cpu_count())))
            srv.terminate(grace=2)
        watch.stop()
        if watch.error:
            rows.append(na_row(BENCH, case, world.impl, watch.error))
            continue
        got = [row(BENCH, case, world.impl, "median",
                   round(statistics.median(r["median_us"] for r in res), 1), "us", "lower"),
               row(BENCH, case, world.impl, "p99",
                   round(statistics.median(r["p99_us"] for r in res), 1), "us", "lower")]
        total = args.rr_runs * (args.lo_rr_count + args.lo_rr_count // 10) * RR_SIZE * 2
        rows += _checked(world, case, got, watch.share_bytes(total) if watch.on else None,
                         "bytes")
    return rows


def _crr(world, args, exe):
    _widen_port_range(world)
    srv = _server(world, exe, PORT_FWD_CRR)
    try:
        res = []
        for _ in range(args.rr_runs):
            r = run_in(world.fwd_client, [exe, "crr", world.fwd_addr, PORT_FWD_CRR,
                                          CRR_MAX_COUNT, args.crr_time, CRR_PARALLEL],
                       timeout=args.crr_time + 60)
            res.append(_kv(r.stdout.strip(), "crr"))
    finally:
        srv.terminate(grace=2)
    return [row(BENCH, CASE_CRR, world.impl, "rate",
                round(statistics.median(r["per_s"] for r in res)), "conn/s", "higher"),
            row(BENCH, CASE_CRR, world.impl, "failed", int(sum(r["errors"] for r in res)), "",
                "lower", compare=False)]


def bench_lofwd(world, args):
    cases = [CASE_TPUT[False], CASE_TPUT[True], CASE_RR[False], CASE_RR[True], CASE_CRR]
    na = world.lo_na or (None if world.fwd_addr == "127.0.0.1" else "no loopback forward")
    if na:
        return [na_row(BENCH, c, world.impl, na) for c in cases]
    exe = _tool(args)
    return _throughput(world, args) + _rr(world, args, exe) + _crr(world, args, exe)


# --------------------------------------------------------------------------------------------
# table and targets


def _ratio(v, ref, better):
    if v is None or ref is None or v <= 0 or ref <= 0:
        return None
    return v / ref if better == "higher" else ref / v


def splice_impl(rows):
    """The implementation that stands for "bpasst without the bypass" in these rows."""
    impls = {r["impl"] for r in rows if r["bench"] == BENCH}
    return "bpasst" if "bpasst" in impls or "bpasst-root" not in impls else "bpasst-root"


def print_table(rows, impls, fmt, print_grid):
    mine = [r for r in rows if r["bench"] == BENCH]
    if not mine:
        return
    splice = splice_impl(rows)
    cols = [i for i in IMPLS if i in impls and any(r["impl"] == i for r in mine)]
    refs = [(BYPASS, "direct", "bypass/direct"), (splice, "direct", f"{splice}/direct"),
            ("debian-pasta", "direct", "debian/direct"),
            (splice, "debian-pasta", f"{splice}/debian"), (BYPASS, splice, f"bypass/{splice}"),
            (BYPASS_EGRESS, "direct", "egress/direct"),
            (BYPASS_EGRESS, splice, f"egress/{splice}")]
    refs = [x for x in refs if x[0] in cols and x[1] in cols]
    keys, values, na = [], {}, {}
    for r in mine:
        if r["metric"] == "n/a":
            na[(r["case"], r["impl"])] = r.get("reason", "")
            continue
        k = (r["case"], r["metric"])
        if k not in values:
            keys.append(k)
            values[k] = {"unit": r["unit"], "better": r["better"], "compare": r["compare"]}
        values[k][r["impl"]] = r["value"]
    for case, impl in na:  # a case n/a somewhere still gets its main line
        if (case, _metrics(case)[0]) not in values:
            keys.append((case, _metrics(case)[0]))
            values[keys[-1]] = {"unit": "", "better": "none", "compare": False}
    order = [CASE_TPUT[False], CASE_TPUT[True], CASE_RR[False], CASE_RR[True], CASE_CRR]
    keys.sort(key=lambda k: (order.index(k[0]) if k[0] in order else 99,
                             _metrics(k[0]).index(k[1]) if k[1] in _metrics(k[0]) else 99))
    lines = [["case", "metric", "unit"] + cols + [h for _, _, h in refs]]
    for case, metric in keys:
        v = values[(case, metric)]
        line = [case, metric, v["unit"]]
        for c in cols:
            line.append("n/a" if (case, c) in na and c not in v else fmt(v.get(c)))
        for a, b, _ in refs:
            x = _ratio(v.get(a), v.get(b), v["better"]) if v["compare"] else None
            line.append(f"{x:.2f}x" if x is not None else "")
        lines.append(line)
    print(f"\n{BENCH}: through a -t forward on host loopback (127.0.0.1 -> the namespace's "
          "127.0.0.1)")
    print_grid(lines, lambda i: i >= 3)
    print("ratios: the first implementation named against the second, > 1 means the first is "
          "better (for times: second / first); bypass = bpasst-bypass, egress = "
          "bpasst-bypass-egress (no target).")
    for (case, impl), reason in na.items():
        print(f"n/a: {impl}: {case}: {reason}")


def _metrics(case):
    if case in CASE_TPUT.values():
        return ["throughput", "forwarder CPU", "bypassed"]
    if case in CASE_RR.values():
        return ["median", "p99", "bypassed"]
    return ["rate", "failed"]


def evaluate(rows):
    """Issue 7's targets: a list of {issue, target, met, status, detail}."""
    mine = [r for r in rows if r["bench"] == BENCH]
    impls = {r["impl"] for r in mine}
    splice = splice_impl(rows)

    def get(case, metric, impl):
        """(value, None) or (None, reason) or None when impl did not run this case."""
        for r in mine:
            if r["case"] == case and r["impl"] == impl:
                if r["metric"] == "n/a":
                    return None, r.get("reason", "n/a")
        for r in mine:
            if (r["case"], r["metric"], r["impl"]) == (case, metric, impl):
                return r["value"], None
        return None

    out = []

    def target(name, case, metric, a, b, factor):
        """a's figure >= factor x b's (oriented: for times, a <= b / factor)."""
        ga, gb = get(case, metric, a), get(case, metric, b)
        if ga is None or gb is None:
            return  # one of the two was not run (or failed: that is reported as FAILED)
        reason = ga[1] or gb[1]
        t = {"issue": 7, "target": f"{BENCH} {case} {metric}: {name}"}
        if reason:
            t.update(met=False, status="n/a", detail=reason)
        else:
            better = next(r["better"] for r in mine if r["case"] == case
                          and r["metric"] == metric)
            x = _ratio(ga[0], gb[0], better)
            t.update(met=x is not None and x >= factor - 1e-9,
                     detail=f"{a} {ga[0]} vs {b} {gb[0]}" + (f": {x:.2f}x" if x else ""))
            t["status"] = "PASS" if t["met"] else "FAIL"
        out.append(t)

    if BYPASS in impls and "direct" in impls:
        for rev in (False, True):
            target("bypass >= 2x direct", CASE_TPUT[rev], "throughput", BYPASS, "direct", 2.0)
        for one_cpu in (False, True):
            target("bypass <= direct", CASE_RR[one_cpu], "median", BYPASS, "direct", 1.0)
    if splice in impls and "debian-pasta" in impls:
        for rev in (False, True):
            target(f"{splice} >= debian-pasta", CASE_TPUT[rev], "throughput", splice,
                   "debian-pasta", 1.0)
        for one_cpu in (False, True):
            for metric in ("median", "p99"):
                target(f"{splice} <= debian-pasta", CASE_RR[one_cpu], metric, splice,
                       "debian-pasta", 1.0)
        target(f"{splice} >= debian-pasta", CASE_CRR, "rate", splice, "debian-pasta", 1.0)
    if BYPASS in impls and splice in impls:
        target(f"bypass >= 0.8x {splice}", CASE_CRR, "rate", BYPASS, splice, 0.8)
    return out
