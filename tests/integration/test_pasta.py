# SPDX-License-Identifier: GPL-2.0-or-later
"""pasta's namespace edge: creating or joining the namespace, the tap, --config-net, the command.

Each case runs pasta inside the topology's host namespace (which plays the machine pasta runs on:
veth0 with 192.0.2.2/24 and 2001:db8::2/64, default routes via 192.0.2.1 and 2001:db8::1) and
looks at the namespace pasta made with iproute2's JSON output, from inside (the command pasta
runs) or from outside (nsenter / ip -n for a namespace pasta joined). Checked:
  - --config-net copies the host's addressing: tap named like the host's upstream interface
    (veth0), 192.0.2.2/24 and 2001:db8::2/64 (IPv6 usable at once: not tentative), default routes
    via 192.0.2.1 and 2001:db8::1 on the tap, MTU 65520, lo up; as root and unprivileged;
  - -a/-n/-g (IPv4 and IPv6, a gateway outside the prefix: "onlink"), -m, -I, --ns-mac-addr, -4,
    -6 each change exactly what they should;
  - without --config-net: the tap and lo are up with the MTU, no global address is configured;
  - the command's exit status (and 128 + signal) is pasta's;
  - --netns NAME in the background with --pid: the parent returns only once the namespace is
    configured, and the daemon exits within 5 s of `ip netns del`; PID targets (root and
    unprivileged, the latter through the process's user namespace) likewise when it exits;
  - a host without default routes: pasta starts with a warning and gives the addresses;
  - malformed targets (a netns name that does not exist, a file that is no namespace, a PID that
    does not exist, an unknown -i interface) fail with an error, not a hang.
"""

import json
import os
import re
import subprocess
import time

import pytest

from helpers import wait_for, GW_V4, GW_V6, HOST_V4, HOST_V6

TAP_DEFAULT = "veth0"  # the host namespace's upstream interface in the topology
MTU_DEFAULT = 65520
SEP = "@@@"

# Everything the checks need, printed from inside the namespace in one run.
DUMP_SCRIPT = (f"ip -j addr show; echo {SEP}; ip -j -4 route show; echo {SEP}; "
               f"ip -j -6 route show; echo {SEP}; ip -j link show")


@pytest.fixture(scope="module", autouse=True)
def tun_world_accessible():
    """/dev/net/tun must be 0666 (Debian's udev rule) for an unprivileged pasta, as for upstream.

    A machine without udev (containers, minimal VMs) leaves devtmpfs's 0600: set the
    distribution's mode, which is what a user of pasta has.
    """
    st = os.stat("/dev/net/tun")
    if st.st_mode & 0o666 != 0o666:
        os.chmod("/dev/net/tun", 0o666)


class NsView:
    """Addresses, routes and links of a namespace, from `ip -j` output."""

    def __init__(self, text):
        parts = text.split(SEP)
        assert len(parts) == 4, f"unexpected dump output:\n{text}"
        self.addrs, self.routes4, self.routes6, self.links = (json.loads(p) for p in parts)

    def link(self, name):
        for ln in self.links:
            if ln["ifname"] == name:
                return ln
        raise AssertionError(f"no interface {name} in the namespace: "
                             f"{[ln['ifname'] for ln in self.links]}")

    def addr_info(self, name, family=None, scope="global"):
        for a in self.addrs:
            if a["ifname"] == name:
                return [i for i in a.get("addr_info", [])
                        if (family is None or i["family"] == family) and i["scope"] == scope]
        raise AssertionError(f"no interface {name} in the address dump")

    def global_addrs(self, name, family):
        return sorted(f"{i['local']}/{i['prefixlen']}" for i in self.addr_info(name, family))

    def default_routes(self, family):
        routes = self.routes4 if family == "inet" else self.routes6
        return [r for r in routes if r.get("dst") == "default"]

    def interfaces(self):
        return sorted(ln["ifname"] for ln in self.links)


