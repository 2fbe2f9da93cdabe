# SPDX-License-Identifier: GPL-2.0-or-later
"""pasta's loopback path: -t from the host's loopback and -T from the namespace's, by splice(2).

A connection from the host's 127.0.0.1 / ::1 to a -t port, or from the namespace's loopback to a
-T port, must not become frames on the tap: pasta joins the two sockets with splice(2). Every
case proves that the tap was not used: the end inside the namespace reads the namespace's
interface counters (/proc/net/dev: every interface but lo) before and after, and 10 MiB moved
must leave them almost still; and the server sees a loopback peer (through the tap it would see
the gateway address that the host's loopback is mapped to).

pasta runs in topo.host with --config-net; "the host" is topo.host. Two paths:
  - "t": the server is pasta's command, in the namespace, on [::]:8080 (dual stack); the client
    runs in topo.host and connects to 127.0.0.1 or ::1 port 8080 (pasta -t 8080);
  - "T": the server runs in topo.host on [::]:8080; the client is pasta's command and connects
    to the namespace's 127.0.0.1 or ::1 port 8080 (pasta -T 8080).

Checked: 10 MiB SHA-256-verified both ways on both paths, IPv4 and IPv6, as root and as the
unprivileged user; a translated port (-T 18080:8080) and a port -T does not name (refused);
half-close both ways (the server's FIN first, then the client's, and the other order); RST both
ways; 1000 short connections (50 at a time) with no descriptor left behind in the daemon (its
pipes back to where they were) and no connection left open; eight clients killed while data
flows both ways (the server's sockets end, the daemon's pipes are back to where they were);
pasta as root with --runas: once the start-up pool is used up and refills are refused, further
loopback connections still work (through the tap).

UDP, the same two paths with -U and -u on port 8053: 735 lock-step echoes of 0 to 60000-byte
datagrams (10.5 MB each way) and a burst of 64, every byte compared, the server seeing a loopback
peer and the namespace's tap still; a translated -U port.
"""

import hashlib
import os

import pytest

from helpers import wait_for

SIZE = 10 << 20
PORT = 8080
LOOPBACK = {"v4": "127.0.0.1", "v6": "::1"}
TAP_SLACK = 256 << 10  # bytes the tap may see meanwhile (router advertisements, NDP, ...)

