# SPDX-License-Identifier: GPL-2.0-or-later
"""TCP translation through pasta, with real tools, IPv4 and IPv6.

pasta runs in topo.host with --config-net (the namespace gets 192.0.2.2/24 and 2001:db8::2/64,
default routes via 192.0.2.1 and 2001:db8::1) and runs a shell script as its command. Servers run
in topo.remote on 203.0.113.1 / 2001:db8:1::1; "the host" is topo.host itself.

Because pasta exits (and its namespace goes away) as soon as its command exits, every transfer
waits for an answer that proves the data arrived: uploads are answered by the server with the
SHA-256 of what it read (socat SYSTEM:sha256sum: it needs our FIN, half-close), downloads are
hashed by the receiver after the sender's FIN.

Checked:
  - 10 MiB namespace -> remote and remote -> namespace, SHA-256 verified, IPv4 and IPv6, as root
    and as the unprivileged user;
  - -t forwards: 10 MiB each way between the host's loopback (127.0.0.1, ::1) or the host's
    address seen from the remote (192.0.2.2, 2001:db8::2) and a server in the namespace; a
    translated port and a translated range;
  - iperf3 for 10 s each way (IPv4 and IPv6): every 1-s interval above zero, and 8 parallel
    streams; the namespace -> remote rate is printed next to a plain veth's in the same run;
  - connection refused (fast RST, not a timeout), resets both ways, half-close both ways;
  - 1000 concurrent connections opened, used and closed cleanly;
  - malformed TCP from the namespace (bad checksum, bad data offset, odd flags, segments for no
    connection, out-of-window data) sent with an AF_PACKET socket: a transfer works afterwards;
  - passt mode: without a VM image, a small stand-in for qemu's "-netdev stream" (QEMU_BRIDGE:
    a tap in a third namespace <-> passt's UNIX socket, 4-byte length framing) plays the guest;
    10 MiB up and down, IPv4 and IPv6, and a -t forward from the host's loopback;
  - --dns-forward over TCP (dig +tcp, the answer from the forward address, port 53) against a
    DNS server in the remote namespace (the host's resolver from resolv.conf), and against one
    on the host's loopback (127.0.0.53, as systemd-resolved);
  - address mapping, for TCP and (through the UDP path) UDP, IPv4 and IPv6, with ID_SERVER
    answering its name and the peer address it saw: the gateway reaches the host's loopback by
    default, --map-host-loopback ADDR instead (the gateway is then the remote), not with
    --no-map-gw, again with --map-gw; --map-guest-addr 169.254.1.2 (Podman) reaches the host's
    own address, and -t/-u connections from that address then appear to come from it (else
    from the gateway); in passt mode, connections from the host's loopback appear to come from
    the gateway or from --map-host-loopback; -o ADDR is the source the remote sees (not
    towards the host's loopback); --outbound-if4/6 NAME makes sockets leave through NAME (a
    second link with a less preferred default route), and only for its own family; a namespace
    that uses another address than assigned works outbound, and inbound flows go to that
    address;
  - address- and interface-bound forwards (127.0.0.1/, ::1/, ADDR/, translated, %veth0/,
    ADDR%veth0/, %lo/): forwarded from where they are bound, refused from elsewhere;
  - flow table full: 4096 connections (the table's size) open, the next ones are refused at
    once, the established ones still work, one closed makes room, one error line in the log.
"""

import hashlib
import json
import os
import re
import subprocess
import time

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


# ---------------------------------------------------------------------------------------------
# namespace <-> remote


@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_upload_to_remote(topo, bins, daemon_user, free_tmp_path, fam):
    server, proto, _, _ = FAMILIES[fam]
    src, want = make_file(free_tmp_path)
    topo.spawn(topo.remote, ["socat", f"{proto}-LISTEN:5001,bind={bracket(server)},reuseaddr",
                             "SYSTEM:sha256sum"])
    wait_listening(topo, topo.remote, 5001)
    r = pasta(topo, bins, f"socat -t 30 {proto}:{bracket(server)}:5001 STDIO < {src}",
              user=daemon_user)
    assert first_word(r.stdout) == want, f"server got other bytes: {r.stdout!r}"


