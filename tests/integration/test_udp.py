# SPDX-License-Identifier: GPL-2.0-or-later
"""UDP translation through pasta and passt, with real tools, IPv4 and IPv6.

pasta runs in topo.host with --config-net (the namespace gets 192.0.2.2/24 and 2001:db8::2/64,
default routes via 192.0.2.1 and 2001:db8::1) and runs a command; servers run in topo.remote on
203.0.113.1 / 2001:db8:1::1. passt runs in topo.host too, and its "guest" is a small python
program that speaks qemu's stream protocol (4-byte length, Ethernet frame) on passt's socket and
builds its UDP frames by hand.

The python helpers (written to files at run time):
  ECHO     a UDP echo server: every datagram back as it came (zero-length ones too); datagrams
           "XFER" + seq + data are also hashed in sequence order (duplicates echoed, not
           hashed), and "DONE" is answered with "SHA <hex> <count> <bytes>";
  CLIENT   sizes: one datagram of each size, echo compared byte for byte (a datagram that gets
           no echo in 2 s is sent again, 3 tries at most, and the tries are printed);
           xfer: a stop-and-wait transfer of random data in datagrams of cycling sizes, the
           SHA-256 of the data, of what came back and the server's own;
           refused: a datagram to a closed port must fail the next recv with ECONNREFUSED;
  DNS      a tiny DNS responder: udp.example.test A 192.0.2.123, AAAA 2001:db8::123, NXDOMAIN
           for anything else.

Checked:
  - pasta, namespace -> remote, IPv4 and IPv6, as root and unprivileged: datagrams of 0, 1, 512,
    1472, 1473, 9000, 32768 bytes and the largest the tap's MTU (65520) allows; a 4 MiB
    transfer SHA-256 verified both ways; a socat UDP client against a socat UDP echo server;
  - ICMP: a datagram to a closed port on the remote reaches the namespace's socket as
    ECONNREFUSED (the remote's port unreachable, translated back);
  - --dns-forward (IPv4 and IPv6): dig in the namespace asks the forward address and gets the
    answer of the DNS server in the remote namespace, which is the host's resolver
    (resolv.conf); the reply comes from the forward address (dig checks that);
  - -u forwards: from the remote to the host's address and from the host's loopback, to a socat
    UDP echo server and to ECHO in the namespace, a translated port, sizes and a 4 MiB transfer;
  - passt: the same echo sizes, an inbound -u datagram answered by the guest, --dns-forward.
"""

import os
import re

import pytest

from helpers import wait_for, HOST_V4, HOST_V6, SERVER_V4, SERVER_V6

FAMILIES = {"v4": (SERVER_V4, HOST_V4, "127.0.0.1", 65520 - 28),
            "v6": (SERVER_V6, HOST_V6, "::1", 65520 - 48)}
SIZES = [0, 1, 512, 1472, 1473, 9000, 32768]
XFER_BYTES = 4 << 20
XFER_SIZES = "1,1400,8000,65000,30000,1472,0,60000"
DNS_FWD = {"v4": "198.51.100.1", "v6": "2001:db8:5::1"}
DNS_HOST = {"v4": "198.51.100.53", "v6": "2001:db8:1::53"}  # first resolvers of the host

ECHO = r"""
import hashlib, socket, struct, sys
addr, port = sys.argv[1], int(sys.argv[2])
log = len(sys.argv) > 3
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
if fam == socket.AF_INET6:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if addr == "::" else 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.bind((addr, port))
print("READY", flush=True)
streams = {}
while True:
    data, peer = s.recvfrom(70000)
    if log:
        print("RX", len(data), data[:8].hex(), flush=True)
    st = streams.setdefault(peer, [0, hashlib.sha256(), 0])
    if data[:4] == b"XFER" and len(data) >= 8:
        seq = struct.unpack("!I", data[4:8])[0]
        if seq == st[0]:
            st[0] += 1
            st[1].update(data[8:])
            st[2] += len(data) - 8
        s.sendto(data, peer)
    elif data == b"DONE":
        s.sendto(b"SHA %s %d %d" % (st[1].hexdigest().encode(), st[0], st[2]), peer)
    else:
        s.sendto(data, peer)
"""