PEER_PY = r'''
import asyncio, hashlib, socket, struct, sys, time

def tap_bytes():
    """RX + TX bytes of every interface but lo, in this process's network namespace."""
    total = 0
    with open("/proc/net/dev") as f:
        for line in f.readlines()[2:]:
            name, data = line.split(":", 1)
            if name.strip() != "lo":
                v = data.split()
                total += int(v[0]) + int(v[8])
    return total

def peer_str(addr):
    a = addr[0]
    return a[7:] if a.startswith("::ffff:") else a

def listener(host, port):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind((host, port))
    s.listen(512)
    print("LISTENING", flush=True)
    return s

def connect(addr, port):
    return socket.create_connection((addr, port), timeout=30)

def recv_all(c):
    h, n = hashlib.sha256(), 0
    while True:
        d = c.recv(1 << 16)
        if not d:
            return h.hexdigest(), n
        h.update(d)
        n += len(d)

def send_file(c, path):
    with open(path, "rb") as f:
        while True:
            d = f.read(1 << 16)
            if not d:
                return
            c.sendall(d)

def linger0(c):
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

cmd, args = sys.argv[1], sys.argv[2:]

if cmd == "sink":            # HOST PORT: read to EOF, answer "sha len peer tapdelta"
    s = listener(args[0], int(args[1]))
    while True:
        t0 = tap_bytes()
        c, a = s.accept()
        sha, n = recv_all(c)
        line = f"SINK {sha} {n} {peer_str(a)} {tap_bytes() - t0}"
        c.sendall(line.encode() + b"\n")
        c.close()
        print(line, flush=True)

elif cmd == "source":        # HOST PORT FILE: send FILE, FIN, wait for the client's FIN
    s = listener(args[0], int(args[1]))
    while True:
        t0 = tap_bytes()
        c, a = s.accept()
        send_file(c, args[2])
        c.shutdown(socket.SHUT_WR)
        rest = c.recv(10)
        c.close()
        print(f"SOURCE {peer_str(a)} {tap_bytes() - t0} rest={len(rest)}", flush=True)

elif cmd == "upload":        # ADDR PORT FILE
    t0 = tap_bytes()
    c = connect(args[0], int(args[1]))
    send_file(c, args[2])
    c.shutdown(socket.SHUT_WR)
    reply = c.makefile().readline().strip()
    print(f"{reply} CLIENT-TAP {tap_bytes() - t0}", flush=True)

elif cmd == "download":      # ADDR PORT
    t0 = tap_bytes()
    c = connect(args[0], int(args[1]))
    sha, n = recv_all(c)
    c.close()
    print(f"GOT {sha} {n} CLIENT-TAP {tap_bytes() - t0}", flush=True)

elif cmd == "half-server":   # HOST PORT server-first|client-first
    s = listener(args[0], int(args[1]))
    c, a = s.accept()
    if args[2] == "server-first":
        c.sendall(b"B" * 300000)       # the server speaks first and half-closes,
        c.shutdown(socket.SHUT_WR)
        _, n = recv_all(c)             # then reads all the client still sends
        got = n
    else:
        data = b""
        while True:                    # the client half-closes first;
            d = c.recv(65536)
            if not d:
                break
            data += d
        got = data.count(b"C")
        c.sendall(b"B" * 300000)       # the server answers after the client's FIN
        c.shutdown(socket.SHUT_WR)
    c.close()
    print(f"SERVER-GOT {got}", flush=True)

elif cmd == "half-client":   # ADDR PORT server-first|client-first
    c = connect(args[0], int(args[1]))
    if args[2] == "server-first":
        data = b""
        while True:
            d = c.recv(65536)
            if not d:
                break
            data += d
        c.sendall(b"C" * 500000)       # after the server's FIN, the client still sends
        c.shutdown(socket.SHUT_WR)
        eof = c.recv(10) == b""
    else:
        c.sendall(b"C" * 500000)
        c.shutdown(socket.SHUT_WR)     # FIN first, then read the answer
        data = b""
        while True:
            d = c.recv(65536)
            if not d:
                break
            data += d
        eof = True
    print(f"CLIENT-GOT {len(data)} {data.count(b'B')} {eof}", flush=True)

elif cmd == "reset-server":  # HOST PORT
    s = listener(args[0], int(args[1]))
    c, _ = s.accept()                  # 1: the server resets the connection
    c.recv(10)
    linger0(c)
    c.close()
    c, _ = s.accept()                  # 2: the client resets it
    c.settimeout(20)
    try:
        d = c.recv(10)
        d2 = c.recv(10)
        print("SERVER-SAW", "eof" if d2 == b"" else repr(d2), flush=True)
    except ConnectionResetError:
        print("SERVER-SAW reset", flush=True)

elif cmd == "reset-client":  # ADDR PORT
    a = (args[0], int(args[1]))
    c = socket.create_connection(a, timeout=20)
    c.send(b"x")
    try:
        d = c.recv(10)
        print("CLIENT-SAW", "eof" if d == b"" else repr(d), flush=True)
    except ConnectionResetError:
        print("CLIENT-SAW reset", flush=True)
    c = socket.create_connection(a, timeout=20)
    c.send(b"y")
    time.sleep(0.3)
    linger0(c)
    c.close()
    time.sleep(1)

elif cmd == "echo":          # HOST PORT
    async def echo(r, w):
        data = await r.read(100)
        w.write(data)
        await w.drain()
        await r.read(100)              # until the client closes
        w.close()
    async def main():
        srv = await asyncio.start_server(echo, sock=listener(args[0], int(args[1])))
        await srv.serve_forever()
    asyncio.run(main())

elif cmd == "chatter":       # HOST PORT: per connection, send without end and read until EOF
    import threading
    def handle(c):
        def sender():
            try:
                while True:
                    c.sendall(b"S" * 65536)
            except OSError:
                pass
        t = threading.Thread(target=sender, daemon=True)
        t.start()
        try:
            while c.recv(65536):
                pass
        except OSError:
            pass
        t.join(10)
        c.close()
        print("CHATTER-DONE", flush=True)
    s = listener(args[0], int(args[1]))
    while True:
        c, _ = s.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()

elif cmd == "killed-client": # ADDR PORT: read and write a while, then die with unread data
    import os, signal
    c = connect(args[0], int(args[1]))
    n = 0
    while n < (4 << 20):
        n += len(c.recv(65536))
        c.sendall(b"C" * 16384)
    time.sleep(0.2)                    # more arrives, unread: the kernel will send a RST
    os.kill(os.getpid(), signal.SIGKILL)

elif cmd == "udp-echo":      # HOST PORT: echo every datagram; "STATS" answers "peer tap count"
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind((args[0], int(args[1])))
    print("LISTENING", flush=True)
    t0, n = tap_bytes(), 0
    while True:
        d, a = s.recvfrom(65536)
        if d == b"STATS":
            s.sendto(f"{peer_str(a)} {tap_bytes() - t0} {n}".encode(), a)
            continue
        n += 1
        s.sendto(d, a)

elif cmd == "udp-client":    # ADDR PORT ROUNDS: lock-step echoes of many sizes, then a burst
    import os
    t0 = tap_bytes()
    c = socket.socket(socket.AF_INET6 if ":" in args[0] else socket.AF_INET, socket.SOCK_DGRAM)
    c.settimeout(5)
    c.connect((args[0], int(args[1])))
    sizes = [0, 1, 100, 1400, 9000, 30000, 60000]
    rounds, ok, total = int(args[2]), 0, 0
    for i in range(rounds):
        data = os.urandom(sizes[i % len(sizes)])
        c.send(data)
        ok += c.recv(65536) == data
        total += len(data)
    burst = [os.urandom(1000) for _ in range(64)]
    for b in burst:
        c.send(b)
    got = set(c.recv(65536) for _ in range(64))
    c.send(b"STATS")
    stats = c.recv(1000).decode()
    print(f"UDP-OK {ok} bytes {total} burst {got == set(burst)} SERVER {stats} "
          f"CLIENT-TAP {tap_bytes() - t0}", flush=True)

elif cmd == "many":          # ADDR PORT N CONCURRENCY: short connections, echo checked
    n, conc = int(args[2]), int(args[3])
    async def one(i, sem):
        async with sem:
            r, w = await asyncio.wait_for(asyncio.open_connection(args[0], int(args[1])), 20)
            msg = b"conn-%d" % i
            w.write(msg)
            await w.drain()
            ok = (await asyncio.wait_for(r.readexactly(len(msg)), 20)) == msg
            w.close()
            await w.wait_closed()
            return ok
    async def main():
        sem = asyncio.Semaphore(conc)
        t0 = time.monotonic()
        res = await asyncio.gather(*[one(i, sem) for i in range(n)], return_exceptions=True)
        errs = [repr(x) for x in res if x is not True][:3]
        print(f"OK {sum(1 for x in res if x is True)} in {time.monotonic() - t0:.2f} s {errs}",
              flush=True)
    asyncio.run(main())
'''


