# SPDX-License-Identifier: GPL-2.0-or-later
"""benchlib.measure: the benchmarks of issue 5 (tcp, fwd, rr, udp in a world; startup, csum).

  tcp      iperf3 -t S, namespace -> remote and remote -> namespace (-R), IPv4 and IPv6: received
           rate, smallest 1-s interval (a stall shows as ~0), sender's retransmissions, and the
           translator's CPU use (% of one CPU, from /proc/PID/stat);
  fwd      the same through the -t forward: client in the host ns on 127.0.0.1:5301, server in
           the namespace, both directions (veth: remote ns straight to 192.0.2.2, the limit);
  rr       64-byte TCP ping-pong (python3, TCP_NODELAY, COUNT round trips after a warm-up, median
           of 3 runs): median and p99 in us, outbound (203.0.113.1:5202) and through the forward
           (127.0.0.1:5302); each scheduled freely (includes waking an idle vCPU: tens of us in a
           VM) and with client, server and translator pinned to CPU 0 (the path's own cost);
  udp      iperf3 -u -b 10G -l 1400, both directions, IPv4: received rate, loss, translator CPU;
  startup  wall time of `pasta --config-net true` as bpasst-test, median and min of RUNS;
  csum     BUILD/tests/bench/csum_bench: csum_partial() fast path vs the byte-pair reference.

Each world benchmark is a function (world, args) -> rows; servers are spawned through the
world's topology and terminated (by PID) when the measurement ends.
"""

import json
import os
import statistics
import subprocess
import time

from benchlib.common import (PORT_FWD_IPERF, PORT_FWD_RR, PORT_REMOTE_IPERF, PORT_REMOTE_RR,
                             SERVER, BenchSkip, log, na_row, row, run_in, set_affinity,
                             wait_listening)
from benchlib.worlds import stage_bpasst


def iperf(world, client, server_place, server_addr, port, extra, seconds, bind=None):
    """Run one iperf3 test (server -1 in server_place, bound to bind); return its parsed JSON.

    A UDP server must be bound to the address the client targets: an unbound one answers from
    the address of its route back, which the client's connected socket drops.
    """
    srv = world.topo.spawn(None, server_place.argv(["iperf3", "-s", "-1", "-p", port]
                                                   + (["-B", bind] if bind else [])))
    try:
        wait_listening(server_place, port)
        cpu0, t0 = world.daemon_cpu(), time.monotonic()
        r = run_in(client, ["iperf3", "-c", server_addr, "-p", port, "-t", seconds, "-J",
                            "--connect-timeout", "3000", *extra],
                   timeout=seconds + 30, check=False)
        try:
            doc = json.loads(r.stdout)
        except ValueError:
            raise RuntimeError(f"iperf3 exited {r.returncode}: {r.stderr.strip()[-500:]}")
        if "error" in doc:
            raise RuntimeError(f"iperf3: {doc['error']}")
        cpu1 = world.daemon_cpu()
        if cpu0 is not None and cpu1 is not None:
            doc["daemon_cpu_percent"] = 100 * (cpu1 - cpu0) / (time.monotonic() - t0)
        return doc
    finally:
        srv.terminate(grace=3)


def tcp_figures(doc):
    """(received Gbit/s, smallest full 1-s interval Gbit/s, sender retransmissions)."""
    iv = [i["sum"]["bits_per_second"] / 1e9 for i in doc["intervals"]
          if i["sum"]["seconds"] >= 0.5]
    end = doc["end"]
    rate = end["sum_received"]["bits_per_second"] / 1e9
    return rate, (min(iv) if iv else 0.0), end["sum_sent"].get("retransmits")


def tcp_rows(bench, case, impl, docs):
    figs = [tcp_figures(d) for d in docs]
    rates = [f[0] for f in figs]
    retr = [f[2] for f in figs if f[2] is not None]
    rows = [row(bench, case, impl, "throughput", round(statistics.median(rates), 3), "Gbit/s",
                "higher"),
            row(bench, case, impl, "min 1-s interval", round(min(f[1] for f in figs), 3),
                "Gbit/s", "higher")]
    if retr:
        rows.append(row(bench, case, impl, "retransmits", int(statistics.median(retr)), "",
                        "lower", compare=False))
    cpu = [d["daemon_cpu_percent"] for d in docs if "daemon_cpu_percent" in d]
    if cpu:
        rows.append(row(bench, case, impl, "daemon CPU", round(statistics.median(cpu)), "%",
                        "lower", compare=False))
    return rows