@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_download_from_remote(topo, bins, daemon_user, free_tmp_path, fam):
    server, proto, _, _ = FAMILIES[fam]
    src, want = make_file(free_tmp_path)
    topo.spawn(topo.remote, ["socat", "-u", f"OPEN:{src},rdonly",
                             f"{proto}-LISTEN:5002,bind={bracket(server)},reuseaddr"])
    wait_listening(topo, topo.remote, 5002)
    r = pasta(topo, bins, f"socat -u {proto}:{bracket(server)}:5002 STDOUT | sha256sum",
              user=daemon_user)
    assert first_word(r.stdout) == want, f"namespace got other bytes: {r.stdout!r}"


# ---------------------------------------------------------------------------------------------
# -t forwards: host -> namespace


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


FWD_TARGETS = [("host-lo", "v4"), ("host-lo", "v6"), ("host-addr", "v4"), ("host-addr", "v6")]


def fwd_client_ns(topo, target, fam):
    _, _, host_addr, lo = FAMILIES[fam]
    if target == "host-lo":
        return topo.host, lo
    return topo.remote, host_addr


@pytest.mark.parametrize("target,fam", FWD_TARGETS)
def test_forward_upload(topo, bins, daemon_user, free_tmp_path, target, fam):
    src, want = make_file(free_tmp_path)
    spawn_pasta_server(topo, bins, free_tmp_path,
                       "socat TCP6-LISTEN:8080,ipv6only=0,reuseaddr,fork SYSTEM:sha256sum", 8080,
                       ["-t", "8080"], user=daemon_user)
    ns, addr = fwd_client_ns(topo, target, fam)
    r = topo.run(ns, ["sh", "-c", f"socat -t 30 TCP:{bracket(addr)}:8080 STDIO < {src}"],
                 timeout=60, check=False)
    assert first_word(r.stdout) == want, f"{r.stdout!r} {r.stderr[-2000:]}"


@pytest.mark.parametrize("target,fam", FWD_TARGETS)
def test_forward_download(topo, bins, free_tmp_path, target, fam):
    src, want = make_file(free_tmp_path)
    dst = free_tmp_path("dst.bin")
    # fork: the server in the namespace stays, so pasta does not exit when a transfer ends
    spawn_pasta_server(topo, bins, free_tmp_path,
                       f"socat -u OPEN:{src},rdonly TCP6-LISTEN:8080,ipv6only=0,reuseaddr,fork",
                       8080, ["-t", "8080"])
    ns, addr = fwd_client_ns(topo, target, fam)
    r = topo.run(ns, ["socat", "-u", f"TCP:{bracket(addr)}:8080", f"OPEN:{dst},creat,trunc"],
                 timeout=60, check=False)
    with open(dst, "rb") as f:
        got = f.read()
    assert len(got) == SIZE, f"{len(got)} bytes of {SIZE}; socat: {r.stderr[-2000:]}"
    assert hashlib.sha256(got).hexdigest() == want, "same length, other bytes"


@pytest.mark.parametrize("spec,host_port,ns_port", [("18080:8080", 18080, 8080),
                                                    ("18080-18081:9080-9081", 18081, 9081)])
def test_forward_translated(topo, bins, free_tmp_path, spec, host_port, ns_port):
    src, want = make_file(free_tmp_path, size=1 << 20)
    spawn_pasta_server(topo, bins, free_tmp_path,
                       f"socat TCP6-LISTEN:{ns_port},ipv6only=0,reuseaddr,fork SYSTEM:sha256sum",
                       ns_port, ["-t", spec])
    r = topo.run(topo.host, ["sh", "-c",
                             f"socat -t 30 TCP:127.0.0.1:{host_port} STDIO < {src}"],
                 timeout=60, check=False)
    assert first_word(r.stdout) == want, f"{r.stdout!r} {r.stderr[-2000:]}"


# ---------------------------------------------------------------------------------------------
# iperf3


def iperf_intervals(out):
    d = json.loads(out)
    assert "error" not in d, d.get("error")
    iv = [i["sum"]["bits_per_second"] for i in d["intervals"]]
    end = d["end"]
    total = end.get("sum_received", end.get("sum", {})).get("bits_per_second", 0)
    retr = end.get("sum_sent", {}).get("retransmits")
    return iv, total, retr


