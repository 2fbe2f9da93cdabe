# SPDX-License-Identifier: GPL-2.0-or-later
"""pasta --bpf-bypass: TCP through loopback forwards, with the in-kernel bypass on and off.

Theory of operation
-------------------
Every case runs once per mode:
  - "on": pasta as root with --bpf-bypass --bpf-name <unique>: the log says "BPF bypass: on (",
    once, and the bypass maps are pinned in /sys/fs/bpf/bpasst/<name>/ (read with bpftool).
    The daemon grants INGRESS only (straight into the receiver's queue): a direction goes from
    the relay to INGRESS, back to the RELAY when the receiver leaves more than the budget
    unread (the relay's TCP backpressure then holds the sender), and to INGRESS again once the
    relay drained and the receiver read everything. At the end of every case no switch to
    EGRESS happened and none was granted (to_egress_* == egress_bytes_* == 0, the daemon's
    granted_egress == 0, no endpoint in EGRESS mode);
  - "egress": the same with --bpf-bypass=egress: EGRESS only (into the daemon's own socket
    towards the receiver: receivers keep full socket semantics), never INGRESS: at the end of
    every case no byte went into a receive queue (bytes_c2s == bytes_s2c == 0, upgrades == 0,
    no endpoint in INGRESS mode). Known and documented difference (docs/pasta.1): a
    non-blocking sender whose receiver stalls is told EAGAIN while poll() says writable (it
    spins), and the programs' egress byte counters are upper bounds (resent bytes are counted
    again);
  - "off": pasta as the unprivileged user with --bpf-bypass: it must fall back to the splice path,
    logging "BPF bypass: off: <reason>" once, start all the same, and pin no bypass map.
"Carried by the bypass", in both bypass modes, is exact and comes from the daemon: the bytes of
a direction that the clients moved (seqstream.py prints them, header lines included) minus what
the daemon's splice relay carried (bypass_daemon's relayed_c2s / relayed_s2c, cumulative; the
daemon rewrites that map at most once a second, so a reading is taken once it stopped changing
for more than a second). The programs' counters serve for the switches (handover_* INGRESS,
to_egress_* EGRESS) and as a cross-check of the daemon's counts: with --bpf-bypass INGRESS
bytes are counted once, so relayed + bytes_* is exactly what moved; with =egress, egress_bytes_*
is an upper bound of what moved - relayed.
pasta runs in topo.host with --config-net, `-t PORT_T-PORT_T+1` (the host's 127.0.0.1/::1 -> the
namespace's loopback) and `-T PORT_TT-PORT_TT+1` (the namespace's loopback -> the host's), and with
`seqstream.py hold` as its command: that writes its PID to a file, so the test can start more
processes in pasta's namespace with `nsenter --net=/proc/PID/ns/net`. pasta itself is started
the way test_fastpath.py does, in a copy of our mount namespace (`unshare --mount`) entered into
topo.host (`nsenter --net`), because `ip netns exec` would give it a fresh /sys without the
machine's bpffs and cgroup v2 mounts; no step forks, so the spawned PID is pasta's.

The peers are tests/integration/seqstream.py (its docstring has the protocol): every stream is a
known function of a seed, so each receiver checks every byte (order, loss, duplication, excess).
Servers: `seqstream.py server PORT_T` inside pasta's namespace (-t path) and `server PORT_TT` in
topo.host (-T path); clients connect to 127.0.0.1 or ::1 on the other side.

Cases (mode x family where the family matters):
  1. ordering: 150 connections through -t and 150 through -T (4 at a time each, at once), both
     directions streaming at once, writes of 1 B .. 256 KiB with random pauses, receivers that
     pause too: 0 order errors, all 300 done within the time bound; with the bypass on,
     switches away from the relay in both directions (on: INGRESS; egress: EGRESS), the bypass
     carried bytes both ways, the daemon relayed no more than was sent, and its statistics
     show hand-overs put off because data was still in flight;
  2. + 7. 10 MiB up and down through -t and -T, SHA-256 checked, request first as iperf3 and
     HTTP do (the side that sends the bulk waits for a one-line answer to its request, or to
     its own line, before it starts); with the bypass on, for each transfer the bypass carried
     more than half of its bytes (total - relayed) after at least one switch in its direction;
     (on) relayed + INGRESS bytes == the bytes moved; with it off, no bypass map exists;
  2b. 10 MiB up and down with the bulk right behind the header ("bulk from the first byte"):
     SHA-256 only; how much the bypass carried is printed, not checked (see its docstring);
  2c. iperf3 through -t for 3 s each way, a sender that never pauses: (on) the bypass carried at
     least half the bytes each way (the two-step hand-over through the relay's tail);
  2d. -t auto: the forward that automatic forwarding opens at run time is registered with the
     bypass, carries 10 MiB transfers (IPv4, IPv6) like a static one, and is unregistered when
     its server closes;
  3. 1000 short connections (request, response, close), 25 at a time on each path and family:
     all succeed; afterwards the daemon holds no pipe of theirs and (on) no bypass entry;
  4. half-close both ways and RST both ways on both paths (every byte checked; the side that
     did not reset sees ECONNRESET); (on, egress) the programs switched both directions
     meanwhile;
  5. a client and a server process SIGKILLed while data flows both ways, on both paths and
     families: the other side sees the end; afterwards the daemon holds no pipe of theirs,
     (on, egress) before the kills, some endpoints redirect (in the mode's target only) and
     flow_mirror shows the 8 spliced flows, one at least marked bypassed; after them,
     bypass_ends and bypass_ctl are empty and flow_mirror holds no spliced flow;
  6. a server that does not read (it answers the client's request line first, and the client
     waits 0.3 s more, so that the bypass takes over before the flood): the client's
     non-blocking sends stall, the total the kernel took stays under the bypass budget + the
     relay's buffers (and far below the 128 MiB that an unbounded redirect took); once the
     server reads, every byte arrives in order.
     "on": over the budget the direction is back on the relay, whose TCP backpressure holds
     the sender: select() does not keep saying "writable" to a send that then fails (no busy
     loop, asserted); the daemon holds its relay at the budget rather than writing over TCP
     behind the server's unread ingress bytes (no tail went back to TCP, asserted). "egress": TCP's own bound (the buffers on the path, no budget); the
     spurious "writable" count is printed, not asserted (the documented limitation).

Time (2 CPUs, measured): about 80 s for "on", 75 s for "egress", 25 s for "off" (the settled
readings of bypass_daemon cost ~1.2 s each); about 3 minutes for the whole file.
"""

import json
import os
import re
import struct
import subprocess
import itertools
import time

import pytest