CLIENT = r"""
import hashlib, os, socket, struct, sys
mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.connect((addr, port))
s.settimeout(2)

def round_trip(payload):
    for attempt in range(3):
        s.send(payload)
        try:
            while True:
                if s.recv(70000) == payload:
                    return attempt
        except socket.timeout:
            continue
    sys.exit(f"no echo for a {len(payload)}-byte datagram")

if mode == "sizes":
    for n in map(int, sys.argv[4].split(",")):
        print(f"OK {n} tries {round_trip(os.urandom(n)) + 1}", flush=True)
elif mode == "xfer":
    total, sizes = int(sys.argv[4]), [int(x) for x in sys.argv[5].split(",")]
    data = os.urandom(total)
    back = hashlib.sha256()
    off = seq = retries = 0
    while off < total:
        chunk = data[off:off + sizes[seq % len(sizes)]]
        retries += round_trip(b"XFER" + struct.pack("!I", seq) + chunk)
        back.update(chunk)
        off += len(chunk)
        seq += 1
    reply = b""
    for attempt in range(3):
        s.send(b"DONE")
        try:
            reply = s.recv(200)
            break
        except socket.timeout:
            pass
    print("LOCAL", hashlib.sha256(data).hexdigest(), seq, total)
    print("ECHOED", back.hexdigest())
    print("SERVER", reply.decode()[4:])
    print("RETRIES", retries)
elif mode == "refused":
    s.send(b"anyone?")
    try:
        s.recv(100)
        print("ANSWERED")
    except ConnectionRefusedError:
        print("REFUSED")
    except socket.timeout:
        print("TIMEOUT")
"""

DNS = r"""
import socket, struct, sys
addr = sys.argv[1]
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind((addr, 53))
print("READY", flush=True)
while True:
    q, peer = s.recvfrom(4096)
    if len(q) < 17:
        continue
    tid = struct.unpack("!H", q[:2])[0]
    i, labels = 12, []
    while i < len(q) and q[i]:
        labels.append(q[i + 1:i + 1 + q[i]])
        i += 1 + q[i]
    i += 1
    if i + 4 > len(q):
        continue
    qtype = struct.unpack("!H", q[i:i + 2])[0]
    question = q[12:i + 4]
    name = b".".join(labels).decode(errors="replace").lower()
    answers = []
    if name == "udp.example.test" and qtype == 1:
        answers.append(struct.pack("!HHHIH", 0xc00c, 1, 1, 60, 4) +
                       socket.inet_pton(socket.AF_INET, "192.0.2.123"))
    if name == "udp.example.test" and qtype == 28:
        answers.append(struct.pack("!HHHIH", 0xc00c, 28, 1, 60, 16) +
                       socket.inet_pton(socket.AF_INET6, "2001:db8::123"))
    rcode = 0 if name == "udp.example.test" else 3
    hdr = struct.pack("!HHHHHH", tid, 0x8180 | rcode, 1, len(answers), 0, 0)
    s.sendto(hdr + question + b"".join(answers), peer)
"""


@pytest.fixture(scope="module", autouse=True)
def tun_world_accessible():
    st = os.stat("/dev/net/tun")
    if st.st_mode & 0o666 != 0o666:
        os.chmod("/dev/net/tun", 0o666)


def script(free_tmp_path, name, text):
    path = free_tmp_path(name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)
    return path


def bracket(addr):
    return f"[{addr}]" if ":" in addr else addr


def start_echo(topo, free_tmp_path, ns, addr, port, log=False):
    echo = script(free_tmp_path, "echo.py", ECHO)
    p = topo.spawn(ns, ["/usr/bin/python3", echo, addr, str(port)] + (["log"] if log else []))
    p.wait_for_output(r"READY", 10)
    return p


