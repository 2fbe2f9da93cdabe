# SPDX-License-Identifier: GPL-2.0-or-later
"""pasta's automatic port forwarding: -t auto, -u auto, -T auto, -U auto (flow/fwd_auto.c).

Theory of operation
-------------------
pasta runs a small controller (AUTO_PY, mode "ctl") as its command inside the namespace; the test
writes numbered commands to its stdin ("7 serve tcp v4 20011") and waits for the numbered answer
on its output ("7 SERVING"). The controller starts and stops echo servers (TCP: echo what arrives;
UDP: answer each datagram with itself) and runs probes from inside the namespace. Probes on the
host side are the same script run in the host namespace (mode "probe"), and host-side servers for
-T/-U are the same script again (mode "serve").

A probe loops for a bounded time and prints what it saw:
  up      connect (TCP: send a token, read it back; UDP: connected socket, send a token, wait
          0.2 s for it): UP <seconds> as soon as the echo comes back, NOTUP <last error> at the
          deadline;
  down    TCP: until connect() is refused (ECONNREFUSED; a reset after an accept by our listener
          does not count), UDP: until send/recv report ECONNREFUSED (the ICMP port unreachable of a
          kernel with nothing bound there): DOWN <seconds>, or NOTDOWN;
  stays   for the whole time, every attempt must be refused: STAYED, or REACHED <what>.
So "reachable within 2 s" is `up` with a 2 s deadline started right after the server reported
that it listens, and "no longer forwarded" is `down` (3 s: the rescan runs every second, and the
probe needs one more attempt).

Cases, IPv4 and IPv6, as root and as the unprivileged user (pasta then makes its own user
namespace):
  - -t auto: a TCP server started in the namespace after pasta is reachable from the host's
    loopback (splice path) and from the host's own address (tap path); after it closes, refused;
  - -u auto: the same with UDP datagrams;
  - -T auto / -U auto: a server started on the host after pasta is reachable from the namespace's
    loopback, and refused after it closes;
  - exclusions: -t auto -t ~P: P is never forwarded while another port is;
  - no loops: -t auto -T 20090: our own -T listener in the namespace is not forwarded back to the
    host; -T auto -t 20091: our own -t listener on the host is not listened on in the namespace;
    -t auto -T auto with an IPv4-only namespace server: the host gets the port, the namespace's
    ::1 does not get a listener that would lead back into it;
  - bad usages: clear error, exit status 1.
"""

import os
import re
import time

import pytest

from helpers import HOST_V4, HOST_V6

