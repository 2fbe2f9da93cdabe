# SPDX-License-Identifier: GPL-2.0-or-later
"""The built-in services (DHCP, DHCPv6, NDP/SLAAC, ARP, ICMP echo) seen by real clients, in pasta.

pasta runs in topo.host (upstream veth0 192.0.2.2/24, gateway 192.0.2.1, 2001:db8::2/64, resolver
198.51.100.53, search example.test) WITHOUT --config-net: it creates the namespace and the tap
(named veth0 like the host's upstream interface) and runs a shell script as its command; the
script runs the client and prints what it got on stdout, which pasta passes through.  pasta exits
with the script's status.  Every case runs as root and as the unprivileged user (then pasta maps
the user to root in a new user namespace and the clients run as that root).

What is checked:
  - busybox udhcpc gets 192.0.2.2/24, router 192.0.2.1, DNS 198.51.100.53, search example.test,
    MTU 65520; the kernel configures a SLAAC address in 2001:db8::/64 from the router
    advertisement with a default route via our link-local address; ping to the IPv4 and IPv6
    gateway answers (through the daemon's ping sockets; ping_group_range is open in topo.host)
  - ISC dhclient -4 and -6, and dhcpcd -4, get the same lease (dhclient -6: 2001:db8::2)
  - -D/-S: DNS servers and search domains replace the host's; "-S 'a b'" is two domains in the
    DHCP option 119 (decoded label by label from a raw DHCP exchange, not from a client's text)
  - --no-dhcp: no lease (SLAAC still works); --no-ra: no SLAAC address (DHCP still works);
    --no-dhcpv6: no DHCPv6 lease
  - malformed frames (ARP, DHCP, NDP, DHCPv6, IPv4/IPv6 headers, random bytes) sent from inside
    the namespace with an AF_PACKET socket: the daemon keeps answering (a lease and a ping after)
"""

import os
import re

import pytest

from helpers import GW_V4, GW_V6, HOST_V4, NAMESERVER, SEARCH_DOMAIN

IFNAME = "veth0"  # the tap is named like topo.host's upstream interface

# udhcpc's script: print what it got (one variable a line), configure the address and route.
UDHCPC_SCRIPT = r"""#!/bin/sh
case "$1" in
bound|renew)
	for v in ip mask subnet router dns domain search mtu serverid lease; do
		eval "echo LEASE_$v=\$$v"
	done
	ip addr add "$ip/$mask" dev "$interface"
	[ -n "$router" ] && ip route add default via "$router" dev "$interface"
	;;
esac
exit 0
"""

# Shell helpers for the command scripts: bounded polls (the namespace's own clock), no fixed waits
# on the test's side.
SH_PRELUDE = r"""
IF=%(ifname)s
# wait_for CMD...: up to 10 s, every 0.1 s, until CMD succeeds
wait_for() {
	i=0
	while [ $i -lt 100 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
ll_ready() { ip -6 -o addr show dev $IF scope link -tentative | grep -q fe80; }
slaac_ready() { ip -6 -o addr show dev $IF scope global -tentative | grep -q 'inet6 2001:db8:'; }
""" % {"ifname": IFNAME}

# dhclient's and dhcpcd's hook: append the variables they were given to a file.
HOOK_SCRIPT = r"""#!/bin/sh
env | grep -E '^(reason=|new_|interface=)' | sort | sed 's/^/HOOK_/' %(redir)s
exit 0
"""


def hook_script(out):
    """Hook text appending to file out (None: to stdout)."""
    return HOOK_SCRIPT % {"redir": f'>> "{out}"' if out else ""}