def pasta(topo, bins, cmd, args=(), user=None, timeout=90):
    """pasta --config-net ARGS -- CMD...; the CompletedProcess, checked."""
    r = topo.run(topo.host, [bins.pasta, "--config-net", *args, "--", *cmd], user=user,
                 check=False, timeout=timeout)
    assert r.returncode == 0, f"pasta exited {r.returncode}\nstdout:\n{r.stdout[-3000:]}\n" \
                              f"stderr:\n{r.stderr[-4000:]}"
    return r


def check_sizes(out, sizes):
    got = [int(m.group(1)) for m in re.finditer(r"^OK (\d+) tries", out, re.M)]
    assert got == sizes, f"echoed sizes {got}, wanted {sizes}\n{out[-3000:]}"
    tries = re.findall(r"^OK (\d+) tries (\d+)", out, re.M)
    print("datagram sizes and tries:", " ".join(f"{n}:{t}" for n, t in tries))


def check_xfer(out):
    local = re.search(r"^LOCAL ([0-9a-f]{64}) (\d+) (\d+)", out, re.M)
    echoed = re.search(r"^ECHOED ([0-9a-f]{64})", out, re.M)
    server = re.search(r"^SERVER ([0-9a-f]{64}) (\d+) (\d+)", out, re.M)
    assert local and echoed and server, out[-3000:]
    assert server.group(1) == local.group(1), f"server hashed other bytes: {out[-2000:]}"
    assert server.group(2) == local.group(2) and server.group(3) == local.group(3), out
    assert echoed.group(1) == local.group(1), f"echo brought back other bytes: {out[-2000:]}"
    retries = re.search(r"^RETRIES (\d+)", out, re.M)
    print(f"transfer: {local.group(3)} bytes in {local.group(2)} datagrams, "
          f"{retries.group(1) if retries else '?'} resent")


# ---------------------------------------------------------------------------------------------
# pasta: namespace -> remote


@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_pasta_echo_sizes(topo, bins, daemon_user, free_tmp_path, fam):
    server, _, _, max_payload = FAMILIES[fam]
    start_echo(topo, free_tmp_path, topo.remote, server, 5005)
    client = script(free_tmp_path, "client.py", CLIENT)
    sizes = SIZES + [max_payload]
    r = pasta(topo, bins, ["/usr/bin/python3", client, "sizes", server, "5005",
                           ",".join(map(str, sizes))], user=daemon_user)
    check_sizes(r.stdout, sizes)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_pasta_transfer_sha256(topo, bins, free_tmp_path, fam):
    server = FAMILIES[fam][0]
    start_echo(topo, free_tmp_path, topo.remote, server, 5006)
    client = script(free_tmp_path, "client.py", CLIENT)
    r = pasta(topo, bins, ["/usr/bin/python3", client, "xfer", server, "5006", str(XFER_BYTES),
                           XFER_SIZES], timeout=150)
    check_xfer(r.stdout)


@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_pasta_socat(topo, bins, fam):
    server = FAMILIES[fam][0]
    proto = "UDP4" if fam == "v4" else "UDP6"
    p = topo.spawn(topo.remote, ["socat", "-T", "10",
                                 f"{proto}-LISTEN:5007,bind={bracket(server)}", "PIPE"])
    wait_for(lambda: topo.run(topo.remote, ["ss", "-Hlun", "sport = :5007"],
                              check=False).stdout.strip() != "", 10, what="socat listening")
    r = pasta(topo, bins, ["sh", "-c", f"echo hello-{fam} | socat -T 5 - "
                                       f"{proto}:{bracket(server)}:5007"])
    assert r.stdout.strip() == f"hello-{fam}", f"{r.stdout!r} {r.stderr[-2000:]}"
    p.terminate()