AUTO_PY = r'''
import errno, os, select, socket, sys, threading, time

FAMS = {"v4": (socket.AF_INET, "0.0.0.0"), "v6": (socket.AF_INET6, "::")}
servers = {}


def echo_tcp_conn(c):
    try:
        while True:
            d = c.recv(65536)
            if not d:
                break
            c.sendall(d)
    except OSError:
        pass
    finally:
        c.close()


def tcp_loop(s, conns):
    while True:
        try:
            c, _ = s.accept()
        except OSError:
            return
        conns.append(c)
        threading.Thread(target=echo_tcp_conn, args=(c,), daemon=True).start()


def udp_loop(s):
    while True:
        try:
            d, a = s.recvfrom(65536)
            if a is None:  # shut down by stop()
                return
            s.sendto(d, a)
        except OSError:
            return


def serve(proto, fam, port, addr=None):
    af, wild = FAMS[fam]
    s = socket.socket(af, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if af == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr or wild, port))
    conns = []
    if proto == "tcp":
        s.listen(64)
        threading.Thread(target=tcp_loop, args=(s, conns), daemon=True).start()
    else:
        threading.Thread(target=udp_loop, args=(s,), daemon=True).start()
    servers[(proto, fam, port)] = (s, conns)


def stop(proto, fam, port):
    s, conns = servers.pop((proto, fam, port))
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    s.close()
    for c in conns:
        try:
            c.close()
        except OSError:
            pass


def attempt(proto, host, port, token):
    """'ok', 'refused', or another outcome (a string)."""
    af = socket.AF_INET6 if ":" in host else socket.AF_INET
    if proto == "tcp":
        s = socket.socket(af, socket.SOCK_STREAM)
        s.settimeout(0.5)
        try:
            s.connect((host, port))
            s.sendall(token)
            got = b""
            while len(got) < len(token):
                d = s.recv(len(token) - len(got))
                if not d:
                    return "eof"
                got += d
            return "ok" if got == token else "mismatch"
        except ConnectionRefusedError:
            return "refused"
        except OSError as e:
            return type(e).__name__ + ":" + str(e)
        finally:
            s.close()
    s = socket.socket(af, socket.SOCK_DGRAM)
    s.settimeout(0.2)
    try:
        s.connect((host, port))
        s.send(token)
        d = s.recv(65536)
        return "ok" if d == token else "mismatch"
    except ConnectionRefusedError:
        return "refused"
    except socket.timeout:
        # an ICMP error may arrive after our wait: a second send reports it
        try:
            s.send(token)
            d = s.recv(65536)
            return "ok" if d == token else "mismatch"
        except ConnectionRefusedError:
            return "refused"
        except OSError as e:
            return type(e).__name__
    except OSError as e:
        return type(e).__name__ + ":" + str(e)
    finally:
        s.close()


def probe(mode, proto, host, port, limit):
    t0 = time.monotonic()
    n = 0
    last = "none"
    while True:
        n += 1
        r = attempt(proto, host, port, b"token-%d-%d" % (os.getpid(), n))
        el = time.monotonic() - t0
        if mode == "up" and r == "ok":
            return "UP %.3f" % el
        if mode == "down" and r == "refused":
            return "DOWN %.3f" % el
        if mode == "stays" and r != "refused":
            return "REACHED %s" % r
        last = r
        if el > limit:
            return {"up": "NOTUP %s", "down": "NOTDOWN %s", "stays": "STAYED %s"}[mode] % last
        time.sleep(0.05)


def ctl():
    print("READY", flush=True)
    for line in sys.stdin:
        w = line.split()
        if not w:
            continue
        n, cmd, args = w[0], w[1], w[2:]
        try:
            if cmd == "serve":
                serve(args[0], args[1], int(args[2]), args[3] if len(args) > 3 else None)
                out = "SERVING"
            elif cmd == "stop":
                stop(args[0], args[1], int(args[2]))
                out = "STOPPED"
            elif cmd == "probe":
                out = probe(args[0], args[1], args[2], int(args[3]), float(args[4]))
            elif cmd == "quit":
                print(n, "BYE", flush=True)
                return
            else:
                out = "BADCMD"
        except Exception as e:  # reported, the test decides
            out = "ERROR %r" % (e,)
        print(n, out, flush=True)


if sys.argv[1] == "ctl":
    ctl()
elif sys.argv[1] == "probe":
    print(probe(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), float(sys.argv[6])),
          flush=True)
elif sys.argv[1] == "serve":
    serve(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] if len(sys.argv) > 5 else None)
    print("SERVING", flush=True)
    while True:
        time.sleep(3600)
'''

UP_LIMIT = 2.0  # the issue: reachable within 2 s
DOWN_LIMIT = 3.0  # "no longer forwarded after it closes": one rescan, and one more attempt
LO = {"v4": "127.0.0.1", "v6": "::1"}
HOST_ADDR = {"v4": HOST_V4, "v6": HOST_V6}


@pytest.fixture(scope="module", autouse=True)
def tun_world_accessible():
    st = os.stat("/dev/net/tun")
    if st.st_mode & 0o666 != 0o666:
        os.chmod("/dev/net/tun", 0o666)


@pytest.fixture
def auto_py(free_tmp_path):
    path = free_tmp_path("autofwd.py")
    with open(path, "w") as f:
        f.write(AUTO_PY)
    os.chmod(path, 0o644)
    return path


class Ctl:
    """pasta running the controller; cmd() sends a numbered command, returns its answer."""

    def __init__(self, topo, bins, auto_py, opts, user):
        import subprocess
        self.n = 0
        self.p = topo.spawn(topo.host, [bins.pasta, "--config-net", "-d", *opts, "--",
                                        "/usr/bin/python3", auto_py, "ctl"],
                            user=user, stdin=subprocess.PIPE)
        self.p.wait_for_output(r"^READY", timeout=20)

    def cmd(self, *words, timeout=20):
        self.n += 1
        line = f"{self.n} " + " ".join(str(w) for w in words) + "\n"
        self.p.stdin.write(line.encode())
        self.p.stdin.flush()
        m = self.p.wait_for_output(rf"^{self.n} (\S.*)\n", timeout=timeout)
        return m.group(1)


def host_probe(topo, auto_py, mode, proto, host, port, limit):
    r = topo.run(topo.host, ["/usr/bin/python3", auto_py, "probe", mode, proto, host, str(port),
                             str(limit)], timeout=limit + 20, check=False)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def assert_up(res, what):
    assert res.startswith("UP "), f"{what}: not reachable within {UP_LIMIT} s: {res}"
    assert float(res.split()[1]) <= UP_LIMIT, f"{what}: {res}"


def assert_down(res, what):
    assert res.startswith("DOWN "), f"{what}: still forwarded {DOWN_LIMIT} s after close: {res}"


def pasta_log(ctl):
    return ctl.p.output()


# ---------------------------------------------------------------------------------------------
# -t auto / -u auto: namespace servers, reached from the host