def run_iperf(topo, bins, fam, seconds, extra=(), through_pasta=True):
    server, _, _, _ = FAMILIES[fam]
    topo.spawn(topo.remote, ["iperf3", "-s", "-1", "-B", server, "-p", "5201"])
    wait_listening(topo, topo.remote, 5201)
    cmd = f"iperf3 -c {server} -p 5201 -t {seconds} -J {' '.join(extra)}"
    if through_pasta:
        r = pasta(topo, bins, cmd, timeout=seconds + 40)
    else:
        r = topo.run(topo.host, ["sh", "-c", cmd], timeout=seconds + 40)
    wait_for(lambda: topo.run(topo.remote, ["ss", "-Hltn", "sport = :5201"],
                              check=False).stdout.strip() == "", 10, what="iperf3 server exit")
    return iperf_intervals(r.stdout)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("fam", ["v4", "v6"])
@pytest.mark.parametrize("direction", ["ns-to-remote", "remote-to-ns"])
def test_iperf3_no_stall(topo, bins, fam, direction):
    extra = ["-R"] if direction == "remote-to-ns" else []
    iv, total, retr = run_iperf(topo, bins, fam, 10, extra)
    assert len(iv) >= 9, iv
    assert min(iv) > 0, f"a 1-s interval without data (stall): {[round(x / 1e9, 2) for x in iv]}"
    print(f"iperf3 {fam} {direction} through pasta: {total / 1e9:.2f} Gbit/s, "
          f"min interval {min(iv) / 1e9:.2f} Gbit/s, retransmits {retr}")


@pytest.mark.timeout(120)
def test_iperf3_vs_veth(topo, bins):
    iv, total, _ = run_iperf(topo, bins, "v4", 5)
    assert min(iv) > 0, iv
    _, veth, _ = run_iperf(topo, bins, "v4", 5, through_pasta=False)
    print(f"iperf3 namespace->remote IPv4: pasta {total / 1e9:.2f} Gbit/s, "
          f"veth {veth / 1e9:.2f} Gbit/s, ratio {total / veth:.2f}")
    # A loose guard against the pathological stalls of the issue (0.005-0.4 Gbit/s), not a
    # benchmark: scripts/bench measures the real ratio.
    assert total > 0.1 * veth, f"pasta {total / 1e9:.2f} Gbit/s vs veth {veth / 1e9:.2f} Gbit/s"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("direction", ["ns-to-remote", "remote-to-ns"])
def test_iperf3_parallel(topo, bins, direction):
    extra = ["-P", "8"] + (["-R"] if direction == "remote-to-ns" else [])
    iv, total, _ = run_iperf(topo, bins, "v4", 5, extra)
    assert min(iv) > 0, iv
    print(f"iperf3 -P 8 {direction}: {total / 1e9:.2f} Gbit/s")


# ---------------------------------------------------------------------------------------------
# connection handling

PY_CLIENT_REFUSED = r"""
import socket, sys, time
t0 = time.monotonic()
try:
    socket.create_connection((sys.argv[1], 5999), timeout=20)
    print("CONNECTED")
except ConnectionRefusedError:
    print("REFUSED %.3f" % (time.monotonic() - t0))
except Exception as e:
    print("OTHER", type(e).__name__, e)
"""


@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_connection_refused(topo, bins, fam):
    server = FAMILIES[fam][0]
    r = pasta(topo, bins, f"/usr/bin/python3 -c '{PY_CLIENT_REFUSED}' {server}")
    words = r.stdout.split()
    assert words and words[0] == "REFUSED", r.stdout
    assert float(words[1]) < 5, r.stdout


PY_RESET_SERVER = r"""
import socket, struct, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 5003)); s.listen(4)
# 1: the server resets the connection
c, _ = s.accept(); c.recv(10)
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); c.close()
# 2: the client resets it; report what recv() says
c, _ = s.accept()
c.settimeout(10)
try:
    d = c.recv(10); d2 = c.recv(10)
    print("SERVER-SAW", "eof" if d2 == b"" else repr(d2), flush=True)
except ConnectionResetError:
    print("SERVER-SAW reset", flush=True)
"""

PY_RESET_CLIENT = r"""
import socket, struct, sys, time
a = (sys.argv[1], 5003)
c = socket.create_connection(a, timeout=10); c.send(b"x")
try:
    d = c.recv(10)
    print("CLIENT-SAW", "eof" if d == b"" else repr(d))
except ConnectionResetError:
    print("CLIENT-SAW reset")
c = socket.create_connection(a, timeout=10); c.send(b"y"); time.sleep(0.3)
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); c.close()
time.sleep(0.5)
"""


