# SPDX-License-Identifier: GPL-2.0-or-later
"""Command-line behaviour of both program names, as root and as an unprivileged user.

passt and pasta are one binary; the mode comes from the name it is run under (build/pasta is a
symlink to passt).  Checked here, for each name and user:
  --version      exit 0, prints the project version (from meson.build)
  --help         exit 0, names the program and shows an option that only that mode has
  --bogus        exit 1, the error names --bogus
  malformed values (-m abc, -a 999.1.1.1, ...) exit 1, the error names the option
These need no namespace: every case must finish before the program would set anything up.
"""

import os
import re

import pytest

from helpers import run_cmd

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def project_version():
    with open(os.path.join(REPO, "meson.build")) as f:
        m = re.search(r"version\s*:\s*'([^']+)'", f.read())
    assert m, "no version in meson.build"
    return m.group(1)


# An option only that mode has, as upstream's usage text shows it.
MODE_ONLY_OPTION = {"passt": "--socket", "pasta": "--config-net"}


@pytest.fixture(params=["passt", "pasta"])
def prog(request, bins):
    return request.param, getattr(bins, request.param)


def run(prog, args, user):
    name, path = prog
    return run_cmd([path] + args, user=user, timeout=15)


def test_version(prog, daemon_user):
    r = run(prog, ["--version"], daemon_user)
    assert r.returncode == 0, r.stderr
    assert project_version() in r.stdout, f"--version printed {r.stdout!r}"
    assert prog[0] in r.stdout, f"--version does not name {prog[0]}: {r.stdout!r}"


def test_help(prog, daemon_user):
    name, _ = prog
    r = run(prog, ["--help"], daemon_user)
    assert r.returncode == 0, r.stderr
    assert re.search(rf"\b{name}\b", r.stdout), f"--help does not name {name}:\n{r.stdout}"
    assert MODE_ONLY_OPTION[name] in r.stdout, \
        f"{name} --help does not show {MODE_ONLY_OPTION[name]}:\n{r.stdout}"


def test_short_help(prog, daemon_user):
    r = run(prog, ["-h"], daemon_user)
    assert r.returncode == 0, r.stderr
    assert "--version" in r.stdout


def test_unknown_option(prog, daemon_user):
    r = run(prog, ["--bogus"], daemon_user)
    assert r.returncode == 1, f"exit {r.returncode}\n{r.stdout}{r.stderr}"
    assert "--bogus" in r.stderr or "bogus" in r.stderr, r.stderr


@pytest.mark.parametrize("args, option", [
    (["-m", "abc"], r"(-m\b|--mtu\b)"),
    (["--mtu=abc"], r"--mtu\b"),
    (["-m", "70000"], r"(-m\b|--mtu\b)"),
    (["-a", "999.1.1.1"], r"(-a\b|--address\b)"),
    (["--address", "not-an-address"], r"(-a\b|--address\b)"),
    (["-g", "192.0.2.300"], r"(-g\b|--gateway\b)"),
    (["-n", "33"], r"(-n\b|--netmask\b)"),
], ids=["m-abc", "mtu-abc", "m-too-big", "a-999", "address-word", "g-300", "n-33"])
def test_malformed_value(prog, daemon_user, args, option):
    r = run(prog, args, daemon_user)
    assert r.returncode == 1, f"{args}: exit {r.returncode}\n{r.stdout}{r.stderr}"
    assert re.search(option, r.stderr), f"{args}: error does not name the option:\n{r.stderr}"


def test_missing_argument(prog, daemon_user):
    r = run(prog, ["--mtu"], daemon_user)
    assert r.returncode == 1, f"exit {r.returncode}\n{r.stdout}{r.stderr}"
    assert "mtu" in r.stderr, r.stderr
