# SPDX-License-Identifier: GPL-2.0-or-later
"""Address mapping through pasta and passt, for TCP and UDP alike, IPv4 and IPv6.

ID_SERVER (tcp_helpers.py) answers with its name and the peer address it saw; WHO_CLIENT prints
what it got. TCP and UDP go through the same rules (flow/nat.c), so every PROTO_FAM case runs
both protocols and must give the same answer. Checked:
  - the gateway reaches the host's loopback by default, --map-host-loopback ADDR instead (the
    gateway is then the remote), not with --no-map-gw, again with --map-gw;
  - --map-guest-addr 169.254.1.2 (Podman) reaches the host's own address;
  - -t/-u connections from the host's own address appear to come from the gateway, or from
    --map-guest-addr when given; with --map-host-loopback ADDR still from the gateway (ADDR
    stands for the host's loopback only: UDP used to show ADDR here);
  - in passt mode, connections from the host's loopback appear to come from the gateway, from
    --map-host-loopback, and with --no-map-gw from the gateway too (UDP used to drop them);
  - -o ADDR is the source the remote sees (not towards the host's loopback); --outbound-if4/6
    NAME makes sockets leave through NAME (a second link with a less preferred default route),
    and only for its own family;
  - a namespace that uses another address than assigned works outbound, and inbound flows go
    to that address;
  - address- and interface-bound forwards (127.0.0.1/, ::1/, ADDR/, translated, %veth0/,
    ADDR%veth0/, %lo/): forwarded from where they are bound, refused from elsewhere.
"""

import subprocess

import pytest

from helpers import HOST_V4, HOST_V6
from tcp_helpers import (ADDRS, ID_SERVER, PROTO_FAM, got_lines, id_server, pasta,
                         spawn_pasta_proto, start_passt_guest, who, who_cmd, write_script)
from tcp_helpers import tun_world_accessible  # noqa: F401 (an autouse fixture)


# ---------------------------------------------------------------------------------------------
# Outbound address mapping: --map-host-loopback, --no-map-gw / --map-gw, --map-guest-addr


@pytest.mark.parametrize("proto,fam", PROTO_FAM)
def test_map_host_loopback_and_gw(topo, bins, free_tmp_path, proto, fam):
    a = ADDRS[fam]
    id_server(topo, free_tmp_path, topo.host, "host-lo", proto, a["lo"], 6001)
    id_server(topo, free_tmp_path, topo.remote, "remote", proto, a["gw"], 6001)
    to_gw = who_cmd(free_tmp_path, proto, a["gw"], 6001)
    to_map = who_cmd(free_tmp_path, proto, a["map_lo"], 6001)
    host_lo, remote = f"GOT host-lo {a['lo']}", f"GOT remote {a['host']}"
    cases = [
        ([], f"{to_gw}", [host_lo]),                                  # the gateway, by default
        (["--map-host-loopback", a["map_lo"]], f"{to_map}; {to_gw}", [host_lo, remote]),
        (["--no-map-gw"], f"{to_gw}", [remote]),
        (["--no-map-gw", "--map-gw"], f"{to_gw}", [host_lo]),
    ]
    for args, cmd, want in cases:
        r = pasta(topo, bins, cmd, args=args)
        assert got_lines(r.stdout) == want, f"{args}: {r.stdout!r}\n{r.stderr[-2000:]}"


@pytest.mark.parametrize("proto,fam", PROTO_FAM)
def test_map_guest_addr(topo, bins, free_tmp_path, proto, fam):
    """Podman's --map-guest-addr 169.254.1.2: that address reaches the host's own address
    (which the namespace has too, so it could not otherwise reach the host's services)."""
    a = ADDRS[fam]
    id_server(topo, free_tmp_path, topo.host, "host-addr", proto, a["host"], 6002)
    r = pasta(topo, bins, who_cmd(free_tmp_path, proto, a["map_guest"], 6002),
              args=["--map-guest-addr", a["map_guest"]])
    assert got_lines(r.stdout) == [f"GOT host-addr {a['host']}"], \
        f"{r.stdout!r}\n{r.stderr[-2000:]}"


@pytest.mark.parametrize("proto,fam", PROTO_FAM)
def test_inbound_from_host_address(topo, bins, free_tmp_path, proto, fam):
    """A -t/-u connection from the host's own address appears to come from the gateway, or from
    --map-guest-addr when given (the namespace can answer neither the host's nor its own
    address). --map-host-loopback ADDR does not change that: ADDR stands for the host's
    loopback, not for its own address (UDP used to show ADDR here)."""
    a = ADDRS[fam]
    srv = write_script(free_tmp_path, "id_server.py", ID_SERVER)
    flag = "-t" if proto == "tcp" else "-u"
    for args, want in (([], a["gw"]), (["--map-guest-addr", a["map_guest"]], a["map_guest"]),
                       (["--map-host-loopback", a["map_lo"]], a["gw"])):
        p = spawn_pasta_proto(topo, bins, free_tmp_path, proto,
                              f"/usr/bin/python3 {srv} ns {proto} :: 6020", 6020,
                              [flag, "6020", *args])
        got = who(topo, free_tmp_path, topo.host, proto, a["host"], 6020)
        assert got == f"GOT ns {want}", f"{args}: {got!r}\n{p.output()[-2000:]}"
        p.terminate()