@pytest.fixture(scope="module", autouse=True)
def tun_world_accessible():
    st = os.stat("/dev/net/tun")
    if st.st_mode & 0o666 != 0o666:
        os.chmod("/dev/net/tun", 0o666)


@pytest.fixture
def peer_py(free_tmp_path):
    path = free_tmp_path("splice_peer.py")
    with open(path, "w") as f:
        f.write(PEER_PY)
    os.chmod(path, 0o644)
    return path


def make_file(free_tmp_path, size=SIZE):
    path = free_tmp_path("src.bin")
    data = os.urandom(size)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o644)
    return path, hashlib.sha256(data).hexdigest()


def py(peer_py, *args):
    return ["/usr/bin/python3", peer_py, *[str(a) for a in args]]


def pasta_server(topo, bins, peer_py, server_args, fwd=("-t", str(PORT)), user=None):
    """pasta with the server as its command, in the namespace; returns once it listens."""
    p = topo.spawn(topo.host, [bins.pasta, "--config-net", *fwd, "--", *py(peer_py,
                                                                          *server_args)],
                   user=user)
    p.wait_for_output(r"^LISTENING", timeout=15)
    return p


def pasta_client(topo, bins, peer_py, client_args, fwd=("-T", str(PORT)), user=None,
                 timeout=90):
    """pasta with the client as its command; its CompletedProcess (exit status checked)."""
    r = topo.run(topo.host, [bins.pasta, "--config-net", *fwd, "--", *py(peer_py, *client_args)],
                 user=user, check=False, timeout=timeout)
    assert r.returncode == 0, f"pasta exited {r.returncode}\nstdout:\n{r.stdout[-2000:]}\n" \
                              f"stderr:\n{r.stderr[-4000:]}"
    return r


def host_server(topo, peer_py, server_args):
    p = topo.spawn(topo.host, py(peer_py, *server_args))
    p.wait_for_output(r"^LISTENING", timeout=15)
    return p