@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_pasta_port_unreachable(topo, bins, free_tmp_path, fam):
    server = FAMILIES[fam][0]
    client = script(free_tmp_path, "client.py", CLIENT)
    r = pasta(topo, bins, ["/usr/bin/python3", client, "refused", server, "5999"])
    assert r.stdout.strip() == "REFUSED", f"{r.stdout!r} {r.stderr[-2000:]}"


# Malformed UDP from the namespace, written to the tap with an AF_PACKET socket. Every payload
# starts with "BAD-": none may reach the server.
RAW = r"""
import os, random, socket, struct, sys
ifname = sys.argv[1]
mac = bytes.fromhex(open(f"/sys/class/net/{ifname}/address").read().strip().replace(":", ""))
OUR = bytes.fromhex("9a559a559a55")
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
random.seed(5)

def csum(b):
    if len(b) % 2:
        b += b"\0"
    t = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while t >> 16:
        t = (t & 0xffff) + (t >> 16)
    return ~t & 0xffff

def v4(payload, sport=40000, dport=5005, ulen=None, frag=0, check=None):
    sa, da = socket.inet_aton("192.0.2.2"), socket.inet_aton("203.0.113.1")
    n = 8 + len(payload)
    u = struct.pack("!HHHH", sport, dport, n if ulen is None else ulen, 0) + payload
    c = csum(sa + da + struct.pack("!xBH", 17, n) + u) or 0xffff
    u = u[:6] + struct.pack("!H", c if check is None else check) + u[8:]
    ip = struct.pack("!BBHHHBBH", 0x45, 0, 20 + n, 1, 0x4000 | frag, 64, 17, 0) + sa + da
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return OUR + mac + b"\x08\x00" + ip + u

def v6(payload, check=None):
    sa = socket.inet_pton(socket.AF_INET6, "2001:db8::2")
    da = socket.inet_pton(socket.AF_INET6, "2001:db8:1::1")
    n = 8 + len(payload)
    u = struct.pack("!HHHH", 40000, 5005, n, 0) + payload
    c = csum(sa + da + struct.pack("!IxxxB", n, 17) + u) or 0xffff
    u = u[:6] + struct.pack("!H", c if check is None else check) + u[8:]
    return OUR + mac + b"\x86\xdd" + struct.pack("!IHBB", 6 << 28, n, 17, 64) + sa + da + u

frames = [
    v4(b"BAD-CSUM" + b"x" * 20, check=0x1234),
    v4(b"BAD-LEN1" + b"x" * 20, ulen=200),
    v4(b"BAD-LEN2" + b"x" * 20, ulen=4),
    v4(b"BAD-PRT0" + b"x" * 20, sport=0),
    v4(b"BAD-FRAG" + b"x" * 20, frag=0x2000),
    v6(b"BAD-NOCK" + b"x" * 20, check=0),
    v6(b"BAD-CSM6" + b"x" * 20, check=0xbeef),
]
good = v4(b"BAD-TRNC" + b"x" * 100)
for cut in range(14, len(good)):
    frames.append(good[:cut])
for i in range(300):
    f = bytearray(v4(b"BAD-RAND" + b"x" * 40))
    for k in range(random.randint(1, 4)):
        pos = random.randrange(14, len(f))
        f[pos] = random.randrange(256)
    # keep the destination and the payload's first bytes: mutations must never send
    # anything elsewhere, and anything that arrives must be recognisable
    f[14 + 16:14 + 20] = socket.inet_aton("203.0.113.1")
    f[14 + 20 + 8:14 + 20 + 12] = b"BAD-"
    frames.append(bytes(f))
refused = 0
for f in frames:
    try:
        s.send(f)
    except OSError:  # ENOBUFS: dropped on the way out (e.g. by the BPF fast path): fine
        refused += 1
print("SENT", len(frames) - refused, "REFUSED", refused, flush=True)
"""