from helpers import as_user, require_root_bpf, run_cmd, user_env, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
PIN_BASE = "/sys/fs/bpf/bpasst"
PORT_T = 18080  # -t: host loopback -> namespace loopback
PORT_TT = 18090  # -T: namespace loopback -> host loopback
LO = {"v4": "127.0.0.1", "v6": "::1"}
SIZE = 10 << 20
BUDGET = 16 << 20  # BP_BYPASS_BUDGET_DEFAULT, include/bpasst_bypass.h
# enum bp_bypass_mode (include/bpasst_bypass.h), and the names bpftool prints with BTF
MODE_INGRESS, MODE_EGRESS = 1, 2
MODE_NAMES = {MODE_INGRESS: ("BP_BYPASS_MODE_INGRESS", "BP_BYPASS_MODE_REDIRECT"),
              MODE_EGRESS: ("BP_BYPASS_MODE_EGRESS",)}
# bp_flow_mirror.flags (include/bpasst_maps.h)
MIRROR_F_SPLICED, MIRROR_F_BYPASS_C2S, MIRROR_F_BYPASS_S2C = 1, 2, 4
# struct bp_bypass_counters, in order (include/bpasst_bypass.h); a shorter (older) value has
# the first ones, the others read 0
COUNTER_NAMES = ["insert_client", "insert_server", "insert_failed", "handover_c2s",
                 "handover_s2c", "bytes_c2s", "bytes_s2c", "msgs_redirected", "msgs_relayed",
                 "return_budget", "return_no_peer", "return_no_ctl", "return_state",
                 "ends_closed", "ingress_read", "to_egress_c2s", "to_egress_s2c",
                 "egress_bytes_c2s", "egress_bytes_s2c", "return_no_out", "expect_from_cookie",
                 "tail_bytes", "tail_returns"]
# struct bp_bypass_end: the layout with ingress_in (72 bytes), with egressed (64) and the first
# version's (56)
END_LAYOUTS = {72: ("<6Q6I", ["socket_cookie", "passed", "redirected", "egressed",
                              "ingress_read", "ingress_in", "role", "mode", "used_gen",
                              "handovers", "returns", "last_return"]),
               64: ("<5Q6I", ["socket_cookie", "passed", "redirected", "egressed",
                              "ingress_read", "role", "mode", "used_gen", "handovers", "returns",
                              "last_return"]),
               56: ("<4Q6I", ["socket_cookie", "passed", "redirected", "ingress_read", "role",
                              "mode", "used_gen", "handovers", "returns", "last_return"])}

DAEMON_FIELDS = ["conns_registered", "conns_both_ends", "conns_no_ends", "attempts", "granted",
                 "postponed_pending", "postponed_count", "postponed_outq", "postponed_rqueue",
                 "postponed_diag", "gave_up", "bypassed_now", "granted_egress",
                 "upgrades", "relayed_c2s", "relayed_s2c", "tails_on", "tail_returned",
                 "postponed_unread", "held"]  # struct bp_bypass_daemon_stats
STATS_STILL = 1.15  # s without a change: bypass_daemon is rewritten (when changed) every 1 s
DIRS = ("c2s", "s2c")
BYPASS_MODES = ("on", "egress")  # the modes in which the bypass must come up

_names = itertools.count(1)

pytestmark = pytest.mark.bpf


@pytest.fixture(scope="module", autouse=True)
def tun_world_accessible():
    st = os.stat("/dev/net/tun")
    if st.st_mode & 0o666 != 0o666:
        os.chmod("/dev/net/tun", 0o666)


@pytest.fixture(params=["on", "egress", "off"])
def mode(request):
    """"on", "egress": root, the bypass must come up (--bpf-bypass, --bpf-bypass=egress);
    "off": the unprivileged user, splice path."""
    if request.param in BYPASS_MODES:
        require_root_bpf()
        with open("/proc/self/mountinfo") as f:
            if not any(" - bpf " in ln and ln.split()[4] == "/sys/fs/bpf" for ln in f):
                pytest.skip("no bpffs mounted at /sys/fs/bpf")
        return request.param, None
    return "off", request.getfixturevalue("unpriv")


@pytest.fixture
def seqstream(free_tmp_path):
    """A copy of seqstream.py that the unprivileged user can read."""
    path = free_tmp_path("seqstream.py")
    with open(os.path.join(HERE, "seqstream.py")) as src, open(path, "w") as dst:
        dst.write(src.read())
    os.chmod(path, 0o644)
    return path


def bpftool_json(*args):
    r = run_cmd(["bpftool", "-j", *args], check=False)
    assert r.returncode == 0, f"bpftool {' '.join(args)}: {r.stderr.strip()}"
    return json.loads(r.stdout)


def raw_bytes(v):
    return bytes(int(x, 16) for x in v)


def delta_of(after, before):
    return {k: after.get(k, 0) - before.get(k, 0) for k in after}


def is_mode(value, mode):
    """An endpoint's mode (a number, or bpftool's enumerator name) is `mode`."""
    return value == mode or value in MODE_NAMES[mode]


