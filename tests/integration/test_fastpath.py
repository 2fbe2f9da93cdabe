# SPDX-License-Identifier: GPL-2.0-or-later
"""The BPF fast path of pasta, end to end: answers in BPF, pinned maps, clean stop, fallback.

pasta runs in topo.host (veth0 192.0.2.2/24 via 192.0.2.1, 2001:db8::2/64 via 2001:db8::1).

Where the pins are: `ip netns exec` (topo.run/topo.spawn) gives its command a fresh sysfs, so
/sys/fs/bpf is empty there and the loader mounts a private bpffs that nothing outside sees. The
cases that look at the pins from the test therefore start pasta through `unshare --mount` (a copy
of our mount namespace: the machine's bpffs, the same superblock) + `nsenter --net` (topo.host),
with topo.host's resolv.conf bind-mounted as `ip netns exec` would do. Nothing in that chain
forks, so the spawned PID is pasta's own. The services cases, which only need the counters, run
pasta like test_services.py does and read the counters from the line pasta logs when it stops.

Checked:
  - as root, --bpf on --config-net: ARP (after `ip neigh flush`, and busybox arping), neighbour
    solicitations and echo requests to the IPv4 and IPv6 gateway are answered in BPF (the
    tap_counters map, read with bpftool while pasta runs, and the stop line agree); the daemon
    opened no ping flow for them; the log line "BPF fast path: on (tc egress on veth0 ...";
    tap_config and instance dump with field names and the right values; pins 0600 in a 0700
    directory; the direct-action filter on the tap's egress; a second instance with the same
    --bpf-name is refused; after exit the pin directory is gone, the program is freed and the
    namespace (kept alive by a background process) holds no filter;
  - SIGTERM and SIGINT: pasta stops the fast path on the way out (pins gone, program freed);
  - SIGKILL leaves pins behind; the next pasta with the same --bpf-name starts, answers in BPF,
    and leaves no pins, program or filter when it exits;
  - when the host does not answer echo on its loopback (icmp_echo_ignore_all), BPF does not
    answer echo either: the guest's ping fails with the fast path on, as with it off;
  - a frame that BPF drops (broken IPv4 header) is consumed silently, as the daemon drops it
    (bp_drop() returns TC_ACT_STOLEN: TC_ACT_SHOT would give the sender ENOBUFS);
  - the services (udhcpc lease, SLAAC address and default route from our RA, ping to both
    gateways) with --bpf on and --bpf off as root, and --bpf auto as the unprivileged user (off,
    with the reason logged); with on, the RA, ARP, NA and echo answers came from BPF;
  - --bpf on as the unprivileged user, and in passt mode: a clear error, non-zero exit;
    passt --bpf auto: "BPF fast path: off: passt mode has no tap to attach to";
  - --runas: the pins belong to the user pasta becomes, and the same --bpf-name can be used
    again afterwards (loader/pin.c treats an empty pin directory as stale);
  - the flow mirror (io/mirror.c): a TCP connection and a UDP exchange from the namespace to
    topo.remote appear in flow_mirror within 3 s, typed (state by name), with both sides'
    addresses and ports and the payload bytes each way; the TCP entry goes once it is closed.
"""

import itertools
import json
import os
import re
import signal
import stat
import subprocess

import pytest

from helpers import (GW_V4, GW_V6, HOST_V4, NAMESERVER, SERVER_V4, kill_pids, require_root_bpf,
                     run_cmd, user_ids, wait_for)
from test_services import SH_PRELUDE, check_udhcpc_lease, describe, run_pasta, udhcpc_cmd

pytestmark = pytest.mark.bpf

BPFFS = "/sys/fs/bpf"
PIN_BASE = f"{BPFFS}/bpasst"
IFNAME = "veth0"  # the tap is named like topo.host's upstream interface
COUNTERS_RE = (r"BPF fast path: stopping: answered ARP (?P<arp>\d+), NA (?P<na>\d+), "
               r"RA (?P<ra>\d+), echo (?P<echo4>\d+) \(IPv4\) (?P<echo6>\d+) \(IPv6\); "
               r"passed (?P<passed>\d+), dropped (?P<dropped>\d+)")
BP_CFG_ARP, BP_CFG_NDP, BP_CFG_ECHO4, BP_CFG_ECHO6 = 1 << 0, 1 << 2, 1 << 5, 1 << 6