@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_reset_both_ways(topo, bins, free_tmp_path, fam):
    server = FAMILIES[fam][0]
    srv_py, cli_py = free_tmp_path("srv.py"), free_tmp_path("cli.py")
    for path, text in ((srv_py, PY_RESET_SERVER), (cli_py, PY_RESET_CLIENT)):
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o644)
    srv = topo.spawn(topo.remote, ["/usr/bin/python3", srv_py, server])
    wait_listening(topo, topo.remote, 5003)
    r = pasta(topo, bins, f"/usr/bin/python3 {cli_py} {server}")
    assert "CLIENT-SAW reset" in r.stdout, r.stdout
    srv.wait_for_output(r"SERVER-SAW reset", timeout=10)


PY_HALF_SERVER = r"""
import socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 5004)); s.listen(4)
c, _ = s.accept()
c.sendall(b"B" * 300000)          # the server speaks first and half-closes
c.shutdown(socket.SHUT_WR)
got = b""
while True:                        # then reads everything the client still sends
    d = c.recv(65536)
    if not d:
        break
    got += d
print("SERVER-GOT", len(got), got.count(b"C"), flush=True)
"""

PY_HALF_CLIENT = r"""
import socket, sys
c = socket.create_connection((sys.argv[1], 5004), timeout=20)
got = b""
while True:
    d = c.recv(65536)
    if not d:
        break
    got += d
c.sendall(b"C" * 500000)          # after the server's FIN, the client still sends
c.shutdown(socket.SHUT_WR)
print("CLIENT-GOT", len(got), got.count(b"B"), c.recv(10) == b"", flush=True)
"""


@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_half_close_both_ways(topo, bins, free_tmp_path, fam):
    server = FAMILIES[fam][0]
    srv_py, cli_py = free_tmp_path("srv.py"), free_tmp_path("cli.py")
    for path, text in ((srv_py, PY_HALF_SERVER), (cli_py, PY_HALF_CLIENT)):
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o644)
    srv = topo.spawn(topo.remote, ["/usr/bin/python3", srv_py, server])
    wait_listening(topo, topo.remote, 5004)
    r = pasta(topo, bins, f"/usr/bin/python3 {cli_py} {server}; sleep 0.5")
    assert "CLIENT-GOT 300000 300000 True" in r.stdout, r.stdout
    srv.wait_for_output(r"SERVER-GOT 500000 500000", timeout=10)


PY_ECHO_SERVER = r"""
import asyncio, resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))
async def echo(r, w):
    data = await r.read(100)
    w.write(data); await w.drain()
    await r.read(100)  # until the client closes
    w.close()
async def main():
    srv = await asyncio.start_server(echo, sys.argv[1], 5005, backlog=2048)
    print("LISTENING", flush=True)
    await srv.serve_forever()
asyncio.run(main())
"""

PY_MANY_CLIENT = r"""
import asyncio, resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))
N = int(sys.argv[2])
async def one(i, opened, go):
    r, w = await asyncio.open_connection(sys.argv[1], 5005)
    opened.append(i)
    await go.wait()                  # all N are open at the same time
    msg = b"conn-%d" % i
    w.write(msg); await w.drain()
    ok = (await r.readexactly(len(msg))) == msg
    w.close(); await w.wait_closed()
    return ok
async def main():
    opened, go = [], asyncio.Event()
    tasks = [asyncio.create_task(one(i, opened, go)) for i in range(N)]
    for _ in range(600):
        if len(opened) == N:
            break
        await asyncio.sleep(0.05)
    print("OPEN", len(opened), flush=True)
    go.set()
    res = await asyncio.gather(*tasks, return_exceptions=True)
    print("OK", sum(1 for x in res if x is True))
asyncio.run(main())
"""


@pytest.mark.timeout(120)
def test_many_concurrent_connections(topo, bins, free_tmp_path):
    n = 1000
    srv_py, cli_py = free_tmp_path("srv.py"), free_tmp_path("cli.py")
    for path, text in ((srv_py, PY_ECHO_SERVER), (cli_py, PY_MANY_CLIENT)):
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o644)
    srv = topo.spawn(topo.remote, ["/usr/bin/python3", srv_py, SERVER_V4])
    srv.wait_for_output("LISTENING", timeout=10)
    r = pasta(topo, bins, f"/usr/bin/python3 {cli_py} {SERVER_V4} {n}", timeout=100)
    assert f"OPEN {n}" in r.stdout, r.stdout
    assert f"OK {n}" in r.stdout, r.stdout


# ---------------------------------------------------------------------------------------------
# malformed segments from the namespace