class Pasta:
    """pasta with the two forwards and the hold command; its namespace; its pinned maps."""

    def __init__(self, topo, bins, mode, seqstream, t_spec=f"{PORT_T}-{PORT_T + 1}"):
        self.topo, self.bins, self.seq = topo, bins, seqstream
        self.mode, self.user = mode
        self.name = f"byp-{os.getpid()}-{next(_names)}"
        self.pins = f"{PIN_BASE}/{self.name}"
        self.ready = topo.tmp_path("hold.ready")
        self.bypass = self.mode in BYPASS_MODES
        args = ["--config-net", "-t", t_spec, "-T", f"{PORT_TT}-{PORT_TT + 1}",
                "--bpf-name", self.name,
                "--bpf-bypass=egress" if self.mode == "egress" else "--bpf-bypass"]
        pasta = [bins.pasta, *args, "--", "/usr/bin/python3", seqstream, "hold", self.ready,
                 "600"]
        wrapper = ('mount --bind "/etc/netns/$0/resolv.conf" /etc/resolv.conf && '
                   'exec nsenter --net="/run/netns/$0" -- "$@"')
        argv = ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", wrapper,
                topo.host, *as_user(pasta, self.user)]
        self.proc = topo.spawn(None, argv, env=user_env(self.user, topo.tmpdir))
        self.proc.name = f"pasta[{self.mode}]"
        self.pid = self.proc.pid

        def hold_ready():
            if not self.proc.alive():
                raise AssertionError(f"pasta exited ({self.proc.returncode}):\n"
                                     f"{self.proc.output()}")
            return os.path.exists(self.ready)
        wait_for(hold_ready, timeout=20, what=f"pasta's command to start:\n{self.proc.output()}")
        with open(self.ready) as f:
            self.ns_pid = int(f.read())
        assert os.path.realpath(f"/proc/{self.pid}/exe") == os.path.realpath(bins.passt), \
            f"PID {self.pid} is not pasta"
        if self.bypass:
            self.proc.wait_for_output(r"BPF bypass: on \(", timeout=10)
        else:
            m = self.proc.wait_for_output(r"BPF bypass: off: (.+)", timeout=10)
            assert m.group(1).strip(), self.proc.output()
        print(f"pasta[{self.mode}]: {self.check_log()}")
        if self.mode == "off":
            self.check_no_bypass_maps()
        else:
            want = {"bypass_ends", "bypass_ctl", "bypass_counters", "bypass_daemon",
                    "flow_mirror"}
            have = set(os.listdir(self.pins)) if os.path.isdir(self.pins) else set()
            assert want <= have, f"{self.pins} lacks {sorted(want - have)}: {sorted(have)}"
        # started after pasta: with -t auto, its forward is opened at run time
        self.ns_server = self.spawn_ns(["server", PORT_T])
        self.host_server = self.spawn_host(["server", PORT_TT])
        self.ns_server.wait_for_output(r"^LISTENING", timeout=15)
        self.host_server.wait_for_output(r"^LISTENING", timeout=15)

    # ---- processes on either side

    def py(self, args):
        return ["/usr/bin/python3", self.seq, *[str(a) for a in args]]

    def ns_argv(self, args):
        return ["nsenter", f"--net=/proc/{self.ns_pid}/ns/net", "--", *self.py(args)]

    def spawn_ns(self, args):
        """seqstream.py in pasta's namespace (behind -t, in front of -T)."""
        p = self.topo.spawn(None, self.ns_argv(args))
        p.name = f"ns:{args[0]}"
        return p

    def spawn_host(self, args):
        """seqstream.py in topo.host (in front of -t, behind -T)."""
        p = self.topo.spawn(self.topo.host, self.py(args))
        p.name = f"host:{args[0]}"
        return p

    def client(self, path, args):
        """A client on the side where `path`'s forward listens: "t" host, "T" namespace."""
        return self.spawn_host(args) if path == "t" else self.spawn_ns(args)

    @staticmethod
    def port(path):
        return PORT_T if path == "t" else PORT_TT

    def server(self, path):
        return self.ns_server if path == "t" else self.host_server

    # ---- checks on the daemon

    def check_log(self):
        """The bypass line was logged exactly once, and pasta is still running."""
        out = self.proc.output()
        assert self.proc.alive(), f"pasta exited ({self.proc.returncode}):\n{out[-4000:]}"
        lines = re.findall(r"^.*BPF bypass: (?:on|off).*$", out, re.MULTILINE)
        assert len(lines) == 1, f"the bypass line should be logged once:\n{out[-4000:]}"
        return lines[0]

    def check_no_bypass_maps(self):
        found = [f for f in os.listdir(self.pins)] if os.path.isdir(self.pins) else []
        assert not [f for f in found if f.startswith("bypass")], \
            f"the bypass is off, yet {self.pins} holds {found}"

    def fds(self):
        """(pipes, sockets) among the daemon's descriptors."""
        pipes = socks = 0
        for fd in os.listdir(f"/proc/{self.pid}/fd"):
            try:
                t = os.readlink(f"/proc/{self.pid}/fd/{fd}")
            except OSError:
                continue
            pipes += t.startswith("pipe:")
            socks += t.startswith("socket:")
        return pipes, socks

    def wait_pipes(self, baseline, timeout=15):
        wait_for(lambda: self.fds()[0] <= baseline, timeout=timeout,
                 what=f"the daemon's pipes back to {baseline} (now {self.fds()})")

    # ---- the pinned maps (bypass on)

    def dump(self, map_name):
        return bpftool_json("map", "dump", "pinned", f"{self.pins}/{map_name}")

    def counters(self):
        """bypass_counters summed over CPUs, by field name."""
        entry = self.dump("bypass_counters")[0]
        total = dict.fromkeys(COUNTER_NAMES, 0)
        if "formatted" in entry:
            for cpu in entry["formatted"]["values"]:
                for k, v in cpu["value"].items():
                    total[k] = total.get(k, 0) + v
        else:
            for cpu in entry["values"]:
                raw = raw_bytes(cpu["value"])
                n = min(len(raw) // 8, len(COUNTER_NAMES))
                for k, v in zip(COUNTER_NAMES, struct.unpack(f"<{n}Q", raw[:8 * n])):
                    total[k] += v
        return total

    def daemon_stats(self):
        entry = self.dump("bypass_daemon")[0]
        if "formatted" in entry:
            return entry["formatted"]["value"]
        raw = raw_bytes(entry["value"])
        n = min(len(raw) // 8, len(DAEMON_FIELDS))
        return dict(zip(DAEMON_FIELDS, struct.unpack(f"<{n}Q", raw[:8 * n])))

    def ends(self):
        """bypass_ends values as dicts."""
        out = []
        for e in self.dump("bypass_ends"):
            if "formatted" in e:
                out.append(e["formatted"]["value"])
            else:
                raw = raw_bytes(e["value"])
                assert len(raw) in END_LAYOUTS, f"bypass_ends value of {len(raw)} bytes"
                fmt, names = END_LAYOUTS[len(raw)]
                out.append(dict(zip(names, struct.unpack(fmt, raw))))
        return out

    def settled_stats(self, what, pred=None, timeout=8):
        """bypass_daemon once it went STATS_STILL s without a change (the daemon rewrites it
        on its 1 s tick when changed: a reading that old has every byte relayed before it was
        taken) and pred(it) holds."""
        deadline = time.monotonic() + timeout
        last = since = None
        while True:
            st = self.daemon_stats()
            now = time.monotonic()
            moving = {k: v for k, v in st.items() if k != "bypassed_now"}
            if last is None or moving != last:
                last, since = moving, now
            elif now - since >= STATS_STILL and (pred is None or pred(st)):
                return st
            if now > deadline:
                raise AssertionError(f"bypass_daemon did not settle ({what}) in {timeout} s: "
                                     f"{st}")
            time.sleep(0.2)

    # ---- what the bypass carried, by mode (d: "c2s" or "s2c")

    @staticmethod
    def carried(sdelta, moved, d):
        """Bytes of direction d that the bypass carried: the bytes moved minus the relay's."""
        return moved[d] - sdelta[f"relayed_{d}"]

    def check_carried(self, delta, sdelta, moved, d):
        """The programs' byte counts agree with the daemon's: "on", INGRESS bytes are counted
        once, so relayed + INGRESS == moved exactly; "egress", the EGRESS count is an upper
        bound (resent bytes count again), so moved - relayed <= it."""
        carried = self.carried(sdelta, moved, d)
        if self.mode == "on":
            assert delta[f"bytes_{d}"] == carried, \
                f"{d}: relayed {sdelta[f'relayed_{d}']} + INGRESS {delta[f'bytes_{d}']} != " \
                f"{moved[d]} moved; programs {delta}; daemon {sdelta}"
        elif self.mode == "egress":
            assert carried <= delta[f"egress_bytes_{d}"], \
                f"{d}: {moved[d]} moved - {sdelta[f'relayed_{d}']} relayed = {carried} is more " \
                f"than the programs' EGRESS count {delta[f'egress_bytes_{d}']} (an upper " \
                f"bound); programs {delta}; daemon {sdelta}"

    def switches(self, delta, d):
        """Switches of direction d away from the relay to the mode's target (programs' counters
        delta): "on" INGRESS (handover_*), "egress" EGRESS (to_egress_*)."""
        return delta[f"to_egress_{d}"] if self.mode == "egress" else delta[f"handover_{d}"]

    def check_policy(self, what=""):
        """The programs only ever switched to the mode's target, and the daemon only granted
        that: "on" never EGRESS, "egress" never INGRESS."""
        if not self.bypass:
            return
        c, st = self.counters(), self.daemon_stats()
        if self.mode == "egress":
            bad = {k: c[k] for k in ("handover_c2s", "handover_s2c", "bytes_c2s", "bytes_s2c")
                   if c[k]}
            bad.update({k: st[k] for k in ("upgrades",) if st.get(k, 0)})
            wrong = MODE_INGRESS
        else:
            bad = {k: c[k] for k in ("to_egress_c2s", "to_egress_s2c", "egress_bytes_c2s",
                                     "egress_bytes_s2c") if c[k]}
            bad.update({k: st[k] for k in ("granted_egress", "upgrades") if st.get(k, 0)})
            wrong = MODE_EGRESS
        assert not bad, f"--bpf-bypass{'=egress' if self.mode == 'egress' else ''}, yet " \
            f"{'INGRESS' if wrong == MODE_INGRESS else 'EGRESS'} was used{what}: {bad}; " \
            f"programs {c}; daemon {st}"
        ends = [e for e in self.ends() if is_mode(e["mode"], wrong)]
        assert not ends, f"{self.mode}: endpoints in mode {wrong}{what}: {ends}"

    def ctl_count(self):
        return len(self.dump("bypass_ctl"))

    def mirror_forward_flows(self, ports=(PORT_T, PORT_T + 1, PORT_TT, PORT_TT + 1)):
        """flow_mirror entries of spliced flows, or with a forwarded port on either side."""
        hits = []
        for e in self.dump("flow_mirror"):
            v = e.get("formatted", {}).get("value")
            assert v is not None, f"flow_mirror has no BTF-typed values: {e}"
            sides = [v.get("tap", {}), v.get("host", {})]
            if v.get("flags", 0) & MIRROR_F_SPLICED or \
                    any(s.get(f) in ports for s in sides for f in ("src_port", "dst_port")):
                hits.append(v)
        return hits

    def wait_no_bypass_entries(self, timeout=10):
        """bypass_ends and bypass_ctl empty, flow_mirror without a flow of the forwards."""
        def clean():
            return not self.ends() and self.ctl_count() == 0 and not self.mirror_forward_flows()
        try:
            wait_for(clean, timeout=timeout, interval=0.2, what="no bypass entry left")
        except AssertionError as e:
            raise AssertionError(f"{e}: bypass_ends={self.ends()} bypass_ctl={self.ctl_count()} "
                                 f"flow_mirror={self.mirror_forward_flows()}") from None

    def stop(self):
        """Let the command exit: pasta exits 0; (on) its pins go with it."""
        self.check_log()
        self.check_policy()
        open(self.ready + ".stop", "w").close()
        try:
            rc = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"pasta did not exit:\n{self.proc.output()[-3000:]}") from None
        assert rc == 0, f"pasta exited {rc}:\n{self.proc.output()[-3000:]}"
        self.check_no_bypass_maps()


@pytest.fixture
def pasta(topo, bins, mode, seqstream):
    return Pasta(topo, bins, mode, seqstream)


def finish(procs, timeout=60):
    """Wait for client processes; their outputs (exit status 0 required)."""
    outs = []
    for p in procs:
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{p.name} still running after {timeout} s:\n"
                                 f"{p.output()[-3000:]}") from None
        assert rc == 0, f"{p.name} exited {rc}:\n{p.output()[-3000:]}"
        outs.append(p.output())
    return outs


