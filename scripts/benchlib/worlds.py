# SPDX-License-Identifier: GPL-2.0-or-later
"""benchlib.worlds: one implementation set up on its own throwaway topology (a "world").

Every implementation gets a tests/integration/helpers.Topology:

    [host ns] veth0 192.0.2.2/24, 2001:db8::2/64 <-veth-> [remote ns] veth0 192.0.2.1, 2001:db8::1
              (pasta, slirp4netns run here)               lo: 203.0.113.1, 2001:db8:1::1 (servers)

and "the namespace" (where the clients of the outbound rows run) is, per implementation:

  veth           the host ns itself: its sockets sit directly on the veth (the limit);
  direct         the host ns itself, for the lofwd group only: client and server both on its
                 127.0.0.1, no forwarder (the reference of that group);
  bpasst         BUILD/pasta --config-net -f -t 5301-5303 -- sleep, as bpasst-test (no BPF:
                 unprivileged), its namespace entered with nsenter --net;
  bpasst-bypass  the same as root with --bpf-bypass, for the lofwd group only, started with
                 nsenter --net (not ip netns exec, whose fresh /sys hides the cgroup v2
                 hierarchy and bpffs from the daemon and its pins from us); when the bypass
                 does not start (the daemon prints "BPF bypass: off: <reason>", or refuses the
                 option) the world has lo_na = that reason and the group reports n/a;
  bpasst-bypass-egress  the same with --bpf-bypass=egress (never into the receiver's queue:
                 the data goes into the daemon's own socket towards the receiver);
  bpasst-root    like bpasst but as root (the BPF fast path loads if it can); not by default;
  debian-pasta   /usr/bin/pasta, same options as bpasst, as bpasst-test (it misbehaves as root);
  slirp4netns    `unshare --user --net --map-root-user sleep` as bpasst-test, then
                 `slirp4netns --configure --mtu=65520 -6 --disable-host-loopback --api-socket`
                 on its PID (10.0.2.100, fd00::/64 by router advertisement); the forward is
                 set up with the API's add_hostfwd (127.0.0.1 -> 10.0.2.100, IPv4 only).

State: a World records the places (argv prefixes) of the namespaces, the forward's client side
and address, the translator's Proc and PID (for its CPU time), why a family or the forward is
not available, and for the bypass the directory of its pinned maps.  Every process is spawned
through the Topology, which kills it by PID when the world is closed.
"""

import json
import os
import re
import shutil
import socket

from benchlib.common import (HOST_ADDR_V4, PORT_FWD_CRR, PORT_FWD_IPERF, PORT_FWD_RR, PORTS_FWD,
                             SLEEP_BOUND, BenchSkip, netns_place, pid_place, proc_ticks, run_in,
                             wait_listening)

ALL_IMPLS = ["veth", "direct", "bpasst", "bpasst-bypass", "bpasst-bypass-egress", "bpasst-root",
             "debian-pasta", "slirp4netns"]
DEFAULT_IMPLS = [i for i in ALL_IMPLS if i != "bpasst-root"]
IMPL_NOTES = {
    "veth": "no translator: the namespace's own veth; forward rows: the remote ns connects "
            "straight to a server on 192.0.2.2",
    "direct": "no forwarder: client and server in one namespace on 127.0.0.1",
    "bpasst": f"BUILD/pasta --config-net -t {PORTS_FWD}, as bpasst-test (unprivileged: no BPF; "
              "loopback forward: the splice path)",
    "bpasst-bypass": f"BUILD/pasta --config-net --bpf-bypass -t {PORTS_FWD}, as root",
    "bpasst-bypass-egress": f"BUILD/pasta --config-net --bpf-bypass=egress -t {PORTS_FWD}, as "
                            "root",
    "bpasst-root": f"BUILD/pasta --config-net -t {PORTS_FWD}, as root (BPF fast path if it "
                   "loads)",
    "debian-pasta": f"/usr/bin/pasta --config-net -t {PORTS_FWD}, as bpasst-test",
    "slirp4netns": "slirp4netns --configure --mtu=65520 -6 --disable-host-loopback, as "
                   "bpasst-test; forward by add_hostfwd 127.0.0.1",
}
BYPASS_LINE = re.compile(r"BPF bypass: (on|off)\b:? ?(.*)$", re.MULTILINE)
BYPASS_LINE_TIMEOUT = 10  # s after the namespace is up