# ---------------------------------------------------------------------------------------------
# --outbound ADDR, --outbound-if4 / --outbound-if6 NAME


@pytest.mark.parametrize("proto,fam", PROTO_FAM)
def test_outbound_address(topo, bins, free_tmp_path, proto, fam):
    a = ADDRS[fam]
    # A second host address, never picked by the kernel by itself (IPv4: secondary; IPv6:
    # deprecated).
    if fam == "v4":
        topo.run(topo.host, ["ip", "addr", "add", f"{a['extra']}/24", "dev", "veth0"])
    else:
        topo.run(topo.host, ["ip", "-6", "addr", "add", f"{a['extra']}/64", "dev", "veth0",
                             "nodad", "preferred_lft", "0"])
    id_server(topo, free_tmp_path, topo.remote, "remote", proto, a["server"], 6004)
    cmd = who_cmd(free_tmp_path, proto, a["server"], 6004)
    r = pasta(topo, bins, cmd)
    assert got_lines(r.stdout) == [f"GOT remote {a['host']}"], r.stdout + r.stderr[-2000:]
    r = pasta(topo, bins, cmd, args=["-o", a["extra"]])
    assert got_lines(r.stdout) == [f"GOT remote {a['extra']}"], r.stdout + r.stderr[-2000:]
    # Not towards the host's loopback (a socket bound to another address could not reach it).
    id_server(topo, free_tmp_path, topo.host, "host-lo", proto, a["lo"], 6004)
    r = pasta(topo, bins, who_cmd(free_tmp_path, proto, a["gw"], 6004), args=["-o", a["extra"]])
    assert got_lines(r.stdout) == [f"GOT host-lo {a['lo']}"], r.stdout + r.stderr[-2000:]


def second_link(topo):
    """A second veth pair host <-> remote ("bpo1"), with a default route through it in the
    host namespace that loses to the one through veth0 (higher metric): only a socket bound to
    bpo1 uses it."""
    subprocess.run(["ip", "link", "add", "bpo1", "netns", topo.host, "type", "veth", "peer",
                    "name", "bpo1", "netns", topo.remote], check=True)
    for ns, side in ((topo.host, "if_host"), (topo.remote, "if_remote")):
        topo.run(ns, ["ip", "link", "set", "bpo1", "up"])
        for fam in ("v4", "v6"):
            a = ADDRS[fam]
            topo.run(ns, ["ip", "addr", "add", f"{a[side]}/{a['if_len']}", "dev", "bpo1"] +
                     (["nodad"] if fam == "v6" else []))
    topo.run(topo.host, ["ip", "route", "add", "default", "via", ADDRS["v4"]["if_remote"],
                         "dev", "bpo1", "metric", "200"])
    topo.run(topo.host, ["ip", "-6", "route", "add", "default", "via", ADDRS["v6"]["if_remote"],
                         "dev", "bpo1", "metric", "2048"])


@pytest.mark.parametrize("proto,fam", PROTO_FAM)
def test_outbound_interface(topo, bins, free_tmp_path, proto, fam):
    a = ADDRS[fam]
    second_link(topo)
    id_server(topo, free_tmp_path, topo.remote, "remote", proto, a["server"], 6005)
    cmd = who_cmd(free_tmp_path, proto, a["server"], 6005)
    r = pasta(topo, bins, cmd)
    assert got_lines(r.stdout) == [f"GOT remote {a['host']}"], r.stdout + r.stderr[-2000:]
    opt = "--outbound-if4" if fam == "v4" else "--outbound-if6"
    r = pasta(topo, bins, cmd, args=[opt, "bpo1"])
    assert got_lines(r.stdout) == [f"GOT remote {a['if_host']}"], r.stdout + r.stderr[-2000:]
    # The other family's option does not apply.
    other = "--outbound-if6" if fam == "v4" else "--outbound-if4"
    r = pasta(topo, bins, cmd, args=[other, "bpo1"])
    assert got_lines(r.stdout) == [f"GOT remote {a['host']}"], r.stdout + r.stderr[-2000:]


# ---------------------------------------------------------------------------------------------
# The namespace uses another address than the one assigned


