# SPDX-License-Identifier: GPL-2.0-or-later
"""Tests of the integration harness itself: the topology, users, processes and cleanup.

If these fail, every other integration result is suspect.  Each check here can fail: pings go
to addresses that only exist if the topology was built as documented, cleanup is verified by
looking for the namespaces and processes afterwards.
"""

import os
import subprocess
import time

import pytest

import helpers
from helpers import (HOST_V4, HOST_V6, SERVER_V4, SERVER_V6, GW_V4, Topology, netns_exists,
                     netns_pids, wait_for, run_cmd)


def test_addresses_and_routes(topo):
    r = topo.run(topo.host, ["ip", "-o", "addr", "show", "dev", "veth0"])
    assert f"{HOST_V4}/24" in r.stdout and f"{HOST_V6}/64" in r.stdout
    r = topo.run(topo.host, ["ip", "route", "show", "default"])
    assert f"via {GW_V4}" in r.stdout
    r = topo.run(topo.remote, ["ip", "-o", "addr", "show", "dev", "lo"])
    assert f"{SERVER_V4}/32" in r.stdout and f"{SERVER_V6}/128" in r.stdout
    # The remote namespace must have no default route: nothing can leave the machine.
    r = topo.run(topo.remote, ["ip", "route", "show", "default"])
    assert r.stdout.strip() == ""
    r = topo.run(topo.remote, ["ip", "-6", "route", "show", "default"])
    assert r.stdout.strip() == ""


@pytest.mark.parametrize("dst", [SERVER_V4, SERVER_V6])
def test_ping_host_to_remote_server(topo, dst):
    r = topo.run(topo.host, ["ping", "-c", "1", "-W", "5", dst])
    assert " 0% packet loss" in r.stdout


def test_unrouted_address_is_unreachable(topo):
    # 198.51.100.1 exists nowhere: the remote namespace must not forward it anywhere.
    r = topo.run(topo.host, ["ping", "-c", "1", "-W", "1", "198.51.100.1"], check=False)
    assert r.returncode != 0


def test_resolv_conf_in_host_namespace(topo):
    r = topo.run(topo.host, ["cat", "/etc/resolv.conf"])
    assert "nameserver 198.51.100.53" in r.stdout
    assert "search example.test" in r.stdout


def test_ping_group_range(topo):
    r = topo.run(topo.host, ["sysctl", "-n", "net.ipv4.ping_group_range"])
    assert r.stdout.split() == ["0", "2147483647"]


def test_unprivileged_user_runs_in_host_namespace(topo, unpriv):
    r = topo.run(topo.host, ["id", "-un"], user=unpriv)
    assert r.stdout.strip() == unpriv
    r = topo.run(topo.host, ["ip", "-o", "addr", "show", "dev", "veth0"], user=unpriv)
    assert HOST_V4 in r.stdout
    # And it is not root: it cannot change the namespace's addresses.
    r = topo.run(topo.host, ["ip", "addr", "add", "192.0.2.99/24", "dev", "veth0"],
                 user=unpriv, check=False)
    assert r.returncode != 0


PING_SOCKET_SCRIPT = r"""
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
s.settimeout(5)
payload = b"bpasst-harness"
hdr = struct.pack("!BBHHH", 8, 0, 0, 0, 1)
s.sendto(hdr + payload, (sys.argv[1], 0))
data, addr = s.recvfrom(2048)
assert data[0] == 0 and data.endswith(payload), data
print("echo-reply from", addr[0])
"""


def test_unprivileged_ping_socket(topo, unpriv):
    # ping_group_range allows ICMP echo ("ping") sockets for every group, so an unprivileged
    # process can ping without raw sockets: what passt/pasta rely on for ICMP translation.
    r = topo.run(topo.host, ["/usr/bin/python3", "-c", PING_SOCKET_SCRIPT, SERVER_V4], user=unpriv)
    assert f"echo-reply from {SERVER_V4}" in r.stdout


def test_spawn_and_wait_for_output(topo, unpriv):
    port = 5201
    srv = topo.spawn(topo.remote, ["socat", "-d", "-d", f"TCP-LISTEN:{port},bind={SERVER_V4},reuseaddr",
                                   "SYSTEM:echo hello-from-remote"])
    srv.wait_for_output(r"listening on", timeout=10)
    cli = topo.spawn(topo.host, ["socat", "-", f"TCP:{SERVER_V4}:{port}"], user=unpriv)
    cli.wait_for_output(r"hello-from-remote", timeout=10)
    assert cli.wait(timeout=10) == 0
    assert srv.wait(timeout=10) == 0


def test_wait_for_output_fails_on_exit():
    t = Topology()
    try:
        p = t.spawn(t.host, ["sh", "-c", "echo nothing-useful"])
        with pytest.raises(AssertionError, match="closed its output"):
            p.wait_for_output(r"never-printed", timeout=10)
        q = t.spawn(t.host, ["sleep", "30"])
        with pytest.raises(AssertionError, match="timed out"):
            q.wait_for_output(r"x", timeout=0.3)
    finally:
        t.close()


def test_wait_for():
    start = time.monotonic()
    assert wait_for(lambda: time.monotonic() - start > 0.1, timeout=5, what="clock") is True
    with pytest.raises(AssertionError, match="the impossible"):
        wait_for(lambda: False, timeout=0.2, what="the impossible")