# A minimal DHCP client over AF_PACKET: DISCOVER, print the options of the OFFER (hex), so that
# option contents can be checked byte for byte.
DHCP_PROBE = r"""
import os, random, socket, struct, sys, time
ifname = sys.argv[1]
mac = bytes.fromhex(open(f"/sys/class/net/{ifname}/address").read().strip().replace(":", ""))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.bind((ifname, 0))
s.settimeout(0.5)
xid = random.getrandbits(32)

def csum(b):
    if len(b) % 2:
        b += b"\0"
    t = sum(struct.unpack(f"!{len(b)//2}H", b))
    while t >> 16:
        t = (t & 0xffff) + (t >> 16)
    return ~t & 0xffff

bootp = struct.pack("!BBBBIHH4s4s4s4s16s64s128sI", 1, 1, 6, 0, xid, 0, 0x8000, b"\0"*4,
                    b"\0"*4, b"\0"*4, b"\0"*4, mac + b"\0"*10, b"", b"", 0x63825363)
bootp += bytes([53, 1, 1, 55, 5, 1, 3, 6, 15, 119, 255])
udp = struct.pack("!HHHH", 68, 67, 8 + len(bootp), 0) + bootp
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, b"\0"*4, b"\xff"*4)
ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
frame = b"\xff"*6 + mac + b"\x08\x00" + ip + udp
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    s.send(frame)
    end = time.monotonic() + 1
    while time.monotonic() < end:
        try:
            r = s.recv(65535)
        except socket.timeout:
            break
        if len(r) < 14 + 20 + 8 + 240 or r[23] != 17:
            continue
        ihl = (r[14] & 0xf) * 4
        u = 14 + ihl
        if struct.unpack("!H", r[u+2:u+4])[0] != 68:
            continue
        b = r[u+8:]
        if struct.unpack("!I", b[4:8])[0] != xid:
            continue
        opts = b[240:]
        i = 0
        while i < len(opts) and opts[i] != 255:
            if opts[i] == 0:
                i += 1
                continue
            code, ln = opts[i], opts[i+1]
            print(f"OPT {code} {opts[i+2:i+2+ln].hex()}")
            i += 2 + ln
        print("OFFER", ".".join(str(x) for x in b[16:20]))
        sys.exit(0)
print("NO OFFER")
sys.exit(1)
"""