# ---------------------------------------------------------------------------------------------
# 1. ordering


SEQ_CONNS = 150  # per path and family: 300 per family
SEQ_CONC = 4
SEQ_MAXSECS = 30


@pytest.mark.timeout(100)
@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_ordering_random_handover(pasta, fam):
    if pasta.bypass:
        before, stats_before = pasta.counters(), pasta.settled_stats("before")
    seed = int.from_bytes(os.urandom(3), "little")
    clients = [pasta.client(path, ["seqmany", LO[fam], pasta.port(path), SEQ_CONNS, SEQ_CONC,
                                   seed + i, SEQ_MAXSECS])
               for i, path in enumerate(("t", "T"))]
    outs = finish(clients, timeout=SEQ_MAXSECS + 40)
    moved = dict.fromkeys(DIRS, 0)
    for path, out in zip(("t", "T"), outs):
        m = re.search(r"^SEQ done=(\d+) ok=(\d+) errors=(\d+) bytes=(\d+) elapsed=(\S+) "
                      r"c2s=(\d+) s2c=(\d+)", out, re.MULTILINE)
        assert m, f"-{path}: {out[-3000:]}"
        print(f"-{path} {fam}: {m.group(0)}")
        assert int(m.group(3)) == 0, f"-{path} {fam}: order or transfer errors:\n{out[-4000:]}"
        assert int(m.group(1)) == SEQ_CONNS == int(m.group(2)), \
            f"-{path} {fam}: only {m.group(1)} of {SEQ_CONNS} connections in {SEQ_MAXSECS} s"
        moved["c2s"] += int(m.group(6))
        moved["s2c"] += int(m.group(7))
    if pasta.bypass:
        delta = delta_of(pasta.counters(), before)
        # every connection counted, and the relay's byte counts final
        stats = pasta.settled_stats(
            f"{2 * SEQ_CONNS} connections",
            lambda st: st["conns_registered"] - stats_before["conns_registered"] >= 2 * SEQ_CONNS)
        sdelta = delta_of(stats, stats_before)
        print(f"moved {moved}\ncounters: {delta}\ndaemon: {sdelta}")
        for d in DIRS:
            carried = pasta.carried(sdelta, moved, d)
            print(f"{d}: {carried} of {moved[d]} bytes carried by the bypass "
                  f"({100 * carried / max(moved[d], 1):.1f}%), {pasta.switches(delta, d)} "
                  f"switches")
            assert carried >= 0, \
                f"the daemon relayed {sdelta[f'relayed_{d}']} bytes {d}, more than the " \
                f"{moved[d]} the clients moved: {sdelta}"
            assert pasta.switches(delta, d) > 0 and carried > 0, \
                f"no hand-over {d} in {2 * SEQ_CONNS} connections ({pasta.mode}): {delta}, " \
                f"daemon {sdelta}"
            pasta.check_carried(delta, sdelta, moved, d)
        # on average one direction at least of every other connection was handed over
        assert pasta.switches(delta, "c2s") + pasta.switches(delta, "s2c") >= SEQ_CONNS, \
            f"few hand-overs in {2 * SEQ_CONNS} connections: {delta}, daemon {sdelta}"
        # hand-overs were tried while data was still on its way (and put off)
        postponed = sum(v for k, v in sdelta.items() if k.startswith("postponed_"))
        assert postponed > 0, f"no hand-over attempt found data in flight: {sdelta}"
    pasta.stop()


# ---------------------------------------------------------------------------------------------
# 2. and 7. 10 MiB each way, and the counters


