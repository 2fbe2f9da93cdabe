# SPDX-License-Identifier: GPL-2.0-or-later
"""pasta --bpf-bypass: TCP through loopback forwards, with the in-kernel bypass on and off.

Theory of operation
-------------------
Every case runs once per mode:
  - "on": pasta as root with --bpf-bypass --bpf-name <unique>: the log says "BPF bypass: on (",
    once, and the bypass maps are pinned in /sys/fs/bpf/bpasst/<name>/ (read with bpftool);
  - "off": pasta as the unprivileged user with --bpf-bypass: it must fall back to the splice path,
    logging "BPF bypass: off: <reason>" once, start all the same, and pin no bypass map.
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
     pause too: 0 order errors, all 300 done within the time bound; with the bypass on, the
     programs' counters show hand-overs and redirected bytes in both directions, and the
     daemon's statistics show hand-overs put off because data was still in flight;
  2. + 7. 10 MiB up and down through -t and -T, SHA-256 checked; with the bypass on, for each
     transfer the programs redirected more than half of its bytes (bypass_counters, summed over
     CPUs) after at least one hand-over in its direction; with it off, no bypass map exists;
  3. 1000 short connections (request, response, close), 25 at a time on each path and family:
     all succeed; afterwards the daemon holds no pipe of theirs and (on) no bypass entry;
  4. half-close both ways and RST both ways on both paths (every byte checked; the side that
     did not reset sees ECONNRESET); (on) the programs handed over both directions meanwhile;
  5. a client and a server process SIGKILLed while data flows both ways, on both paths and
     families: the other side sees the end; afterwards the daemon holds no pipe of theirs,
     (on) before the kills, some endpoints redirect and flow_mirror shows the 8 spliced flows,
     one at least marked bypassed; after them, bypass_ends and bypass_ctl are empty and
     flow_mirror holds no spliced flow;
  6. a server that does not read: the client's non-blocking sends stall, the total the kernel
     took stays under the bypass budget + the relay's buffers (and far below the 128 MiB that an
     unbounded redirect took), and once the server reads, every byte arrives in order.
"""

import json
import os
import re
import struct
import subprocess
import itertools

import pytest

from helpers import as_user, require_root_bpf, run_cmd, user_env, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
PIN_BASE = "/sys/fs/bpf/bpasst"
PORT_T = 18080  # -t: host loopback -> namespace loopback
PORT_TT = 18090  # -T: namespace loopback -> host loopback
LO = {"v4": "127.0.0.1", "v6": "::1"}
SIZE = 10 << 20
BUDGET = 8 << 20  # BP_BYPASS_BUDGET_DEFAULT, include/bpasst_bypass.h
MODE_REDIRECT = 1  # BP_BYPASS_MODE_REDIRECT
# bp_flow_mirror.flags (include/bpasst_maps.h)
MIRROR_F_SPLICED, MIRROR_F_BYPASS_C2S, MIRROR_F_BYPASS_S2C = 1, 2, 4
# struct bp_bypass_counters, in order (include/bpasst_bypass.h)
COUNTER_NAMES = ["insert_client", "insert_server", "insert_failed", "handover_c2s",
                 "handover_s2c", "bytes_c2s", "bytes_s2c", "msgs_redirected", "msgs_relayed",
                 "return_budget", "return_no_peer", "return_no_ctl", "return_state",
                 "ends_closed", "ingress_read"]
END_FIELDS = ["socket_cookie", "passed", "redirected", "ingress_read", "role", "mode",
              "used_gen", "handovers", "returns", "last_return"]  # struct bp_bypass_end

DAEMON_FIELDS = ["conns_registered", "conns_both_ends", "conns_no_ends", "attempts", "granted",
                 "postponed_pending", "postponed_count", "postponed_outq", "postponed_rqueue",
                 "postponed_diag", "gave_up", "bypassed_now"]  # struct bp_bypass_daemon_stats

_names = itertools.count(1)

pytestmark = pytest.mark.bpf


@pytest.fixture(scope="module", autouse=True)
def tun_world_accessible():
    st = os.stat("/dev/net/tun")
    if st.st_mode & 0o666 != 0o666:
        os.chmod("/dev/net/tun", 0o666)


@pytest.fixture(params=["on", "off"])
def mode(request):
    """"on": root, the bypass must come up; "off": the unprivileged user, splice path."""
    if request.param == "on":
        require_root_bpf()
        with open("/proc/self/mountinfo") as f:
            if not any(" - bpf " in ln and ln.split()[4] == "/sys/fs/bpf" for ln in f):
                pytest.skip("no bpffs mounted at /sys/fs/bpf")
        return "on", None
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