# Malformed frames, sent from inside the namespace as if the guest sent them.
GARBAGE = r"""
import random, socket, struct, sys
ifname = sys.argv[1]
mac = bytes.fromhex(open(f"/sys/class/net/{ifname}/address").read().strip().replace(":", ""))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
rnd = random.Random(4242)
BC, ALL6 = b"\xff"*6, b"\x33\x33\x00\x00\x00\x01"
GW4, ME4 = bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2])
ZERO6 = b"\0"*16
LL6 = bytes.fromhex("fe80000000000000" + "0000000000000099")
ALLR6 = bytes.fromhex("ff020000000000000000000000000002")
SN6 = bytes.fromhex("ff0200000000000000000001ff000001")

def eth(dst, typ, body):
    return dst + mac + struct.pack("!H", typ) + body

def ip4(proto, payload, src=b"\0"*4, dst=b"\xff"*4, ihl=5, tot=None):
    tot = 20 + len(payload) if tot is None else tot
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, tot, 0, 0, 64, proto, 0, src, dst)
    return h + payload

def udp(sport, dport, payload, ln=None):
    ln = 8 + len(payload) if ln is None else ln
    return struct.pack("!HHHH", sport, dport, ln, 0) + payload

def ip6(nh, payload, src=LL6, dst=ALLR6, hl=255, plen=None):
    plen = len(payload) if plen is None else plen
    return struct.pack("!IHBB", 0x60000000, plen, nh, hl) + src + dst + payload

def bootp(opts, magic=0x63825363, hlen=6, op=1):
    return struct.pack("!BBBBIHH4s4s4s4s16s64s128sI", op, 1, hlen, 0, 1, 0, 0x8000, b"\0"*4,
                       b"\0"*4, b"\0"*4, b"\0"*4, mac + b"\0"*10, b"", b"", magic) + opts

frames = []
# Ethernet and IPv4/IPv6 headers that lie
frames += [eth(BC, 0x0800, b""), eth(BC, 0x0800, b"\x45"), eth(BC, 0x86dd, b"\x60" * 10)]
frames.append(eth(BC, 0x0800, ip4(17, udp(68, 67, b"x" * 20), ihl=3)))
frames.append(eth(BC, 0x0800, ip4(17, udp(68, 67, b"x" * 20), ihl=15)))
frames.append(eth(BC, 0x0800, ip4(17, udp(68, 67, b"x" * 20), tot=1500)))
frames.append(eth(BC, 0x0800, ip4(17, udp(68, 67, b"x" * 20), tot=10)))
frames.append(eth(ALL6, 0x86dd, ip6(58, b"\x85\x00\x00\x00", plen=4000)))
frames.append(eth(ALL6, 0x86dd, ip6(0, b"\x00\xff" + b"\0" * 6)))  # hop-by-hop longer than packet
frames.append(eth(ALL6, 0x86dd, ip6(0, (b"\x00\x00" + b"\0" * 6) * 20)))  # chain of 20
# ARP
arp_ok = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac, ME4, b"\0"*6, GW4)
frames += [eth(BC, 0x0806, arp_ok[:n]) for n in (0, 1, 7, 8, 14, 27)]
frames.append(eth(BC, 0x0806, struct.pack("!HHBBH", 1, 0x0800, 255, 255, 1) + b"\xaa" * 40))
frames.append(eth(BC, 0x0806, struct.pack("!HHBBH", 1, 0x86dd, 6, 16, 1) + b"\xaa" * 44))
frames.append(eth(BC, 0x0806, struct.pack("!HHBBH", 1, 0x0800, 6, 4, 9) + arp_ok[8:]))
# DHCP
frames.append(eth(BC, 0x0800, ip4(17, udp(68, 67, b""))))
frames.append(eth(BC, 0x0800, ip4(17, udp(68, 67, bootp(b"")[:100]))))
frames.append(eth(BC, 0x0800, ip4(17, udp(68, 67, bootp(b"", magic=0xdeadbeef)))))
frames.append(eth(BC, 0x0800, ip4(17, udp(68, 67, bootp(bytes([53, 200, 1]))))))  # overrun
frames.append(eth(BC, 0x0800, ip4(17, udp(68, 67, bootp(bytes([55, 255]) + b"\x01" * 10)))))
frames.append(eth(BC, 0x0800, ip4(17, udp(68, 67, bootp(bytes([53, 0, 53, 0]))))))
frames.append(eth(BC, 0x0800, ip4(17, udp(68, 67, bootp(bytes([53, 1, 1]) + b"\0" * 300)))))
frames.append(eth(BC, 0x0800, ip4(17, udp(68, 67, bootp(bytes([53, 1, 1, 255]), hlen=255)))))
frames.append(eth(BC, 0x0800, ip4(17, udp(68, 67, bootp(bytes([53, 1, 3, 50, 4]) + GW4)))))
frames.append(eth(BC, 0x0800, ip4(17, udp(68, 67, bootp(bytes([53, 1, 99, 255]))))))
frames.append(eth(BC, 0x0800, ip4(17, udp(68, 67, bootp(bytes([53, 1, 1, 255])), ln=2000))))
frames.append(eth(BC, 0x0800, ip4(17, udp(68, 67, bootp(bytes([53, 1, 1, 255])), ln=3))))
frames.append(eth(BC, 0x0800, ip4(17, udp(68, 67, bootp(bytes([53, 1, 2, 255]), op=2)))))
# NDP: truncated solicitations, zero-length options, bad hop limits
frames.append(eth(ALL6, 0x86dd, ip6(58, b"\x85\x00")))
frames.append(eth(ALL6, 0x86dd, ip6(58, b"\x85\x00\x00\x00\x00\x00\x00\x00\x01\x00")))
frames.append(eth(ALL6, 0x86dd, ip6(58, b"\x85\x00\x00\x00\x00\x00\x00\x00\x01\xff")))
frames.append(eth(ALL6, 0x86dd, ip6(58, b"\x85\x00\x00\x00\x00\x00\x00\x00", hl=64)))
frames.append(eth(ALL6, 0x86dd, ip6(58, b"\x87\x00\x00\x00" + b"\0" * 4 + LL6[:8])))
frames.append(eth(ALL6, 0x86dd, ip6(58, b"\x87\x00\x00\x00" + b"\0" * 4 + ZERO6 + b"\x01\x00")))
frames.append(eth(ALL6, 0x86dd, ip6(58, b"\x87\x01\x00\x00" + b"\0" * 4 + GW4 * 4, dst=SN6)))
frames.append(eth(ALL6, 0x86dd, ip6(58, b"\x87\x00\x00\x00" + b"\0" * 4 + ZERO6 + b"\x01\x09")))
# DHCPv6: truncated, overrunning options, nested IA_NA lying about its length
d6 = lambda body: eth(ALL6, 0x86dd, ip6(17, udp(546, 547, body),
                                        dst=bytes.fromhex("ff020000000000000000000000010002")))
frames += [d6(b""), d6(b"\x01"), d6(b"\x01\x00\x00\x01")]
frames.append(d6(b"\x01\x00\x00\x01" + b"\x00\x01\xff\xff" + b"\0" * 8))
frames.append(d6(b"\x01\x00\x00\x01" + b"\x00\x03\x00\x10" + b"\0" * 12 + b"\x00\x05\xff\x00"))
frames.append(d6(b"\x0b\x00\x00\x01" + b"\x00\x06\x00\x03" + b"\x00\x17\x00"))
frames.append(d6(b"\x03\x00\x00\x01" + b"\x00\x02\x00\x00"))
# ICMP echo requests that are too short
frames.append(eth(BC, 0x0800, ip4(1, b"\x08\x00", src=ME4, dst=GW4)))
frames.append(eth(ALL6, 0x86dd, ip6(58, b"\x80\x00\x00\x00", hl=64)))
# random bytes, random EtherTypes among ours
for _ in range(400):
    body = bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(0, 200)))
    frames.append(eth(rnd.choice([BC, ALL6]), rnd.choice([0x0800, 0x86dd, 0x0806]), body))
sent, errors = 0, {}
for f in frames:
    try:
        s.send(f)
        sent += 1
    except OSError as e:
        errors[str(e)] = errors.get(str(e), 0) + 1
print("GARBAGE_SENT", sent, "of", len(frames), "errors:", errors)
"""