PY_MALFORMED = r"""
import os, random, socket, struct, sys
ifname, src, dst = sys.argv[1], sys.argv[2], sys.argv[3]
mac = bytes.fromhex(open(f"/sys/class/net/{ifname}/address").read().strip().replace(":", ""))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
rnd = random.Random(7)

def csum(b):
    if len(b) % 2:
        b += b"\0"
    t = sum(struct.unpack(f"!{len(b)//2}H", b))
    while t >> 16:
        t = (t & 0xffff) + (t >> 16)
    return ~t & 0xffff

def frame(tcp, fix_csum=True, doff=None):
    sa, da = socket.inet_aton(src), socket.inet_aton(dst)
    if fix_csum:
        ph = sa + da + struct.pack("!BBH", 0, 6, len(tcp))
        tcp = tcp[:16] + struct.pack("!H", csum(ph + tcp[:16] + b"\0\0" + tcp[18:])) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, sa, da)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return b"\xff" * 6 + mac + b"\x08\x00" + ip + tcp

def tcp(sport, dport, seq, ack, flags, doff=5, payload=b"", win=65535, opts=b""):
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, doff << 4, flags, win, 0, 0) + \
        opts + payload

n = refused = 0
for i in range(300):
    sp = 40000 + rnd.randrange(200)
    kind = i % 8
    if kind == 0:   # bad checksum
        f = frame(tcp(sp, 5006, rnd.getrandbits(32), 0, 0x02), fix_csum=False)
    elif kind == 1: # data offset past the segment
        f = frame(tcp(sp, 5006, 1, 0, 0x10, doff=15))
    elif kind == 2: # data offset below 5
        f = frame(tcp(sp, 5006, 1, 0, 0x10, doff=2) + b"xxxxxxxxxxxxxxxxxxxx")
    elif kind == 3: # every flag at once
        f = frame(tcp(sp, 5006, rnd.getrandbits(32), rnd.getrandbits(32), 0x3f, payload=b"z" * 9))
    elif kind == 4: # ACK + data for no connection
        f = frame(tcp(sp, 5006, rnd.getrandbits(32), rnd.getrandbits(32), 0x18, payload=b"q" * 50))
    elif kind == 5: # SYN with garbage options
        f = frame(tcp(sp, 5006, rnd.getrandbits(32), 0, 0x02, doff=8,
                      opts=bytes([2, 9, 3, 0, 1, 4, 255, 8, 1, 1, 1, 0])))
    elif kind == 6: # truncated header
        f = frame(tcp(sp, 5006, 1, 0, 0x10))[:14 + 20 + 10]
    else:           # random bytes as TCP
        f = frame(os.urandom(rnd.randrange(20, 200)), fix_csum=bool(i % 2))
    try:
        s.send(f)
    except OSError:  # ENOBUFS: dropped on the way out (e.g. by the BPF fast path): fine
        refused += 1
    n += 1
print("SENT", n, "REFUSED", refused)
"""


def test_malformed_segments(topo, bins, free_tmp_path):
    mal_py = free_tmp_path("mal.py")
    with open(mal_py, "w") as f:
        f.write(PY_MALFORMED)
    os.chmod(mal_py, 0o644)
    src, want = make_file(free_tmp_path, size=1 << 20)
    topo.spawn(topo.remote, ["socat", f"TCP4-LISTEN:5001,bind={SERVER_V4},reuseaddr",
                             "SYSTEM:sha256sum"])
    wait_listening(topo, topo.remote, 5001)
    # The gateway is mapped to the host's loopback: the junk goes to 192.0.2.1 (no listener there).
    script = (f"/usr/bin/python3 {mal_py} veth0 {HOST_V4} 192.0.2.1 && sleep 0.5 && "
              f"socat -t 30 TCP4:{SERVER_V4}:5001 STDIO < {src}")
    r = pasta(topo, bins, script)
    assert "SENT 300" in r.stdout, r.stdout
    assert r.stdout.split()[-2] == want, r.stdout
    print(r.stdout.splitlines()[0])


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