def pasta_dump(topo, bins, args, user=None, check=True):
    """Run pasta ARGS sh -c DUMP in the host namespace; (NsView or None, CompletedProcess)."""
    r = topo.run(topo.host, [bins.pasta] + list(args) + ["sh", "-c", DUMP_SCRIPT], user=user,
                 check=False, timeout=30)
    if check:
        assert r.returncode == 0, f"pasta exited {r.returncode}\nstdout:\n{r.stdout}\n" \
                                  f"stderr:\n{r.stderr}"
    view = NsView(r.stdout) if r.returncode == 0 else None
    return view, r


def assert_default_route(view, family, gw, dev, onlink=False):
    routes = view.default_routes(family)
    assert len(routes) == 1, f"{family} default routes: {routes}"
    assert routes[0].get("gateway") == gw, routes
    assert routes[0].get("dev") == dev, routes
    if onlink:
        assert "onlink" in routes[0].get("flags", []), routes


def assert_up(view, name, mtu):
    ln = view.link(name)
    assert "UP" in ln["flags"], ln
    assert ln["mtu"] == mtu, ln


# ---------------------------------------------------------------------------------------------
# --config-net with the host's addressing


def test_config_net_copies_host(topo, bins, daemon_user):
    view, r = pasta_dump(topo, bins, ["--config-net"], user=daemon_user)
    assert view.interfaces() == ["lo", TAP_DEFAULT], view.interfaces()
    assert_up(view, TAP_DEFAULT, MTU_DEFAULT)
    assert "UP" in view.link("lo")["flags"]
    assert view.global_addrs(TAP_DEFAULT, "inet") == [f"{HOST_V4}/24"]
    # exactly the host's IPv6 address: no SLAAC address next to it (no RAs with --config-net)
    assert view.global_addrs(TAP_DEFAULT, "inet6") == [f"{HOST_V6}/64"]
    v6 = view.addr_info(TAP_DEFAULT, "inet6")[0]
    assert not v6.get("tentative") and not v6.get("dadfailed"), v6
    assert_default_route(view, "inet", GW_V4, TAP_DEFAULT)
    assert_default_route(view, "inet6", GW_V6, TAP_DEFAULT)
    # the tap's MAC is locally administered unicast (random when not given)
    mac = int(view.link(TAP_DEFAULT)["address"].split(":")[0], 16)
    assert mac & 0x02 and not mac & 0x01, view.link(TAP_DEFAULT)["address"]


def test_command_runs_as_root_inside(topo, bins, daemon_user):
    r = topo.run(topo.host, [bins.pasta, "--config-net", "id", "-u"], user=daemon_user)
    assert r.stdout.strip() == "0", r.stdout
    # the namespace is a new one: the host's veth0 peer address is not configured there
    # (only the tap's copy is), and the host namespace is untouched
    h = topo.run(topo.host, ["ip", "-j", "link", "show"])
    assert sorted(ln["ifname"] for ln in json.loads(h.stdout)) == ["lo", "veth0"]


def test_exit_status(topo, bins, daemon_user):
    r = topo.run(topo.host, [bins.pasta, "--config-net", "sh", "-c", "exit 7"], user=daemon_user,
                 check=False)
    assert r.returncode == 7, f"exit status {r.returncode}, stderr:\n{r.stderr}"
    r = topo.run(topo.host, [bins.pasta, "sh", "-c", "exit 0"], user=daemon_user, check=False)
    assert r.returncode == 0, r.stderr
    r = topo.run(topo.host, [bins.pasta, "sh", "-c", "kill -TERM $$"], user=daemon_user,
                 check=False)
    assert r.returncode == 128 + 15, f"exit status {r.returncode}, stderr:\n{r.stderr}"


def test_command_not_found(topo, bins):
    r = topo.run(topo.host, [bins.pasta, "/nonexistent/command"], check=False)
    assert r.returncode == 127, f"exit status {r.returncode}, stderr:\n{r.stderr}"


def test_default_shell(topo, bins):
    # No command: the user's shell ($SHELL) runs; here it reads its commands from stdin.
    r = topo.run(topo.host, [bins.pasta, "--config-net"], input="ip -j link show; exit 3\n",
                 env={**os.environ, "SHELL": "/bin/sh"}, check=False)
    assert r.returncode == 3, r.stderr
    assert TAP_DEFAULT in [ln["ifname"] for ln in json.loads(r.stdout)]