def _write(path, text, mode=0o755):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def run_pasta(topo, bins, user, args, body, timeout=60):
    """Run pasta in topo.host with a shell script as its command; return CompletedProcess."""
    n = len([x for x in os.listdir(topo.tmpdir) if x.startswith("cmd-")])
    script = _write(topo.tmp_path(f"cmd-{n}.sh"), "#!/bin/sh\n" + SH_PRELUDE + body)
    return topo.run(topo.host, [bins.pasta, *args, "--", "/bin/sh", script], user=user,
                    timeout=timeout, check=False)


def lease_vars(text, prefix="LEASE_"):
    """The NAME=value lines a hook printed (prefix stripped), last value wins."""
    out = {}
    for m in re.finditer(rf"^{prefix}(\w+)=(.*)$", text, re.MULTILINE):
        out[m.group(1)] = m.group(2).strip().strip("'")
    return out


def udhcpc_cmd(topo, extra=""):
    script = _write(topo.tmp_path("udhcpc.sh"), UDHCPC_SCRIPT)
    return (f"busybox udhcpc -i $IF -f -q -n -t 5 -T 1 -O mtu -O search -s {script} {extra}"
            f"; echo UDHCPC_RC=$?\n")


def describe(r):
    return f"exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"


def check_udhcpc_lease(r):
    v = lease_vars(r.stdout)
    assert "UDHCPC_RC=0" in r.stdout, describe(r)
    assert v.get("ip") == HOST_V4, describe(r)
    assert v.get("mask") == "24" and v.get("subnet") == "255.255.255.0", describe(r)
    assert v.get("router") == GW_V4, describe(r)
    assert NAMESERVER in v.get("dns", "").split(), describe(r)
    assert SEARCH_DOMAIN in v.get("search", "").split() + [v.get("domain", "")], describe(r)
    assert v.get("mtu") == "65520", describe(r)
    return v


