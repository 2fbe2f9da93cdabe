# SPDX-License-Identifier: GPL-2.0-or-later
"""Helpers shared by the translator's integration tests (test_tcp.py, test_addressing.py,
test_iperf.py): pasta runs, files with known hashes, servers in the namespace, the passt-mode
guest stand-in, and the ID_SERVER / WHO_CLIENT pair of the addressing cases.

Theory of operation: every helper takes the `topo` (helpers.Topology), `bins` and
`free_tmp_path` fixtures of conftest.py as arguments and keeps no state of its own; processes are
started with topo.spawn()/topo.run(), so the Topology kills them and deletes the namespaces at the
end of the case. The topology: pasta runs in topo.host with --config-net (the namespace gets
192.0.2.2/24 and 2001:db8::2/64, default routes via 192.0.2.1 and 2001:db8::1); servers run in
topo.remote on 203.0.113.1 / 2001:db8:1::1.

tun_world_accessible is an autouse fixture: a test module imports it by name to have it.
"""

import hashlib
import os
import subprocess

import pytest

from helpers import wait_for, HOST_V4, HOST_V6, SERVER_V4, SERVER_V6

SIZE = 10 << 20
FAMILIES = {"v4": (SERVER_V4, "TCP4", HOST_V4, "127.0.0.1"),
            "v6": (SERVER_V6, "TCP6", HOST_V6, "::1")}


@pytest.fixture(scope="module", autouse=True)
def tun_world_accessible():
    st = os.stat("/dev/net/tun")
    if st.st_mode & 0o666 != 0o666:
        os.chmod("/dev/net/tun", 0o666)


def bracket(addr):
    return f"[{addr}]" if ":" in addr else addr


def make_file(free_tmp_path, name="src.bin", size=SIZE):
    path = free_tmp_path(name)
    data = os.urandom(size)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o644)
    return path, hashlib.sha256(data).hexdigest()


def wait_listening(topo, ns, port):
    def listening():
        r = topo.run(ns, ["ss", "-Hltn", f"sport = :{port}"], check=False)
        return r.returncode == 0 and r.stdout.strip() != ""
    wait_for(listening, 10, what=f"a listener on port {port} in {ns}")


def pasta(topo, bins, script, args=(), user=None, timeout=60):
    """Run pasta --config-net ARGS sh -c SCRIPT; returns the CompletedProcess (checked)."""
    r = topo.run(topo.host, [bins.pasta, "--config-net", *args, "--", "sh", "-c", script],
                 user=user, check=False, timeout=timeout)
    assert r.returncode == 0, f"pasta exited {r.returncode}\nstdout:\n{r.stdout[-2000:]}\n" \
                              f"stderr:\n{r.stderr[-4000:]}"
    return r


def first_word(text):
    return text.split()[0] if text.split() else ""


def spawn_pasta_server(topo, bins, free_tmp_path, server_cmd, port, args, user=None):
    """pasta with ARGS running SERVER_CMD in the namespace; returns once it listens on PORT."""
    ready = free_tmp_path("ready")
    script = (f"{server_cmd} & i=0; while ! grep -qi ':{port:04X} ' /proc/net/tcp "
              f"/proc/net/tcp6 2>/dev/null; do sleep 0.05; i=$((i+1)); "
              f"[ $i -gt 200 ] && exit 1; done; touch {ready}; wait")
    p = topo.spawn(topo.host, [bins.pasta, "--config-net", *args, "--", "sh", "-c", script],
                   user=user)
    wait_for(lambda: os.path.exists(ready) or not p.alive(), 15, what="server in namespace")
    assert p.alive(), f"pasta exited early:\n{p.output()[-3000:]}"
    return p


# ---------------------------------------------------------------------------------------------
# passt mode, with a stand-in for qemu

