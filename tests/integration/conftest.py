# SPDX-License-Identifier: GPL-2.0-or-later
"""pytest fixtures for the bpasst integration suite (API: /work/notes/harness-api.md).

Theory of operation
-------------------
- `bins` (session): copies BPASST_BUILD/passt (default <repo>/build/passt) into a world-readable
  temporary directory next to a `pasta -> passt` symlink, so the unprivileged test user can run
  them whatever the permissions of the checkout are.  No binary: the fixture fails (an error, not
  a skip), because the suite is meaningless without it.
- `unpriv` (session): the unprivileged user name, created if missing.
- `topo` (per case): a helpers.Topology (host + remote namespaces joined by veth); closed in a
  finally clause, so processes are killed by PID and namespaces deleted even when the case fails
  or times out (pytest-timeout's "signal" method raises inside the case; teardown still runs).
- `daemon_user`: parametrised over root (None) and the unprivileged user.
- `free_tmp_path`: a callable name -> path inside a per-case, world-writable temporary directory.
At session start, namespaces left behind by an earlier run that died (its pytest PID is gone) are
deleted; at session end every Topology still open is closed.  The pytest process makes itself the
child subreaper, so a program that daemonizes is re-parented to it and killed (by PID) at the end of
the case (Topology.close, run_cmd) instead of outliving the suite.
"""

import os
import shutil
import signal
import sys
import tempfile
import types

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import helpers  # noqa: E402
from helpers import Topology, ensure_user, UNPRIV_USER  # noqa: E402

pytest_plugins = ["pytester"]  # test_harness.py runs an inner suite to check cleanup

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_open_topologies = []


def build_dir():
    return os.path.abspath(os.environ.get("BPASST_BUILD", os.path.join(REPO, "build")))


def _sigterm(signum, frame):
    # scripts/test bounds the suite with timeout(1): turn its SIGTERM into an interrupt, so that
    # pytest writes its report and pytest_sessionfinish below still cleans up.
    raise KeyboardInterrupt("SIGTERM")


def pytest_sessionstart(session):
    signal.signal(signal.SIGTERM, _sigterm)
    helpers.enable_subreaper()
    if os.geteuid() == 0:
        helpers.sweep_stale_namespaces()


def pytest_sessionfinish(session, exitstatus):
    while _open_topologies:
        try:
            _open_topologies.pop().close()
        except Exception:
            pass
    helpers.reap_orphans()


@pytest.fixture(scope="session")
def unpriv():
    if os.geteuid() != 0:
        pytest.skip("the integration suite runs as root (it creates namespaces and users)")
    return ensure_user(UNPRIV_USER)


@pytest.fixture(scope="session")
def bins():
    src = os.path.join(build_dir(), "passt")
    if not os.path.isfile(src):
        pytest.fail(f"{src} does not exist: build first (meson setup build && "
                    f"meson compile -C build) or set BPASST_BUILD", pytrace=False)
    d = tempfile.mkdtemp(prefix="bpasst-bin-")
    os.chmod(d, 0o755)
    dst = os.path.join(d, "passt")
    shutil.copy2(src, dst)
    os.chmod(dst, 0o755)
    os.symlink("passt", os.path.join(d, "pasta"))
    yield types.SimpleNamespace(passt=dst, pasta=os.path.join(d, "pasta"), dir=d,
                                build=build_dir())
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def topo():
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    t = Topology()
    _open_topologies.append(t)
    try:
        yield t
    finally:
        if t in _open_topologies:
            _open_topologies.remove(t)
        t.close()


@pytest.fixture(params=["root", "unpriv"])
def daemon_user(request):
    if request.param == "root":
        return None
    return request.getfixturevalue("unpriv")


@pytest.fixture
def free_tmp_path():
    d = tempfile.mkdtemp(prefix="bpasst-case-")
    os.chmod(d, 0o1777)
    yield lambda name: os.path.join(d, name)
    shutil.rmtree(d, ignore_errors=True)