def transfer(pasta, path, fam, verb):
    """One 10 MiB transfer (seqstream verb up, down, rup or rdown) through the forward of
    `path`, SHA-256 checked; returns (programs' counters delta, daemon statistics delta, bytes
    moved each way), the first two None with the bypass off."""
    if pasta.bypass:
        before, stats_before = pasta.counters(), pasta.daemon_stats()
    seed = int.from_bytes(os.urandom(4), "little")
    out = finish([pasta.client(path, [verb, LO[fam], pasta.port(path), SIZE, seed])])[0]
    m = re.search(rf"^{verb.upper()} ok .* wire_c2s=(\d+) wire_s2c=(\d+)$", out, re.MULTILINE)
    assert m, f"{verb} -{path} {fam}: {out[-2000:]}"
    moved = {"c2s": int(m.group(1)), "s2c": int(m.group(2))}
    if not pasta.bypass:
        return None, None, moved
    delta = delta_of(pasta.counters(), before)
    # this connection counted and the relay's counts final (the previous transfer's were
    # settled by the previous call: nothing else moves in between)
    stats = pasta.settled_stats(f"{verb} -{path} {fam}", lambda st: st["conns_registered"] >
                                stats_before["conns_registered"])
    sdelta = {k: stats[k] - stats_before.get(k, 0) for k in stats if k != "bypassed_now"}
    return delta, sdelta, moved


@pytest.mark.timeout(120)
@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_10mib_sha256_and_counters(pasta, fam):
    """Request first, then the bulk, as iperf3 and HTTP do: the side that sends the 10 MiB
    waits for a one-line answer before it starts (up: "RUP" -> "READY", then the client's
    bulk; down: "RDOWN" -> "READY" -> "GO", then the server's bulk), so the relay has caught up
    with the sender once before the bulk, and the bypass must carry more than half of it:
    bytes moved - bytes the daemon relayed (bypass_daemon), after at least one switch to the
    mode's target. "on": relayed + INGRESS bytes (bytes_*) == bytes moved, exactly; returns to
    the relay over the budget are allowed."""
    problems = []
    if pasta.bypass:
        pasta.settled_stats("before the transfers")
    for path in ("t", "T"):
        for verb, d in (("rup", "c2s"), ("rdown", "s2c")):
            delta, sdelta, moved = transfer(pasta, path, fam, verb)
            if delta is None:
                continue
            switches = pasta.switches(delta, d)
            carried = {x: pasta.carried(sdelta, moved, x) for x in DIRS}
            print(f"{verb} -{path} {fam}: {carried[d]} of {moved[d]} bytes carried {d} by the "
                  f"bypass ({100 * carried[d] / moved[d]:.1f}%), {switches} switches\n"
                  f"  programs {delta}\n  daemon {sdelta}")
            what = f"{verb} -{path} {fam} ({pasta.mode})"
            if switches < 1 or carried[d] <= SIZE // 2:
                problems.append(f"{what}: {carried[d]} of {moved[d]} bytes carried {d} by the "
                                f"bypass, {switches} switches; programs {delta}; daemon {sdelta}")
            for x in DIRS:
                if carried[x] < 0:
                    problems.append(f"{what}: the daemon relayed {sdelta[f'relayed_{x}']} bytes "
                                    f"{x}, more than the {moved[x]} moved; daemon {sdelta}")
                else:
                    try:
                        pasta.check_carried(delta, sdelta, moved, x)
                    except AssertionError as e:
                        problems.append(f"{what}: {e}")
    assert not problems, "the bypass did not carry most of the bytes, or miscounted them:\n" + \
        "\n".join(problems)
    if not pasta.bypass:
        pasta.check_no_bypass_maps()
    pasta.stop()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_10mib_bulk_from_first_byte(pasta, fam):
    """Bulk from the first byte: the client sends its header and the 10 MiB at once (up), or
    the server starts its 10 MiB the moment it has read the header (down). Only the integrity
    (SHA-256, length) is checked; the share the bypass carried (moved - relayed) is printed.

    Not asserted: 10 MiB take a few milliseconds, about what finding the server's endpoint
    and the first hand-over attempts take, and a hand-over needs the daemon to have relayed
    every byte the sender passed at the moment the program compares the counts, which a sender
    that keeps its send queue full makes a matter of scheduling. The long version of this case,
    asserted, is test_iperf3_sender_never_pauses; the request-first protocol is
    test_10mib_sha256_and_counters."""
    if pasta.bypass:
        pasta.settled_stats("before the transfers")
    for path in ("t", "T"):
        for verb, d in (("up", "c2s"), ("down", "s2c")):
            delta, sdelta, moved = transfer(pasta, path, fam, verb)
            if delta is None:
                print(f"{verb} -{path} {fam}: ok (splice path)")
                continue
            carried = pasta.carried(sdelta, moved, d)
            print(f"{verb} -{path} {fam}: ok; {carried} of {moved[d]} bytes carried {d} by the "
                  f"bypass ({100 * carried / moved[d]:.1f}%; programs: INGRESS "
                  f"{delta[f'bytes_{d}']}, EGRESS <= {delta[f'egress_bytes_{d}']}), "
                  f"{pasta.switches(delta, d)} switches; daemon {sdelta}")
    if not pasta.bypass:
        pasta.check_no_bypass_maps()
    pasta.stop()


IPERF_PORT = PORT_T + 1  # inside the -t range, no seqstream server on it
IPERF_SECS = 3
IPERF_MIN_SHARE = 50  # % of the bytes each way that the bypass must carry ("on")