def run_pair(topo, bins, peer_py, path, server_args, client_args, user=None):
    """Server and client on either side of the path; (client stdout, server Proc)."""
    if path == "t":
        srv = pasta_server(topo, bins, peer_py, server_args, user=user)
        r = topo.run(topo.host, py(peer_py, *client_args), check=False, timeout=90)
        assert r.returncode == 0, f"client: {r.stdout[-2000:]}\n{r.stderr[-3000:]}"
        return r.stdout, srv
    srv = host_server(topo, peer_py, server_args)
    r = pasta_client(topo, bins, peer_py, client_args, user=user)
    return r.stdout, srv


def field_after(text, tag, n):
    """The n-th word after `tag` on the last line containing it."""
    lines = [ln for ln in text.splitlines() if tag in ln]
    assert lines, f"no {tag!r} in:\n{text[-3000:]}"
    words = lines[-1].split(tag, 1)[1].split()
    return words[n]


# ---------------------------------------------------------------------------------------------
# 10 MiB each way


@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_t_upload_from_host_loopback(topo, bins, daemon_user, free_tmp_path, peer_py, fam):
    """Host 127.0.0.1 / ::1 -> -t 8080 -> namespace: bytes intact, loopback peer, tap still."""
    src, want = make_file(free_tmp_path)
    lo = LOOPBACK[fam]
    out, srv = run_pair(topo, bins, peer_py, "t", ["sink", "::", PORT],
                        ["upload", lo, PORT, src], user=daemon_user)
    # SINK sha len peer tapdelta
    assert field_after(out, "SINK", 0) == want, out
    assert int(field_after(out, "SINK", 1)) == SIZE, out
    assert field_after(out, "SINK", 2) == lo, f"the server saw a non-loopback peer: {out}"
    tap = int(field_after(out, "SINK", 3))
    assert tap < TAP_SLACK, f"{tap} bytes went through the namespace's tap"


@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_t_download_to_host_loopback(topo, bins, daemon_user, free_tmp_path, peer_py, fam):
    """Namespace -> -t 8080 -> host 127.0.0.1 / ::1 client: bytes intact, tap still."""
    src, want = make_file(free_tmp_path)
    lo = LOOPBACK[fam]
    out, srv = run_pair(topo, bins, peer_py, "t", ["source", "::", PORT, src],
                        ["download", lo, PORT], user=daemon_user)
    assert field_after(out, "GOT", 0) == want, out
    assert int(field_after(out, "GOT", 1)) == SIZE, out
    m = srv.wait_for_output(r"^SOURCE (\S+) (\d+) rest=0", timeout=20)
    assert m.group(1) == lo, f"the server saw a non-loopback peer: {m.group(0)}"
    assert int(m.group(2)) < TAP_SLACK, f"{m.group(2)} bytes went through the tap"


@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_T_upload_to_host(topo, bins, daemon_user, free_tmp_path, peer_py, fam):
    """Namespace 127.0.0.1 / ::1 -> -T 8080 -> host's loopback server: intact, tap still."""
    src, want = make_file(free_tmp_path)
    lo = LOOPBACK[fam]
    out, srv = run_pair(topo, bins, peer_py, "T", ["sink", "::", PORT],
                        ["upload", lo, PORT, src], user=daemon_user)
    assert field_after(out, "SINK", 0) == want, out
    assert int(field_after(out, "SINK", 1)) == SIZE, out
    assert field_after(out, "SINK", 2) == lo, f"the host server saw: {out}"
    tap = int(field_after(out, "CLIENT-TAP", 0))
    assert tap < TAP_SLACK, f"{tap} bytes went through the namespace's tap"


@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_T_download_from_host(topo, bins, daemon_user, free_tmp_path, peer_py, fam):
    """Host loopback server -> -T 8080 -> client in the namespace: intact, tap still."""
    src, want = make_file(free_tmp_path)
    lo = LOOPBACK[fam]
    out, srv = run_pair(topo, bins, peer_py, "T", ["source", "::", PORT, src],
                        ["download", lo, PORT], user=daemon_user)
    assert field_after(out, "GOT", 0) == want, out
    assert int(field_after(out, "GOT", 1)) == SIZE, out
    tap = int(field_after(out, "CLIENT-TAP", 0))
    assert tap < TAP_SLACK, f"{tap} bytes went through the namespace's tap"
    m = srv.wait_for_output(r"^SOURCE (\S+) (\d+) rest=0", timeout=20)
    assert m.group(1) == lo, m.group(0)