class World:
    """What the benchmarks need to know about one implementation's set-up."""

    def __init__(self, impl, topo):
        self.impl = impl
        self.topo = topo
        self.remote = netns_place(topo.remote)
        self.host = netns_place(topo.host)
        self.ns = None  # Place of the namespace given connectivity
        self.fwd_client = None  # Place the forward's client runs in
        self.fwd_addr = None  # address the forward's client connects to
        self.fwd_na = None  # why there is no forward
        self.na = {}  # family -> reason it is not available
        self.daemon = None  # Proc of the translator
        self.daemon_pid = None  # PID of the translator process itself (for its CPU time)
        self.lo_na = None  # why the lofwd group cannot run here (bpasst-bypass: bypass off)
        self.bypass_pins = None  # bpasst-bypass: directory of the pinned bypass maps

    def daemon_cpu(self):
        """CPU seconds (user + system) the translator has used so far; None without one."""
        ticks = None if self.daemon_pid is None else proc_ticks(self.daemon_pid)
        return None if ticks is None else ticks / os.sysconf("SC_CLK_TCK")


def stage_bpasst(topo, build):
    """Copy our passt binary into topo's temporary directory as passt + pasta symlink.

    The unprivileged user can run it there whatever the permissions of the build directory.
    """
    exe = os.path.realpath(os.path.join(build, "passt"))
    if not os.path.exists(exe):
        raise BenchSkip(f"{exe} not built")
    copy = topo.tmp_path("passt")
    if not os.path.exists(copy):
        shutil.copy2(exe, copy)
        os.chmod(copy, 0o755)
        os.symlink("passt", topo.tmp_path("pasta"))
    return topo.tmp_path("pasta")


DAEMON_NAMES = ("pasta", "passt", "pasta.avx2", "passt.avx2")  # Debian: passt.avx2


def _find_proc(topo, proc, names, in_host_ns, timeout=10):
    """PID of the process named in `names` among proc and its descendants, inside (in_host_ns)
    or outside topo's host namespace.  Used for the `sleep` pasta forks (or unshare execs) into
    its new namespace, and for the translator itself, whose CPU time we read."""
    from helpers import descendants, wait_for
    host_ns = f"net:[{os.stat(topo.netns_path(topo.host)).st_ino}]"

    def find():
        for pid in [proc.pid] + descendants(proc.pid):
            try:
                with open(f"/proc/{pid}/comm") as f:
                    if f.read().strip() not in names:
                        continue
                if (os.readlink(f"/proc/{pid}/ns/net") == host_ns) == in_host_ns:
                    return pid
            except OSError:
                continue
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited {proc.returncode}: {proc.output()[-1500:]}")
        return None
    return wait_for(find, timeout, what=f"{'/'.join(names)} under {proc.name}")


def _wait_ns_ready(world, v4_addr, timeout=15):
    """Wait for the namespace's IPv4 address and default routes; an IPv6 miss marks IPv6 n/a."""
    from helpers import wait_for

    def v4():
        out = run_in(world.ns, ["ip", "-4", "-o", "addr"], check=False).stdout
        return v4_addr in out and run_in(world.ns, ["ip", "-4", "route", "show", "default"],
                                         check=False).stdout.strip()
    wait_for(v4, timeout, what=f"IPv4 set-up in the {world.impl} namespace")

    def v6():
        addrs = run_in(world.ns, ["ip", "-6", "-o", "addr", "show", "scope", "global"],
                       check=False).stdout
        route = run_in(world.ns, ["ip", "-6", "route", "show", "default"], check=False).stdout
        return addrs.strip() and "tentative" not in addrs and route.strip()
    try:
        wait_for(v6, timeout, what=f"IPv6 set-up in the {world.impl} namespace")
    except AssertionError as e:
        world.na["IPv6"] = str(e)


def setup_veth(world, args):
    world.ns = world.host
    world.fwd_client = world.remote
    world.fwd_addr = HOST_ADDR_V4


def setup_direct(world, args):
    world.ns = world.host
    world.fwd_client = world.host
    world.fwd_addr = "127.0.0.1"


def setup_pasta(world, args, exe, user, extra=(), keep_mounts=False):
    """Start a pasta in the host namespace and wait for its namespace and forwards.

    keep_mounts: enter the host namespace with nsenter --net rather than ip netns exec, which
    mounts a fresh /sys and so hides /sys/fs/cgroup/* (the cgroup v2 hierarchy) and
    /sys/fs/bpf; the bypass needs both, and we read its pinned counters from here.
    """
    topo = world.topo
    argv = [exe, "--config-net", "-f", *extra, "-t", PORTS_FWD, "--", "sleep", SLEEP_BOUND]
    if keep_mounts:
        assert user is None  # as root only: nsenter does not change users
        world.daemon = topo.spawn(None, ["nsenter", f"--net={topo.netns_path(topo.host)}",
                                         "--", *argv])
    else:
        world.daemon = topo.spawn(topo.host, argv, user=user)
    child = _find_proc(topo, world.daemon, ("sleep",), False)
    world.ns = pid_place(f"{world.impl} namespace", child)
    world.daemon_pid = _find_proc(topo, world.daemon, DAEMON_NAMES, True)
    _wait_ns_ready(world, HOST_ADDR_V4)
    for port in (PORT_FWD_IPERF, PORT_FWD_RR, PORT_FWD_CRR):
        wait_listening(world.host, port)
    world.fwd_client = world.host
    world.fwd_addr = "127.0.0.1"