@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_pasta_malformed(topo, bins, daemon_user, free_tmp_path, fam):
    server = FAMILIES[fam][0]
    echo = start_echo(topo, free_tmp_path, topo.remote, server, 5005, log=True)
    raw = script(free_tmp_path, "raw.py", RAW)
    client = script(free_tmp_path, "client.py", CLIENT)
    r = pasta(topo, bins, ["sh", "-c", f"/usr/bin/python3 {raw} veth0 && /usr/bin/python3 "
                                       f"{client} sizes {server} 5005 0,100,1400"],
              user=daemon_user)
    assert "SENT" in r.stdout, r.stdout + r.stderr[-2000:]
    check_sizes(r.stdout, [0, 100, 1400])
    wait_for(lambda: echo.output().count("RX ") >= 3, 5, what="the good datagrams at the server")
    bad = [line for line in echo.output().splitlines() if "4241442d" in line]  # "BAD-"
    # A random "mutation" may write a byte's own value back and leave a valid datagram: it
    # arrives intact. Nothing else may.
    assert all(line.split()[1:] == ["48", "4241442d52414e44"] for line in bad), \
        f"malformed datagrams arrived: {bad}"
    print(f"{len(bad)} harmlessly mutated datagrams arrived (valid ones); "
          f"{r.stdout.split('SENT')[1].splitlines()[0].strip()}")


# ---------------------------------------------------------------------------------------------
# --dns-forward


def start_dns(topo, free_tmp_path):
    """The host's resolvers (first in resolv.conf) live in the remote namespace."""
    topo.run(topo.remote, ["ip", "addr", "add", f"{DNS_HOST['v4']}/32", "dev", "lo"])
    topo.run(topo.remote, ["ip", "addr", "add", f"{DNS_HOST['v6']}/128", "dev", "lo", "nodad"])
    with open(f"/etc/netns/{topo.host}/resolv.conf", "a") as f:
        f.write(f"nameserver {DNS_HOST['v6']}\n")
    dns = script(free_tmp_path, "dns.py", DNS)
    for fam in ("v4", "v6"):
        p = topo.spawn(topo.remote, ["/usr/bin/python3", dns, DNS_HOST[fam]])
        p.wait_for_output(r"READY", 10)


@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_pasta_dns_forward(topo, bins, daemon_user, free_tmp_path, fam):
    start_dns(topo, free_tmp_path)
    qtype, want = ("A", "192.0.2.123") if fam == "v4" else ("AAAA", "2001:db8::123")
    cmd = (f"dig @{DNS_FWD[fam]} udp.example.test {qtype} +short +tries=2 +time=3; "
           f"dig @{DNS_FWD[fam]} nothing.example.test A +tries=2 +time=3 | grep -c NXDOMAIN")
    r = pasta(topo, bins, ["sh", "-c", cmd],
              args=["--dns-forward", DNS_FWD["v4"], "--dns-forward", DNS_FWD["v6"]],
              user=daemon_user)
    lines = r.stdout.split()
    assert lines[:2] == [want, "1"], f"{r.stdout!r} {r.stderr[-2000:]}"


# ---------------------------------------------------------------------------------------------
# -u forwards: host -> namespace


def spawn_pasta_server(topo, bins, free_tmp_path, server_cmd, port, args):
    """pasta with ARGS running SERVER_CMD in the namespace; returns once it has a UDP socket on
    PORT."""
    ready = free_tmp_path("ready")
    if os.path.exists(ready):
        os.unlink(ready)
    script_text = (f"{server_cmd} & i=0; while ! grep -qi ':{port:04X} ' /proc/net/udp "
                   f"/proc/net/udp6 2>/dev/null; do sleep 0.05; i=$((i+1)); "
                   f"[ $i -gt 200 ] && exit 1; done; touch {ready}; wait")
    p = topo.spawn(topo.host, [bins.pasta, "--config-net", *args, "--", "sh", "-c", script_text])
    wait_for(lambda: os.path.exists(ready) or not p.alive(), 15, what="server in namespace")
    assert p.alive(), f"pasta exited early:\n{p.output()[-3000:]}"
    return p