def test_udhcpc_slaac_ping(topo, bins, daemon_user):
    body = udhcpc_cmd(topo) + r"""
wait_for slaac_ready; echo SLAAC_RC=$?
ip -6 -o addr show dev $IF scope global
ip -6 route show default
ping -c 1 -W 5 %(gw4)s >/dev/null 2>&1; echo PING4_RC=$?
ping -6 -c 1 -W 5 %(gw6)s >/dev/null 2>&1; echo PING6_RC=$?
""" % {"gw4": GW_V4, "gw6": GW_V6}
    r = run_pasta(topo, bins, daemon_user, [], body)
    assert r.returncode == 0, describe(r)
    check_udhcpc_lease(r)
    # SLAAC from our RA: an address in the host's /64, made by the kernel (dynamic), and a
    # default route through our link-local address.
    assert "SLAAC_RC=0" in r.stdout, describe(r)
    m = re.search(r"inet6 (2001:db8::[0-9a-f:]+)/64 scope global dynamic", r.stdout)
    assert m, describe(r)
    assert re.search(r"^default via fe80::[0-9a-f:]+ dev veth0 proto ra", r.stdout,
                     re.MULTILINE), describe(r)
    assert "PING4_RC=0" in r.stdout, describe(r)
    assert "PING6_RC=0" in r.stdout, describe(r)
    # What was chosen is logged at start (info level).
    assert re.search(r"address: 192\.0\.2\.2/24", r.stderr), r.stderr
    assert re.search(r"gateway: 192\.0\.2\.1", r.stderr), r.stderr
    assert NAMESERVER in r.stderr, r.stderr


def test_dhclient4(topo, bins, daemon_user):
    out = topo.tmp_path("hook4.out")
    hook = _write(topo.tmp_path("hook4.sh"), hook_script(out))
    body = r"""
dhclient -4 -1 -d -v -sf %(hook)s -lf %(d)s/d4.leases -pf %(d)s/d4.pid $IF &
D=$!
wait_for grep -q '^HOOK_reason=BOUND' %(out)s; echo BOUND_RC=$?
kill $D; wait $D
cat %(out)s
""" % {"hook": hook, "d": topo.tmpdir, "out": out}
    r = run_pasta(topo, bins, daemon_user, [], body)
    assert "BOUND_RC=0" in r.stdout, describe(r)
    v = lease_vars(r.stdout, "HOOK_")
    assert v.get("new_ip_address") == HOST_V4, describe(r)
    assert v.get("new_subnet_mask") == "255.255.255.0", describe(r)
    assert v.get("new_routers") == GW_V4, describe(r)
    assert NAMESERVER in v.get("new_domain_name_servers", ""), describe(r)
    assert SEARCH_DOMAIN in v.get("new_domain_search", ""), describe(r)
    assert v.get("new_interface_mtu") == "65520", describe(r)


def test_dhclient6(topo, bins, daemon_user):
    out = topo.tmp_path("hook6.out")
    hook = _write(topo.tmp_path("hook6.sh"), hook_script(out))
    body = r"""
wait_for ll_ready; echo LL_RC=$?
dhclient -6 -1 -d -v -sf %(hook)s -lf %(d)s/d6.leases -pf %(d)s/d6.pid $IF &
D=$!
wait_for grep -q '^HOOK_reason=BOUND6' %(out)s; echo BOUND_RC=$?
kill $D; wait $D
cat %(out)s
""" % {"hook": hook, "d": topo.tmpdir, "out": out}
    r = run_pasta(topo, bins, daemon_user, [], body)
    assert "LL_RC=0" in r.stdout, describe(r)
    assert "BOUND_RC=0" in r.stdout, describe(r)
    v = lease_vars(r.stdout, "HOOK_")
    assert v.get("new_ip6_address") == "2001:db8::2", describe(r)
    assert SEARCH_DOMAIN in v.get("new_dhcp6_domain_search", ""), describe(r)


