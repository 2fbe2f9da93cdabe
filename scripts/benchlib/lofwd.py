# SPDX-License-Identifier: GPL-2.0-or-later
"""benchlib.lofwd: the loopback-forward group (issue 7): through a -t forward on host loopback.

A client in the host namespace connects to 127.0.0.1:PORT, pasta forwards it (-t) to a server on
the namespace's 127.0.0.1; the same client and server run for every implementation:

  direct         no forwarder: client and server in one namespace on 127.0.0.1 (the reference);
  bpasst-bypass  bpasst as root with --bpf-bypass (the data of an established connection moves
                 between the two endpoint sockets in the kernel, sockmap/sk_msg);
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
"BPF bypass: off: <reason>", refused the option, or said nothing) every row of bpasst-bypass is
n/a with that reason.  When it did, its pinned counters (bypass_counters in the directory that
the "BPF bypass: on (..., maps in DIR)" line names, read with bpftool) are read around each
throughput and rr measurement: the share of bytes (throughput) or of send calls (rr) that the
bypass redirected is reported as "bypassed" (%), and a figure below BYPASS_MIN_SHARE % of it is
replaced by n/a (it would be the splice path's).  Connection-rate rows need the bypass on only:
they measure what its set-up costs short connections.

Targets (issue 7): bypass throughput >= 2x direct (both directions); bypass median latency <=
direct (free and one CPU); bpasst without the bypass >= Debian's pasta on every throughput,
latency and connection-rate row; connections per second with the bypass >= 0.8x without.  A
target whose row is n/a is reported n/a with the reason, and is not met.
"""

import json
import os
import statistics
import subprocess

from benchlib.common import (PORT_FWD_CRR, PORT_FWD_IPERF, PORT_FWD_RR, BenchSkip, log, na_row,
                             row, run_in, set_affinity, wait_listening)
from benchlib.measure import iperf

BENCH = "lofwd"
IMPLS = ["direct", "bpasst-bypass", "bpasst", "bpasst-root", "debian-pasta"]
BYPASS = "bpasst-bypass"
BYPASS_MIN_SHARE = 50  # % of the bytes / send calls the bypass must have carried
RR_SIZE = 64
CRR_PARALLEL = 8
CRR_MAX_COUNT = 2000000
PORT_RANGE = "10000 65000"

CASE_TPUT = {False: "throughput host -> namespace", True: "throughput namespace -> host"}
CASE_RR = {False: "64 B request/response", True: "64 B request/response, one CPU"}
CASE_CRR = "connections, 1 B request/response"

# struct bp_bypass_counters (include/bpasst_bypass.h), in order: one little-endian __u64 each
BYPASS_COUNTERS = ("insert_client", "insert_server", "insert_failed", "handover_c2s",
                   "handover_s2c", "bytes_c2s", "bytes_s2c", "msgs_redirected", "msgs_relayed",
                   "return_budget", "return_no_peer", "return_no_ctl", "return_state",
                   "ends_closed", "ingress_read")


# --------------------------------------------------------------------------------------------
# the bypass's counters


def parse_percpu_dump(doc):
    """Sum bpftool's JSON dump of the per-CPU array bypass_counters into {name: value}."""
    if not isinstance(doc, list) or not doc:
        raise ValueError("empty map dump")
    entry = doc[0]
    total = dict.fromkeys(BYPASS_COUNTERS, 0)
    if "values" in entry:  # raw: one list of "0x.." bytes per CPU
        for per_cpu in entry["values"]:
            raw = bytes(int(b, 16) for b in per_cpu["value"])
            if len(raw) < 8 * len(BYPASS_COUNTERS):
                raise ValueError(f"value of {len(raw)} bytes, expected "
                                 f"{8 * len(BYPASS_COUNTERS)}")
            for i, name in enumerate(BYPASS_COUNTERS):
                total[name] += int.from_bytes(raw[8 * i:8 * i + 8], "little")
    elif "formatted" in entry:  # with BTF only
        for per_cpu in entry["formatted"]["values"]:
            for name in BYPASS_COUNTERS:
                total[name] += int(per_cpu["value"][name])
    else:
        raise ValueError(f"unknown map dump format: {str(entry)[:200]}")
    return total


def bypass_counters(world):
    """The bypass's program counters now, summed over CPUs; raises RuntimeError if unreadable."""
    if not world.bypass_pins:
        raise RuntimeError("the 'BPF bypass: on' line named no map directory")
    path = os.path.join(world.bypass_pins, "bypass_counters")
    try:
        r = subprocess.run(["bpftool", "-j", "map", "dump", "pinned", path],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RuntimeError(f"bpftool: {e}") from None
    if r.returncode != 0:
        raise RuntimeError(f"bpftool map dump pinned {path}: {r.stderr.strip()[-300:]}")
    try:
        return parse_percpu_dump(json.loads(r.stdout))
    except (ValueError, KeyError, TypeError) as e:
        raise RuntimeError(f"{path}: {e}") from None


def _delta(before, after):
    return {k: after[k] - before[k] for k in BYPASS_COUNTERS}


class BypassWatch:
    """Counters around one measurement in the bypass world (a no-op in the others)."""

    def __init__(self, world):
        self.on = world.impl == BYPASS
        self.world = world
        self.error = None
        self.before = self.delta = None
        if self.on:
            try:
                self.before = bypass_counters(world)
            except RuntimeError as e:
                self.error = f"bypass on, but its counters cannot be read: {e}"

    def stop(self):
        if self.on and self.error is None:
            try:
                self.delta = _delta(self.before, bypass_counters(self.world))
            except RuntimeError as e:
                self.error = f"bypass on, but its counters cannot be read: {e}"

    def share_bytes(self, total):
        d = self.delta
        return 100.0 * (d["bytes_c2s"] + d["bytes_s2c"]) / total if total > 0 else 0.0

    def share_msgs(self):
        d = self.delta
        n = d["msgs_redirected"] + d["msgs_relayed"]
        return 100.0 * d["msgs_redirected"] / n if n else 0.0


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
        total = sum(d["end"]["sum_received"]["bytes"] for d in docs)
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
        rows += _checked(world, case, got, watch.share_msgs() if watch.on else None,
                         "send calls")
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
            (splice, "debian-pasta", f"{splice}/debian"), (BYPASS, splice, f"bypass/{splice}")]
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
          "better (for times: second / first).")
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