def bench_tcp(world, args):
    rows = []
    for fam in ("IPv4", "IPv6"):
        for reverse, case in ((False, f"namespace -> remote {fam}"),
                              (True, f"remote -> namespace {fam}")):
            if fam in world.na:
                rows.append(na_row("tcp", case, world.impl, world.na[fam]))
                continue
            docs = [iperf(world, world.ns, world.remote, SERVER[fam], PORT_REMOTE_IPERF,
                          ["-R"] if reverse else [], args.time, bind=SERVER[fam])
                    for _ in range(args.runs)]
            rows += tcp_rows("tcp", case, world.impl, docs)
    return rows


def bench_fwd(world, args):
    rows = []
    label = "direct over veth" if world.impl == "veth" else f"{world.fwd_addr}:{PORT_FWD_IPERF}"
    for reverse, case in ((False, "host -> namespace (-t forward)"),
                          (True, "namespace -> host (-t forward)")):
        if world.fwd_addr is None:
            rows.append(na_row("fwd", case, world.impl, world.fwd_na or "no forward"))
            continue
        docs = [iperf(world, world.fwd_client, world.ns, world.fwd_addr, PORT_FWD_IPERF,
                      ["-R"] if reverse else [], args.time) for _ in range(args.runs)]
        for r in tcp_rows("fwd", case, world.impl, docs):
            r["via"] = label
            rows.append(r)
    return rows


def udp_figures(doc):
    """(received Gbit/s, loss %) from an iperf3 -u client's JSON."""
    end = doc["end"]
    s = end.get("sum_received") or end["sum"]
    sent = end.get("sum_sent") or end["sum"]
    lost = end["sum"].get("lost_percent", 0.0)
    if "sum_received" in end:
        rate = s["bits_per_second"] / 1e9
    else:
        rate = sent["bits_per_second"] * (1 - lost / 100) / 1e9
    return rate, lost


def bench_udp(world, args):
    rows = []
    for reverse, case in ((False, "namespace -> remote IPv4, 1400 B"),
                          (True, "remote -> namespace IPv4, 1400 B")):
        docs = [iperf(world, world.ns, world.remote, SERVER["IPv4"], PORT_REMOTE_IPERF,
                      ["-u", "-b", "10G", "-l", "1400"] + (["-R"] if reverse else []),
                      args.time, bind=SERVER["IPv4"]) for _ in range(args.runs)]
        figs = [udp_figures(d) for d in docs]
        rows.append(row("udp", case, world.impl, "received",
                        round(statistics.median(f[0] for f in figs), 3), "Gbit/s", "higher"))
        rows.append(row("udp", case, world.impl, "loss",
                        round(statistics.median(f[1] for f in figs), 2), "%", "lower",
                        compare=False))
        cpu = [d["daemon_cpu_percent"] for d in docs if "daemon_cpu_percent" in d]
        if cpu:
            rows.append(row("udp", case, world.impl, "daemon CPU", round(statistics.median(cpu)),
                            "%", "lower", compare=False))
    return rows


PINGPONG = r'''
# 64-byte TCP ping-pong for scripts/bench: "server ADDR PORT" or "client ADDR PORT COUNT WARMUP"
import json, socket, sys, time
MSG = 64
mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
def exact(c):
    buf = b""
    while len(buf) < MSG:
        d = c.recv(MSG - len(buf))
        if not d:
            return None
        buf += d
    return buf
if mode == "server":
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port)); s.listen(8)
    while True:
        c, _ = s.accept()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1); c.settimeout(30)
        try:
            while True:
                m = exact(c)
                if m is None:
                    break
                c.sendall(m)
        except OSError:
            pass
        c.close()
count, warm = int(sys.argv[4]), int(sys.argv[5])
c = socket.create_connection((addr, port), timeout=10)
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
msg = bytes(range(MSG)); ns = []
for i in range(warm + count):
    t0 = time.perf_counter_ns(); c.sendall(msg); got = exact(c); t1 = time.perf_counter_ns()
    if got != msg:
        sys.exit("bad echo at round trip %d: %r" % (i, got))
    if i >= warm:
        ns.append(t1 - t0)
c.close(); ns.sort()
print(json.dumps({"n": len(ns), "median_us": ns[len(ns) // 2] / 1e3,
                  "p99_us": ns[min(len(ns) - 1, (len(ns) * 99) // 100)] / 1e3}))
'''