QEMU_BRIDGE = r"""
import fcntl, os, select, socket, struct, sys
TUNSETIFF, IFF_TAP, IFF_NO_PI = 0x400454ca, 0x0002, 0x1000
path, ifname = sys.argv[1], sys.argv[2]
tap = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(tap, TUNSETIFF, struct.pack("16sH", ifname.encode(), IFF_TAP | IFF_NO_PI))
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path)
print("BRIDGED", flush=True)
buf = b""
while True:
    r, _, _ = select.select([tap, s], [], [])
    if tap in r:
        f = os.read(tap, 65536 + 64)
        s.sendall(struct.pack("!I", len(f)) + f)
    if s in r:
        d = s.recv(1 << 20)
        if not d:
            break
        buf += d
        while len(buf) >= 4:
            n = struct.unpack("!I", buf[:4])[0]
            if len(buf) < 4 + n:
                break
            try:
                os.write(tap, buf[4:4 + n])
            except OSError:
                pass  # the tap is not up yet: dropped, as a NIC would
            buf = buf[4 + n:]
"""


class PasstGuest:
    def __init__(self, topo, ns):
        self.topo, self.ns = topo, ns

    def run(self, argv, timeout=60):
        return self.topo.run(self.ns, argv, timeout=timeout, check=False)


def start_passt_guest(topo, bins, free_tmp_path, args=()):
    sock = free_tmp_path("passt.sock")
    bridge = free_tmp_path("bridge.py")
    with open(bridge, "w") as f:
        f.write(QEMU_BRIDGE)
    ns = f"bpg-{os.getpid()}-{os.path.basename(os.path.dirname(sock))[-6:]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    topo.add_cleanup(lambda: subprocess.run(["ip", "netns", "del", ns], check=False))
    p = topo.spawn(topo.host, [bins.passt, "-f", "-s", sock, *args])
    wait_for(lambda: os.path.exists(sock) or not p.alive(), 10, what="passt's socket")
    assert p.alive(), p.output()
    br = topo.spawn(ns, ["/usr/bin/python3", bridge, sock, "eth0"])
    br.wait_for_output("BRIDGED", timeout=10)
    for argv in (["ip", "link", "set", "lo", "up"],
                 ["sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0"],
                 ["sysctl", "-qw", "net.ipv6.conf.eth0.accept_dad=0"],
                 ["ip", "link", "set", "eth0", "mtu", "65520", "up"],
                 ["ip", "addr", "add", f"{HOST_V4}/24", "dev", "eth0"],
                 ["ip", "route", "add", "default", "via", "192.0.2.1"],
                 ["ip", "addr", "add", f"{HOST_V6}/64", "dev", "eth0", "nodad"]):
        topo.run(ns, argv)
    # IPv6 default route from passt's router advertisement
    wait_for(lambda: topo.run(ns, ["ip", "-6", "route", "show", "default"]).stdout.strip(), 15,
             what="a default IPv6 route from passt's RA")
    return PasstGuest(topo, ns)


# ---------------------------------------------------------------------------------------------
# The addressing cases: a server that answers with its name and the peer address it saw, and a
# client that prints what it got (TCP and UDP alike).

ID_SERVER = r"""
import socket, sys
ident, proto, addr, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if fam == socket.AF_INET6:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if addr == "::" else 1)
s.bind((addr, port))
if proto == "tcp":
    s.listen(64)
print("READY", flush=True)

def shown(peer):
    return peer[0][7:] if peer[0].startswith("::ffff:") else peer[0]

while True:
    if proto == "tcp":
        c, peer = s.accept()
        c.sendall(f"{ident} {shown(peer)}\n".encode())
        c.close()
    else:
        d, peer = s.recvfrom(2048)
        s.sendto(f"{ident} {shown(peer)}".encode(), peer)
"""