def test_dhcpv6_dns_and_search(topo, bins):
    """-D with an IPv6 resolver: DHCPv6 hands it out, with the search list from -S."""
    out = topo.tmp_path("hook6.out")
    hook = _write(topo.tmp_path("hook6.sh"), hook_script(out))
    body = r"""
wait_for ll_ready
dhclient -6 -1 -d -v -sf %(hook)s -lf %(d)s/d6.leases -pf %(d)s/d6.pid $IF &
D=$!
wait_for grep -q '^HOOK_reason=BOUND6' %(out)s; echo BOUND_RC=$?
kill $D; wait $D
cat %(out)s
""" % {"hook": hook, "d": topo.tmpdir, "out": out}
    r = run_pasta(topo, bins, None, ["-D", "2001:db8::53", "-S", "six.test"], body)
    assert "BOUND_RC=0" in r.stdout, describe(r)
    v = lease_vars(r.stdout, "HOOK_")
    assert "2001:db8::53" in v.get("new_dhcp6_name_servers", ""), describe(r)
    assert "six.test" in v.get("new_dhcp6_domain_search", ""), describe(r)
    assert SEARCH_DOMAIN not in v.get("new_dhcp6_domain_search", ""), describe(r)


def test_dhcpcd4(topo, bins, daemon_user):
    # dhcpcd insists on writing /run/dhcpcd and /var/lib/dhcpcd: a mount namespace of the
    # command's own (owned by pasta's user namespace) gets a tmpfs there, so this works as the
    # unprivileged user too. -A: no ARP probe of the address (saves 5 s).
    hook = _write(topo.tmp_path("dhcpcd-hook.sh"), hook_script(None))
    inner = (f"mount -t tmpfs none /run/dhcpcd && mount -t tmpfs none /var/lib/dhcpcd && "
             f"timeout -s KILL 30 dhcpcd -4 -1 -B -A -t 15 -c {hook} $IF; echo DHCPCD_RC=$?")
    body = "unshare -m /bin/sh -c '%s'\n" % inner.replace("$IF", IFNAME)
    r = run_pasta(topo, bins, daemon_user, [], body)
    assert "DHCPCD_RC=0" in r.stdout, describe(r)
    v = lease_vars(r.stdout, "HOOK_")
    assert v.get("reason") == "BOUND", describe(r)
    assert v.get("new_ip_address") == HOST_V4, describe(r)
    assert v.get("new_routers") == GW_V4, describe(r)
    assert NAMESERVER in v.get("new_domain_name_servers", ""), describe(r)
    assert SEARCH_DOMAIN in v.get("new_domain_search", ""), describe(r)


def _decode_domains(hexdata):
    """RFC 1035 names (no compression) of a DHCP option 119 payload, as lists of labels."""
    data, names, i = bytes.fromhex(hexdata), [], 0
    while i < len(data):
        labels = []
        while data[i]:
            n = data[i]
            labels.append(data[i + 1:i + 1 + n].decode())
            i += 1 + n
        i += 1
        names.append(labels)
    return names


def test_dns_and_search_options(topo, bins, daemon_user):
    probe = _write(topo.tmp_path("dhcp_probe.py"), DHCP_PROBE)
    body = udhcpc_cmd(topo) + f"/usr/bin/python3 {probe} $IF\n"
    args = ["-D", "198.51.100.7", "-D", "198.51.100.8", "-S", "alpha.test beta.test"]
    r = run_pasta(topo, bins, daemon_user, args, body)
    assert r.returncode == 0, describe(r)
    v = lease_vars(r.stdout)
    assert v.get("dns", "").split() == ["198.51.100.7", "198.51.100.8"], describe(r)
    assert NAMESERVER not in r.stdout, describe(r)
    # Option 119, label by label: two names, never one label with a space in it.
    opts = dict(re.findall(r"^OPT (\d+) ([0-9a-f]*)$", r.stdout, re.MULTILINE))
    assert "119" in opts, describe(r)
    assert _decode_domains(opts["119"]) == [["alpha", "test"], ["beta", "test"]], describe(r)
    # Option 6: exactly the two servers.
    assert opts.get("6") == "c6336407c6336408", describe(r)


