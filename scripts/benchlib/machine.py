# SPDX-License-Identifier: GPL-2.0-or-later
"""benchlib.machine: how busy the machine is, and how much of that is other people's work.

Other users' load skews everything on a shared 2-CPU machine.  cpu_busy() samples /proc/stat
over a second; Contention measures, over a benchmark, the CPU time that processes other than
this one and its descendants took (all CPUs' user + nice + system ticks minus ours), in % of all
CPUs; wait_idle() waits, bounded, for a quiet machine.  No state beyond a Contention's start
sample.
"""

import os
import time

from benchlib.common import log, proc_ticks

CONTENTION_WARN = 10  # % of all CPUs used by others during a benchmark: warn (and retry)


def cpu_busy(seconds=1.0):
    """Fraction (0-1) of all CPUs' time spent busy over `seconds`, from /proc/stat."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + (v[4] if len(v) > 4 else 0)
        return sum(v[:8]), idle
    t0, i0 = sample()
    time.sleep(seconds)
    t1, i1 = sample()
    return 1 - (i1 - i0) / max(1, t1 - t0)


def _busy_ticks():
    """Clock ticks all CPUs spent in user, nice and system mode (not interrupts or idle)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[0] + v[1] + v[2]


def _our_ticks():
    """Clock ticks used by this process, its reaped children and its live descendants."""
    from helpers import descendants
    me = os.getpid()
    return sum(proc_ticks(p, children=(p == me)) or 0 for p in [me] + descendants(me))


class Contention:
    """How much CPU processes that are not ours took while we measured (other users' work)."""

    def __init__(self):
        self.t0, self.busy0, self.ours0 = time.monotonic(), _busy_ticks(), _our_ticks()

    def percent(self):
        """Others' CPU use since construction, in % of all CPUs (approximate, >= 0)."""
        wall = time.monotonic() - self.t0
        others = (_busy_ticks() - self.busy0) - (_our_ticks() - self.ours0)
        hz = os.sysconf("SC_CLK_TCK")
        return max(0.0, 100 * others / (hz * wall * os.cpu_count())) if wall > 0 else 0.0


def wait_idle(limit, threshold=0.15):
    """Wait up to `limit` s for a 1-s sample with the CPUs under `threshold` busy; last sample."""
    deadline = time.monotonic() + limit
    while True:
        busy = cpu_busy()
        if busy < threshold or time.monotonic() >= deadline:
            return busy
        log(f"machine {busy:.0%} busy; waiting for it to calm down "
            f"({deadline - time.monotonic():.0f} s left)")