def _last_line(text):
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:300] if lines else "(no output)"


def setup_bypass(world, args, option="--bpf-bypass"):
    """bpasst as root with `option` (--bpf-bypass or --bpf-bypass=egress); world.lo_na says why
    the bypass is off, if it is.

    The figures of this world must be the bypass's or none: a daemon that refuses the option,
    says "BPF bypass: off: <reason>", or says nothing about it, leaves lo_na set.
    """
    from helpers import wait_for
    exe = stage_bpasst(world.topo, args.build)
    try:
        setup_pasta(world, args, exe, None, extra=[option], keep_mounts=True)
    except (RuntimeError, AssertionError):
        if world.daemon is None or world.daemon.alive():
            raise
        world.daemon.wait(timeout=5)
        world.lo_na = (f"pasta {option} exited {world.daemon.returncode}: "
                       f"{_last_line(world.daemon.output())}")
        return
    try:
        wait_for(lambda: BYPASS_LINE.search(world.daemon.output()) or not world.daemon.alive(),
                 BYPASS_LINE_TIMEOUT, what="a 'BPF bypass:' line")
    except AssertionError:
        world.lo_na = (f"no 'BPF bypass: on|off' line from pasta {option} within "
                       f"{BYPASS_LINE_TIMEOUT} s")
        return
    m = BYPASS_LINE.search(world.daemon.output())
    if m is None:
        world.lo_na = (f"pasta {option} exited {world.daemon.returncode}: "
                       f"{_last_line(world.daemon.output())}")
    elif m.group(1) == "off":
        world.lo_na = f"BPF bypass: off: {m.group(2).strip()}"
    else:
        pins = re.search(r"maps in ([^,\s)]+)", m.group(2))
        world.bypass_pins = pins.group(1) if pins else None


def _slirp_api(path, request, timeout=5):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall(json.dumps(request).encode())
        s.shutdown(socket.SHUT_WR)
        answer = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
    finally:
        s.close()
    return json.loads(answer.decode() or "{}")


def setup_slirp(world, args, user):
    from helpers import wait_for
    topo = world.topo
    if not shutil.which("slirp4netns"):
        raise BenchSkip("slirp4netns not installed")
    holder = topo.spawn(topo.host, ["unshare", "--user", "--net", "--map-root-user", "sleep",
                                    SLEEP_BOUND], user=user)
    child = _find_proc(topo, holder, ("sleep",), False)
    api = topo.tmp_path("slirp4netns.sock")
    world.daemon = topo.spawn(topo.host, ["slirp4netns", "--configure", "--mtu=65520",
                                          "--enable-ipv6", "--disable-host-loopback",
                                          "--api-socket", api, str(child), "tap0"], user=user)
    world.ns = pid_place("slirp4netns namespace", child)
    world.daemon_pid = _find_proc(topo, world.daemon, ("slirp4netns",), True)
    wait_for(lambda: os.path.exists(api) or not world.daemon.alive(), 10,
             what="the slirp4netns API socket")
    if not world.daemon.alive():
        raise RuntimeError(f"slirp4netns exited: {world.daemon.output()[-1500:]}")
    _wait_ns_ready(world, "10.0.2.100")
    for port in (PORT_FWD_IPERF, PORT_FWD_RR):  # (not in the lofwd group: no 5303)
        ans = _slirp_api(api, {"execute": "add_hostfwd", "arguments": {
            "proto": "tcp", "host_addr": "127.0.0.1", "host_port": port, "guest_port": port}})
        if "return" not in ans:
            world.fwd_na = f"add_hostfwd: {ans}"
            return
    wait_listening(world.host, PORT_FWD_IPERF)
    world.fwd_client = world.host
    world.fwd_addr = "127.0.0.1"



def make_world(impl, args, topo):
    from helpers import ensure_user
    world = World(impl, topo)
    if impl == "veth":
        setup_veth(world, args)
    elif impl == "direct":
        setup_direct(world, args)
    elif impl in ("bpasst", "bpasst-root"):
        exe = stage_bpasst(topo, args.build)
        setup_pasta(world, args, exe, None if impl == "bpasst-root" else ensure_user())
    elif impl == "bpasst-bypass":
        setup_bypass(world, args)
    elif impl == "bpasst-bypass-egress":
        setup_bypass(world, args, "--bpf-bypass=egress")
    elif impl == "debian-pasta":
        if not os.path.exists("/usr/bin/pasta"):
            raise BenchSkip("/usr/bin/pasta not installed (Debian package passt)")
        setup_pasta(world, args, "/usr/bin/pasta", ensure_user())
    elif impl == "slirp4netns":
        setup_slirp(world, args, ensure_user())
    else:
        raise ValueError(impl)
    return world