def test_T_translated_port(topo, bins, free_tmp_path, peer_py):
    """-T 18080:8080: the namespace's 127.0.0.1:18080 reaches the host's port 8080."""
    src, want = make_file(free_tmp_path, size=1 << 20)
    host_server(topo, peer_py, ["sink", "::", PORT])
    r = pasta_client(topo, bins, peer_py, ["upload", "127.0.0.1", 18080, src],
                     fwd=("-T", f"18080:{PORT}"))
    assert field_after(r.stdout, "SINK", 0) == want, r.stdout


def test_T_not_forwarded_port_refused(topo, bins, free_tmp_path, peer_py):
    """A port -T does not name is not listened on: the namespace's connection is refused."""
    host_server(topo, peer_py, ["sink", "::", PORT])
    r = topo.run(topo.host, [bins.pasta, "--config-net", "-T", "8081", "--", "/usr/bin/python3",
                             "-c", "import socket\ntry:\n socket.create_connection(('127.0.0.1',"
                             f" {PORT}), timeout=5); print('CONNECTED')\n"
                             "except ConnectionRefusedError: print('REFUSED')"],
                 check=False, timeout=30)
    assert "REFUSED" in r.stdout, r.stdout + r.stderr[-2000:]


# ---------------------------------------------------------------------------------------------
# half-close, resets


@pytest.mark.parametrize("fam", ["v4", "v6"])
@pytest.mark.parametrize("order", ["server-first", "client-first"])
@pytest.mark.parametrize("path", ["t", "T"])
def test_half_close(topo, bins, peer_py, path, order, fam):
    out, srv = run_pair(topo, bins, peer_py, path, ["half-server", "::", PORT, order],
                        ["half-client", LOOPBACK[fam], PORT, order])
    assert "CLIENT-GOT 300000 300000 True" in out, out
    srv.wait_for_output(r"^SERVER-GOT 500000$", timeout=15)


@pytest.mark.parametrize("fam", ["v4", "v6"])
@pytest.mark.parametrize("path", ["t", "T"])
def test_reset_both_ways(topo, bins, peer_py, path, fam):
    out, srv = run_pair(topo, bins, peer_py, path, ["reset-server", "::", PORT],
                        ["reset-client", LOOPBACK[fam], PORT])
    assert "CLIENT-SAW reset" in out, out
    srv.wait_for_output(r"^SERVER-SAW reset", timeout=15)


# ---------------------------------------------------------------------------------------------
# many short connections


def daemon_fds(pid):
    """(pipes, sockets) among pid's descriptors."""
    pipes = socks = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        pipes += target.startswith("pipe:")
        socks += target.startswith("socket:")
    return pipes, socks


@pytest.mark.timeout(180)
@pytest.mark.parametrize("path", ["t", "T"])
def test_many_short_connections(topo, bins, daemon_user, peer_py, path):
    n, conc = 1000, 50
    if path == "t":
        daemon = pasta_server(topo, bins, peer_py, ["echo", "::", PORT], user=daemon_user)
        assert os.path.basename(os.readlink(f"/proc/{daemon.pid}/exe")) == "passt"
        before = daemon_fds(daemon.pid)
        r = topo.run(topo.host, py(peer_py, "many", "127.0.0.1", PORT, n, conc), check=False,
                     timeout=150)
        assert f"OK {n} " in r.stdout, r.stdout + r.stderr[-2000:]
        # Every spliced connection closed: the daemon's pipes are back to where they were,
        # and at most the two socket pools (32 per family) are left over.
        wait_for(lambda: daemon_fds(daemon.pid)[0] == before[0], 15,
                 what=f"the daemon's pipes back to {before[0]}: {daemon_fds(daemon.pid)}")
        assert daemon_fds(daemon.pid)[1] <= before[1] + 64, (before, daemon_fds(daemon.pid))
        live = topo.run(topo.host, ["ss", "-Htn", "state", "connected",
                                    f"( sport = :{PORT} or dport = :{PORT} )"], check=False)
        assert not [ln for ln in live.stdout.splitlines() if "TIME-WAIT" not in ln], live.stdout
        print(r.stdout.strip())
    else:
        host_server(topo, peer_py, ["echo", "::", PORT])
        r = pasta_client(topo, bins, peer_py, ["many", "127.0.0.1", PORT, n, conc],
                         user=daemon_user, timeout=150)
        assert f"OK {n} " in r.stdout, r.stdout
        print(r.stdout.strip())


