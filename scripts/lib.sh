# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# Shared shell helpers for scripts/test, scripts/demo and scripts/bench (sourced, not run).
#
# What is here: logging, Debian package installation (idempotent), the bpffs mount, the
# unprivileged test user, meson build-directory set-up, result counting from meson's testlog.json
# and pytest's JUnit XML, and a two-namespace topology for the demo.  Nothing here keeps state
# except the variables a caller passes in; every function is safe to call twice.
#
# NETWORK RULE: the topology made here uses documentation addresses only, and its "remote"
# namespace has no route beyond its own links, so no packet can leave the machine.

BPASST_ROOT=${BPASST_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}

# Debian packages the build and the tests need (Debian 12 names).
# shellcheck disable=SC2034 # used by scripts/test
BPASST_PACKAGES=(
	meson ninja-build pkg-config gcc clang llvm libbpf-dev bpftool libxdp-dev linux-libc-dev
	libc6-dev libclang-rt-14-dev python3 python3-pytest python3-pytest-timeout iproute2
	util-linux busybox isc-dhcp-client dhcpcd5 iperf3 socat curl dnsutils qemu-system-x86 passt
	slirp4netns procps kmod iputils-ping
)
BPASST_TEST_USER=${BPASST_TEST_USER:-bpasst-test}

log() { printf '%s\n' "$*" >&2; }
section() { printf '\n==> %s\n' "$*" >&2; }

now() { date +%s.%N; }
# elapsed START -> seconds since START, one decimal
elapsed() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.1f", e - s }'; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# missing_packages PKG... -> prints the ones dpkg does not report as installed
missing_packages() {
	local p st
	for p in "$@"; do
		st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		[ "$st" = "install ok installed" ] || printf '%s\n' "$p"
	done
}

# ensure_packages PKG...: install what is missing; `apt-get update` once, only if needed.
ensure_packages() {
	local missing
	mapfile -t missing < <(missing_packages "$@")
	if [ "${#missing[@]}" -eq 0 ]; then
		log "packages: all ${#@} present"
		return 0
	fi
	log "packages: installing ${missing[*]}"
	if ! is_root; then
		log "packages: not root, cannot install ${missing[*]}"
		return 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq </dev/null >&2 || return 1
	apt-get install -y -qq --no-install-recommends -o Dpkg::Use-Pty=0 "${missing[@]}" \
		</dev/null >&2 || return 1
	mapfile -t missing < <(missing_packages "$@")
	if [ "${#missing[@]}" -ne 0 ]; then
		log "packages: still missing after install: ${missing[*]}"
		return 1
	fi
}

# ensure_bpffs: mount the BPF filesystem at /sys/fs/bpf unless /proc/self/mountinfo shows it.
ensure_bpffs() {
	# mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS
	if awk '{ for (i = 7; i <= NF; i++) if ($i == "-") break;
		  if ($5 == "/sys/fs/bpf" && $(i + 1) == "bpf") found = 1 }
		END { exit !found }' /proc/self/mountinfo; then
		return 0
	fi
	is_root || { log "bpffs: not mounted and not root"; return 1; }
	mkdir -p /sys/fs/bpf 2>/dev/null || true
	mount -t bpf bpf /sys/fs/bpf || { log "bpffs: mount failed"; return 1; }
	log "bpffs: mounted at /sys/fs/bpf"
}

# ensure_test_user: the unprivileged user the integration tests run daemons as.
ensure_test_user() {
	getent passwd "$BPASST_TEST_USER" >/dev/null && return 0
	is_root || { log "user: $BPASST_TEST_USER missing and not root"; return 1; }
	useradd -r -M -s /usr/sbin/nologin "$BPASST_TEST_USER"
}

# meson_setup DIR [ARGS...]: configure DIR, reconfiguring if it exists (wiping if that fails).
# CC in the environment picks the compiler on first set-up; a DIR configured with another
# compiler (BPASST_EXPECT_CC) is wiped.
meson_setup() {
	local dir=$1
	shift
	if [ -f "$dir/meson-private/coredata.dat" ]; then
		if [ -n "${BPASST_EXPECT_CC:-}" ] &&
			! grep -q "^C compiler for the host machine: $BPASST_EXPECT_CC" \
				"$dir/meson-logs/meson-log.txt" 2>/dev/null; then
			meson setup --wipe "$dir" "$BPASST_ROOT" "$@" >&2 && return 0
			return 1
		fi
		meson setup --reconfigure "$dir" "$BPASST_ROOT" "$@" >&2 && return 0
		log "meson: reconfigure of $dir failed; wiping"
		meson setup --wipe "$dir" "$BPASST_ROOT" "$@" >&2
		return
	fi
	meson setup "$dir" "$BPASST_ROOT" "$@" >&2
}