@pytest.mark.timeout(90)
def test_iperf3_sender_never_pauses(pasta):
    """iperf3 through the -t forward (IPv4), IPERF_SECS s each way: its sender writes from the
    first byte and never pauses (it keeps its send buffer full), so the relay is always
    behind it and the receiver has rarely read everything at the moment the sender sends.
    "on": the ingress hand-over goes in two steps (first our relay's own writes are redirected
    into the receiver's ingress queue, the tail; then the sender, as soon as the relay has
    written what it passed), and the bypass must carry at least IPERF_MIN_SHARE % of the bytes
    each way (what iperf3 sent minus what the daemon relayed), with the receiver's unread bytes
    held under the budget. Before the tail, the namespace-bound direction was never handed
    over (0 %). "egress" (no tail): printed. "off": iperf3 works."""
    srv = pasta.topo.spawn(None, ["nsenter", f"--net=/proc/{pasta.ns_pid}/ns/net", "--",
                                  "iperf3", "-s", "--forceflush", "-B", "127.0.0.1", "-p",
                                  str(IPERF_PORT)])
    srv.name = "ns:iperf3-s"
    srv.wait_for_output(r"Server listening", timeout=10)
    problems = []
    try:
        for reverse, d in ((False, "c2s"), (True, "s2c")):
            if pasta.bypass:
                before = pasta.counters()
                stats_before = pasta.settled_stats(f"before iperf3 {d}")
            argv = ["iperf3", "-c", "127.0.0.1", "-p", str(IPERF_PORT), "-t", str(IPERF_SECS),
                    "-J", *(["-R"] if reverse else [])]
            cli = pasta.topo.spawn(pasta.topo.host, argv)
            cli.name = f"host:iperf3 {d}"
            doc = json.loads(finish([cli], timeout=IPERF_SECS + 30)[0])
            moved = max(doc["end"]["sum_sent"]["bytes"], doc["end"]["sum_received"]["bytes"])
            assert moved > 0, f"iperf3 {d} moved nothing: {doc['end']}"
            if not pasta.bypass:
                print(f"iperf3 {d} ({pasta.mode}): {moved} bytes")
                continue
            delta = delta_of(pasta.counters(), before)
            stats = pasta.settled_stats(f"iperf3 {d}", lambda st: st["conns_registered"] >=
                                        stats_before["conns_registered"] + 2)
            sdelta = {k: stats[k] - stats_before.get(k, 0) for k in stats
                      if k != "bypassed_now"}
            carried = moved - sdelta[f"relayed_{d}"]
            share = 100 * carried / moved
            print(f"iperf3 {d} ({pasta.mode}): {carried} of {moved} bytes carried by the bypass "
                  f"({share:.1f}%); tails on {sdelta['tails_on']}, tail bytes "
                  f"{delta['tail_bytes']}, returns budget {delta['return_budget']} tail "
                  f"{delta['tail_returns']}\n  programs {delta}\n  daemon {sdelta}")
            if pasta.mode == "on" and share < IPERF_MIN_SHARE:
                problems.append(f"iperf3 {d}: the bypass carried {share:.1f}% of {moved} bytes "
                                f"(at least {IPERF_MIN_SHARE}% expected); programs {delta}; "
                                f"daemon {sdelta}")
    finally:
        srv.kill()
    assert not problems, "\n".join(problems)


def listen_ports(pasta):
    """The ports in bypass_listen (struct bp_bypass_listen: cookie, ip[4], port, family)."""
    ports = set()
    for e in bpftool_json("map", "dump", "pinned", f"{pasta.pins}/bypass_listen"):
        if "formatted" in e:
            ports.add(int(e["formatted"]["key"]["port"]))
        else:
            ports.add(struct.unpack_from("<H", raw_bytes(e["key"]), 24)[0])
    return ports


def host_listening(pasta, port):
    r = pasta.topo.run(pasta.topo.host, ["ss", "-Hltn", f"sport = :{port}"], check=False)
    return r.returncode == 0 and r.stdout.strip() != ""


@pytest.mark.timeout(120)
def test_auto_forward_bypassed(topo, bins, mode, seqstream):
    """-t auto with the bypass: the namespace's server on PORT_T starts after pasta (as with
    every Pasta here), so automatic forwarding opens its host listener at run time. That
    listener's loopback addresses must then be registered with the bypass (bypass_listen),
    10 MiB request-first transfers through it (IPv4 and IPv6) handed over as through a static
    -t forward (at least one switch, more than half the bytes carried), and, once the server
    closed and the listener with it, the registration gone within the rescan. "off": the same
    transfers on the splice path, and the listener gone."""
    pasta = Pasta(topo, bins, mode, seqstream, t_spec="auto")
    wait_for(lambda: host_listening(pasta, PORT_T), timeout=5,
             what=f"the -t auto listener on port {PORT_T}")
    if pasta.bypass:
        wait_for(lambda: PORT_T in listen_ports(pasta), timeout=3,
                 what=f"port {PORT_T} in bypass_listen")
        pasta.settled_stats("before the transfers")
    problems = []
    for fam in ("v4", "v6"):
        delta, sdelta, moved = transfer(pasta, "t", fam, "rup")
        if delta is None:
            continue
        carried = pasta.carried(sdelta, moved, "c2s")
        switches = pasta.switches(delta, "c2s")
        print(f"-t auto {fam} ({pasta.mode}): {carried} of {moved['c2s']} bytes carried c2s, "
              f"{switches} switches")
        if switches < 1 or carried <= SIZE // 2:
            problems.append(f"-t auto {fam}: {carried} bytes carried, {switches} switches; "
                            f"programs {delta}; daemon {sdelta}")
    assert not problems, "\n".join(problems)
    pasta.ns_server.kill()
    pasta.ns_server.wait(timeout=5)
    wait_for(lambda: not host_listening(pasta, PORT_T), timeout=5,
             what=f"the -t auto listener on port {PORT_T} to close")
    if pasta.bypass:
        wait_for(lambda: PORT_T not in listen_ports(pasta), timeout=3,
                 what=f"port {PORT_T} out of bypass_listen")
        assert PORT_TT in listen_ports(pasta), "the static -T listener was unregistered"
    pasta.stop()


# ---------------------------------------------------------------------------------------------
# 3. many short connections


@pytest.mark.timeout(150)
def test_1000_short_connections(pasta):
    pipes = pasta.fds()[0]
    clients = [pasta.client(path, ["many", LO[fam], pasta.port(path), 250, 25])
               for path in ("t", "T") for fam in ("v4", "v6")]
    outs = finish(clients, timeout=120)
    for out in outs:
        m = re.search(r"^MANY ok=(\d+) of (\d+) in (\S+) s", out, re.MULTILINE)
        assert m and m.group(1) == m.group(2) == "250", out[-2000:]
        print(m.group(0))
    pasta.wait_pipes(pipes)
    if pasta.bypass:
        pasta.wait_no_bypass_entries()
    pasta.stop()


# ---------------------------------------------------------------------------------------------
# 4. half-close and RST


HALF_N = 1 << 20  # seqstream.py's half and rst: bytes each way (rst: client to server only)


@pytest.mark.timeout(90)
@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_half_close_and_reset(pasta, fam):
    cases = [(path, kind, arg) for path in ("t", "T")
             for kind, arg in (("half", "client-first"), ("half", "server-first"),
                               ("rst", "server"), ("rst", "client"))]
    if pasta.bypass:
        before, stats_before = pasta.counters(), pasta.settled_stats("before")
    procs = []
    for i, (path, kind, arg) in enumerate(cases):
        procs.append(pasta.client(path, [kind, LO[fam], pasta.port(path), arg, f"c{i}"]))
    outs = finish(procs, timeout=60)
    for i, ((path, kind, arg), out) in enumerate(zip(cases, outs)):
        srv = pasta.server(path)
        what = f"{kind} {arg} -{path} {fam}"
        if kind == "half":
            assert re.search(rf"^HALF c{i} {arg} ok$", out, re.MULTILINE), f"{what}: {out}"
            srv.wait_for_output(rf"^RESULT c{i} {arg} ok$", timeout=15)
        elif arg == "server":
            assert re.search(rf"^RST c{i} saw=reset$", out, re.MULTILINE), \
                f"{what}: the client should see ECONNRESET: {out}"
        else:
            assert re.search(rf"^RST c{i} client-reset sent$", out, re.MULTILINE), \
                f"{what}: {out}"
            m = srv.wait_for_output(rf"^RESULT c{i} saw=(\S+)", timeout=15)
            assert m.group(1) == "reset", f"{what}: the server should see ECONNRESET: {m.group(0)}"
    if pasta.bypass:  # the bypass carried some of these connections' bytes (1 MiB, paced)
        delta = delta_of(pasta.counters(), before)
        sdelta = delta_of(pasta.settled_stats("after", lambda st: st["conns_registered"] >=
                                              stats_before["conns_registered"] + len(cases)),
                          stats_before)
        # at least what moved: 1 MiB c2s in every case, 1 MiB s2c in the half-closes
        moved_min = {"c2s": len(cases) * HALF_N,
                     "s2c": sum(kind == "half" for _, kind, _ in cases) * HALF_N}
        print(f"counters: {delta}\ndaemon: {sdelta}\nmoved at least {moved_min}")
        for d in DIRS:
            assert pasta.switches(delta, d) > 0 and sdelta[f"relayed_{d}"] < moved_min[d], \
                f"no hand-over {d}, or the relay carried every byte ({pasta.mode}): " \
                f"{pasta.switches(delta, d)} switches, relayed {sdelta[f'relayed_{d}']} of at " \
                f"least {moved_min[d]}; programs {delta}; daemon {sdelta}"
    pasta.stop()


