# SPDX-License-Identifier: GPL-2.0-or-later
"""benchlib.common: what every part of scripts/bench shares.

Addresses and ports of the topology, the result row format, places (an argv prefix that runs a
command in a namespace), running a command with a timeout, waiting for a listener, CPU time of a
process and pinning threads to CPUs.  No state.

A result row is a dict {bench, case, impl, metric, value, unit, better, compare}: `better` is
"higher" or "lower" (or "none"), `compare` says whether ratios and targets use it; an n/a row has
metric "n/a", value None and a "reason".
"""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if os.path.join(ROOT, "tests", "integration") not in sys.path:
    sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

SERVER = {"IPv4": "203.0.113.1", "IPv6": "2001:db8:1::1"}
HOST_ADDR_V4 = "192.0.2.2"
PORT_REMOTE_IPERF = 5201
PORT_REMOTE_RR = 5202
PORT_FWD_IPERF = 5301
PORT_FWD_RR = 5302
PORT_FWD_CRR = 5303  # lofwd's connection rate (5301 and 5302 serve its other rows too)
PORTS_FWD = f"{PORT_FWD_IPERF}-{PORT_FWD_CRR}"  # what the pastas forward with -t
SLEEP_BOUND = "1800"  # the namespace's placeholder command; killed long before


class BenchSkip(Exception):
    """A benchmark or an implementation cannot run here; the message says why."""


def row(bench, case, impl, metric, value, unit, better, compare=True):
    return {"bench": bench, "case": case, "impl": impl, "metric": metric, "value": value,
            "unit": unit, "better": better, "compare": compare}


def na_row(bench, case, impl, reason):
    r = row(bench, case, impl, "n/a", None, "", "none", compare=False)
    r["reason"] = reason
    return r


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# places: where a command runs (an argv prefix)


class Place:
    def __init__(self, name, prefix):
        self.name = name
        self.prefix = list(prefix)

    def argv(self, argv):
        return self.prefix + [str(a) for a in argv]


def netns_place(ns):
    return Place(ns, ["ip", "netns", "exec", ns])


def pid_place(name, pid):
    return Place(name, ["nsenter", f"--net=/proc/{pid}/ns/net", "--"])


def proc_ticks(pid, children=False):
    """utime + stime of pid in clock ticks (plus its reaped children's); None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return sum(int(x) for x in rest[11:15 if children else 13])
    except (OSError, IndexError, ValueError):
        return None


def run_in(place, argv, timeout=30, check=True):
    full = place.argv(argv)
    try:
        r = subprocess.run(full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{' '.join(full)}: no answer within {timeout} s") from None
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(full)} exited {r.returncode}: "
                           f"{(r.stderr or r.stdout).strip()[-500:]}")
    return r


def wait_listening(place, port, timeout=10):
    from helpers import wait_for

    def listening():
        r = run_in(place, ["ss", "-Hltn", f"sport = :{port}"], check=False)
        return r.returncode == 0 and r.stdout.strip() != ""
    wait_for(listening, timeout, what=f"a listener on port {port} in {place.name}")


def set_affinity(pids, cpus):
    """Pin every thread of each pid to `cpus` (a set); pids that are gone are ignored."""
    for pid in pids:
        try:
            tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
        except OSError:
            continue
        for tid in tids:
            try:
                os.sched_setaffinity(tid, cpus)
            except OSError:
                pass