FWD_TARGETS = [("remote", "v4"), ("remote", "v6"), ("host-lo", "v4"), ("host-lo", "v6")]


def fwd_client(topo, target, fam):
    _, host_addr, lo, _ = FAMILIES[fam]
    return (topo.remote, host_addr) if target == "remote" else (topo.host, lo)


@pytest.mark.parametrize("target,fam", FWD_TARGETS)
def test_forward_socat(topo, bins, free_tmp_path, target, fam):
    spawn_pasta_server(topo, bins, free_tmp_path,
                       "socat UDP6-RECVFROM:5300,ipv6only=0,fork PIPE", 5300, ["-u", "5300"])
    ns, addr = fwd_client(topo, target, fam)
    proto = "UDP4" if fam == "v4" else "UDP6"
    r = topo.run(ns, ["sh", "-c", f"echo via-{target}-{fam} | socat -T 5 - "
                                  f"{proto}:{bracket(addr)}:5300"], check=False)
    assert r.stdout.strip() == f"via-{target}-{fam}", f"{r.stdout!r} {r.stderr[-2000:]}"


@pytest.mark.timeout(180)
@pytest.mark.parametrize("target,fam", FWD_TARGETS)
def test_forward_sizes_and_transfer(topo, bins, free_tmp_path, target, fam):
    echo = script(free_tmp_path, "echo.py", ECHO)
    client = script(free_tmp_path, "client.py", CLIENT)
    # a translated port: host 15300 -> namespace 5301
    spawn_pasta_server(topo, bins, free_tmp_path, f"/usr/bin/python3 {echo} :: 5301", 5301,
                       ["-u", "15300:5301"])
    ns, addr = fwd_client(topo, target, fam)
    max_payload = FAMILIES[fam][3]
    sizes = SIZES + [max_payload]
    r = topo.run(ns, ["/usr/bin/python3", client, "sizes", addr, "15300",
                      ",".join(map(str, sizes))], check=False, timeout=60)
    assert r.returncode == 0, f"{r.stdout[-2000:]} {r.stderr[-2000:]}"
    check_sizes(r.stdout, sizes)
    r = topo.run(ns, ["/usr/bin/python3", client, "xfer", addr, "15300", str(XFER_BYTES),
                      XFER_SIZES], check=False, timeout=150)
    assert r.returncode == 0, f"{r.stdout[-2000:]} {r.stderr[-2000:]}"
    check_xfer(r.stdout)


# ---------------------------------------------------------------------------------------------
# passt: a guest made of python, on the qemu stream socket