# ---------------------------------------------------------------------------------------------
# 5. a peer killed mid-stream


KILL_CASES = [(path, victim, fam) for path in ("t", "T") for victim in ("client", "server")
              for fam in ("v4", "v6")]


@pytest.mark.timeout(90)
def test_peer_killed_mid_stream(pasta):
    """Client and server processes SIGKILLed while data flows both ways."""
    # forking servers on the second port of each forward: one server process per connection
    servers = {"t": pasta.spawn_ns(["server", PORT_T + 1, "--fork"]),
               "T": pasta.spawn_host(["server", PORT_TT + 1, "--fork"])}
    for s in servers.values():
        s.wait_for_output(r"^LISTENING", timeout=15)
    pipes = pasta.fds()[0]
    clients = [pasta.client(path, ["chat", LO[fam], pasta.port(path) + 1, f"k{i}"])
               for i, (path, victim, fam) in enumerate(KILL_CASES)]
    for i, c in enumerate(clients):
        c.wait_for_output(rf"^FLOWING k{i}$", timeout=20)
        assert c.alive(), c.output()
    children = {}
    for i, (path, victim, fam) in enumerate(KILL_CASES):
        m = servers[path].wait_for_output(rf"^CHILD k{i} (\d+)$", timeout=5)
        children[i] = int(m.group(1))
    if pasta.bypass:
        # the kills must hit bypassed connections: wait until some endpoints redirect
        # ("egress": into our socket towards the peer; "on": into the peer's queue)
        target = MODE_EGRESS if pasta.mode == "egress" else MODE_INGRESS

        def redirecting():
            return sum(1 for e in pasta.ends() if is_mode(e["mode"], target))
        n = wait_for(redirecting, timeout=10, interval=0.1,
                     what=f"an endpoint in redirect mode: {pasta.ends()}")
        print(f"{n} of {2 * len(KILL_CASES)} endpoints redirecting at the kills")
        pasta.check_policy(" before the kills")
        # the flow mirror (updated once a second) shows the 8 spliced flows, and which of
        # their directions the bypass carries
        ports = (PORT_T + 1, PORT_TT + 1)

        def ours(v):
            return any(side[f] in ports for side in (v["tap"], v["host"])
                       for f in ("src_port", "dst_port"))

        def mirrored():
            flows = [v for v in pasta.mirror_forward_flows(ports)
                     if v["flags"] & MIRROR_F_SPLICED and ours(v)]
            bypassed = [v for v in flows
                        if v["flags"] & (MIRROR_F_BYPASS_C2S | MIRROR_F_BYPASS_S2C)]
            return len(flows) == len(KILL_CASES) and bypassed
        try:
            wait_for(mirrored, timeout=5, interval=0.2,
                     what="the spliced flows in flow_mirror, one at least marked bypassed")
        except AssertionError as e:
            raise AssertionError(f"{e}: {pasta.mirror_forward_flows(ports)}") from None
    for i, (path, victim, fam) in enumerate(KILL_CASES):
        if victim == "client":
            clients[i].kill()
        else:
            os.kill(children[i], 9)
    for i, (path, victim, fam) in enumerate(KILL_CASES):
        other = servers[path] if victim == "client" else clients[i]
        m = other.wait_for_output(rf"^CHAT-END k{i} (\S+)$", timeout=15)
        assert m.group(1) in ("eof", "reset"), \
            f"-{path} {fam}, {victim} killed: the other side saw {m.group(1)}"
    for i, (path, victim, fam) in enumerate(KILL_CASES):
        if victim == "server":  # the surviving client exits after the end
            clients[i].wait(timeout=10)
    pasta.wait_pipes(pipes)
    if pasta.bypass:
        pasta.wait_no_bypass_entries()
    pasta.stop()


# ---------------------------------------------------------------------------------------------
# 6. a receiver that does not read


FLOOD_SECS = 3.0
FLOOD_HOLD = 3.5
FLOOD_SNDBUF = 256 << 10
UNBOUNDED = 128 << 20  # what the issue saw an unbounded redirect take in a few seconds
SPURIOUS_WRITABLE_MAX = 50  # in FLOOD_SECS; a spinning sender makes thousands (not in egress)


def sysctl_max(ns_pid, key):
    """The third field of a tcp_rmem/tcp_wmem-like sysctl in the namespace of ns_pid."""
    r = run_cmd(["nsenter", f"--net=/proc/{ns_pid}/ns/net", "cat",
                 f"/proc/sys/{key.replace('.', '/')}"], check=True)
    return int(r.stdout.split()[-1])


def tcp_queued(ns_pid, port):
    """Recv-Q + Send-Q of the TCP sockets with `port` at either end, in ns_pid's namespace."""
    r = run_cmd(["nsenter", f"--net=/proc/{ns_pid}/ns/net", "ss", "-Htn", "state", "connected",
                 f"( sport = :{port} or dport = :{port} )"], check=True)
    total = 0
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) >= 4:  # State Recv-Q Send-Q Local Peer (with state filter: no State column)
            nums = [x for x in f if x.isdigit()]
            total += int(nums[0]) + int(nums[1])
    return total, r.stdout