@pytest.mark.parametrize("fam", ["v4", "v6"])
@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_in_auto_follows_namespace_server(topo, bins, daemon_user, auto_py, proto, fam):
    """A server started in the namespace after pasta: reachable from the host (loopback and
    the host's address) within 2 s; refused within ~2 s after it closes."""
    port = 20011 if proto == "tcp" else 20012
    opt = "-t" if proto == "tcp" else "-u"
    ctl = Ctl(topo, bins, auto_py, [opt, "auto"], daemon_user)
    # nothing bound yet: nothing forwarded
    assert host_probe(topo, auto_py, "stays", proto, LO[fam], port, 0.3).startswith("STAYED"), \
        "forwarded before anything was bound"

    assert ctl.cmd("serve", proto, fam, port) == "SERVING"
    assert_up(host_probe(topo, auto_py, "up", proto, LO[fam], port, UP_LIMIT),
              f"{opt} auto, host {LO[fam]}")
    # the tap path too (the host's own address: not a loopback peer)
    assert_up(host_probe(topo, auto_py, "up", proto, HOST_ADDR[fam], port, UP_LIMIT),
              f"{opt} auto, host {HOST_ADDR[fam]}")

    assert ctl.cmd("stop", proto, fam, port) == "STOPPED"
    assert_down(host_probe(topo, auto_py, "down", proto, LO[fam], port, DOWN_LIMIT),
                f"{opt} auto after close, {LO[fam]}")
    assert_down(host_probe(topo, auto_py, "down", proto, HOST_ADDR[fam], port, DOWN_LIMIT),
                f"{opt} auto after close, {HOST_ADDR[fam]}")

    # and back again: the port is followed, not remembered
    assert ctl.cmd("serve", proto, fam, port) == "SERVING"
    assert_up(host_probe(topo, auto_py, "up", proto, LO[fam], port, UP_LIMIT),
              f"{opt} auto, server started again")
    log = pasta_log(ctl)
    assert re.search(rf"auto forwarding: {opt} {proto.upper()} port {port} ", log), log[-3000:]
    assert re.search(rf"auto forwarding: {opt} port {port} .*no longer bound", log), log[-3000:]
    assert ctl.cmd("quit") == "BYE"


# ---------------------------------------------------------------------------------------------
# -T auto / -U auto: host servers, reached from the namespace


@pytest.mark.parametrize("fam", ["v4", "v6"])
@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_out_auto_follows_host_server(topo, bins, daemon_user, auto_py, proto, fam):
    """A server started on the host after pasta: reachable from the namespace's loopback within
    2 s; refused within ~2 s after it stops."""
    port = 20021 if proto == "tcp" else 20022
    opt = "-T" if proto == "tcp" else "-U"
    ctl = Ctl(topo, bins, auto_py, [opt, "auto"], daemon_user)
    assert ctl.cmd("probe", "stays", proto, LO[fam], port, 0.3).startswith("STAYED"), \
        "forwarded before anything was bound"

    srv = topo.spawn(topo.host, ["/usr/bin/python3", auto_py, "serve", proto, fam, str(port),
                                 LO[fam]])
    srv.wait_for_output(r"^SERVING", timeout=15)
    assert_up(ctl.cmd("probe", "up", proto, LO[fam], port, UP_LIMIT),
              f"{opt} auto, namespace {LO[fam]}")

    srv.terminate()
    assert_down(ctl.cmd("probe", "down", proto, LO[fam], port, DOWN_LIMIT),
                f"{opt} auto after the host server stopped")
    assert ctl.cmd("quit") == "BYE"


# ---------------------------------------------------------------------------------------------
# exclusions


@pytest.mark.parametrize("spec", [("-t", "auto", "-t", "~20031"), ("-t", "~20031,auto")],
                         ids=["separate", "same-spec"])
def test_exclusion_honoured(topo, bins, auto_py, spec):
    """-t auto with ~20031: 20032 is forwarded, 20031 never (checked over three rescans)."""
    ctl = Ctl(topo, bins, auto_py, list(spec), None)
    assert ctl.cmd("serve", "tcp", "v4", 20031) == "SERVING"
    assert ctl.cmd("serve", "tcp", "v4", 20032) == "SERVING"
    assert_up(host_probe(topo, auto_py, "up", "tcp", "127.0.0.1", 20032, UP_LIMIT),
              "the port not excluded")
    res = host_probe(topo, auto_py, "stays", "tcp", "127.0.0.1", 20031, 3.0)
    assert res.startswith("STAYED"), f"excluded port 20031 was forwarded: {res}"