_names = itertools.count(1)


def instance_name():
    """A --bpf-name nobody else uses (other suites may run BPF tests at the same time)."""
    return f"fpt-{os.getpid()}-{next(_names)}"


# Command-script fragments: announce readiness (our PID) in a file, then wait for the test's go.
READY_WAIT = r"""
echo $$ > %(ready)s.tmp && mv %(ready)s.tmp %(ready)s
i=0; while [ ! -e %(go)s ] && [ $i -lt 900 ]; do sleep 0.1; i=$((i + 1)); done
echo GO_SEEN
"""


# --------------------------------------------------------------------------------------------
# helpers


@pytest.fixture(scope="module")
def machine_bpffs():
    """The machine's bpffs at /sys/fs/bpf (mounted by systemd; mounted here if missing)."""
    require_root_bpf()
    with open("/proc/self/mountinfo") as f:
        mounted = any(line.split(" - ")[1].split()[0] == "bpf" and line.split()[4] == BPFFS
                      for line in f if " - " in line)
    if not mounted:
        run_cmd(["mount", "-t", "bpf", "bpffs", BPFFS], check=True)
    yield BPFFS
    if not mounted:
        run_cmd(["umount", BPFFS])


def write_script(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)
    return path


def pasta_argv(topo, bins, args, body, tag):
    """argv running pasta in topo.host, in a copy of our mount namespace (the machine's bpffs),
    with the command script `body` (after SH_PRELUDE)."""
    script = write_script(topo.tmp_path(f"{tag}.sh"), "#!/bin/sh\n" + SH_PRELUDE + body)
    wrapper = ('mount --bind "/etc/netns/$0/resolv.conf" /etc/resolv.conf && '
               'exec nsenter --net="/run/netns/$0" -- "$@"')
    return ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", wrapper, topo.host,
            bins.pasta, *args, "--", "/bin/sh", script]


class Waiter:
    """The ready/go file pair of READY_WAIT."""

    def __init__(self, topo, tag):
        self.ready = topo.tmp_path(f"{tag}.ready")
        self.go = topo.tmp_path(f"{tag}.go")

    def script(self):
        return READY_WAIT % {"ready": self.ready, "go": self.go}

    def wait_ready(self, proc, timeout=30):
        def ready():
            if proc.returncode is not None:
                raise AssertionError(f"pasta exited ({proc.returncode}) before the command "
                                     f"was ready:\n{proc.output()}")
            return os.path.exists(self.ready)
        wait_for(ready, timeout=timeout, what=f"{self.ready}; pasta output:\n{proc.output()}")
        with open(self.ready) as f:
            return int(f.read().strip())  # the command's PID

    def release(self):
        open(self.go, "w").close()


def spawn_pasta(topo, bins, args, body, tag):
    p = topo.spawn(None, pasta_argv(topo, bins, args, body, tag))
    p.name = f"pasta[{tag}]"
    return p


def check_is_pasta(proc, bins):
    """The spawned PID is pasta itself (unshare and nsenter exec without forking)."""
    assert os.path.realpath(f"/proc/{proc.pid}/exe") == os.path.realpath(bins.passt), \
        f"PID {proc.pid} is {os.path.realpath(f'/proc/{proc.pid}/exe')}, not pasta"


def bpftool_json(*args):
    r = run_cmd(["bpftool", "-j", *args], check=True)
    return json.loads(r.stdout)


def map_value(name, map_name):
    """The typed value of slot 0 of a pinned one-slot map (bpftool's "formatted" view)."""
    entry = bpftool_json("map", "dump", "pinned", f"{PIN_BASE}/{name}/{map_name}")[0]
    return entry.get("formatted", entry)["value"]


def counters(name):
    """tap_counters of instance `name`, summed over CPUs, by field name."""
    entry = bpftool_json("map", "dump", "pinned", f"{PIN_BASE}/{name}/tap_counters")[0]
    total = {}
    for cpu in entry.get("formatted", entry)["values"]:
        for k, v in cpu["value"].items():
            total[k] = total.get(k, 0) + v
    return total


def stop_counters(text):
    """The counters of the line pasta logs when the fast path stops, or None."""
    m = re.search(COUNTERS_RE, text)
    return {k: int(v) for k, v in m.groupdict().items()} if m else None