@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_passt_upload_download(topo, bins, free_tmp_path, fam):
    server, proto, _, _ = FAMILIES[fam]
    g = start_passt_guest(topo, bins, free_tmp_path)
    src, want = make_file(free_tmp_path)
    topo.spawn(topo.remote, ["socat", f"{proto}-LISTEN:5001,bind={bracket(server)},reuseaddr",
                             "SYSTEM:sha256sum"])
    topo.spawn(topo.remote, ["socat", "-u", f"OPEN:{src},rdonly",
                             f"{proto}-LISTEN:5002,bind={bracket(server)},reuseaddr"])
    wait_listening(topo, topo.remote, 5001)
    wait_listening(topo, topo.remote, 5002)
    r = g.run(["sh", "-c", f"socat -t 30 {proto}:{bracket(server)}:5001 STDIO < {src}"])
    assert first_word(r.stdout) == want, f"upload: {r.stdout!r} {r.stderr[-1000:]}"
    r = g.run(["sh", "-c", f"socat -u {proto}:{bracket(server)}:5002 STDOUT | sha256sum"])
    assert first_word(r.stdout) == want, f"download: {r.stdout!r} {r.stderr[-1000:]}"


def test_passt_forward(topo, bins, free_tmp_path):
    g = start_passt_guest(topo, bins, free_tmp_path, ["-t", "8080"])
    src, want = make_file(free_tmp_path)
    topo.spawn(g.ns, ["socat", "TCP6-LISTEN:8080,ipv6only=0,reuseaddr,fork",
                      "SYSTEM:sha256sum"])
    wait_listening(topo, g.ns, 8080)
    for addr in ("127.0.0.1", "::1"):
        r = topo.run(topo.host, ["sh", "-c",
                                 f"socat -t 30 TCP:{bracket(addr)}:8080 STDIO < {src}"],
                     timeout=60, check=False)
        assert first_word(r.stdout) == want, f"{addr}: {r.stdout!r} {r.stderr[-1000:]}"


# ---------------------------------------------------------------------------------------------
# Helpers for the addressing cases below: a server that answers with its name and the peer
# address it saw, and a client that prints what it got (TCP and UDP alike).

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


# ---------------------------------------------------------------------------------------------
# --dns-forward over TCP (dig +tcp), against a DNS server in the remote namespace (the host's
# resolver, from resolv.conf) or on the host's loopback (like systemd-resolved's 127.0.0.53)

DNS_FWD = {"v4": "198.51.100.1", "v6": "2001:db8:5::1"}
DNS_HOST = {"v4": "198.51.100.53", "v6": "2001:db8:1::53"}

# A DNS responder on UDP and TCP port 53 of one address: tcp.example.test A 192.0.2.124, AAAA
# 2001:db8::124, NXDOMAIN for anything else; every query is printed as "Q <udp|tcp> <name>".
DNS_SERVER = r"""
import socket, struct, sys, threading
addr = sys.argv[1]
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET

def answer(q, how):
    if len(q) < 17:
        return None
    tid = struct.unpack("!H", q[:2])[0]
    i, labels = 12, []
    while i < len(q) and q[i]:
        labels.append(q[i + 1:i + 1 + q[i]])
        i += 1 + q[i]
    i += 1
    if i + 4 > len(q):
        return None
    qtype = struct.unpack("!H", q[i:i + 2])[0]
    name = b".".join(labels).decode(errors="replace").lower()
    print("Q", how, name, qtype, flush=True)
    answers = []
    if name == "tcp.example.test" and qtype == 1:
        answers.append(struct.pack("!HHHIH", 0xc00c, 1, 1, 60, 4) +
                       socket.inet_pton(socket.AF_INET, "192.0.2.124"))
    if name == "tcp.example.test" and qtype == 28:
        answers.append(struct.pack("!HHHIH", 0xc00c, 28, 1, 60, 16) +
                       socket.inet_pton(socket.AF_INET6, "2001:db8::124"))
    rcode = 0 if name == "tcp.example.test" else 3
    hdr = struct.pack("!HHHHHH", tid, 0x8180 | rcode, 1, len(answers), 0, 0)
    return hdr + q[12:i + 4] + b"".join(answers)

def recv_all(c, n):
    b = b""
    while len(b) < n:
        d = c.recv(n - len(b))
        if not d:
            return None
        b += d
    return b

def tcp_conn(c):
    with c:
        c.settimeout(10)
        while True:
            h = recv_all(c, 2)
            q = h and recv_all(c, struct.unpack("!H", h)[0])
            if not q:
                return
            a = answer(q, "tcp")
            if a:
                c.sendall(struct.pack("!H", len(a)) + a)

u = socket.socket(fam, socket.SOCK_DGRAM)
u.bind((addr, 53))
t = socket.socket(fam, socket.SOCK_STREAM)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind((addr, 53))
t.listen(16)

def tcp_loop():
    while True:
        c, _ = t.accept()
        threading.Thread(target=tcp_conn, args=(c,), daemon=True).start()

threading.Thread(target=tcp_loop, daemon=True).start()
print("READY", flush=True)
while True:
    q, peer = u.recvfrom(4096)
    a = answer(q, "udp")
    if a:
        u.sendto(a, peer)
"""


