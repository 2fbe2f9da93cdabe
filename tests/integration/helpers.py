# SPDX-License-Identifier: GPL-2.0-or-later
"""Integration-test helpers: namespaces, processes, readiness polling.

Theory of operation
-------------------
A Topology is two network namespaces joined by one veth pair:

    [host ns "bph-<pid>-<n>"]                      [remote ns "bpr-<pid>-<n>"]
    veth0 192.0.2.2/24, 2001:db8::2/64  <--veth-->  veth0 192.0.2.1/24, 2001:db8::1/64
    default via 192.0.2.1 / 2001:db8::1             lo: 203.0.113.1/32, 2001:db8:1::1/128
                                                    (no default route: nothing leaves)

The host namespace plays the machine that runs passt/pasta; the remote namespace plays "the
internet" with server addresses on its loopback. Only documentation addresses are used, and the
remote namespace has no route beyond its own links, so no packet can leave the machine.

State kept: each Topology remembers the namespaces it created, the per-case temporary directory
and every process it spawned (Proc).  Topology.close() runs the cleanup, in this order, and is
safe to call twice:
  1. every spawned process and its descendants: SIGTERM, wait up to 5 s, then SIGKILL, by PID;
  2. any process still living inside one of our namespaces (e.g. a daemon that forked into the
     background), found by comparing /proc/PID/ns/net with the namespace inode: same treatment;
  3. `ip netns del` for both namespaces, then /etc/netns/<name> and the temporary directory;
  4. reap_orphans(): with enable_subreaper() (conftest does it), anything that daemonized or was
     orphaned by a killed parent was re-parented to the pytest process; it is killed by PID.

Proc collects a child's stdout+stderr on a reader thread into a buffer, so pipes never fill up
and readiness can be awaited with wait_for_output(regex) rather than fixed sleeps.
"""

import ctypes
import errno
import itertools
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import pytest

UNPRIV_USER = "bpasst-test"

HOST_V4 = "192.0.2.2"
HOST_V6 = "2001:db8::2"
GW_V4 = "192.0.2.1"
GW_V6 = "2001:db8::1"
REMOTE_V4 = GW_V4
REMOTE_V6 = GW_V6
SERVER_V4 = "203.0.113.1"
SERVER_V6 = "2001:db8:1::1"
NAMESERVER = "198.51.100.53"
SEARCH_DOMAIN = "example.test"

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_ns_counter = itertools.count(1)