def egress_filters(cmd_pid):
    """tc's egress filters on the tap, in the namespace of process cmd_pid (JSON list)."""
    r = run_cmd(["nsenter", f"--net=/proc/{cmd_pid}/ns/net", "tc", "-j", "filter", "show",
                 "dev", IFNAME, "egress"])
    if r.returncode != 0:
        return None  # no such device
    return [f for f in json.loads(r.stdout or "[]") if "options" in f]


def prog_exists(prog_id):
    return run_cmd(["bpftool", "prog", "show", "id", str(prog_id)]).returncode == 0


def check_gone(name, prog_ids):
    """No pin directory for `name`; the programs are freed (the kernel frees them shortly after
    the last reference goes: poll)."""
    assert not os.path.exists(f"{PIN_BASE}/{name}"), os.listdir(f"{PIN_BASE}/{name}")
    for pid in prog_ids:
        wait_for(lambda: not prog_exists(pid), timeout=10, what=f"BPF program {pid} to be freed")


# --------------------------------------------------------------------------------------------
# answers in BPF, pins, filter, stop


def test_answers_in_bpf_pins_and_clean_stop(topo, bins, machine_bpffs):
    name = instance_name()
    w = Waiter(topo, "main")
    holder = topo.tmp_path("holder.pid")
    body = r"""
ip neigh flush dev $IF
ping -c 2 -W 5 %(gw4)s >/dev/null 2>&1; echo PING4_RC=$?
ping -6 -c 2 -W 5 %(gw6)s >/dev/null 2>&1; echo PING6_RC=$?
ip -4 neigh flush dev $IF; ip -6 neigh flush dev $IF
ping -c 1 -W 5 %(gw4)s >/dev/null 2>&1; echo PING4B_RC=$?
ping -6 -c 1 -W 5 %(gw6)s >/dev/null 2>&1; echo PING6B_RC=$?
busybox arping -c 1 -w 5 -I $IF %(gw4)s >/dev/null 2>&1; echo ARPING_RC=$?
ip neigh show dev $IF
sleep 120 </dev/null >/dev/null 2>&1 &
echo $! > %(holder)s
""" % {"gw4": GW_V4, "gw6": GW_V6, "holder": holder} + w.script()
    p = spawn_pasta(topo, bins, ["--config-net", "--debug", "--bpf", "on", "--bpf-name", name],
                    body, "main")
    cmd_pid = w.wait_ready(p)
    check_is_pasta(p, bins)
    out = p.output()
    assert re.search(r"BPF fast path: on \(tc egress on veth0, ifindex \d+, maps in "
                     + re.escape(f"{PIN_BASE}/{name}") + r"\)", out), out
    # The host answers pings on its loopback here (ping_group_range is open in topo.host).
    assert "echo IPv4 on, IPv6 on" in out, out
    for rc in ("PING4_RC", "PING6_RC", "PING4B_RC", "PING6B_RC", "ARPING_RC"):
        assert f"{rc}=0" in out, out
    assert re.search(rf"^{re.escape(GW_V4)} lladdr 9a:55:9a:55:9a:55", out, re.M), out
    assert re.search(rf"^{re.escape(GW_V6)} lladdr 9a:55:9a:55:9a:55 router", out,
                     re.M), out

    # Answered in BPF: 2 neighbour resolutions per family, plus arping; 3 echo requests each.
    n = counters(name)
    assert n["answered_arp"] >= 3, n
    assert n["answered_na"] >= 2, n
    assert n["answered_echo4"] >= 3, n
    assert n["answered_echo6"] >= 3, n
    assert n["eth_arp"] >= n["answered_arp"], n
    assert n["dropped"] == 0, n
    # ... and not by the daemon: it opened no ping socket flow (logged at --debug).
    assert "ping: new flow" not in out, out

    # Typed dumps. tap_config as the daemon wrote it; field names in the plain dump too.
    plain = run_cmd(["bpftool", "map", "dump", "pinned", f"{PIN_BASE}/{name}/tap_config"],
                    check=True).stdout
    for field in ('"flags"', '"our_mac"', '"ip4_gw"', '"ip4_echo"', '"ip6_gw"', '"ip6_echo"',
                  '"ip6_our_ll"', '"rdnss"', '"dnssl"'):
        assert field in plain, plain
    cfg = map_value(name, "tap_config")
    assert cfg["our_mac"] == [0x9a, 0x55] * 3, cfg
    assert cfg["ip4_guest"] == [192, 0, 2, 2] and cfg["ip4_gw"] == [192, 0, 2, 1], cfg
    assert cfg["ip4_echo"] == [192, 0, 2, 1], cfg
    assert cfg["ip6_echo"] == [0x20, 0x01, 0x0d, 0xb8] + [0] * 11 + [1], cfg
    want = BP_CFG_ARP | BP_CFG_NDP | BP_CFG_ECHO4 | BP_CFG_ECHO6
    assert cfg["flags"] & want == want, cfg
    owner = map_value(name, "instance")
    assert owner["pid"] == p.pid and owner["name"] == name and owner["tap_name"] == IFNAME, owner
    plain = run_cmd(["bpftool", "map", "dump", "pinned", f"{PIN_BASE}/{name}/tap_counters"],
                    check=True).stdout
    assert '"answered_echo4"' in plain and '"drop_ndp_hop_limit"' in plain, plain
    run_cmd(["bpftool", "map", "dump", "pinned", f"{PIN_BASE}/{name}/flow_mirror"], check=True)

    # Pins: 0600 files in a 0700 directory.
    d = os.stat(f"{PIN_BASE}/{name}")
    assert stat.S_IMODE(d.st_mode) == 0o700, oct(d.st_mode)
    pins = sorted(os.listdir(f"{PIN_BASE}/{name}"))
    assert pins == ["flow_mirror", "instance", "tap_config", "tap_counters"], pins
    for pin in pins:
        assert stat.S_IMODE(os.stat(f"{PIN_BASE}/{name}/{pin}").st_mode) == 0o600, pin

    # The filter: direct action at egress of the tap, inside the namespace.
    filters = egress_filters(cmd_pid)
    assert filters and len(filters) == 1, filters
    opts = filters[0]["options"]
    assert opts["bpf_name"].startswith("bp_tap_egress") and opts.get("direct-action"), opts
    prog_id = opts["prog"]["id"]
    assert prog_exists(prog_id)

    # The name is taken while we run: a second instance with --bpf on refuses to start.
    r = subprocess.run(pasta_argv(topo, bins, ["--config-net", "--bpf", "on", "--bpf-name", name],
                                  "echo SECOND_RAN\n", "second"),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    assert r.returncode != 0, describe(r)
    assert f"instance name '{name}' is in use" in r.stderr, describe(r)
    assert "SECOND_RAN" not in r.stdout, describe(r)
    assert os.path.isdir(f"{PIN_BASE}/{name}")  # and it left ours alone

    w.release()
    assert p.wait(timeout=30) == 0, p.output()
    out = p.output()
    assert "GO_SEEN" in out, out
    stopped = stop_counters(out)
    assert stopped, out
    for k in ("arp", "na", "echo4", "echo6"):
        assert stopped[k] >= n[f"answered_{k}"], (stopped, n)
    check_gone(name, [prog_id])

    # The namespace outlives pasta (the holder keeps it): no filter there, no tap either.
    with open(holder) as f:
        holder_pid = int(f.read())
    try:
        assert not egress_filters(holder_pid), "a filter survived pasta"
        r = run_cmd(["nsenter", f"--net=/proc/{holder_pid}/ns/net", "tc", "filter", "show",
                     "dev", IFNAME, "egress"])
        assert "bp_tap_egress" not in r.stdout, r.stdout
    finally:
        kill_pids([holder_pid], grace=2)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_fast_path(topo, bins, machine_bpffs, sig):
    name = instance_name()
    w = Waiter(topo, "sig")
    p = spawn_pasta(topo, bins, ["--config-net", "--bpf", "on", "--bpf-name", name], w.script(),
                    "sig")
    cmd_pid = w.wait_ready(p)
    check_is_pasta(p, bins)
    assert os.path.isdir(f"{PIN_BASE}/{name}")
    prog_id = egress_filters(cmd_pid)[0]["options"]["prog"]["id"]
    os.kill(p.pid, sig)
    rc = p.wait(timeout=30)
    out = p.output()
    assert rc != 0 and "GO_SEEN" not in out, f"exit {rc}:\n{out}"
    assert stop_counters(out) is not None, out
    check_gone(name, [prog_id])


def test_sigkill_then_restart_same_name(topo, bins, machine_bpffs):
    name = instance_name()
    w1 = Waiter(topo, "first")
    p1 = spawn_pasta(topo, bins, ["--config-net", "--bpf", "on", "--bpf-name", name],
                     w1.script(), "first")
    cmd1 = w1.wait_ready(p1)
    check_is_pasta(p1, bins)
    old_prog = egress_filters(cmd1)[0]["options"]["prog"]["id"]
    os.kill(p1.pid, signal.SIGKILL)
    assert p1.wait(timeout=10) == -signal.SIGKILL
    kill_pids([cmd1], grace=2)  # its command, orphaned
    # A SIGKILLed daemon cannot clean up: its pins are still there.
    assert sorted(os.listdir(f"{PIN_BASE}/{name}")) == ["flow_mirror", "instance", "tap_config",
                                                         "tap_counters"]
    assert map_value(name, "instance")["pid"] == p1.pid

    w2 = Waiter(topo, "second")
    body = r"""
ping -c 1 -W 5 %(gw4)s >/dev/null 2>&1; echo PING4_RC=$?
ping -6 -c 1 -W 5 %(gw6)s >/dev/null 2>&1; echo PING6_RC=$?
""" % {"gw4": GW_V4, "gw6": GW_V6} + w2.script()
    p2 = spawn_pasta(topo, bins, ["--config-net", "--bpf", "on", "--bpf-name", name], body,
                     "second")
    cmd2 = w2.wait_ready(p2)
    out = p2.output()
    assert f"maps in {PIN_BASE}/{name})" in out, out
    assert "PING4_RC=0" in out and "PING6_RC=0" in out, out
    assert map_value(name, "instance")["pid"] == p2.pid  # the stale record was replaced
    n = counters(name)
    assert n["answered_echo4"] >= 1 and n["answered_echo6"] >= 1, n  # fresh maps, ours
    filters = egress_filters(cmd2)
    assert len(filters) == 1, filters
    new_prog = filters[0]["options"]["prog"]["id"]
    assert new_prog != old_prog
    w2.release()
    assert p2.wait(timeout=30) == 0, p2.output()
    check_gone(name, [old_prog, new_prog])


def test_no_echo_in_bpf_when_host_ignores_echo(topo, bins):
    """The program answers echo only when the daemon's path (a ping socket to the host's
    loopback) would get an answer; here the host ignores echo requests, so the guest's ping fails
    with the fast path on exactly as with it off, while ARP/NDP still come from BPF."""
    require_root_bpf()
    for key in ("net.ipv4.icmp_echo_ignore_all", "net.ipv6.icmp.echo_ignore_all"):
        topo.run(topo.host, ["sysctl", "-q", "-w", f"{key}=1"])
    body = r"""
ping -c 1 -W 1 %(gw4)s >/dev/null 2>&1; echo PING4_RC=$?
ping -6 -c 1 -W 1 %(gw6)s >/dev/null 2>&1; echo PING6_RC=$?
""" % {"gw4": GW_V4, "gw6": GW_V6}
    for mode in ("on", "off"):
        r = run_pasta(topo, bins, None, ["--config-net", "--debug", "--bpf", mode], body)
        assert r.returncode == 0, describe(r)
        assert "PING4_RC=1" in r.stdout and "PING6_RC=1" in r.stdout, describe(r)
        if mode == "on":
            assert "BPF fast path: on (" in r.stderr, describe(r)
            assert "echo IPv4 off (host does not answer" in r.stderr, describe(r)
            n = stop_counters(r.stderr)
            assert n and n["echo4"] == 0 and n["echo6"] == 0, describe(r)
            assert n["arp"] >= 1 and n["na"] >= 1, describe(r)


# A frame with a broken IPv4 header (IHL 3), sent from inside the namespace on the tap.
BAD_IP4_FRAME = r"""
import socket, sys
ifname = sys.argv[1]
mac = bytes.fromhex(open(f"/sys/class/net/{ifname}/address").read().strip().replace(":", ""))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
frame = b"\x9a\x55" * 3 + mac + b"\x08\x00" + bytes([0x43, 0, 0, 40]) + bytes(36)
try:
    s.send(frame)
    print("SEND_OK")
except OSError as e:
    print("SEND_FAILED", e)
"""


def test_dropped_frame_is_silent_as_in_the_daemon(topo, bins):
    """A frame that BPF drops (the daemon would drop it too) is consumed silently, as when the
    daemon drops it: the sender sees no error either way."""
    require_root_bpf()
    probe = write_script(topo.tmp_path("bad_ip4.py"), BAD_IP4_FRAME)
    # ip netns exec remounts /sys, so /sys/class/net shows pasta's namespace inside the command.
    body = f"/usr/bin/python3 {probe} $IF\n"
    for mode in ("off", "on"):
        r = run_pasta(topo, bins, None, ["--config-net", "--bpf", mode], body)
        assert r.returncode == 0, describe(r)
        if mode == "on":
            n = stop_counters(r.stderr)
            assert n and n["dropped"] >= 1, describe(r)  # BPF saw it and dropped it
        assert "SEND_OK" in r.stdout, f"--bpf {mode}: {describe(r)}"


# --------------------------------------------------------------------------------------------
# the services, with the fast path on and off


SERVICES_BODY = r"""
wait_for slaac_ready; echo SLAAC_RC=$?
ip -6 -o addr show dev $IF scope global
ip -6 route show default
ping -c 1 -W 5 %(gw4)s >/dev/null 2>&1; echo PING4_RC=$?
ping -6 -c 1 -W 5 %(gw6)s >/dev/null 2>&1; echo PING6_RC=$?
""" % {"gw4": GW_V4, "gw6": GW_V6}


@pytest.mark.parametrize("who,mode", [("root", "on"), ("root", "off"), ("unpriv", "auto")],
                         ids=["root-bpf-on", "root-bpf-off", "unpriv-bpf-auto"])
def test_services_with_fast_path_on_and_off(topo, bins, unpriv, who, mode):
    if mode == "on":
        require_root_bpf()
    user = unpriv if who == "unpriv" else None
    r = run_pasta(topo, bins, user, ["--bpf", mode], udhcpc_cmd(topo) + SERVICES_BODY)
    assert r.returncode == 0, describe(r)
    check_udhcpc_lease(r)
    assert "SLAAC_RC=0" in r.stdout, describe(r)
    assert re.search(r"inet6 2001:db8::[0-9a-f:]+/64 scope global dynamic", r.stdout), describe(r)
    assert re.search(r"^default via fe80::[0-9a-f:]+ dev veth0 proto ra", r.stdout,
                     re.MULTILINE), describe(r)
    assert "PING4_RC=0" in r.stdout and "PING6_RC=0" in r.stdout, describe(r)
    assert NAMESERVER in r.stderr, describe(r)

    n = stop_counters(r.stderr)
    if mode == "on":
        assert re.search(r"BPF fast path: on \(tc egress on veth0, ifindex \d+, maps in ",
                         r.stderr), describe(r)
        # The router solicitation, the neighbour resolutions and the pings: answered in BPF.
        assert n, describe(r)
        assert n["ra"] >= 1 and n["arp"] >= 1 and n["na"] >= 1, describe(r)
        assert n["echo4"] >= 1 and n["echo6"] >= 1, describe(r)
        assert n["dropped"] == 0, describe(r)
    elif mode == "off":
        assert "BPF fast path: off: disabled (--bpf off)" in r.stderr, describe(r)
        assert n is None, describe(r)
    else:
        # Unprivileged: falls back, says why, and everything above still worked.
        assert re.search(r"^pasta: BPF fast path: off: \S", r.stderr, re.MULTILINE), describe(r)
        assert "BPF fast path: on" not in r.stderr and n is None, describe(r)


def test_bpf_on_unprivileged_fails(topo, bins, unpriv):
    r = run_pasta(topo, bins, unpriv, ["--config-net", "--bpf", "on"], "echo COMMAND_RAN\n")
    assert r.returncode != 0, describe(r)
    assert re.search(r"BPF fast path: off: \S", r.stderr), describe(r)
    assert "--bpf on: the BPF fast path cannot be loaded" in r.stderr, describe(r)
    assert "COMMAND_RAN" not in r.stdout, describe(r)


# --------------------------------------------------------------------------------------------
# passt mode, --runas


def test_passt_has_no_fast_path(topo, bins, free_tmp_path):
    sock = free_tmp_path("passt.socket")
    p = topo.spawn(topo.host, [bins.passt, "-f", "-s", sock, "--bpf", "auto"])
    p.wait_for_output(r"BPF fast path: off: passt mode has no tap to attach to$", timeout=10)
    p.wait_for_output(r"UNIX domain socket bound at", timeout=10)
    assert p.alive(), p.output()
    p.terminate()

    r = topo.run(topo.host, [bins.passt, "-f", "-s", free_tmp_path("on.socket"), "--bpf", "on"],
                 check=False, timeout=20)
    assert r.returncode != 0, describe(r)
    assert "BPF fast path: off: passt mode has no tap to attach to" in r.stderr, describe(r)
    assert "--bpf on: the BPF fast path cannot be loaded" in r.stderr, describe(r)


def test_runas_owns_pins(topo, bins, machine_bpffs, unpriv):
    """pasta --runas: the loader runs before the switch, and gives the pins to the new user."""
    name = instance_name()
    uid, gid = user_ids(unpriv)
    w = Waiter(topo, "runas")
    p = spawn_pasta(topo, bins, ["--config-net", "--runas", unpriv, "--bpf", "on", "--bpf-name",
                                 name], w.script(), "runas")
    w.wait_ready(p)
    assert f"Running as {uid}:{gid}" in p.output(), p.output()
    pins = sorted(os.listdir(f"{PIN_BASE}/{name}"))
    assert pins == ["flow_mirror", "instance", "tap_config", "tap_counters"], pins
    for path in [f"{PIN_BASE}/{name}"] + [f"{PIN_BASE}/{name}/{x}" for x in pins]:
        st = os.stat(path)
        assert (st.st_uid, st.st_gid) == (uid, gid), path
    w.release()
    assert p.wait(timeout=30) == 0, p.output()
    # The maps were unpinned by the unprivileged daemon. (Its empty directory may stay behind:
    # removing it needs write access to bpasst/, which belongs to root; see the next case.)
    if os.path.isdir(f"{PIN_BASE}/{name}"):
        assert os.listdir(f"{PIN_BASE}/{name}") == []
        topo.add_cleanup(lambda: os.rmdir(f"{PIN_BASE}/{name}"))


def test_runas_name_reusable(topo, bins, machine_bpffs, unpriv):
    name = instance_name()
    args = ["--config-net", "--runas", unpriv, "--bpf", "on", "--bpf-name", name]
    try:
        for i in range(2):
            r = subprocess.run(pasta_argv(topo, bins, args, "echo RAN\n", f"reuse{i}"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               timeout=30)
            assert r.returncode == 0 and "RAN" in r.stdout, describe(r)
    finally:
        if os.path.isdir(f"{PIN_BASE}/{name}") and not os.listdir(f"{PIN_BASE}/{name}"):
            os.rmdir(f"{PIN_BASE}/{name}")


# --------------------------------------------------------------------------------------------
# flow mirror: the daemon's TCP and UDP flows in the pinned flow_mirror map (io/mirror.c)

MIRROR_UDP_BASE = 4096  # flow id of UDP slot 0 (TCP_FLOWS_DEFAULT, io/mirror.h)


def v4_mapped(addr):
    return [0] * 10 + [0xff, 0xff] + [int(x) for x in addr.split(".")]


def mirror_entries(name):
    """flow_mirror of instance `name`: [(key, typed value)]."""
    dump = bpftool_json("map", "dump", "pinned", f"{PIN_BASE}/{name}/flow_mirror")
    return [(e.get("formatted", e)["key"], e.get("formatted", e)["value"]) for e in dump]


def mirror_find(name, proto, sport, dport):
    for key, v in mirror_entries(name):
        if v["proto"] == proto and v["tap"]["src_port"] == sport and v["tap"]["dst_port"] == dport:
            return key, v
    return None


def wait_mirror(name, pred, timeout, what):
    """wait_for(pred), failing with the map's contents at the time of the failure."""
    try:
        return wait_for(pred, timeout=timeout, interval=0.2, what=what)
    except AssertionError as e:
        raise AssertionError(f"{e}; flow_mirror: {mirror_entries(name)}") from None


def test_flow_mirror_tcp_and_udp(topo, bins, machine_bpffs):
    name = instance_name()
    w = Waiter(topo, "mirror")
    close_file = topo.tmp_path("mirror.close")
    tcp_out, udp_out = topo.tmp_path("mirror.tcp"), topo.tmp_path("mirror.udp")
    # A TCP server that says "hi" and reads until our FIN; a UDP echo server.
    topo.spawn(topo.remote, ["socat", f"TCP4-LISTEN:5011,bind={SERVER_V4},reuseaddr",
                             "SYSTEM:echo hi; cat >/dev/null"])
    topo.spawn(topo.remote, ["socat", f"UDP4-LISTEN:5012,bind={SERVER_V4}", "PIPE"])

    def listening(opt, port):
        r = topo.run(topo.remote, ["ss", opt, f"sport = :{port}"], check=False)
        return r.returncode == 0 and r.stdout.strip() != ""
    wait_for(lambda: listening("-Hltn", 5011), timeout=10, what="TCP server")
    wait_for(lambda: listening("-Hlun", 5012), timeout=10, what="UDP server")

    # The TCP client sends "hello" and holds the connection until the test creates close_file.
    body = r"""
( printf hello; i=0; while [ ! -e %(close)s ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done ) |
	socat - TCP4:%(server)s:5011,sourceport=40123 >%(tcp_out)s 2>&1 &
printf ping | socat -t 2 - UDP4:%(server)s:5012,sourceport=40124 >%(udp_out)s 2>&1 &
""" % {"close": close_file, "server": SERVER_V4, "tcp_out": tcp_out,
       "udp_out": udp_out} + w.script()
    p = spawn_pasta(topo, bins, ["--config-net", "--bpf", "on", "--bpf-name", name], body,
                    "mirror")
    w.wait_ready(p)
    check_is_pasta(p, bins)

    def file_has(path, text):
        return os.path.exists(path) and text in open(path).read()
    wait_for(lambda: file_has(tcp_out, "hi"), timeout=10, what="the TCP server's greeting")
    wait_for(lambda: file_has(udp_out, "ping"), timeout=10, what="the UDP echo")

    # Both flows show up within 3 s, typed, with the bytes of the exchange.
    def tcp_flow():
        f = mirror_find(name, 6, 40123, 5011)
        return f if f and f[1]["bytes_from_guest"] == 5 and f[1]["bytes_to_guest"] == 3 else None
    key, v = wait_mirror(name, tcp_flow, 3, "the TCP flow in flow_mirror")
    assert key < MIRROR_UDP_BASE, key
    assert v["state"] == "BP_FLOW_STATE_ESTABLISHED", v  # typed: the enum by name
    assert v["tap"]["src_addr"] == v4_mapped(HOST_V4), v
    assert v["tap"]["dst_addr"] == v4_mapped(SERVER_V4), v
    assert v["host"]["dst_addr"] == v4_mapped(SERVER_V4) and v["host"]["dst_port"] == 5011, v
    assert v["host"]["src_port"] != 0 and v["updated_ns"] > 0, v

    def udp_flow():
        f = mirror_find(name, 17, 40124, 5012)
        return f if f and f[1]["bytes_from_guest"] == 4 and f[1]["bytes_to_guest"] == 4 else None
    key, v = wait_mirror(name, udp_flow, 3, "the UDP flow in flow_mirror")
    assert key >= MIRROR_UDP_BASE, key
    assert v["state"] == "BP_FLOW_STATE_ESTABLISHED", v  # typed: the enum by name
    assert v["tap"]["src_addr"] == v4_mapped(HOST_V4), v
    assert v["host"]["dst_addr"] == v4_mapped(SERVER_V4) and v["host"]["dst_port"] == 5012, v
    # Field names in bpftool's plain dump too.
    plain = run_cmd(["bpftool", "map", "dump", "pinned", f"{PIN_BASE}/{name}/flow_mirror"],
                    check=True).stdout
    for field in ('"proto"', '"state"', '"tap"', '"host"', '"src_port"', '"bytes_to_guest"'):
        assert field in plain, plain

    # Closed: the TCP entry goes at the next walk; the UDP flow (idle timeout 180 s) stays.
    open(close_file, "w").close()
    wait_mirror(name, lambda: mirror_find(name, 6, 40123, 5011) is None, 5,
                "the TCP flow to leave flow_mirror")
    assert mirror_find(name, 17, 40124, 5012), mirror_entries(name)

    w.release()
    assert p.wait(timeout=30) == 0, p.output()
    assert not os.path.exists(f"{PIN_BASE}/{name}")
