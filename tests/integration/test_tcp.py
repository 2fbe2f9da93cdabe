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
  - iperf3: see test_iperf.py;
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
  - address mapping (both protocols) and address-/interface-bound forwards: see
    test_addressing.py (shared helpers: tcp_helpers.py);
  - flow table full: 4096 connections (the table's size) open, the next ones are refused at
    once, the established ones still work, one closed makes room, one error line in the log.
"""

import hashlib
import os
import re

import pytest

from helpers import HOST_V4, SERVER_V4
from tcp_helpers import (FAMILIES, SIZE, bracket, first_word, make_file, pasta,
                         spawn_pasta_server, start_passt_guest, wait_listening, write_script)
from tcp_helpers import tun_world_accessible  # noqa: F401 (an autouse fixture)


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