@pytest.mark.timeout(120)
def test_clients_killed_mid_stream(topo, bins, daemon_user, peer_py):
    """Clients killed while data flows both ways: the server's sockets are reset, and the
    daemon keeps no connection: its pipes are back to where they were."""
    daemon = pasta_server(topo, bins, peer_py, ["chatter", "::", PORT], user=daemon_user)
    before = daemon_fds(daemon.pid)
    clients = " ".join(f"/usr/bin/python3 {peer_py} killed-client {LOOPBACK[f]} {PORT} &"
                       for f in ("v4", "v6") * 4)
    r = topo.run(topo.host, ["sh", "-c", f"{clients} wait; echo ALL-DONE"], check=False,
                 timeout=60)
    assert "ALL-DONE" in r.stdout, r.stdout + r.stderr[-2000:]
    wait_for(lambda: daemon.output().count("CHATTER-DONE") >= 8, 20,
             what=f"the server's 8 connections ended:\n{daemon.output()[-2000:]}")
    wait_for(lambda: daemon_fds(daemon.pid)[0] == before[0], 15,
             what=f"the daemon's pipes back to {before[0]}: {daemon_fds(daemon.pid)}")
    assert daemon.alive(), daemon.output()[-3000:]


# ---------------------------------------------------------------------------------------------
# UDP: -U from the namespace's loopback, -u from the host's loopback

UDP_PORT = 8053
UDP_ROUNDS = 735  # 105 cycles of 0 .. 60000-byte datagrams: 10.5 MB each way


def check_udp(out, lo, tap_field):
    assert f"UDP-OK {UDP_ROUNDS} " in out, f"lost or changed datagrams: {out}"
    assert "burst True" in out, out
    # SERVER peer tapdelta count
    assert field_after(out, "SERVER", 0) == lo, f"the server saw a non-loopback peer: {out}"
    assert int(field_after(out, "SERVER", 2)) == UDP_ROUNDS + 64, out
    tap = int(field_after(out, tap_field, 0 if tap_field == "CLIENT-TAP" else 1))
    assert tap < TAP_SLACK, f"{tap} bytes went through the namespace's tap: {out}"


@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_U_datagrams_to_host(topo, bins, daemon_user, peer_py, fam):
    """Namespace 127.0.0.1 / ::1 -> -U 8053 -> host's loopback server and back."""
    lo = LOOPBACK[fam]
    host_server(topo, peer_py, ["udp-echo", "::", UDP_PORT])
    r = pasta_client(topo, bins, peer_py, ["udp-client", lo, UDP_PORT, UDP_ROUNDS],
                     fwd=("-U", str(UDP_PORT)), user=daemon_user)
    check_udp(r.stdout, lo, "CLIENT-TAP")


@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_u_datagrams_from_host_loopback(topo, bins, daemon_user, peer_py, fam):
    """Host 127.0.0.1 / ::1 -> -u 8053 -> server in the namespace and back, not by the tap."""
    lo = LOOPBACK[fam]
    pasta_server(topo, bins, peer_py, ["udp-echo", "::", UDP_PORT], fwd=("-u", str(UDP_PORT)),
                 user=daemon_user)
    r = topo.run(topo.host, py(peer_py, "udp-client", lo, UDP_PORT, UDP_ROUNDS), check=False,
                 timeout=90)
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    check_udp(r.stdout, lo, "SERVER")


def test_U_translated_port(topo, bins, peer_py):
    """-U 18053:8053: the namespace's 127.0.0.1:18053 reaches the host's port 8053."""
    host_server(topo, peer_py, ["udp-echo", "::", UDP_PORT])
    r = pasta_client(topo, bins, peer_py, ["udp-client", "127.0.0.1", 18053, 14],
                     fwd=("-U", f"18053:{UDP_PORT}"))
    assert "UDP-OK 14 " in r.stdout and "burst True" in r.stdout, r.stdout


def test_t_runas_falls_back_to_tap(topo, bins, peer_py, unpriv):
    """pasta as root with --runas: once the pool that was filled at start-up is used up, the
    daemon may not enter the namespace any more; further loopback connections still work, by
    the tap."""
    daemon = pasta_server(topo, bins, peer_py, ["echo", "::", PORT],
                          fwd=("--runas", unpriv, "-t", str(PORT)))
    r = topo.run(topo.host, py(peer_py, "many", "127.0.0.1", PORT, 80, 1), check=False,
                 timeout=60)
    assert "OK 80 " in r.stdout, r.stdout + r.stderr[-2000:] + daemon.output()[-2000:]
    # the fallback was taken: the refill was refused (logged), yet all 80 went through
    assert "cannot open sockets in the namespace" in daemon.output(), daemon.output()[-2000:]