GUEST = r"""
import socket, struct, sys, time
sock_path, mode = sys.argv[1], sys.argv[2]
args = sys.argv[3:]
GMAC = bytes.fromhex("525400123456")
OMAC = bytes.fromhex("9a559a559a55")
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sock_path)
rbuf = b""

def csum(b):
    if len(b) % 2:
        b += b"\0"
    t = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while t >> 16:
        t = (t & 0xffff) + (t >> 16)
    return ~t & 0xffff

def udp_frame(src, dst, sport, dport, payload):
    v6 = ":" in src
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    sa, da = socket.inet_pton(fam, src), socket.inet_pton(fam, dst)
    ulen = 8 + len(payload)
    if v6:
        pseudo = sa + da + struct.pack("!IxxxB", ulen, 17)
    else:
        pseudo = sa + da + struct.pack("!xBH", 17, ulen)
    u = struct.pack("!HHHH", sport, dport, ulen, 0) + payload
    c = csum(pseudo + u) or 0xffff
    u = u[:6] + struct.pack("!H", c) + u[8:]
    if v6:
        ip = struct.pack("!IHBB", 6 << 28, ulen, 17, 64) + sa + da
        return OMAC + GMAC + b"\x86\xdd" + ip + u
    ip = struct.pack("!BBHHHBBH", 0x45, 0, 20 + ulen, 0, 0x4000, 64, 17, 0) + sa + da
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return OMAC + GMAC + b"\x08\x00" + ip + u

def send(frame):
    s.sendall(struct.pack("!I", len(frame)) + frame)

def recv_frame(deadline):
    global rbuf
    while True:
        if len(rbuf) >= 4:
            n = struct.unpack("!I", rbuf[:4])[0]
            if len(rbuf) >= 4 + n:
                f, rbuf = rbuf[4:4 + n], rbuf[4 + n:]
                return f
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        s.settimeout(left)
        try:
            d = s.recv(1 << 20)
        except socket.timeout:
            return None
        if not d:
            sys.exit("passt closed the connection")
        rbuf += d

def parse_udp(f):
    # (src, dst, sport, dport, payload) of a UDP frame to us with valid checksums, else None
    if len(f) < 14 or f[:6] != GMAC:
        return None
    et = struct.unpack("!H", f[12:14])[0]
    if et == 0x0800 and f[23] == 17:
        ihl = (f[14] & 15) * 4
        ip = f[14:14 + ihl]
        assert csum(ip) == 0, "bad IPv4 header checksum"
        tot = struct.unpack("!H", f[16:18])[0]
        u = f[14 + ihl:14 + tot]
        sa, da, fam = ip[12:16], ip[16:20], socket.AF_INET
        pseudo = sa + da + struct.pack("!xBH", 17, len(u))
    elif et == 0x86dd and f[20] == 17:
        plen = struct.unpack("!H", f[18:20])[0]
        u = f[54:54 + plen]
        sa, da, fam = f[22:38], f[38:54], socket.AF_INET6
        pseudo = sa + da + struct.pack("!IxxxB", len(u), 17)
    else:
        return None
    assert csum(pseudo + u) == 0, "bad UDP checksum"
    sport, dport, ulen = struct.unpack("!HHH", u[:6])
    assert ulen == len(u), "bad UDP length"
    return (socket.inet_ntop(fam, sa), socket.inet_ntop(fam, da), sport, dport, u[8:])

def wait_udp(match, timeout=5):
    deadline = time.monotonic() + timeout
    while True:
        f = recv_frame(deadline)
        if f is None:
            return None
        d = parse_udp(f)
        if d and match(d):
            return d

def hello(me4):
    # What a real guest does first (ARP for its gateway): passt learns our MAC from it.
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + GMAC + socket.inet_aton(me4) + \
        b"\0" * 6 + socket.inet_aton("192.0.2.1")
    send(b"\xff" * 6 + GMAC + b"\x08\x06" + arp)

def norm(a):
    fam = socket.AF_INET6 if ":" in a else socket.AF_INET
    return socket.inet_ntop(fam, socket.inet_pton(fam, a))

if mode == "echo":
    me, server, port = args[0], args[1], int(args[2])
    for n in map(int, args[3].split(",")):
        payload = bytes((i * 7 + n) & 255 for i in range(n))
        got = None
        for attempt in range(3):
            send(udp_frame(me, server, 40000, port, payload))
            got = wait_udp(lambda d: d[0] == norm(server) and d[1] == norm(me) and
                           d[2] == port and d[3] == 40000 and d[4] == payload, 2)
            if got:
                break
        print(("OK" if got else "LOST"), n, "tries", attempt + 1, flush=True)
elif mode == "serve":
    me, port = args[0], int(args[1])
    hello("192.0.2.2")
    print("READY", flush=True)
    d = wait_udp(lambda d: d[1] == norm(me) and d[3] == port, 20)
    if not d:
        sys.exit("nothing arrived")
    send(udp_frame(me, d[0], port, d[2], b"guest says: " + d[4]))
    print("SERVED", d[0], d[2], d[4].decode(), flush=True)
elif mode == "dns":
    me, fwd = args[0], args[1]
    q = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + \
        b"\x03udp\x07example\x04test\x00" + struct.pack("!HH", 1, 1)
    got = None
    for attempt in range(3):
        send(udp_frame(me, fwd, 5353, 53, q))
        got = wait_udp(lambda d: d[0] == norm(fwd) and d[2] == 53 and d[3] == 5353, 3)
        if got:
            break
    if not got:
        sys.exit("no DNS answer")
    a = got[4]
    print("ANSWER", struct.unpack("!H", a[:2])[0], struct.unpack("!H", a[6:8])[0],
          socket.inet_ntop(socket.AF_INET, a[-4:]), flush=True)
"""