@pytest.mark.parametrize("proto,fam", PROTO_FAM)
def test_guest_uses_other_address(topo, bins, free_tmp_path, proto, fam):
    """Outbound from the other address works (translated to the host's), and inbound
    connections then go to that address, not to the assigned one."""
    a = ADDRS[fam]
    id_server(topo, free_tmp_path, topo.remote, "remote", proto, a["server"], 6006)
    srv = write_script(free_tmp_path, "id_server.py", ID_SERVER)
    if fam == "v4":
        before = (f"ip -4 addr del {a['host']}/24 dev veth0 && "
                  f"ip -4 addr add {a['other']}/24 dev veth0 && "
                  f"ip -4 route replace default via {a['gw']} dev veth0 && ")
    else:
        before = (f"ip -6 addr add {a['other']}/64 dev veth0 nodad && "
                  f"ip -6 addr del {a['host']}/64 dev veth0 && "
                  f"ip -6 route replace default via {a['gw']} dev veth0 && ")
    before += f"{who_cmd(free_tmp_path, proto, a['server'], 6006)}; "
    flag = "-t" if proto == "tcp" else "-u"
    # The namespace's server listens on the other address only: a flow sent to the assigned
    # address would find nobody.
    p = spawn_pasta_proto(topo, bins, free_tmp_path, proto,
                          f"/usr/bin/python3 {srv} ns {proto} {a['other']} 6007", 6007,
                          [flag, "6007"], before=before)
    assert got_lines(p.output()) == [f"GOT remote {a['host']}"], p.output()[-3000:]
    got = who(topo, free_tmp_path, topo.remote, proto, a["host"], 6007)
    assert got == f"GOT ns {a['gw']}", f"{got!r}\n{p.output()[-3000:]}"
    p.terminate()


# ---------------------------------------------------------------------------------------------
# Address- and interface-bound forwards (Podman's pasta matrix): only connections to the bound
# address or through the bound interface are forwarded; others find no listener.

BOUND_CASES = [
    # spec, host port, [(client namespace, address) forwarded], [(..) refused]
    ("127.0.0.1/6010", 6010, [("host", "127.0.0.1")], [("host", "::1"), ("remote", HOST_V4)]),
    ("::1/6010", 6010, [("host", "::1")], [("host", "127.0.0.1"), ("remote", HOST_V6)]),
    (f"{HOST_V4}/6010", 6010, [("remote", HOST_V4)], [("host", "127.0.0.1"),
                                                       ("remote", HOST_V6)]),
    (f"{HOST_V6}/6010", 6010, [("remote", HOST_V6)], [("host", "::1"), ("remote", HOST_V4)]),
    ("127.0.0.1/16010:6010", 16010, [("host", "127.0.0.1")], [("remote", HOST_V4)]),
    ("%veth0/6010", 6010, [("remote", HOST_V4), ("remote", HOST_V6)],
     [("host", "127.0.0.1"), ("host", "::1")]),
    (f"{HOST_V4}%veth0/6010", 6010, [("remote", HOST_V4)],
     [("host", "127.0.0.1"), ("remote", HOST_V6)]),
    ("%lo/6010", 6010, [("host", "127.0.0.1"), ("host", "::1")],
     [("remote", HOST_V4), ("remote", HOST_V6)]),
]


@pytest.mark.parametrize("spec,port,ok,refused", BOUND_CASES, ids=[c[0] for c in BOUND_CASES])
def test_forward_bound(topo, bins, free_tmp_path, spec, port, ok, refused):
    srv = write_script(free_tmp_path, "id_server.py", ID_SERVER)
    p = spawn_pasta_proto(topo, bins, free_tmp_path, "tcp",
                          f"/usr/bin/python3 {srv} ns tcp :: 6010", 6010, ["-t", spec])
    nss = {"host": topo.host, "remote": topo.remote}
    for ns, addr in ok:
        got = who(topo, free_tmp_path, nss[ns], "tcp", addr, port)
        assert got.startswith("GOT ns "), f"{spec}: {ns} -> {addr}: {got!r}\n{p.output()[-2000:]}"
    for ns, addr in refused:
        got = who(topo, free_tmp_path, nss[ns], "tcp", addr, port)
        assert got == "REFUSED", f"{spec}: {ns} -> {addr} forwarded: {got!r}"


# ---------------------------------------------------------------------------------------------
# passt: connections from the host's loopback appear to come from the gateway, from
# --map-host-loopback, or with --no-map-gw from the gateway again (pasta may splice those
# instead; passt never does)

# how: (options, with ADDRS keys standing for their addresses; the ADDRS key of the peer seen)
PASST_LO_CASES = {"default": ([], "gw"),
                  "map-host-loopback": (["--map-host-loopback", "map_lo"], "map_lo"),
                  "no-map-gw": (["--no-map-gw"], "gw")}


@pytest.mark.parametrize("how", list(PASST_LO_CASES))
@pytest.mark.parametrize("proto,fam", PROTO_FAM)
def test_passt_inbound_from_loopback(topo, bins, free_tmp_path, proto, fam, how):
    """--no-map-gw only stops the gateway from standing for the host's loopback outbound; a
    peer on the host's loopback still has to appear as something the guest can answer: the
    gateway, as for TCP (UDP used to drop these datagrams)."""
    a = ADDRS[fam]
    flag = "-t" if proto == "tcp" else "-u"
    opts, want = PASST_LO_CASES[how]
    args = [a.get(o, o) for o in opts]
    g = start_passt_guest(topo, bins, free_tmp_path, [flag, "6030", *args])
    id_server(topo, free_tmp_path, g.ns, "guest", proto, "::", 6030)
    got = who(topo, free_tmp_path, topo.host, proto, a["lo"], 6030)
    assert got == f"GOT guest {a[want]}", f"{args}: {got!r}"