def start_dns(topo, free_tmp_path, ns, addr):
    dns = write_script(free_tmp_path, "dns_server.py", DNS_SERVER)
    p = topo.spawn(ns, ["/usr/bin/python3", dns, addr])
    p.wait_for_output(r"READY", 10)
    return p


def dig_tcp_cmd(fwd, qtype, name="tcp.example.test"):
    return f"dig +tcp @{fwd} {name} {qtype} +tries=2 +time=3"


@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_dns_forward_tcp(topo, bins, daemon_user, free_tmp_path, fam):
    topo.run(topo.remote, ["ip", "addr", "add", f"{DNS_HOST['v4']}/32", "dev", "lo"])
    topo.run(topo.remote, ["ip", "addr", "add", f"{DNS_HOST['v6']}/128", "dev", "lo", "nodad"])
    with open(f"/etc/netns/{topo.host}/resolv.conf", "a") as f:
        f.write(f"nameserver {DNS_HOST['v6']}\n")
    srv = start_dns(topo, free_tmp_path, topo.remote, DNS_HOST[fam])
    qtype, want = ("A", "192.0.2.124") if fam == "v4" else ("AAAA", "2001:db8::124")
    cmd = (f"{dig_tcp_cmd(DNS_FWD[fam], qtype)} | grep -E 'IN\\s+{qtype}|SERVER:'; "
           f"{dig_tcp_cmd(DNS_FWD[fam], 'A', 'nothing.example.test')} | grep -c NXDOMAIN")
    r = pasta(topo, bins, cmd, args=["--dns-forward", DNS_FWD["v4"],
                                     "--dns-forward", DNS_FWD["v6"]], user=daemon_user)
    assert re.search(rf"^tcp\.example\.test\.\s+\d+\s+IN\s+{qtype}\s+{re.escape(want)}$",
                     r.stdout, re.M), f"{r.stdout!r} {r.stderr[-2000:]}"
    # dig saw the answer come from the forward address, port 53, over TCP
    assert re.search(rf"SERVER: {re.escape(DNS_FWD[fam])}#53\({re.escape(DNS_FWD[fam])}\) "
                     r"\(TCP\)", r.stdout), r.stdout
    assert r.stdout.split()[-1] == "1", f"no NXDOMAIN: {r.stdout!r}"
    srv.wait_for_output(r"Q tcp nothing\.example\.test 1", 5)
    assert "Q udp" not in srv.output(), srv.output()


def test_dns_forward_tcp_loopback_resolver(topo, bins, free_tmp_path):
    """The host's resolver on its loopback (systemd-resolved style): it cannot be given to the
    namespace, but --dns-forward reaches it, over TCP as over UDP."""
    with open(f"/etc/netns/{topo.host}/resolv.conf", "w") as f:
        f.write("nameserver 127.0.0.53\n")
    srv = start_dns(topo, free_tmp_path, topo.host, "127.0.0.53")
    cmd = (f"{dig_tcp_cmd(DNS_FWD['v4'], 'A')} +short; "
           f"dig @{DNS_FWD['v4']} tcp.example.test A +short +tries=2 +time=3")
    r = pasta(topo, bins, cmd, args=["--dns-forward", DNS_FWD["v4"]])
    assert r.stdout.split() == ["192.0.2.124", "192.0.2.124"], \
        f"{r.stdout!r} {r.stderr[-2000:]}"
    out = srv.output()
    assert "Q tcp tcp.example.test 1" in out and "Q udp tcp.example.test 1" in out, out


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
    address)."""
    a = ADDRS[fam]
    srv = write_script(free_tmp_path, "id_server.py", ID_SERVER)
    flag = "-t" if proto == "tcp" else "-u"
    for args, want in (([], a["gw"]), (["--map-guest-addr", a["map_guest"]], a["map_guest"])):
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
# Flow table full

TCP_FLOWS = 4096  # TCP_FLOWS_DEFAULT, the table size main.c gives flow/tcp.c

PY_FILL_CLIENT = r"""
import asyncio, resource, sys, time
resource.setrlimit(resource.RLIMIT_NOFILE, (10000, 10000))
addr, n, extra = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

