# SPDX-License-Identifier: GPL-2.0-or-later
"""passt mode: qemu's "-netdev stream" socket, with a real qemu and with a hand-written client.

passt runs in topo.host (upstream veth0 192.0.2.2/24, gateway 192.0.2.1, resolver 198.51.100.53,
search example.test), so DHCP through it gives 192.0.2.2.  The "guest" is a third namespace in
which a real qemu-system-x86_64 (no machine, no CPU work: -machine none) joins two netdevs with a
hub: the stream socket to passt, and a tap device tap0 in that namespace.  busybox udhcpc on tap0
is then a DHCP client whose frames go tap0 -> qemu -> socket -> passt and back.

What is checked:
  - a lease through qemu and passt, as root and as the unprivileged user
  - qemu killed, a second qemu connects and gets a lease again
  - broken streams (length 0, a huge length, one byte over the maximum, a truncated frame then a
    close): each one is dropped with a log line, and the next client is served from a clean
    state (an ARP request right after a truncated frame is answered; a real qemu gets a lease)
  - a frame of exactly the maximum length is accepted; frames shorter than 60 bytes are too (a
    42-byte ARP request gets its answer)
  - one qemu at a time: a second connection is closed at once, the first keeps being served
  - many frames in one write (answers flushed mid-read); a reader too slow for the answers gets
    whole frames only: partial writes are completed later, what does not fit is dropped whole
  - ICMP/ICMPv6 echo through ping sockets (the gateway maps to the host, a remote server is
    pinged for real): identifiers, sequence numbers, payloads and checksums of the replies; with
    ping sockets forbidden, one warning and no crash
  - background mode: the parent exits 0 once the socket is there, -P writes the daemon's PID,
    the default socket is /tmp/passt_N.socket, root drops to nobody, SIGTERM removes the socket
  - --fd (an inherited, connected socket) and -1 (one-off): exit once the client leaves
"""

import os
import re
import signal
import socket
import struct
import subprocess
import time

import pytest

from helpers import (GW_V4, HOST_V4, NAMESERVER, SEARCH_DOMAIN, _pid_alive, delete_netns,
                     user_env, wait_for)

OUR_MAC = bytes.fromhex("9a559a559a55")
CLIENT_MAC = bytes.fromhex("020000000001")
FRAME_MAX = 65520 + 14

UDHCPC_SCRIPT = r"""#!/bin/sh
case "$1" in
bound|renew)
	for v in ip mask router dns domain search mtu; do
		eval "echo LEASE_$v=\$$v"
	done
	;;
esac
exit 0
"""

_guest_counter = [0]


# --------------------------------------------------------------------------------------------
# helpers


def start_passt(topo, bins, sock, user=None, extra=()):
    """passt -f on socket path sock in topo.host; returns the Proc once the socket is bound."""
    p = topo.spawn(topo.host, [bins.passt, "-f", "-s", sock, *extra], user=user)
    p.wait_for_output(r"UNIX domain socket bound at " + re.escape(sock), timeout=10)
    return p


def wait_log(proc, regex, count=1, timeout=10):
    """Wait until regex occurs at least count times in proc's output."""
    pat = re.compile(regex, re.MULTILINE)
    wait_for(lambda: len(pat.findall(proc.output())) >= count, timeout=timeout,
             what=f"{count} x /{regex}/ in the output of {proc.name}:\n{proc.output()}")