def start_passt(topo, bins, free_tmp_path, args=(), user=None):
    sock = free_tmp_path("passt.socket")
    p = topo.spawn(topo.host, [bins.passt, "-f", "-e", "-s", sock, *args], user=user)
    wait_for(lambda: os.path.exists(sock) or not p.alive(), 10, what="passt's socket")
    assert p.alive(), p.output()[-3000:]
    return p, sock


@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_passt_echo_sizes(topo, bins, daemon_user, free_tmp_path, fam):
    server, host_addr, _, max_payload = FAMILIES[fam]
    start_echo(topo, free_tmp_path, topo.remote, server, 5005)
    passt, sock = start_passt(topo, bins, free_tmp_path, user=daemon_user)
    guest = script(free_tmp_path, "guest.py", GUEST)
    sizes = SIZES + [max_payload]
    r = topo.run(topo.host, ["/usr/bin/python3", guest, sock, "echo", host_addr, server,
                             "5005", ",".join(map(str, sizes))], check=False, timeout=60)
    assert r.returncode == 0, f"{r.stdout} {r.stderr[-2000:]}\npasst:\n{passt.output()[-3000:]}"
    check_sizes(r.stdout, sizes)


@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_passt_forward(topo, bins, free_tmp_path, fam):
    _, host_addr, _, _ = FAMILIES[fam]
    passt, sock = start_passt(topo, bins, free_tmp_path, args=["-u", "5400"])
    guest = script(free_tmp_path, "guest.py", GUEST)
    g = topo.spawn(topo.host, ["/usr/bin/python3", guest, sock, "serve", host_addr, "5400"])
    g.wait_for_output(r"READY", 10)
    client = (r"import socket, sys; a = sys.argv[1]; "
              r"s = socket.socket(socket.AF_INET6 if ':' in a else socket.AF_INET, "
              r"socket.SOCK_DGRAM); s.settimeout(3); s.connect((a, 5400)); s.send(b'hi'); "
              r"print(s.recv(100).decode())")
    r = topo.run(topo.remote, ["/usr/bin/python3", "-c", client, host_addr], check=False)
    assert r.stdout.strip() == "guest says: hi", \
        f"{r.stdout!r} {r.stderr[-1000:]}\nguest:\n{g.output()}\npasst:\n{passt.output()[-3000:]}"
    m = g.wait_for_output(r"SERVED (\S+) (\d+) hi", 5)
    # the remote's own address (it is also the gateway)
    assert m.group(1) == ("192.0.2.1" if fam == "v4" else "2001:db8::1"), g.output()


def test_passt_dns_forward(topo, bins, free_tmp_path):
    start_dns(topo, free_tmp_path)
    passt, sock = start_passt(topo, bins, free_tmp_path, args=["--dns-forward", DNS_FWD["v4"]])
    guest = script(free_tmp_path, "guest.py", GUEST)
    r = topo.run(topo.host, ["/usr/bin/python3", guest, sock, "dns", HOST_V4, DNS_FWD["v4"]],
                 check=False, timeout=30)
    assert r.stdout.split() == ["ANSWER", str(0x1234), "1", "192.0.2.123"], \
        f"{r.stdout!r} {r.stderr[-1000:]}\npasst:\n{passt.output()[-3000:]}"