# count_meson DIR -> "PASSED FAILED SKIPPED UNIT" from DIR/meson-logs/testlog.json
# (UNIT = how many tests of the "unit" suite ran). Prints each failure on stderr.
count_meson() {
	python3 - "$1/meson-logs/testlog.json" <<-'EOF'
		import json, sys
		p = f = s = unit = 0
		try:
		    lines = open(sys.argv[1]).read().splitlines()
		except OSError:
		    lines = []
		for line in lines:
		    if not line.strip():
		        continue
		    t = json.loads(line)
		    r = t.get("result", "ERROR")
		    if ":unit / " in t.get("name", ""):
		        unit += 1
		    if r in ("OK", "EXPECTEDFAIL"):
		        p += 1
		    elif r == "SKIP":
		        s += 1
		    else:
		        f += 1
		        print(f"  FAILED {t.get('name')}: {r}", file=sys.stderr)
		print(p, f, s, unit)
	EOF
}

# count_junit FILE -> "PASSED FAILED SKIPPED" from a pytest JUnit XML file (errors count as
# failed). Prints each failure on stderr.
count_junit() {
	python3 - "$1" <<-'EOF'
		import sys
		import xml.etree.ElementTree as ET
		try:
		    root = ET.parse(sys.argv[1]).getroot()
		except (OSError, ET.ParseError):
		    print(0, 0, 0)
		    sys.exit(0)
		p = f = s = 0
		for case in root.iter("testcase"):
		    kids = {c.tag for c in case}
		    name = case.get("classname", "") + "::" + case.get("name", "")
		    if kids & {"failure", "error"}:
		        f += 1
		        print(f"  FAILED {name}", file=sys.stderr)
		    elif "skipped" in kids:
		        s += 1
		    else:
		        p += 1
		print(p, f, s)
	EOF
}

# ---- topology for the demo (the integration tests have their own in tests/integration/helpers.py)

# topo_create HOST REMOTE: veth between two namespaces, documentation addresses, no way out.
topo_create() {
	local h=$1 r=$2 ns
	for ns in "$h" "$r"; do
		ip netns add "$ns"
		ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.conf.default.accept_dad=0 net.ipv4.ping_group_range="0 2147483647"
		ip -n "$ns" link set lo up
	done
	ip -n "$h" link add veth0 type veth peer name veth0 netns "$r"
	ip -n "$h" addr add 192.0.2.2/24 dev veth0
	ip -n "$h" addr add 2001:db8::2/64 dev veth0 nodad
	ip -n "$r" addr add 192.0.2.1/24 dev veth0
	ip -n "$r" addr add 2001:db8::1/64 dev veth0 nodad
	ip -n "$r" addr add 203.0.113.1/32 dev lo
	ip -n "$r" addr add 2001:db8:1::1/128 dev lo
	ip -n "$h" link set veth0 up
	ip -n "$r" link set veth0 up
	ip -n "$h" route add default via 192.0.2.1
	ip -n "$h" -6 route add default via 2001:db8::1
	mkdir -p "/etc/netns/$h"
	printf 'nameserver 198.51.100.53\nsearch example.test\n' >"/etc/netns/$h/resolv.conf"
}

# netns_pids NS: pids of the processes whose network namespace is NS
netns_pids() {
	local ino p
	ino=$(stat -L -c %i "/run/netns/$1" 2>/dev/null) || return 0
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/ns/net" 2>/dev/null)" = "net:[$ino]" ] && printf '%s\n' "${p#/proc/}"
	done
	return 0
}

# kill_pids PID...: SIGTERM, up to 5 s grace, then SIGKILL. By PID only.
kill_pids() {
	local p alive
	[ "$#" -eq 0 ] && return 0
	kill -TERM "$@" 2>/dev/null || true
	for _ in $(seq 50); do
		alive=0
		for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ "$alive" -eq 0 ] && return 0
		sleep 0.1
	done
	kill -KILL "$@" 2>/dev/null || true
}

# topo_destroy NS...: kill what lives in each namespace (by PID), delete it and /etc/netns/NS.
topo_destroy() {
	local ns pids
	for ns in "$@"; do
		[ -n "$ns" ] || continue
		if [ -e "/run/netns/$ns" ]; then
			mapfile -t pids < <(netns_pids "$ns")
			kill_pids "${pids[@]}"
			ip netns del "$ns" 2>/dev/null || true
		fi
		rm -rf "/etc/netns/$ns"
	done
}