# ---------------------------------------------------------------------------------------------
# overrides


def test_overrides_v4(topo, bins, daemon_user):
    view, _ = pasta_dump(topo, bins, ["--config-net", "-a", "10.0.0.2", "-n", "16",
                                      "-g", "10.0.255.254"], user=daemon_user)
    assert view.global_addrs(TAP_DEFAULT, "inet") == ["10.0.0.2/16"]
    assert_default_route(view, "inet", "10.0.255.254", TAP_DEFAULT)
    # IPv6 still comes from the host
    assert view.global_addrs(TAP_DEFAULT, "inet6") == [f"{HOST_V6}/64"]
    assert_default_route(view, "inet6", GW_V6, TAP_DEFAULT)


def test_override_netmask_dotted_and_gateway_outside(topo, bins):
    # -n as a dotted mask; a gateway outside the prefix still becomes the default route (onlink)
    view, _ = pasta_dump(topo, bins, ["--config-net", "-a", "10.1.2.3", "-n", "255.255.255.0",
                                      "-g", "10.9.9.9"])
    assert view.global_addrs(TAP_DEFAULT, "inet") == ["10.1.2.3/24"]
    assert_default_route(view, "inet", "10.9.9.9", TAP_DEFAULT, onlink=True)


def test_override_address_keeps_host_prefix(topo, bins):
    # -a inside the host's subnet without -n: the host's prefix length; host gateway kept
    view, _ = pasta_dump(topo, bins, ["--config-net", "-a", "192.0.2.77"])
    assert view.global_addrs(TAP_DEFAULT, "inet") == ["192.0.2.77/24"]
    assert_default_route(view, "inet", GW_V4, TAP_DEFAULT)


def test_overrides_v6(topo, bins, daemon_user):
    view, _ = pasta_dump(topo, bins, ["--config-net", "-a", "2001:db8:5::5",
                                      "-g", "fe80::7"], user=daemon_user)
    assert view.global_addrs(TAP_DEFAULT, "inet6") == ["2001:db8:5::5/64"]
    v6 = view.addr_info(TAP_DEFAULT, "inet6")[0]
    assert not v6.get("tentative"), v6
    assert_default_route(view, "inet6", "fe80::7", TAP_DEFAULT)
    assert view.global_addrs(TAP_DEFAULT, "inet") == [f"{HOST_V4}/24"]


def test_mtu_ifname_mac(topo, bins, daemon_user):
    view, _ = pasta_dump(topo, bins, ["--config-net", "-m", "1400", "-I", "pasta7",
                                      "--ns-mac-addr", "02:11:22:33:44:55"], user=daemon_user)
    assert view.interfaces() == ["lo", "pasta7"]
    assert_up(view, "pasta7", 1400)
    assert view.link("pasta7")["address"] == "02:11:22:33:44:55"
    assert view.global_addrs("pasta7", "inet") == [f"{HOST_V4}/24"]
    assert_default_route(view, "inet", GW_V4, "pasta7")
    assert_default_route(view, "inet6", GW_V6, "pasta7")


def test_ipv4_only(topo, bins, daemon_user):
    view, _ = pasta_dump(topo, bins, ["--config-net", "-4"], user=daemon_user)
    assert view.global_addrs(TAP_DEFAULT, "inet") == [f"{HOST_V4}/24"]
    assert view.global_addrs(TAP_DEFAULT, "inet6") == []
    assert_default_route(view, "inet", GW_V4, TAP_DEFAULT)
    assert view.default_routes("inet6") == []


def test_ipv6_only(topo, bins, daemon_user):
    view, _ = pasta_dump(topo, bins, ["--config-net", "-6"], user=daemon_user)
    assert view.interfaces() == ["lo", TAP_DEFAULT]
    assert view.global_addrs(TAP_DEFAULT, "inet") == []
    assert view.global_addrs(TAP_DEFAULT, "inet6") == [f"{HOST_V6}/64"]
    assert view.default_routes("inet") == []
    assert_default_route(view, "inet6", GW_V6, TAP_DEFAULT)