def test_no_dns_no_search(topo, bins):
    probe = _write(topo.tmp_path("dhcp_probe.py"), DHCP_PROBE)
    r = run_pasta(topo, bins, None, ["-D", "none", "-S", "none"],
                  f"/usr/bin/python3 {probe} $IF\n")
    assert r.returncode == 0, describe(r)
    opts = dict(re.findall(r"^OPT (\d+) ([0-9a-f]*)$", r.stdout, re.MULTILINE))
    assert "OFFER 192.0.2.2" in r.stdout, describe(r)
    assert "6" not in opts and "119" not in opts, describe(r)


def test_no_dhcp(topo, bins, daemon_user):
    body = (f"busybox udhcpc -i $IF -f -q -n -t 3 -T 1 -s /bin/true; echo UDHCPC_RC=$?\n"
            f"wait_for slaac_ready; echo SLAAC_RC=$?\n")
    r = run_pasta(topo, bins, daemon_user, ["--no-dhcp"], body)
    assert "UDHCPC_RC=1" in r.stdout, describe(r)
    # Everything else still works: the router advertisement configures SLAAC.
    assert "SLAAC_RC=0" in r.stdout, describe(r)


def test_no_ra(topo, bins, daemon_user):
    # The kernel solicits as soon as its link-local address is usable and again every 4 s; 6 s
    # without a global address means both solicitations went unanswered.
    body = udhcpc_cmd(topo) + r"""
wait_for ll_ready; echo LL_RC=$?
i=0; while [ $i -lt 60 ]; do slaac_ready && break; sleep 0.1; i=$((i + 1)); done
slaac_ready; echo SLAAC_RC=$?
ip -6 route show default | grep -q . ; echo ROUTE6_RC=$?
"""
    r = run_pasta(topo, bins, daemon_user, ["--no-ra"], body)
    check_udhcpc_lease(r)
    assert "LL_RC=0" in r.stdout, describe(r)
    assert "SLAAC_RC=1" in r.stdout, describe(r)
    assert "ROUTE6_RC=1" in r.stdout, describe(r)


def test_no_dhcpv6(topo, bins):
    out = topo.tmp_path("hook6.out")
    hook = _write(topo.tmp_path("hook6.sh"), hook_script(out))
    body = r"""
wait_for ll_ready
dhclient -6 -1 -d -v -sf %(hook)s -lf %(d)s/d6.leases -pf %(d)s/d6.pid $IF &
D=$!
i=0; while [ $i -lt 40 ]; do grep -q '^HOOK_reason=BOUND6' %(out)s 2>/dev/null && break; sleep 0.1; i=$((i + 1)); done
grep -q '^HOOK_reason=BOUND6' %(out)s 2>/dev/null; echo BOUND_RC=$?
kill $D; wait $D
wait_for slaac_ready; echo SLAAC_RC=$?
""" % {"hook": hook, "d": topo.tmpdir, "out": out}
    r = run_pasta(topo, bins, None, ["--no-dhcpv6"], body)
    assert "BOUND_RC=1" in r.stdout, describe(r)
    assert "SLAAC_RC=0" in r.stdout, describe(r)


def test_malformed_frames_then_lease(topo, bins, daemon_user):
    garbage = _write(topo.tmp_path("garbage.py"), GARBAGE)
    body = (f"/usr/bin/python3 {garbage} $IF\n" + udhcpc_cmd(topo) +
            f"ping -c 1 -W 5 {GW_V4} >/dev/null 2>&1; echo PING4_RC=$?\n"
            f"/usr/bin/python3 {garbage} $IF\n"
            f"wait_for slaac_ready; echo SLAAC_RC=$?\n")
    r = run_pasta(topo, bins, daemon_user, [], body)
    assert re.search(r"GARBAGE_SENT \d{3}", r.stdout), describe(r)
    assert r.returncode == 0, describe(r)
    check_udhcpc_lease(r)
    assert "PING4_RC=0" in r.stdout, describe(r)
    assert "SLAAC_RC=0" in r.stdout, describe(r)