class Pasta:
    """pasta with the two forwards and the hold command; its namespace; its pinned maps."""

    def __init__(self, topo, bins, mode, seqstream):
        self.topo, self.bins, self.seq = topo, bins, seqstream
        self.mode, self.user = mode
        self.name = f"byp-{os.getpid()}-{next(_names)}"
        self.pins = f"{PIN_BASE}/{self.name}"
        self.ready = topo.tmp_path("hold.ready")
        args = ["--config-net", "-t", f"{PORT_T}-{PORT_T + 1}", "-T", f"{PORT_TT}-{PORT_TT + 1}",
                "--bpf-name", self.name, "--bpf-bypass"]
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
        if self.mode == "on":
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
                vals = struct.unpack(f"<{len(COUNTER_NAMES)}Q", raw_bytes(cpu["value"]))
                for k, v in zip(COUNTER_NAMES, vals):
                    total[k] += v
        return total

    def daemon_stats(self):
        entry = self.dump("bypass_daemon")[0]
        if "formatted" in entry:
            return entry["formatted"]["value"]
        return dict(zip(DAEMON_FIELDS, struct.unpack(f"<{len(DAEMON_FIELDS)}Q",
                                                     raw_bytes(entry["value"]))))

    def ends(self):
        """bypass_ends values as dicts."""
        out = []
        for e in self.dump("bypass_ends"):
            if "formatted" in e:
                out.append(e["formatted"]["value"])
            else:
                out.append(dict(zip(END_FIELDS, struct.unpack("<4Q6I", raw_bytes(e["value"])))))
        return out

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


@pytest.mark.timeout(90)
@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_ordering_random_handover(pasta, fam):
    before = pasta.counters() if pasta.mode == "on" else None
    seed = int.from_bytes(os.urandom(3), "little")
    clients = [pasta.client(path, ["seqmany", LO[fam], pasta.port(path), SEQ_CONNS, SEQ_CONC,
                                   seed + i, SEQ_MAXSECS])
               for i, path in enumerate(("t", "T"))]
    outs = finish(clients, timeout=SEQ_MAXSECS + 40)
    for path, out in zip(("t", "T"), outs):
        m = re.search(r"^SEQ done=(\d+) ok=(\d+) errors=(\d+) bytes=(\d+) elapsed=(\S+)", out,
                      re.MULTILINE)
        assert m, f"-{path}: {out[-3000:]}"
        print(f"-{path} {fam}: {m.group(0)}")
        assert int(m.group(3)) == 0, f"-{path} {fam}: order or transfer errors:\n{out[-4000:]}"
        assert int(m.group(1)) == SEQ_CONNS == int(m.group(2)), \
            f"-{path} {fam}: only {m.group(1)} of {SEQ_CONNS} connections in {SEQ_MAXSECS} s"
    if pasta.mode == "on":
        after = pasta.counters()
        delta = {k: after[k] - before[k] for k in after}
        # the daemon writes its statistics once a second: wait for the last connections
        stats = wait_for(lambda: (lambda st: st if st["conns_registered"] >= 2 * SEQ_CONNS
                                  else None)(pasta.daemon_stats()), timeout=5,
                         what=f"bypass_daemon to count {2 * SEQ_CONNS} connections: "
                              f"{pasta.daemon_stats()}")
        print(f"counters: {delta}\ndaemon: {stats}")
        for d in ("c2s", "s2c"):
            assert delta[f"handover_{d}"] > 0 and delta[f"bytes_{d}"] > 0, \
                f"no hand-over {d} in {2 * SEQ_CONNS} connections: {delta}, daemon {stats}"
        # on average one direction at least of every other connection was handed over
        assert delta["handover_c2s"] + delta["handover_s2c"] >= SEQ_CONNS, \
            f"few hand-overs in {2 * SEQ_CONNS} connections: {delta}, daemon {stats}"
        # hand-overs were tried while data was still on its way (and put off)
        postponed = sum(v for k, v in stats.items() if k.startswith("postponed_"))
        assert postponed > 0, f"no hand-over attempt found data in flight: {stats}"
    pasta.stop()


# ---------------------------------------------------------------------------------------------
# 2. and 7. 10 MiB each way, and the counters


@pytest.mark.timeout(120)
@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_10mib_sha256_and_counters(pasta, fam):
    problems = []
    for path in ("t", "T"):
        for verb, d in (("up", "c2s"), ("down", "s2c")):
            if pasta.mode == "on":
                before, stats_before = pasta.counters(), pasta.daemon_stats()
            seed = int.from_bytes(os.urandom(4), "little")
            out = finish([pasta.client(path, [verb, LO[fam], pasta.port(path), SIZE, seed])])[0]
            assert re.search(rf"^{verb.upper()} ok ", out, re.MULTILINE), \
                f"{verb} -{path} {fam}: {out[-2000:]}"
            if pasta.mode != "on":
                continue
            after = pasta.counters()
            delta = {k: after[k] - before[k] for k in after}
            # the daemon's statistics are written once a second: wait for this connection's
            stats = wait_for(lambda: (lambda st: st if st["conns_registered"] >
                                      stats_before["conns_registered"] else None)(
                pasta.daemon_stats()), timeout=5, what="bypass_daemon to count the connection")
            sdelta = {k: stats[k] - stats_before[k] for k in stats if k != "bypassed_now"}
            print(f"{verb} -{path} {fam}: programs {delta}\n  daemon {sdelta}")
            if delta[f"handover_{d}"] < 1 or delta[f"bytes_{d}"] <= SIZE // 2:
                problems.append(f"{verb} -{path} {fam}: {delta[f'bytes_{d}']} of {SIZE} bytes "
                                f"redirected {d}, {delta[f'handover_{d}']} hand-overs; "
                                f"programs {delta}; daemon {sdelta}")
    assert not problems, "the bypass did not carry most of the bytes:\n" + "\n".join(problems)
    if pasta.mode == "off":
        pasta.check_no_bypass_maps()
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
    if pasta.mode == "on":
        pasta.wait_no_bypass_entries()
    pasta.stop()