class Guest:
    """A namespace holding qemu's tap0; qemu joins it to passt's socket with a hub."""

    def __init__(self, topo):
        _guest_counter[0] += 1
        self.topo = topo
        self.ns = f"bpg-{os.getpid()}-{_guest_counter[0]}"
        delete_netns(self.ns)
        subprocess.run(["ip", "netns", "add", self.ns], check=True)
        topo.add_cleanup(lambda: delete_netns(self.ns))
        subprocess.run(["ip", "-n", self.ns, "link", "set", "lo", "up"], check=True)
        self.script = topo.tmp_path("udhcpc.sh")
        with open(self.script, "w") as f:
            f.write(UDHCPC_SCRIPT)
        os.chmod(self.script, 0o755)

    def tap_exists(self):
        return subprocess.run(["ip", "-n", self.ns, "link", "show", "tap0"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0

    def start_qemu(self, sock):
        qemu = self.topo.spawn(self.ns, [
            "qemu-system-x86_64", "-machine", "none", "-nodefaults", "-nographic",
            "-display", "none",
            "-netdev", f"stream,id=s,server=off,addr.type=unix,addr.path={sock}",
            "-netdev", "tap,id=t,ifname=tap0,script=no,downscript=no",
            "-netdev", "hubport,id=h1,hubid=0,netdev=s",
            "-netdev", "hubport,id=h2,hubid=0,netdev=t"])
        wait_for(lambda: self.tap_exists() or not qemu.alive(), timeout=15,
                 what="qemu to create tap0")
        assert qemu.alive(), f"qemu exited: {qemu.output()}"
        subprocess.run(["ip", "-n", self.ns, "link", "set", "tap0", "mtu", "1500", "up"],
                       check=True)
        return qemu

    def stop_qemu(self, qemu):
        qemu.kill()  # SIGKILL by PID: the socket is closed by the kernel, not by qemu
        qemu.wait(timeout=10)
        wait_for(lambda: not self.tap_exists(), timeout=10, what="tap0 to go away with qemu")

    def udhcpc(self):
        r = self.topo.run(self.ns, ["busybox", "udhcpc", "-i", "tap0", "-f", "-q", "-n",
                                    "-t", "5", "-T", "1", "-O", "mtu", "-O", "search",
                                    "-s", self.script], timeout=30, check=False)
        lease = dict(re.findall(r"^LEASE_(\w+)=(.*)$", r.stdout, re.MULTILINE))
        return r, lease


def check_lease(r, lease, passt, mtu=None):
    text = f"udhcpc exit {r.returncode}\n{r.stdout}\n{r.stderr}\npasst:\n{passt.output()}"
    assert r.returncode == 0, text
    assert lease.get("ip") == HOST_V4, text
    assert lease.get("mask") == "24", text
    assert lease.get("router") == GW_V4, text
    assert NAMESERVER in lease.get("dns", "").split(), text
    assert SEARCH_DOMAIN in (lease.get("search", "") + " " + lease.get("domain", "")), text
    if mtu is not None:
        assert lease.get("mtu") == str(mtu), text


class FrameTimeout(AssertionError):
    """Nothing (more) arrived from passt in time."""


class StreamClient:
    """A hand-written qemu: frames on a UNIX stream socket, each after a 4-byte BE length."""

    def __init__(self, path=None, sock=None, timeout=5):
        self.s = sock or socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        if path:
            self.s.connect(path)
        self.buf = b""
        self.eof = False

    def send_raw(self, data):
        self.s.sendall(data)

    def send_frame(self, frame):
        self.s.sendall(struct.pack("!I", len(frame)) + frame)

    def _fill(self, deadline):
        self.s.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = self.s.recv(262144)
        except socket.timeout:
            return
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
        self.buf += chunk

    def recv_frame(self, timeout=5):
        """The next frame, or None at EOF; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 4:
                n = struct.unpack("!I", self.buf[:4])[0]
                assert 0 < n <= FRAME_MAX, f"passt sent a frame length of {n}"
                if len(self.buf) >= 4 + n:
                    frame, self.buf = self.buf[4:4 + n], self.buf[4 + n:]
                    return frame
            if self.eof:
                assert not self.buf, f"passt closed the stream in a frame: {self.buf[:16]!r}"
                return None
            if time.monotonic() >= deadline:
                raise FrameTimeout("timed out waiting for a frame from passt")
            self._fill(deadline)

    def wait_frame(self, pred, timeout=5):
        """The first frame for which pred() is true (others are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            f = self.recv_frame(max(0.1, deadline - time.monotonic()))
            assert f is not None, "passt closed the connection"
            if pred(f):
                return f

    def wait_eof(self, timeout=5):
        """Skip frames until passt closes the connection."""
        deadline = time.monotonic() + timeout
        while self.recv_frame(max(0.1, deadline - time.monotonic())) is not None:
            pass

    def close(self):
        self.s.close()


def arp_request(target=GW_V4, mac=CLIENT_MAC):
    """A 42-byte ARP request (no padding to 60: what a virtio guest sends)."""
    body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac, socket.inet_aton(HOST_V4),
                       b"\0" * 6, socket.inet_aton(target))
    return b"\xff" * 6 + mac + b"\x08\x06" + body


def is_arp_reply_for(target, mac=CLIENT_MAC):
    def pred(f):
        if len(f) < 42 or f[12:14] != b"\x08\x06":
            return False
        op, sha, spa, tha = struct.unpack("!6x H 6s 4s 6s 4x", f[14:42])
        return op == 2 and spa == socket.inet_aton(target) and f[0:6] == mac and tha == mac
    return pred


def served(path, target=GW_V4, timeout=5):
    """Connect as a new client and check an ARP request is answered (by our MAC)."""
    c = StreamClient(path)
    try:
        c.send_frame(arp_request(target))
        reply = c.wait_frame(is_arp_reply_for(target), timeout=timeout)
        assert reply[6:12] == OUR_MAC and reply[22:28] == OUR_MAC, reply.hex()
        assert len(reply) == 42, f"ARP reply of {len(reply)} bytes"
    finally:
        c.close()
    return True


# --------------------------------------------------------------------------------------------
# real qemu


@pytest.mark.timeout(90)
def test_qemu_lease(topo, bins, daemon_user, free_tmp_path):
    sock = free_tmp_path("passt.socket")
    passt = start_passt(topo, bins, sock, user=daemon_user, extra=["-m", "1500"])
    guest = Guest(topo)
    guest.start_qemu(sock)
    wait_log(passt, r"qemu connected")
    r, lease = guest.udhcpc()
    check_lease(r, lease, passt, mtu=1500)
    assert passt.alive(), passt.output()


@pytest.mark.timeout(120)
def test_qemu_reconnect(topo, bins, free_tmp_path):
    sock = free_tmp_path("passt.socket")
    passt = start_passt(topo, bins, sock)
    guest = Guest(topo)
    for n in (1, 2):
        qemu = guest.start_qemu(sock)
        wait_log(passt, r"qemu connected", count=n)
        r, lease = guest.udhcpc()
        check_lease(r, lease, passt)
        guest.stop_qemu(qemu)
        wait_log(passt, r"qemu disconnected", count=n)
    assert passt.alive(), passt.output()


@pytest.mark.timeout(120)
def test_broken_streams_then_qemu(topo, bins, free_tmp_path):
    sock = free_tmp_path("passt.socket")
    passt = start_passt(topo, bins, sock)

    # Each broken client: passt logs why, closes the connection, and serves the next one.
    cases = [
        (struct.pack("!I", 0), r"frame length 0 out of range"),
        (struct.pack("!I", 0xffffffff), r"frame length 4294967295 out of range"),
        (struct.pack("!I", FRAME_MAX + 1), rf"frame length {FRAME_MAX + 1} out of range"),
        (struct.pack("!I", 13) + b"x" * 13, r"frame length 13 out of range"),
    ]
    for n, (data, log) in enumerate(cases, 1):
        c = StreamClient(sock)
        c.send_raw(data)
        c.wait_eof(timeout=5)
        c.close()
        wait_log(passt, log)
        assert served(sock)

    # A truncated frame, then a close. What remains of it must not survive into the next
    # client's stream: if it did, the next ARP request would be eaten as its missing bytes.
    c = StreamClient(sock)
    c.wait_frame(lambda f: True)  # passt has accepted us (its first router advertisement)
    c.send_raw(struct.pack("!I", 342) + arp_request() + b"\0" * 20)
    c.close()
    wait_log(passt, r"closed in the middle of a frame")
    assert served(sock)

    # And a real qemu after all that gets its lease.
    guest = Guest(topo)
    guest.start_qemu(sock)
    r, lease = guest.udhcpc()
    check_lease(r, lease, passt)
    assert passt.alive(), passt.output()


def test_frame_sizes(topo, bins, free_tmp_path):
    sock = free_tmp_path("passt.socket")
    passt = start_passt(topo, bins, sock)
    c = StreamClient(sock)
    # The largest valid frame (an EtherType nobody handles), then a 42-byte ARP request in the
    # same write: both are taken, the ARP request is answered.
    big = CLIENT_MAC + CLIENT_MAC + b"\x88\xb5" + b"\xab" * (FRAME_MAX - 14)
    c.send_raw(struct.pack("!I", len(big)) + big + struct.pack("!I", 42) + arp_request())
    reply = c.wait_frame(is_arp_reply_for(GW_V4))
    assert reply[6:12] == OUR_MAC
    # Any address but the guest's is answered (we are its only neighbour).
    c.send_frame(arp_request("203.0.113.1"))
    c.wait_frame(is_arp_reply_for("203.0.113.1"))
    c.close()
    assert passt.alive(), passt.output()
    assert "out of range" not in passt.output(), passt.output()


def test_many_frames_in_one_write(topo, bins, free_tmp_path):
    # 2000 ARP requests in one write: more answers than one output batch holds, so passt must
    # flush in the middle of a read. 2000 answers (92 kB) fit the socket buffer: none may be lost.
    sock = free_tmp_path("passt.socket")
    passt = start_passt(topo, bins, sock)
    c = StreamClient(sock)
    c.send_raw((struct.pack("!I", 42) + arp_request()) * 2000)
    pred = is_arp_reply_for(GW_V4)
    for n in range(2000):
        c.wait_frame(pred, timeout=10)
    c.close()
    assert passt.alive(), passt.output()


def test_slow_reader_never_gets_torn_frames(topo, bins, free_tmp_path):
    # 20000 ARP requests while we do not read: the answers (920 kB) overflow the socket buffer,
    # so passt's writes are partial, it keeps what it tore and drops whole frames beyond its
    # queue. Read afterwards, the stream must still be frames only (StreamClient checks each
    # length), and the connection must still work.
    sock = free_tmp_path("passt.socket")
    passt = start_passt(topo, bins, sock, extra=["--debug"])
    c = StreamClient(sock)
    c.send_raw((struct.pack("!I", 42) + arp_request()) * 20000)
    wait_log(passt, r"socket full, \d+ frames dropped")
    pred = is_arp_reply_for(GW_V4)
    replies = 0
    while True:
        try:
            f = c.recv_frame(timeout=1)
        except FrameTimeout:
            break  # nothing more for a second: the backlog is drained
        assert f is not None, "passt closed the connection"
        assert pred(f) or f[12:14] == b"\x86\xdd", f"unexpected frame {f[:64].hex()}"
        replies += pred(f)
    assert 1000 < replies < 20000, replies
    c.send_frame(arp_request())
    c.wait_frame(pred)
    c.close()
    assert passt.alive(), passt.output()


def test_torn_writes_are_completed(topo, bins, free_tmp_path):
    # Echo replies of 60 kB each, while we do not read: the kernel takes a frame in part (it
    # queues at most ~36 kB per buffer), passt keeps the rest and completes it when the socket
    # drains; what does not fit its queue is dropped whole. Every frame read must be whole and
    # carry its own payload.
    sock = free_tmp_path("passt.socket")
    passt = start_passt(topo, bins, sock, extra=["--debug"])
    c = StreamClient(sock)
    c.send_raw(b"".join(struct.pack("!I", len(f)) + f for f in (
        echo_request(GW_V4, 9, seq, bytes([seq]) * 60000) for seq in range(30))))
    wait_log(passt, r"partial write, the rest of a frame")
    seqs = []
    while True:
        try:
            f = c.recv_frame(timeout=1)
        except FrameTimeout:
            break
        assert f is not None, "passt closed the connection"
        if f[12:14] == b"\x08\x00":
            assert is_echo_reply(GW_V4, 9, f[41])(f), f[:64].hex()
            assert f[42:] == bytes([f[41]]) * 60000, "payload of another frame"
            seqs.append(f[41])
    assert seqs and seqs == sorted(seqs), seqs
    c.send_frame(arp_request())
    c.wait_frame(is_arp_reply_for(GW_V4))
    c.close()
    assert passt.alive(), passt.output()


def test_one_qemu_at_a_time(topo, bins, free_tmp_path):
    sock = free_tmp_path("passt.socket")
    passt = start_passt(topo, bins, sock)
    first = StreamClient(sock)
    first.wait_frame(lambda f: True)  # accepted
    second = StreamClient(sock)
    second.wait_eof(timeout=5)  # closed at once
    second.close()
    wait_log(passt, r"already connected, refusing")
    first.send_frame(arp_request())
    first.wait_frame(is_arp_reply_for(GW_V4))
    first.close()
    wait_log(passt, r"qemu disconnected")
    assert served(sock)


# --------------------------------------------------------------------------------------------
# ICMP echo through ping sockets


def _csum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    return ~total & 0xffff


def echo_request(dst, ident, seq, payload):
    """An ICMP/ICMPv6 echo request frame from the guest (192.0.2.2 / 2001:db8::2) to dst."""
    if ":" not in dst:
        icmp = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + payload
        icmp = icmp[:2] + struct.pack("!H", _csum(icmp)) + icmp[4:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), 1, 0x4000, 64, 1, 0,
                         socket.inet_aton(HOST_V4), socket.inet_aton(dst))
        ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
        return OUR_MAC + CLIENT_MAC + b"\x08\x00" + ip + icmp
    src6, dst6 = socket.inet_pton(socket.AF_INET6, "2001:db8::2"), socket.inet_pton(
        socket.AF_INET6, dst)
    icmp = struct.pack("!BBHHH", 128, 0, 0, ident, seq) + payload
    pseudo = src6 + dst6 + struct.pack("!I3xB", len(icmp), 58)
    icmp = icmp[:2] + struct.pack("!H", _csum(pseudo + icmp)) + icmp[4:]
    ip = struct.pack("!IHBB", 0x60000000, len(icmp), 58, 64) + src6 + dst6
    return OUR_MAC + CLIENT_MAC + b"\x86\xdd" + ip + icmp


def is_echo_reply(src, ident, seq):
    """Predicate: the echo reply from src to the guest, with the guest's identifier and seq."""
    def pred(f):
        if f[0:6] != CLIENT_MAC or f[6:12] != OUR_MAC:
            return False
        if ":" not in src:
            if f[12:14] != b"\x08\x00" or f[14 + 9] != 1:
                return False
            if f[26:30] != socket.inet_aton(src) or f[30:34] != socket.inet_aton(HOST_V4):
                return False
            icmp = f[14 + (f[14] & 0xf) * 4:]
            return icmp[0] == 0 and struct.unpack("!HH", icmp[4:8]) == (ident, seq)
        if f[12:14] != b"\x86\xdd" or f[14 + 6] != 58:
            return False
        if f[22:38] != socket.inet_pton(socket.AF_INET6, src):
            return False
        icmp = f[54:]
        return icmp[0] == 129 and struct.unpack("!HH", icmp[4:8]) == (ident, seq)
    return pred


def test_ping(topo, bins, free_tmp_path):
    sock = free_tmp_path("passt.socket")
    passt = start_passt(topo, bins, sock)
    c = StreamClient(sock)
    payload = b"bpasst ping payload 0123456789"
    # The gateway is the host itself (mapped to loopback); the "server" is in topo.remote.
    for n, dst in enumerate([GW_V4, "203.0.113.1", "2001:db8::1", "2001:db8:1::1"]):
        for seq in (1, 2):
            c.send_frame(echo_request(dst, 0x4242 + n, seq, payload))
            reply = c.wait_frame(is_echo_reply(dst, 0x4242 + n, seq), timeout=5)
            if ":" not in dst:
                icmp = reply[14 + (reply[14] & 0xf) * 4:]
                assert _csum(reply[14:34]) == 0, "bad IPv4 header checksum"
                assert _csum(icmp) == 0, "bad ICMP checksum"
            else:
                icmp = reply[54:]
                pseudo = reply[22:54] + struct.pack("!I3xB", len(icmp), 58)
                assert _csum(pseudo + icmp) == 0, "bad ICMPv6 checksum"
            assert icmp[8:] == payload
    c.close()
    assert passt.alive(), passt.output()


def test_ping_not_permitted(topo, bins, free_tmp_path):
    # Nobody may open ping sockets in topo.host now: the request is dropped, said once.
    topo.run(topo.host, ["sysctl", "-q", "-w", "net.ipv4.ping_group_range=1 0"])
    sock = free_tmp_path("passt.socket")
    passt = start_passt(topo, bins, sock)
    c = StreamClient(sock)
    for seq in (1, 2, 3):
        c.send_frame(echo_request(GW_V4, 7, seq, b"x" * 8))
    c.send_frame(arp_request())  # still served, after the pings
    c.wait_frame(is_arp_reply_for(GW_V4))
    c.close()
    wait_log(passt, r"ping sockets are not permitted")
    assert len(re.findall(r"ping sockets are not permitted", passt.output())) == 1, \
        passt.output()


# --------------------------------------------------------------------------------------------
# process behaviour


def test_background_pid_file_default_socket(topo, bins):
    pid_file = topo.tmp_path("passt.pid")
    r = topo.run(topo.host, [bins.passt, "-P", pid_file], timeout=20, check=False)
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
    m = re.search(r"UNIX domain socket bound at (/tmp/passt_(\d+)\.socket)", r.stderr)
    assert m, r.stderr
    sock = m.group(1)
    assert re.search(r"-netdev stream,id=s,server=off,addr.type=unix,addr.path=" +
                     re.escape(sock), r.stderr), r.stderr
    with open(pid_file) as f:
        pid = int(f.read().strip())
    topo.add_cleanup(lambda: _pid_alive(pid) and os.kill(pid, signal.SIGKILL))
    assert _pid_alive(pid)
    assert os.path.exists(sock)
    # Started as root: it runs as nobody now.
    with open(f"/proc/{pid}/status") as f:
        uids = re.search(r"^Uid:\s+(\d+)\s+(\d+)\s+(\d+)", f.read(), re.MULTILINE).groups()
    assert uids == ("65534",) * 3, uids
    assert served(sock)
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not _pid_alive(pid), timeout=5, what="passt to exit on SIGTERM")
    assert not os.path.exists(sock), "socket left behind"
    assert not os.path.exists(pid_file), "pid file left behind"


def test_inherited_fd(topo, bins):
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    argv = ["ip", "netns", "exec", topo.host, bins.passt, "-f", "--fd", str(theirs.fileno())]
    p = subprocess.Popen(argv, pass_fds=[theirs.fileno()], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         env=user_env(None, topo.tmpdir), start_new_session=True)
    topo.add_cleanup(lambda: p.poll() is None and p.kill())
    theirs.close()
    c = StreamClient(sock=ours)
    c.send_frame(arp_request())
    c.wait_frame(is_arp_reply_for(GW_V4))
    c.close()
    out, _ = p.communicate(timeout=10)
    assert p.returncode == 0, out.decode()


def test_one_off(topo, bins, free_tmp_path):
    sock = free_tmp_path("passt.socket")
    passt = start_passt(topo, bins, sock, extra=["-1"])
    assert served(sock)
    assert passt.wait(timeout=10) == 0, passt.output()