def test_without_config_net(topo, bins, daemon_user):
    # Only lo and the tap are brought up (with the MTU); addressing is left to DHCP/SLAAC.
    view, _ = pasta_dump(topo, bins, ["--no-ra"], user=daemon_user)
    assert_up(view, TAP_DEFAULT, MTU_DEFAULT)
    assert "UP" in view.link("lo")["flags"]
    assert view.global_addrs(TAP_DEFAULT, "inet") == []
    assert view.global_addrs(TAP_DEFAULT, "inet6") == []
    assert view.default_routes("inet") == [] and view.default_routes("inet6") == []
    assert view.addr_info("lo", "inet", scope="host"), "lo has no 127.0.0.1"


# ---------------------------------------------------------------------------------------------
# a host without default routes


def test_no_default_route_on_host(topo, bins, daemon_user):
    topo.run(topo.host, ["ip", "-4", "route", "del", "default"])
    topo.run(topo.host, ["ip", "-6", "route", "del", "default"])
    view, r = pasta_dump(topo, bins, ["--config-net"], user=daemon_user)
    assert "no default route on the host" in r.stderr, r.stderr
    assert view.interfaces() == ["lo", TAP_DEFAULT]
    assert view.global_addrs(TAP_DEFAULT, "inet") == [f"{HOST_V4}/24"]
    assert view.global_addrs(TAP_DEFAULT, "inet6") == [f"{HOST_V6}/64"]
    assert view.default_routes("inet") == [] and view.default_routes("inet6") == []


def test_no_default_route_with_gateway_given(topo, bins):
    topo.run(topo.host, ["ip", "-4", "route", "del", "default"])
    view, r = pasta_dump(topo, bins, ["--config-net", "-g", "192.0.2.254"])
    assert "no default route on the host" in r.stderr, r.stderr
    assert_default_route(view, "inet", "192.0.2.254", TAP_DEFAULT)
    assert_default_route(view, "inet6", GW_V6, TAP_DEFAULT)


# ---------------------------------------------------------------------------------------------
# joining an existing namespace, in the background


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2:].split()[0] not in ("Z", "X")


def read_pid_file(path):
    with open(path) as f:
        text = f.read().strip()
    assert re.fullmatch(r"\d+", text), f"pid file holds {text!r}"
    return int(text)


def ns_view_outside(argv_prefix):
    """NsView of a namespace we enter from outside: argv_prefix runs a command inside it."""
    out = []
    for cmd in (["ip", "-j", "addr", "show"], ["ip", "-j", "-4", "route", "show"],
                ["ip", "-j", "-6", "route", "show"], ["ip", "-j", "link", "show"]):
        r = subprocess.run(argv_prefix + cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=10)
        assert r.returncode == 0, r.stderr
        out.append(r.stdout)
    return NsView(f"\n{SEP}\n".join(out))


@pytest.fixture
def target_netns(topo):
    name = f"{topo.host}-t"
    subprocess.run(["ip", "netns", "del", name], stderr=subprocess.DEVNULL)
    subprocess.run(["ip", "netns", "add", name], check=True)

    def cleanup():
        subprocess.run(["ip", "netns", "del", name], stderr=subprocess.DEVNULL)
    topo.add_cleanup(cleanup)
    return name