def test_udp_auto_also_follows_tcp_ports(topo, bins, auto_py):
    """As upstream: -u auto also forwards UDP for ports with a TCP listener (iperf3's control
    and data ports); seen here as a host listener on that UDP port."""
    ctl = Ctl(topo, bins, auto_py, ["-u", "auto"], None)
    assert ctl.cmd("serve", "tcp", "v4", 20041) == "SERVING"

    def udp_bound():
        r = topo.run(topo.host, ["ss", "-Hlun", "sport = :20041"], check=False)
        return "20041" in r.stdout
    t0 = time.monotonic()
    while not udp_bound():
        assert time.monotonic() - t0 < UP_LIMIT + 1, "no UDP listener for the TCP port"
        time.sleep(0.1)


# ---------------------------------------------------------------------------------------------
# no loops through our own listeners


def test_no_loop_t_auto_with_static_T(topo, bins, auto_py):
    """-t auto -T 20090: the namespace's 127.0.0.1:20090 is our own -T listener; -t auto must not
    open a host listener for it (which would lead into it, and back to the host)."""
    ctl = Ctl(topo, bins, auto_py, ["-t", "auto", "-T", "20090"], None)
    assert ctl.cmd("serve", "tcp", "v4", 20092) == "SERVING"
    assert_up(host_probe(topo, auto_py, "up", "tcp", "127.0.0.1", 20092, UP_LIMIT),
              "a real namespace server")
    time.sleep(1.2)  # at least one more rescan after the one that found 20092
    r = topo.run(topo.host, ["ss", "-Hltn", "sport = :20090"], check=False)
    assert "20090" not in r.stdout, f"-t auto forwarded our own -T listener: {r.stdout}"
    assert "auto forwarding: -t TCP port 20090" not in pasta_log(ctl)


def test_no_loop_T_auto_with_static_t(topo, bins, auto_py):
    """-T auto -t 20091: our own -t listener on the host must not get a namespace listener
    (127.0.0.1:20091 in the namespace stays refused instead of looping)."""
    ctl = Ctl(topo, bins, auto_py, ["-T", "auto", "-t", "20091"], None)
    srv = topo.spawn(topo.host, ["/usr/bin/python3", auto_py, "serve", "tcp", "v4", "20093",
                                 "127.0.0.1"])
    srv.wait_for_output(r"^SERVING", timeout=15)
    assert_up(ctl.cmd("probe", "up", "tcp", "127.0.0.1", 20093, UP_LIMIT), "a real host server")
    res = ctl.cmd("probe", "stays", "tcp", "127.0.0.1", 20091, 2.5)
    assert res.startswith("STAYED"), f"-T auto listened on our own -t port: {res}"
    assert "auto forwarding: -T TCP port 20091" not in pasta_log(ctl)


def test_no_loop_both_auto(topo, bins, auto_py):
    """-t auto -T auto, an IPv4-only server in the namespace: the host gets a listener; -T auto
    sees that listener on the host and must not listen on the namespace's free ::1 port, which
    would lead back to the host's listener and so into itself."""
    ctl = Ctl(topo, bins, auto_py, ["-t", "auto", "-T", "auto"], None)
    assert ctl.cmd("serve", "tcp", "v4", 20094) == "SERVING"
    assert_up(host_probe(topo, auto_py, "up", "tcp", "127.0.0.1", 20094, UP_LIMIT),
              "-t auto with -T auto")
    res = ctl.cmd("probe", "stays", "tcp", "::1", 20094, 2.5)
    assert res.startswith("STAYED"), f"a loop: the namespace's ::1:20094 answered: {res}"
    assert "auto forwarding: -T TCP port 20094" not in pasta_log(ctl)


# ---------------------------------------------------------------------------------------------
# bad usages


@pytest.mark.parametrize("argv,msg", [
    (["passt", "-t", "auto"], "'auto' is for pasta only"),
    (["passt", "-u", "auto"], "'auto' is for pasta only"),
    (["pasta", "-t", "80,auto"], "'auto' takes only exclusions"),
    (["pasta", "-u", "auto", "-u", "53"], "'auto' takes only exclusions"),
    (["pasta", "-T", "127.0.0.1/auto"], "'auto' cannot be bound to an address"),
    (["pasta", "-t", "auto", "-t", "none"], "'none' conflicts"),
    (["pasta", "-t", "8080", "-T", "8080"], "loop through our own listeners"),
    (["pasta", "-u", "5000:6000", "-U", "6000"], "loop through our own listeners"),
], ids=["passt-t", "passt-u", "t-ports-and-auto", "u-auto-and-port", "T-bound", "auto-none",
        "t-T-loop", "u-U-loop"])
def test_bad_auto_usage(topo, bins, argv, msg):
    prog = bins.pasta if argv[0] == "pasta" else bins.passt
    r = topo.run(topo.host, [prog, *argv[1:], "--", "/bin/true"] if argv[0] == "pasta"
                 else [prog, "-f", *argv[1:]], check=False, timeout=20)
    assert r.returncode == 1, f"{argv}: exit {r.returncode}\n{r.stderr}"
    assert msg in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