WHO_CLIENT = r"""
import socket, sys
proto, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
src = sys.argv[4] if len(sys.argv) > 4 else None
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
try:
    if proto == "tcp":
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(5)
        if src:
            s.bind((src, 0))
        s.connect((addr, port))
        data = b""
        while True:
            d = s.recv(200)
            if not d:
                break
            data += d
        print("GOT", data.decode().strip(), flush=True)
    else:
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.settimeout(1.5)
        if src:
            s.bind((src, 0))
        s.connect((addr, port))
        for attempt in range(3):
            s.send(b"who?")
            try:
                print("GOT", s.recv(200).decode().strip(), flush=True)
                break
            except socket.timeout:
                continue
        else:
            print("TIMEOUT", flush=True)
except ConnectionRefusedError:
    print("REFUSED", flush=True)
except ConnectionResetError:
    print("RESET", flush=True)
except socket.timeout:
    print("TIMEOUT", flush=True)
except OSError as e:
    print("ERROR", e.errno, flush=True)
"""

# Per family: the server, the host's address, its loopback, the gateway (= the remote's veth
# address), a --map-host-loopback address, a --map-guest-addr address, a second host address
# for --outbound, another address for the namespace to use.
ADDRS = {
    "v4": dict(server=SERVER_V4, host=HOST_V4, lo="127.0.0.1", gw="192.0.2.1",
               map_lo="198.51.100.7", map_guest="169.254.1.2", extra="192.0.2.9",
               other="192.0.2.77", if_host="198.51.100.66", if_remote="198.51.100.65",
               if_len=26, any="0.0.0.0"),
    "v6": dict(server=SERVER_V6, host=HOST_V6, lo="::1", gw="2001:db8::1",
               map_lo="2001:db8:7::7", map_guest="2001:db8:ff::2", extra="2001:db8::9",
               other="2001:db8::77", if_host="2001:db8:6::2", if_remote="2001:db8:6::1",
               if_len=64, any="::"),
}
PROTO_FAM = [(p, f) for p in ("tcp", "udp") for f in ("v4", "v6")]


def write_script(free_tmp_path, name, text):
    path = free_tmp_path(name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)
    return path


def id_server(topo, free_tmp_path, ns, ident, proto, addr, port):
    srv = write_script(free_tmp_path, "id_server.py", ID_SERVER)
    p = topo.spawn(ns, ["/usr/bin/python3", srv, ident, proto, addr, str(port)])
    p.wait_for_output(r"READY", 10)
    return p


def who_cmd(free_tmp_path, proto, addr, port, src=None):
    cli = write_script(free_tmp_path, "who.py", WHO_CLIENT)
    return f"/usr/bin/python3 {cli} {proto} {addr} {port}" + (f" {src}" if src else "")


def who(topo, free_tmp_path, ns, proto, addr, port):
    """Run the client in ns; its one line of result."""
    r = topo.run(ns, ["sh", "-c", who_cmd(free_tmp_path, proto, addr, port)], check=False,
                 timeout=30)
    return r.stdout.strip()


def got_lines(out):
    return [line for line in out.splitlines()
            if line.split()[:1] in (["GOT"], ["REFUSED"], ["RESET"], ["TIMEOUT"], ["ERROR"])]


def spawn_pasta_proto(topo, bins, free_tmp_path, proto, server_cmd, port, args, before=""):
    """pasta with ARGS running BEFORE, then SERVER_CMD in the namespace; returns once a PROTO
    socket has PORT there. pasta's output (Proc.output()) has what BEFORE printed."""
    ready = free_tmp_path("ready")
    if os.path.exists(ready):
        os.unlink(ready)
    tables = "/proc/net/tcp /proc/net/tcp6" if proto == "tcp" else "/proc/net/udp /proc/net/udp6"
    script = (f"{before}{server_cmd} & i=0; while ! grep -qi ':{port:04X} ' {tables} "
              f"2>/dev/null; do sleep 0.05; i=$((i+1)); [ $i -gt 200 ] && exit 1; done; "
              f"touch {ready}; wait")
    p = topo.spawn(topo.host, [bins.pasta, "--config-net", *args, "--", "sh", "-c", script])
    wait_for(lambda: os.path.exists(ready) or not p.alive(), 20, what="server in namespace")
    assert p.alive(), f"pasta exited early:\n{p.output()[-3000:]}"
    return p