def pingpong(world, client, server_place, bind, addr, port, args, one_cpu):
    """COUNT round trips, --runs times; with one_cpu, client, server and daemon share CPU 0."""
    from helpers import descendants
    script = world.topo.tmp_path("pingpong.py")
    if not os.path.exists(script):
        with open(script, "w") as f:
            f.write(PINGPONG)
        os.chmod(script, 0o644)
    srv = world.topo.spawn(None, server_place.argv(["/usr/bin/python3", script, "server", bind,
                                                    port]))
    daemon = [world.daemon_pid] if world.daemon_pid else []
    try:
        wait_listening(server_place, port)
        pin = []
        if one_cpu:
            set_affinity([srv.pid] + descendants(srv.pid) + daemon, {0})
            pin = ["taskset", "-c", "0"]
        res = []
        for _ in range(args.rr_runs):
            r = run_in(client, pin + ["/usr/bin/python3", script, "client", addr, port,
                                      args.rr_count, args.rr_count // 10], timeout=120)
            res.append(json.loads(r.stdout))
        return res
    finally:
        if one_cpu:
            set_affinity(daemon, set(range(os.cpu_count())))
        srv.terminate(grace=3)


def bench_rr(world, args):
    """64-byte ping-pong, scheduled freely and then with everything on CPU 0.

    Free scheduling includes the cost of waking an idle CPU (tens of microseconds in a VM) and
    varies with where the scheduler puts the three processes; on one CPU the figure is the cost
    of the path itself (system calls, copies, context switches) and repeats well.
    """
    rows = []
    cases = [("outbound IPv4, 64 B", world.ns, world.remote, SERVER["IPv4"], SERVER["IPv4"],
              PORT_REMOTE_RR, None)]
    cases.append(("through the -t forward, 64 B", world.fwd_client, world.ns, "0.0.0.0",
                  world.fwd_addr, PORT_FWD_RR, None if world.fwd_addr else
                  (world.fwd_na or "no forward")))
    for base, client, server_place, bind, addr, port, na in cases:
        for one_cpu in (False, True):
            case = base + (", one CPU" if one_cpu else "")
            if na:
                rows.append(na_row("rr", case, world.impl, na))
                continue
            res = pingpong(world, client, server_place, bind, addr, port, args, one_cpu)
            rows.append(row("rr", case, world.impl, "median", round(
                statistics.median(r["median_us"] for r in res), 1), "us", "lower"))
            rows.append(row("rr", case, world.impl, "p99", round(
                statistics.median(r["p99_us"] for r in res), 1), "us", "lower"))
    return rows


# --------------------------------------------------------------------------------------------
# benchmarks that need no world


def bench_csum(args):
    exe = os.path.join(args.build, "tests", "bench", "csum_bench")
    if not os.access(exe, os.X_OK):
        raise BenchSkip(f"{exe} not built")
    r = subprocess.run([exe], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"csum_bench exited {r.returncode}: {r.stderr.strip()}")
    rows = []
    for line in r.stdout.splitlines():
        words = line.split()
        if not words or words[0] != "csum":
            continue
        kv = dict(w.split("=", 1) for w in words[1:] if "=" in w)
        case = f"{kv.get('size', '?')} B"
        if "impl" in kv:
            impl = "bpasst-" + kv["impl"]
            rows.append(row("csum", case, impl, "throughput", float(kv["gb_per_s"]), "GB/s",
                            "higher", compare=False))
            rows.append(row("csum", case, impl, "cost", float(kv["ns_per_byte"]), "ns/B",
                            "lower", compare=False))
        elif "speedup" in kv:
            rows.append(row("csum", case, "fast/ref", "speed-up", float(kv["speedup"]), "x",
                            "higher", compare=False))
    if not rows:
        raise RuntimeError("csum_bench printed no result lines")
    return rows


def bench_startup(args, impls):
    from helpers import Topology, ensure_user
    user = ensure_user()
    runs = args.startup_runs
    rows, errors = [], []
    topo = Topology()
    try:
        todo = []
        if "bpasst" in impls or "bpasst-root" in impls:
            todo.append(("bpasst", stage_bpasst(topo, args.build)))
        if "debian-pasta" in impls and os.path.exists("/usr/bin/pasta"):
            todo.append(("debian-pasta", "/usr/bin/pasta"))
        if not todo:
            raise BenchSkip("no pasta among the implementations")
        for impl, exe in todo:
            times = []
            for _ in range(runs):
                start = time.monotonic()
                try:
                    r = topo.run(topo.host, [exe, "--config-net", "true"], user=user,
                                 check=False, timeout=15)
                except AssertionError as e:  # timed out
                    errors.append(f"{impl}: {str(e).splitlines()[0][:200]}")
                    break
                elapsed = time.monotonic() - start
                if r.returncode != 0:
                    errors.append(f"{impl}: exit {r.returncode}: "
                                  f"{(r.stderr or r.stdout).strip()[:200]}")
                    break
                times.append(elapsed)
            else:
                case = "pasta --config-net true"
                rows.append(row("startup", case, impl, "median",
                                round(statistics.median(times) * 1000, 2), "ms", "lower"))
                rows.append(row("startup", case, impl, "min", round(min(times) * 1000, 2), "ms",
                                "lower"))
    finally:
        topo.close()
    for e in errors:
        log(f"startup: FAILED: {e}")
    if errors and not rows:
        raise RuntimeError("; ".join(errors))
    return rows