async def opened():
    return await asyncio.wait_for(asyncio.open_connection(addr, 5005), 10)

async def main():
    conns, failed = [], 0
    for i in range(0, n, 128):                   # fill the table
        res = await asyncio.gather(*[opened() for _ in range(min(128, n - i))],
                                   return_exceptions=True)
        conns += [x for x in res if not isinstance(x, BaseException)]
        failed += sum(1 for x in res if isinstance(x, BaseException))
    print("OPEN", len(conns), "FAILED", failed, flush=True)
    refused = other = 0                          # one more each: refused at once
    t0 = time.monotonic()
    for _ in range(extra):
        try:
            r, w = await opened()
            w.close()
            other += 1
        except ConnectionRefusedError:
            refused += 1
        except BaseException as e:
            other += 1
            print("EXTRA", type(e).__name__, e, flush=True)
    print("REFUSED", refused, "OTHER", other, "IN %.2f" % (time.monotonic() - t0), flush=True)
    ok = 0                                       # the established ones still work
    for i, (r, w) in enumerate(conns[:32]):
        w.write(b"still-%d" % i)
        await w.drain()
        ok += (await asyncio.wait_for(r.readexactly(len(b"still-%d" % i)), 10)) == b"still-%d" % i
    print("ECHO", ok, flush=True)
    for r, w in conns[:32]:                      # close some: room again
        w.close()
    for attempt in range(50):
        try:
            r, w = await opened()
            w.write(b"again"); await w.drain()
            print("AGAIN", (await asyncio.wait_for(r.readexactly(5), 10)).decode(), flush=True)
            break
        except ConnectionRefusedError:
            await asyncio.sleep(0.1)
    else:
        print("AGAIN refused", flush=True)

asyncio.run(main())
"""


@pytest.mark.timeout(180)
def test_flow_table_full(topo, bins, free_tmp_path):
    srv_py = write_script(free_tmp_path, "srv.py", PY_ECHO_SERVER)
    cli_py = write_script(free_tmp_path, "fill.py", PY_FILL_CLIENT)
    srv = topo.spawn(topo.remote, ["/usr/bin/python3", srv_py, SERVER_V4])
    srv.wait_for_output("LISTENING", timeout=10)
    r = pasta(topo, bins, f"/usr/bin/python3 {cli_py} {SERVER_V4} {TCP_FLOWS} 8", timeout=150)
    assert f"OPEN {TCP_FLOWS} FAILED 0" in r.stdout, r.stdout + r.stderr[-2000:]
    m = re.search(r"^REFUSED (\d+) OTHER (\d+) IN ([\d.]+)", r.stdout, re.M)
    assert m and m.group(1) == "8" and m.group(2) == "0", r.stdout
    assert float(m.group(3)) < 3, f"refusals were not immediate: {r.stdout}"
    assert "ECHO 32" in r.stdout, r.stdout
    assert "AGAIN again" in r.stdout, r.stdout
    lines = [line for line in r.stderr.splitlines() if "flow table full" in line]
    # 8 refusals within a second or two: the error is logged, at most once per second
    assert 1 <= len(lines) <= 2, r.stderr[-3000:]
    print(" / ".join(r.stdout.splitlines()), "/", lines[0])


# ---------------------------------------------------------------------------------------------
# passt: connections from the host's loopback appear to come from the gateway, or from
# --map-host-loopback (pasta may splice those instead; passt never does)


@pytest.mark.parametrize("mapped", [False, True], ids=["default", "map-host-loopback"])
@pytest.mark.parametrize("proto,fam", PROTO_FAM)
def test_passt_inbound_from_loopback(topo, bins, free_tmp_path, proto, fam, mapped):
    a = ADDRS[fam]
    flag = "-t" if proto == "tcp" else "-u"
    args = ["--map-host-loopback", a["map_lo"]] if mapped else []
    g = start_passt_guest(topo, bins, free_tmp_path, [flag, "6030", *args])
    id_server(topo, free_tmp_path, g.ns, "guest", proto, "::", 6030)
    got = who(topo, free_tmp_path, topo.host, proto, a["lo"], 6030)
    assert got == f"GOT guest {a['map_lo'] if mapped else a['gw']}", f"{args}: {got!r}"