def wait_for(pred, timeout=10, interval=0.05, what="condition"):
    """Poll pred() until it returns something truthy; return that value.

    Raises AssertionError naming `what` when `timeout` seconds pass first.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


# --------------------------------------------------------------------------------------------
# processes


def _children_map():
    """Map pid -> list of child pids, from /proc/*/stat."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name is in parentheses and may contain spaces; ppid follows the state.
        rest = stat[stat.rfind(")") + 2:].split()
        if len(rest) < 2:
            continue
        children.setdefault(int(rest[1]), []).append(int(entry))
    return children


def descendants(pid):
    """All descendant pids of pid (not including pid itself)."""
    tree = _children_map()
    out, todo = [], list(tree.get(pid, []))
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(tree.get(p, []))
    return out


def _pid_alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    state = stat[stat.rfind(")") + 2:].split()[0]
    return state not in ("Z", "X")


def kill_pids(pids, grace=5.0):
    """SIGTERM each pid, wait up to `grace` seconds, then SIGKILL the survivors. By PID only."""
    pids = [p for p in pids if p > 1 and p != os.getpid()]
    for p in pids:
        try:
            os.kill(p, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_pid_alive(p) for p in pids):
        time.sleep(0.02)
    for p in pids:
        if _pid_alive(p):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass


_PR_SET_CHILD_SUBREAPER = 36


def enable_subreaper():
    """Make this process the subreaper of everything it starts.

    A daemon that forks into the background (passt without -f, or a misbehaving pasta) is then
    re-parented to us instead of init, so reap_orphans() can find it: nothing a case starts can
    outlive the case.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def _popen_pids():
    """Pids of every subprocess.Popen object alive in this interpreter (ours or a test's own)."""
    import gc
    return {o.pid for o in gc.get_objects() if isinstance(o, subprocess.Popen)}


def reap_orphans(grace=5.0):
    """Kill (by PID) and reap our children that no Popen object owns, with their descendants.

    Such a child can only be an orphan re-parented to us (we are the subreaper): a daemon that
    forked away from what we started, or the child of a process we killed.  Children that some
    Popen object owns (a Proc, or a test's own subprocess) are left alone.  Only meaningful after
    enable_subreaper(); returns the pids it killed.
    """
    me = os.getpid()
    tree = _children_map()
    kids = tree.get(me, [])
    if not kids:
        return []
    owned = _popen_pids()
    orphans = [p for p in kids if p not in owned]
    victims = []
    for p in orphans:
        victims.append(p)
        todo = list(tree.get(p, []))
        while todo:
            q = todo.pop()
            victims.append(q)
            todo.extend(tree.get(q, []))
    if victims:
        kill_pids(victims, grace=grace)
    for p in orphans:
        try:
            os.waitpid(p, os.WNOHANG)
        except ChildProcessError:
            pass
    return victims


class Proc:
    """A spawned process (subprocess.Popen wrapper) whose output is collected on a thread."""

    def __init__(self, argv, env=None, stdin=None, stdout=subprocess.PIPE, name=None):
        self.argv = list(argv)
        self.name = name or os.path.basename(str(self.argv[0]))
        self._buf = []
        self._cond = threading.Condition()
        self._eof = stdout != subprocess.PIPE
        self.popen = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL if stdin is None else stdin,
            stdout=stdout,
            stderr=subprocess.STDOUT if stdout == subprocess.PIPE else None,
            env=env,
            start_new_session=True,
        )
        self.pid = self.popen.pid
        self.stdin = self.popen.stdin
        self._reader = None
        if stdout == subprocess.PIPE:
            self._reader = threading.Thread(target=self._read, daemon=True)
            self._reader.start()

    def _read(self):
        fd = self.popen.stdout.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            with self._cond:
                if not chunk:
                    self._eof = True
                    self._cond.notify_all()
                    break
                self._buf.append(chunk.decode("utf-8", "replace"))
                self._cond.notify_all()
        try:
            self.popen.stdout.close()
        except OSError:
            pass

    def output(self):
        """Everything the process wrote to stdout/stderr so far."""
        with self._cond:
            return "".join(self._buf)

    def _poll(self):
        return self.popen.poll()

    @property
    def returncode(self):
        return self._poll()

    def alive(self):
        return self._poll() is None

    def wait(self, timeout=30):
        """Wait for exit; return the exit status (raises subprocess.TimeoutExpired)."""
        rc = self.popen.wait(timeout=timeout)
        if self._reader is not None:
            self._reader.join(timeout=5)
        return rc

    def wait_for_output(self, regex, timeout=10):
        """Wait until the collected output matches regex (re.MULTILINE); return the match.

        Fails at once, with the output, if the process closes its output without a match.
        """
        pattern = re.compile(regex, re.MULTILINE)
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                text = "".join(self._buf)
                m = pattern.search(text)
                if m:
                    return m
                eof = self._eof
                left = deadline - time.monotonic()
                if not eof and left > 0:
                    self._cond.wait(min(left, 0.5))
                    continue
            if eof:
                try:
                    rc = self.popen.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    rc = None
                raise AssertionError(
                    f"{self.name} (pid {self.pid}) closed its output (exit status {rc}) "
                    f"without printing /{regex}/; output was:\n{text}")
            raise AssertionError(
                f"timed out after {timeout} s waiting for /{regex}/ from {self.name} "
                f"(pid {self.pid}); output so far:\n{text}")

    def terminate(self, grace=5.0):
        """SIGTERM this process and its descendants, SIGKILL after `grace` s; reap it."""
        if self.popen.poll() is None:
            kill_pids([self.pid] + descendants(self.pid), grace=grace)
        try:
            self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        if self._reader is not None:
            self._reader.join(timeout=2)
        return self._poll()

    def kill(self):
        """SIGKILL this process (not its descendants)."""
        if self.popen.poll() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def __repr__(self):
        return f"<Proc {self.name} pid={self.pid} rc={self.popen.poll()}>"


# --------------------------------------------------------------------------------------------
# users


def user_ids(user):
    """(uid, gid) of a user name."""
    import pwd
    pw = pwd.getpwnam(user)
    return pw.pw_uid, pw.pw_gid


def ensure_user(name=UNPRIV_USER):
    """Create the unprivileged test user if missing (system user, no home, no login shell)."""
    import pwd
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "-r", "-M", "-s", "/usr/sbin/nologin", name], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return name


def as_user(argv, user):
    """Prefix argv with setpriv to run it as `user` (None: unchanged)."""
    if user is None:
        return list(argv)
    return ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--"] + list(argv)


def user_env(user, home, base=None):
    """Environment for a process run as `user`: the caller's, with HOME/USER/LOGNAME adjusted."""
    env = dict(os.environ if base is None else base)
    if user is not None:
        env["HOME"] = home
        env["USER"] = user
        env["LOGNAME"] = user
        env.pop("XDG_RUNTIME_DIR", None)
        # root's PATH may start with directories the user cannot read (e.g. ~root/.pyenv)
        env["PATH"] = SYSTEM_PATH
    return env


# --------------------------------------------------------------------------------------------
# BPF


_BPF_MAP_CREATE = 0
_BPF_MAP_TYPE_ARRAY = 2
_NR_BPF = {"x86_64": 321, "aarch64": 280, "riscv64": 280, "s390x": 351, "ppc64le": 361}


def bpf_permitted():
    """(True, "") if the bpf() syscall can create a map here, else (False, reason)."""
    if os.geteuid() != 0:
        return False, "not running as root"
    nr = _NR_BPF.get(os.uname().machine)
    if nr is None:
        return False, f"unknown bpf() syscall number on {os.uname().machine}"
    libc = ctypes.CDLL(None, use_errno=True)
    # union bpf_attr for BPF_MAP_CREATE: map_type, key_size, value_size, max_entries (u32 each)
    attr = (ctypes.c_uint32 * 32)()
    attr[0], attr[1], attr[2], attr[3] = _BPF_MAP_TYPE_ARRAY, 4, 4, 1
    fd = libc.syscall(ctypes.c_long(nr), ctypes.c_int(_BPF_MAP_CREATE), ctypes.byref(attr),
                      ctypes.c_uint(ctypes.sizeof(attr)))
    if fd < 0:
        e = ctypes.get_errno()
        return False, f"bpf(BPF_MAP_CREATE) failed: {errno.errorcode.get(e, e)} ({os.strerror(e)})"
    os.close(fd)
    return True, ""


def require_root_bpf():
    """pytest.skip() with a visible reason unless we are root and bpf() works."""
    ok, reason = bpf_permitted()
    if not ok:
        pytest.skip(f"BPF not permitted: {reason}")


# --------------------------------------------------------------------------------------------
# namespaces


def _run(argv, check=True, timeout=30):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({r.returncode}): {r.stderr.strip()}")
    return r


def netns_path(ns):
    return f"/run/netns/{ns}"


def netns_pids(ns):
    """Pids of processes whose network namespace is `ns` (by inode comparison)."""
    try:
        st = os.stat(netns_path(ns))
    except OSError:
        return []
    want = f"net:[{st.st_ino}]"
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry}/ns/net") == want:
                pids.append(int(entry))
        except OSError:
            continue
    return pids


def netns_exists(ns):
    return os.path.exists(netns_path(ns))


def delete_netns(ns):
    """Kill what lives in ns (by PID), delete it and its /etc/netns directory."""
    if netns_exists(ns):
        kill_pids(netns_pids(ns))
        _run(["ip", "netns", "del", ns], check=False)
    shutil.rmtree(f"/etc/netns/{ns}", ignore_errors=True)


def sweep_stale_namespaces():
    """Delete bph-/bpr- namespaces left by earlier test runs whose pytest process is gone."""
    try:
        names = os.listdir("/run/netns")
    except OSError:
        return
    for ns in names:
        m = re.fullmatch(r"bp[hr]-(\d+)-\d+", ns)
        if m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
            delete_netns(ns)


class Topology:
    """Host + remote namespaces joined by veth, with documentation addresses (see module doc)."""

    def __init__(self, tmp_root=None):
        n = next(_ns_counter)
        self.host = f"bph-{os.getpid()}-{n}"
        self.remote = f"bpr-{os.getpid()}-{n}"
        self.procs = []
        self._cleanups = []
        self._closed = False
        self.tmpdir = tempfile.mkdtemp(prefix="bpasst-", dir=tmp_root)
        os.chmod(self.tmpdir, 0o1777)
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    def _build(self):
        H, R = self.host, self.remote
        for ns in (H, R):
            delete_netns(ns)
            _run(["ip", "netns", "add", ns])
            # No duplicate address detection: addresses are usable at once, no sleeps needed.
            self._sysctl(ns, "net.ipv6.conf.all.accept_dad", "0")
            self._sysctl(ns, "net.ipv6.conf.default.accept_dad", "0")
            self._sysctl(ns, "net.ipv4.ping_group_range", "0 2147483647")
            _run(["ip", "-n", ns, "link", "set", "lo", "up"])
        _run(["ip", "-n", H, "link", "add", "veth0", "type", "veth",
              "peer", "name", "veth0", "netns", R])
        _run(["ip", "-n", H, "addr", "add", f"{HOST_V4}/24", "dev", "veth0"])
        _run(["ip", "-n", H, "addr", "add", f"{HOST_V6}/64", "dev", "veth0", "nodad"])
        _run(["ip", "-n", R, "addr", "add", f"{GW_V4}/24", "dev", "veth0"])
        _run(["ip", "-n", R, "addr", "add", f"{GW_V6}/64", "dev", "veth0", "nodad"])
        _run(["ip", "-n", R, "addr", "add", f"{SERVER_V4}/32", "dev", "lo"])
        _run(["ip", "-n", R, "addr", "add", f"{SERVER_V6}/128", "dev", "lo"])
        _run(["ip", "-n", H, "link", "set", "veth0", "up"])
        _run(["ip", "-n", R, "link", "set", "veth0", "up"])
        _run(["ip", "-n", H, "route", "add", "default", "via", GW_V4])
        _run(["ip", "-n", H, "-6", "route", "add", "default", "via", GW_V6])
        os.makedirs(f"/etc/netns/{H}", exist_ok=True)
        with open(f"/etc/netns/{H}/resolv.conf", "w") as f:
            f.write(f"nameserver {NAMESERVER}\nsearch {SEARCH_DOMAIN}\n")
        os.chmod(f"/etc/netns/{H}/resolv.conf", 0o644)
        # The veth pair is up when both ends report carrier: wait for it rather than sleep.
        wait_for(lambda: self._link_up(H) and self._link_up(R), timeout=10,
                 what="veth0 carrier in both namespaces")

    @staticmethod
    def _sysctl(ns, key, value):
        _run(["ip", "netns", "exec", ns, "sysctl", "-q", "-w", f"{key}={value}"])

    @staticmethod
    def _link_up(ns):
        r = _run(["ip", "-n", ns, "-o", "link", "show", "veth0"], check=False)
        return r.returncode == 0 and "LOWER_UP" in r.stdout

    # ---- public API

    def netns_path(self, ns):
        return netns_path(ns)

    def tmp_path(self, name):
        """A path inside this case's temporary directory (world-writable, sticky)."""
        return os.path.join(self.tmpdir, name)

    def command(self, ns, argv, user=None):
        """The argv that runs `argv` in namespace ns (None: the current one) as `user`."""
        prefix = [] if ns is None else ["ip", "netns", "exec", ns]
        return prefix + as_user(argv, user)

    def run(self, ns, argv, user=None, timeout=30, check=True, input=None, env=None):
        """Run argv in ns as user; return CompletedProcess (text, stdout and stderr captured).

        check=True raises AssertionError with both outputs on a non-zero exit status.
        """
        full = self.command(ns, [str(a) for a in argv], user)
        env = user_env(user, self.tmpdir, env)
        try:
            r = subprocess.run(full, input=input, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=timeout, env=env,
                               stdin=None if input is not None else subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            raise AssertionError(f"{' '.join(full)} did not finish within {timeout} s; "
                                 f"stdout={e.stdout!r} stderr={e.stderr!r}") from None
        if check and r.returncode != 0:
            raise AssertionError(f"{' '.join(full)} exited {r.returncode}\n"
                                 f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}")
        return r

    def spawn(self, ns, argv, user=None, env=None, stdout=subprocess.PIPE, stdin=None):
        """Start argv in ns as user in the background; it is killed at teardown. Returns Proc."""
        argv = [str(a) for a in argv]
        p = Proc(self.command(ns, argv, user), env=user_env(user, self.tmpdir, env),
                 stdin=stdin, stdout=stdout, name=os.path.basename(argv[0]))
        self.procs.append(p)
        return p

    def add_cleanup(self, fn):
        """Run fn() at teardown, before the namespaces are deleted (last added runs first)."""
        self._cleanups.append(fn)

    def close(self):
        """Kill every process we started (by PID), delete namespaces and temporary files."""
        if self._closed:
            return
        self._closed = True
        errors = []
        for fn in reversed(self._cleanups):
            try:
                fn()
            except Exception as e:  # keep cleaning up
                errors.append(e)
        pids = []
        for p in self.procs:
            if p.popen.poll() is None:
                pids.append(p.pid)
            pids.extend(descendants(p.pid))
        kill_pids(pids)
        for p in self.procs:
            try:
                p.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                errors.append(RuntimeError(f"{p!r} survived SIGKILL"))
            if p._reader is not None:
                p._reader.join(timeout=2)
        for ns in (self.host, self.remote):
            delete_netns(ns)
        reap_orphans()
        shutil.rmtree(self.tmpdir, ignore_errors=True)
        if errors:
            raise errors[0]


def run_cmd(argv, user=None, timeout=30, check=False, input=None, env=None, cwd=None):
    """Run argv in the current namespace as user (None: as we are); CompletedProcess (text).

    For cases that need no topology (e.g. command-line parsing).  check=True raises
    AssertionError with both outputs on a non-zero exit status.
    """
    full = as_user([str(a) for a in argv], user)
    env = user_env(user, "/", env)
    try:
        r = subprocess.run(full, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=timeout, env=env, cwd=cwd or "/",
                           stdin=None if input is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"{' '.join(full)} did not finish within {timeout} s; "
                             f"stdout={e.stdout!r} stderr={e.stderr!r}") from None
    finally:
        reap_orphans()
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(full)} exited {r.returncode}\n"
                             f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}")
    return r