@pytest.mark.timeout(60)
def test_netns_background_and_exit_on_removal(topo, bins, target_netns, free_tmp_path):
    pidfile = free_tmp_path("pasta.pid")
    r = topo.run(topo.host, [bins.pasta, "--config-net", "--netns", target_netns,
                             "--pid", pidfile], timeout=20, check=False)
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stderr}"
    # Checked right away: the parent returns only once the namespace is configured.
    view = ns_view_outside(["ip", "netns", "exec", target_netns])
    assert view.global_addrs(TAP_DEFAULT, "inet") == [f"{HOST_V4}/24"]
    assert view.global_addrs(TAP_DEFAULT, "inet6") == [f"{HOST_V6}/64"]
    assert_default_route(view, "inet", GW_V4, TAP_DEFAULT)
    assert_default_route(view, "inet6", GW_V6, TAP_DEFAULT)
    assert_up(view, TAP_DEFAULT, MTU_DEFAULT)

    pid = read_pid_file(pidfile)
    assert pid_alive(pid), f"daemon {pid} from the pid file is not running"
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert b"pasta" in f.read().split(b"\0")[0]

    subprocess.run(["ip", "netns", "del", target_netns], check=True)
    t0 = time.monotonic()
    wait_for(lambda: not pid_alive(pid), timeout=5, what="pasta to exit after ip netns del")
    assert time.monotonic() - t0 < 5


@pytest.mark.timeout(60)
def test_netns_by_path_without_config_net(topo, bins, target_netns):
    # A path works like a name; without --config-net only lo and the tap come up.
    r = topo.run(topo.host, [bins.pasta, "--netns", topo.netns_path(target_netns), "-I", "t1",
                             "--no-ra"], timeout=20, check=False)
    assert r.returncode == 0, r.stderr
    view = ns_view_outside(["ip", "netns", "exec", target_netns])
    assert_up(view, "t1", MTU_DEFAULT)
    assert view.global_addrs("t1", "inet") == []


@pytest.mark.timeout(60)
def test_pid_target(topo, bins, daemon_user, free_tmp_path):
    # A process in its own (user and) network namespace; pasta joins it by PID.
    unshare = ["unshare", "-rn"] if daemon_user else ["unshare", "-n"]
    sleeper = topo.spawn(topo.host, unshare + ["sleep", "60"], user=daemon_user)
    host_net = f"net:[{os.stat(topo.netns_path(topo.host)).st_ino}]"

    def in_own_netns():
        try:
            comm = open(f"/proc/{sleeper.pid}/comm").read().strip()
            net = os.readlink(f"/proc/{sleeper.pid}/ns/net")
        except OSError:
            return False
        return comm == "sleep" and net != host_net
    wait_for(in_own_netns, timeout=10, what="the target process to exec sleep")

    pidfile = free_tmp_path("pasta.pid")
    r = topo.run(topo.host, [bins.pasta, "--config-net", "--pid", pidfile, str(sleeper.pid)],
                 user=daemon_user, timeout=20, check=False)
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stderr}"
    view = ns_view_outside(["nsenter", "-t", str(sleeper.pid), "-n"])
    assert view.global_addrs(TAP_DEFAULT, "inet") == [f"{HOST_V4}/24"]
    assert view.global_addrs(TAP_DEFAULT, "inet6") == [f"{HOST_V6}/64"]
    assert_default_route(view, "inet", GW_V4, TAP_DEFAULT)

    pid = read_pid_file(pidfile)
    assert pid_alive(pid)
    sleeper.kill()
    wait_for(lambda: not pid_alive(pid), timeout=5, what="pasta to exit after its target")


# ---------------------------------------------------------------------------------------------
# malformed targets


@pytest.mark.parametrize("args,what", [
    (["--netns", "bpasst-no-such-netns"], "bpasst-no-such-netns"),
    (["--netns", "/etc/hostname"], "not a network namespace"),
    (["--netns", "/proc/self/ns/user"], "not a network namespace"),
    (["4194303"], "4194303"),
    (["-i", "nosuchif0"], "nosuchif0"),
], ids=["netns-missing", "netns-not-a-namespace", "netns-wrong-type", "pid-missing",
      "interface-missing"])
def test_malformed_targets_fail(topo, bins, args, what):
    t0 = time.monotonic()
    r = topo.run(topo.host, [bins.pasta, "--config-net", "-f"] + args, timeout=20, check=False)
    assert r.returncode != 0, f"pasta {args} succeeded:\n{r.stderr}"
    assert what in r.stderr, f"error does not mention {what!r}:\n{r.stderr}"
    assert time.monotonic() - t0 < 10