@pytest.mark.timeout(60)
def test_non_reading_receiver_bounded(pasta):
    """A receiver that does not read for FLOOD_HOLD s while a non-blocking client floods it.

    The bytes the client got rid of are bounded (the TCP buffers on the path, the daemon's
    pipe, and with --bpf-bypass the INGRESS budget); once the server reads, every byte arrives
    in order. "on" and "off": the stalled sender sleeps in select() (no spin: over the budget
    the direction is back on the relay, whose TCP backpressure holds the sender).

    "egress": known and documented limitation (docs/pasta.1, --bpf-bypass=egress): a
    non-blocking sender whose receiver stalls is told EAGAIN by send() while poll()/select()
    say writable, so it spins (sk_msg's egress redirect charges the bytes to the target
    socket, and the sender's own socket looks writable). The count of those spurious
    "writable" is printed, not asserted; the byte bound is (TCP buffers + pipe, no budget).
    """
    flows = [("t", "v4"), ("T", "v6")]
    if pasta.bypass:
        before, stats_before = pasta.counters(), pasta.settled_stats("before")
    procs = [pasta.client(path, ["flood", LO[fam], pasta.port(path), FLOOD_SECS, FLOOD_HOLD,
                                 FLOOD_SNDBUF, f"f{i}"])
             for i, (path, fam) in enumerate(flows)]
    with open("/proc/sys/fs/pipe-max-size") as f:
        pipe_max = int(f.read())
    # Once a sender stalls, every byte it got rid of is in one of the four sockets' TCP queues
    # (client, the daemon's two, server), in the daemon's pipe, or, with the bypass, redirected
    # and unread at the server: the last two together must stay under budget + pipe. In egress
    # mode nothing is queued at the server outside its TCP receive queue: no budget; but the
    # bytes of a send call waiting for room in our socket towards the server are charged to
    # the client's socket and not in its Send-Q: up to the client's send buffer.
    stalled = {}
    for i, ((path, fam), p) in enumerate(zip(flows, procs)):
        m = p.wait_for_output(rf"^STALLED f{i} total=(\d+)", timeout=FLOOD_SECS + 5)
        port = pasta.port(path)
        q_host, ss_host = tcp_queued(pasta.proc.pid, port)
        q_ns, ss_ns = tcp_queued(pasta.ns_pid, port)
        stalled[i] = (int(m.group(1)), q_host + q_ns, ss_host + ss_ns)
    outs = finish(procs, timeout=60)
    flooded, moved = 0, dict.fromkeys(DIRS, 0)
    for i, ((path, fam), out) in enumerate(zip(flows, outs)):
        m = re.search(rf"^FLOOD f{i} total=(\d+) sndbuf=(\d+) at=(\S*) eagain=(\d+)", out,
                      re.MULTILINE)
        assert m, out
        total, sndbuf, eagain = int(m.group(1)), int(m.group(2)), int(m.group(4))
        flooded += total
        samples = [int(x) for x in m.group(3).split(",") if x]
        srv = pasta.server(path)
        rcvbuf = int(srv.wait_for_output(rf"^FLOOD-RCVBUF f{i} (\d+)", timeout=5).group(1))
        # Where the bytes can be: the client's send buffer, the server's receive buffer, the
        # daemon's accepted socket (receive), its pipe, its socket to the server (send), and,
        # with the bypass on, at most the budget redirected and unread at the server.
        side_a = pasta.proc.pid if path == "t" else pasta.ns_pid  # the forward's listener
        side_b = pasta.ns_pid if path == "t" else pasta.proc.pid
        relay = (sysctl_max(side_a, "net.ipv4.tcp_rmem") + sysctl_max(side_b, "net.ipv4.tcp_wmem")
                 + pipe_max)
        # egress mode: TCP's own bound, the buffers on the path and no budget
        budget = 0 if pasta.mode == "egress" else BUDGET
        bound = budget + sndbuf + rcvbuf + relay + (1 << 20)
        at_stall, queued, ss_out = stalled[i]
        outside = at_stall - queued
        outside_max = (sndbuf if pasta.mode == "egress" else BUDGET) + pipe_max + (256 << 10)
        print(f"-{path} {fam} ({pasta.mode}): {eagain} spurious writable; "
              f"total {total >> 10} KiB (samples {samples}); at "
              f"the stall {at_stall >> 10} KiB of which {queued >> 10} KiB in TCP queues, "
              f"{outside >> 10} KiB elsewhere (at most {outside_max >> 10}); bound "
              f"{bound >> 10} KiB")
        assert total > 0, out
        assert total <= bound, f"-{path} {fam}: {total} bytes accepted, over the bound {bound}"
        assert bound < UNBOUNDED
        assert outside <= outside_max, \
            f"-{path} {fam}: {outside} bytes neither in a TCP queue nor under the " \
            f"{'send buffer' if pasta.mode == 'egress' else 'budget'} " \
            f"(client had sent {at_stall}); ss:\n{ss_out}"
        # a stalled sender sleeps in select(): it is not told "writable" for sends that then
        # fail with EAGAIN, over and over (a busy loop); plain TCP: a handful at most. Egress
        # mode: the documented limitation (see the docstring): printed only
        if pasta.mode == "egress":
            print(f"-{path} {fam} (egress): {eagain} sends failed with EAGAIN after select() "
                  f"said writable (documented limitation, not asserted)")
        else:
            assert eagain <= SPURIOUS_WRITABLE_MAX, \
                f"-{path} {fam} ({pasta.mode}): select() said writable {eagain} times and the " \
                f"send failed with EAGAIN: the stalled sender spins"
        # stalled, not slow: at most 1 MiB more after the stall
        assert total - at_stall <= 1 << 20, \
            f"-{path} {fam}: the sender went on after the stall: {samples} then {total}"
        res = srv.wait_for_output(rf"^RESULT f{i} got=(\d+) (.*)$", timeout=30)
        assert int(res.group(1)) == total and res.group(2) == "ok", \
            f"-{path} {fam}: after the stall the server got {res.group(0)}; the client sent {total}"
        w = re.search(rf"^FLOOD-WIRE f{i} wire_c2s=(\d+) wire_s2c=(\d+)$", out, re.MULTILINE)
        assert w, out
        for d, x in zip(DIRS, w.groups()):
            moved[d] += int(x)
    if pasta.bypass:  # the bound held on the bypass's path: every flow was handed over
        delta = delta_of(pasta.counters(), before)
        sdelta = delta_of(pasta.settled_stats("after the floods", lambda st: st[
            "conns_registered"] >= stats_before["conns_registered"] + len(flows)), stats_before)
        carried = pasta.carried(sdelta, moved, "c2s")
        print(f"moved {moved} (flooded {flooded}); {carried} bytes c2s carried by the bypass "
              f"({100 * carried / moved['c2s']:.1f}%)\ncounters: {delta}\ndaemon: {sdelta}")
        assert pasta.switches(delta, "c2s") >= len(flows) and carried > 0, \
            f"the floods were not handed over ({pasta.mode}): {carried} bytes carried; " \
            f"programs {delta}; daemon {sdelta}"
        if pasta.mode == "on":
            # over the budget the daemon holds its relay (bypass_hold()); the tail program
            # never had to send our writes over TCP behind the server's unread ingress bytes
            assert delta["tail_returns"] == 0, \
                f"a tail went back to TCP: programs {delta}; daemon {sdelta}"
        assert sdelta["relayed_c2s"] <= moved["c2s"], \
            f"the daemon relayed {sdelta['relayed_c2s']} bytes, more than the {moved['c2s']} " \
            f"sent ({pasta.mode}): {sdelta}"
        pasta.check_carried(delta, sdelta, moved, "c2s")
    pasta.stop()