def test_cleanup_kills_processes_and_deletes_namespaces():
    t = Topology()
    host, remote = t.host, t.remote
    p = t.spawn(t.host, ["sleep", "300"])
    # A process that escapes the spawn tree (double fork, like a daemon) inside the namespace.
    t.run(t.host, ["sh", "-c", "setsid sleep 301 >/dev/null 2>&1 < /dev/null &"])
    wait_for(lambda: len(netns_pids(host)) >= 2, timeout=5, what="two processes in the namespace")
    stray = [pid for pid in netns_pids(host) if pid != p.pid]
    assert stray
    assert os.path.isdir(f"/etc/netns/{host}")
    t.close()
    assert p.returncode is not None
    for pid in stray:
        assert not helpers._pid_alive(pid), f"stray pid {pid} survived cleanup"
    assert not netns_exists(host) and not netns_exists(remote)
    assert not os.path.exists(f"/etc/netns/{host}")
    assert not os.path.exists(t.tmpdir)
    t.close()  # idempotent


INNER_TESTS = """
import json, os, time
import pytest

def record(topo, proc, name):
    with open(os.path.join(os.environ["RECORD_DIR"], name), "w") as f:
        json.dump({"ns": [topo.host, topo.remote], "pid": proc.pid}, f)

def test_fails(topo):
    p = topo.spawn(topo.host, ["sleep", "300"])
    record(topo, p, "fails")
    assert False, "this case fails on purpose"

@pytest.mark.timeout(2)
def test_times_out(topo):
    p = topo.spawn(topo.host, ["sh", "-c", "trap '' TERM; sleep 300"])
    record(topo, p, "times_out")
    time.sleep(60)
"""


def test_cleanup_after_failing_and_timed_out_cases(pytester, tmp_path):
    # Run a small inner suite with our own conftest: one case fails, one hits its timeout. Their
    # namespaces and processes must be gone afterwards all the same.
    here = os.path.dirname(os.path.abspath(__file__))
    for name in ("conftest.py", "helpers.py", "pytest.ini"):
        with open(os.path.join(here, name)) as f:
            pytester.makefile(os.path.splitext(name)[1], **{os.path.splitext(name)[0]: f.read()})
    pytester.makepyfile(test_inner=INNER_TESTS)
    record_dir = tmp_path / "records"
    record_dir.mkdir()
    os.environ["RECORD_DIR"] = str(record_dir)
    try:
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=90)
    finally:
        del os.environ["RECORD_DIR"]
    result.assert_outcomes(failed=2)
    assert "Timeout" in result.stdout.str()
    import json
    for case in ("fails", "times_out"):
        rec = json.loads((record_dir / case).read_text())
        for ns in rec["ns"]:
            assert not netns_exists(ns), f"{case}: namespace {ns} survived"
            assert not os.path.exists(f"/etc/netns/{ns}")
        assert not helpers._pid_alive(rec["pid"]), f"{case}: pid {rec['pid']} survived"


def test_sigterm_then_sigkill():
    t = Topology()
    try:
        p = t.spawn(t.host, ["sh", "-c", "trap '' TERM; sleep 300 & echo ready; wait"])
        p.wait_for_output("ready")
        start = time.monotonic()
        p.terminate(grace=0.5)
        assert p.returncode == -9 or p.returncode == 137
        assert time.monotonic() - start < 5
    finally:
        t.close()


def test_require_root_bpf_reports_reason():
    ok, reason = helpers.bpf_permitted()
    if os.geteuid() != 0:
        assert not ok and "root" in reason
    else:
        assert ok or reason, "bpf_permitted must give a reason when it says no"


def test_run_cmd_as_user(unpriv):
    r = run_cmd(["id", "-u"], user=unpriv)
    assert r.returncode == 0 and int(r.stdout) != 0
    r = run_cmd(["false"])
    assert r.returncode == 1
    with pytest.raises(AssertionError, match="exited 1"):
        run_cmd(["false"], check=True)


def test_run_cmd_kills_daemonized_orphans():
    # A program that forks into the background must not outlive the command that started it.
    r = run_cmd(["sh", "-c", "setsid sleep 302 >/dev/null 2>&1 </dev/null & echo $!"])
    pid = int(r.stdout.strip())
    assert not helpers._pid_alive(pid), f"daemonized pid {pid} outlived run_cmd"


def test_topology_close_kills_orphans_outside_namespace():
    # A child that runs outside the namespaces (ns=None: the root one) and daemonizes is
    # still ours: close() finds it through the subreaper and kills it.
    t = Topology()
    r = t.run(None, ["sh", "-c", "setsid sleep 303 >/dev/null 2>&1 </dev/null & echo $!"])
    pid = int(r.stdout.strip())
    assert helpers._pid_alive(pid)
    t.close()
    assert not helpers._pid_alive(pid), f"orphan {pid} outlived Topology.close()"


def test_run_cmd_leaves_a_tests_own_children_alone():
    # A case's own subprocess.Popen child is not an orphan: run_cmd must not kill it.
    own = subprocess.Popen(["sleep", "30"])
    try:
        run_cmd(["true"], check=True)
        assert own.poll() is None, "run_cmd killed a child that a Popen object owns"
    finally:
        own.kill()
        own.wait()