# ---------------------------------------------------------------------------------------------
# 4. half-close and RST


@pytest.mark.timeout(90)
@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_half_close_and_reset(pasta, fam):
    cases = [(path, kind, arg) for path in ("t", "T")
             for kind, arg in (("half", "client-first"), ("half", "server-first"),
                               ("rst", "server"), ("rst", "client"))]
    before = pasta.counters() if pasta.mode == "on" else None
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
    if pasta.mode == "on":  # the bypass carried these connections (1 MiB each way, paced)
        after = pasta.counters()
        delta = {k: after[k] - before[k] for k in after}
        print(f"counters: {delta}")
        assert delta["handover_c2s"] > 0 and delta["handover_s2c"] > 0, delta
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
    if pasta.mode == "on":
        # the kills must hit bypassed connections: wait until some endpoints redirect
        def redirecting():
            return sum(1 for e in pasta.ends() if e["mode"] in (MODE_REDIRECT,
                                                                 "BP_BYPASS_MODE_REDIRECT"))
        n = wait_for(redirecting, timeout=10, interval=0.1,
                     what=f"an endpoint in redirect mode: {pasta.ends()}")
        print(f"{n} of {2 * len(KILL_CASES)} endpoints redirecting at the kills")
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
    if pasta.mode == "on":
        pasta.wait_no_bypass_entries()
    pasta.stop()


# ---------------------------------------------------------------------------------------------
# 6. a receiver that does not read


FLOOD_SECS = 3.0
FLOOD_HOLD = 3.5
FLOOD_SNDBUF = 256 << 10
UNBOUNDED = 128 << 20  # what the issue saw an unbounded redirect take in a few seconds


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
    flows = [("t", "v4"), ("T", "v6")]
    procs = [pasta.client(path, ["flood", LO[fam], pasta.port(path), FLOOD_SECS, FLOOD_HOLD,
                                 FLOOD_SNDBUF, f"f{i}"])
             for i, (path, fam) in enumerate(flows)]
    with open("/proc/sys/fs/pipe-max-size") as f:
        pipe_max = int(f.read())
    # Once a sender stalls, every byte it got rid of is in one of the four sockets' TCP queues
    # (client, the daemon's two, server), in the daemon's pipe, or, with the bypass, redirected
    # and unread at the server: the last two together must stay under budget + pipe.
    stalled = {}
    for i, ((path, fam), p) in enumerate(zip(flows, procs)):
        m = p.wait_for_output(rf"^STALLED f{i} total=(\d+)", timeout=FLOOD_SECS + 5)
        port = pasta.port(path)
        q_host, ss_host = tcp_queued(pasta.proc.pid, port)
        q_ns, ss_ns = tcp_queued(pasta.ns_pid, port)
        stalled[i] = (int(m.group(1)), q_host + q_ns, ss_host + ss_ns)
    outs = finish(procs, timeout=60)
    for i, ((path, fam), out) in enumerate(zip(flows, outs)):
        m = re.search(rf"^FLOOD f{i} total=(\d+) sndbuf=(\d+) at=(\S*)", out, re.MULTILINE)
        assert m, out
        total, sndbuf = int(m.group(1)), int(m.group(2))
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
        bound = BUDGET + sndbuf + rcvbuf + relay + (1 << 20)
        at_stall, queued, ss_out = stalled[i]
        outside = at_stall - queued
        print(f"-{path} {fam}: total {total >> 10} KiB (samples {samples}); at the stall "
              f"{at_stall >> 10} KiB of which {queued >> 10} KiB in TCP queues, "
              f"{outside >> 10} KiB elsewhere; bound {bound >> 10} KiB")
        assert total > 0, out
        assert total <= bound, f"-{path} {fam}: {total} bytes accepted, over the bound {bound}"
        assert bound < UNBOUNDED
        assert outside <= BUDGET + pipe_max + (256 << 10), \
            f"-{path} {fam}: {outside} bytes neither in a TCP queue nor under the budget " \
            f"(client had sent {at_stall}); ss:\n{ss_out}"
        # stalled, not slow: at most 1 MiB more after the stall
        assert total - at_stall <= 1 << 20, \
            f"-{path} {fam}: the sender went on after the stall: {samples} then {total}"
        res = srv.wait_for_output(rf"^RESULT f{i} got=(\d+) (.*)$", timeout=30)
        assert int(res.group(1)) == total and res.group(2) == "ok", \
            f"-{path} {fam}: after the stall the server got {res.group(0)}; the client sent {total}"
    pasta.stop()
