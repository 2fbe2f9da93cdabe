#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# make_corpus.py - writes the seed corpora of the service fuzz targets into corpus/<name>/
#
# Each seed is the input layout of fuzz_common.h: a config-variant byte, an addressing byte, then
# the service's message as real clients send it (udhcpc, dhclient, dhcpcd, the Linux kernel's
# NDP). Run it from anywhere; it rewrites the seed files it owns and leaves others alone.
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
GUEST_MAC = bytes.fromhex('525400123456')
OUR_MAC = bytes.fromhex('9a559a559a55')


def ip4(s):
    return bytes(int(x) for x in s.split('.'))


def ip6(s):
    import ipaddress
    return ipaddress.IPv6Address(s).packed


def write(name, seed, data):
    d = os.path.join(HERE, 'corpus', name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, seed), 'wb') as f:
        f.write(data)


# ---- ARP ----
def arp(op, spa, tpa, sha=GUEST_MAC):
    return struct.pack('!HHBBH', 1, 0x0800, 6, 4, op) + sha + ip4(spa) + bytes(6) + ip4(tpa)


write('arp', 'request-gw', b'\x00\x00' + arp(1, '192.0.2.10', '192.0.2.1'))
write('arp', 'request-other', b'\x00\x00' + arp(1, '192.0.2.10', '203.0.113.7'))
write('arp', 'probe-own', b'\x00\x00' + arp(1, '0.0.0.0', '192.0.2.10'))
write('arp', 'probe-gw-nogw', b'\x04\x00' + arp(1, '0.0.0.0', '192.0.2.1'))
write('arp', 'gratuitous', b'\x00\x00' + arp(1, '192.0.2.10', '192.0.2.10'))
write('arp', 'reply', b'\x00\x00' + arp(2, '192.0.2.10', '192.0.2.1'))

# ---- NDP ----
SLLAO = b'\x01\x01' + GUEST_MAC


def ns(target, opts=SLLAO):
    return b'\x87\x00\x00\x00' + bytes(4) + ip6(target) + opts


RS = b'\x85\x00\x00\x00' + bytes(4)
write('ndp', 'ns-gw', b'\x00\x02' + ns('fe80::1'))
write('ndp', 'ns-other', b'\x00\x02' + ns('2001:db8:2::1'))
write('ndp', 'ns-own', b'\x00\x02' + ns('2001:db8:1::10'))
write('ndp', 'ns-dad-gw', b'\x00\x03' + ns('fe80::1', b''))
write('ndp', 'ns-dad-slaac', b'\x00\x03' + ns('2001:db8:1:0:5054:ff:fe12:3456', b''))
write('ndp', 'ns-nonce', b'\x00\x02' + ns('fe80::1', SLLAO + b'\x0e\x01' + bytes(6)))
write('ndp', 'rs', b'\x00\x00' + RS + SLLAO)
write('ndp', 'rs-unspec', b'\x00\x01' + RS)
write('ndp', 'rs-variants-ra', b'\xff\x08' + RS + SLLAO)
write('ndp', 'rs-nodhcpv6-ra', b'\x40\x08' + RS + SLLAO)

# ---- DHCP ----
def dhcp(mtype, opts=b'', ciaddr='0.0.0.0', flags=0):
    fixed = struct.pack('!BBBBIHH', 1, 1, 6, 0, 0x3903f326, 0, flags)
    fixed += ip4(ciaddr) + bytes(12) + GUEST_MAC + bytes(10) + bytes(192)
    fixed += b'\x63\x82\x53\x63'
    return fixed + bytes([53, 1, mtype]) + opts + b'\xff'


CLIENT_ID = bytes([61, 7, 1]) + GUEST_MAC
PRL = bytes([55, 9, 1, 3, 6, 12, 15, 26, 28, 42, 119])
write('dhcp', 'discover-udhcpc', b'\x00\x00' + dhcp(1, CLIENT_ID + bytes([57, 2, 2, 64]) + PRL))
write('dhcp', 'discover-dhclient', b'\x00\x00' + dhcp(1, PRL))
write('dhcp', 'discover-dhcpcd-rapid', b'\x00\x00' + dhcp(1, CLIENT_ID + bytes([80, 0, 57, 2, 5, 0xdc]) + PRL, flags=0x8000))
write('dhcp', 'request-selecting', b'\x00\x00' + dhcp(3, bytes([50, 4]) + ip4('192.0.2.10') + bytes([54, 4]) + ip4('192.0.2.1') + PRL))
write('dhcp', 'request-reboot-other', b'\x00\x00' + dhcp(3, bytes([50, 4]) + ip4('192.0.2.99')))
write('dhcp', 'request-renew', b'\x00\x01' + dhcp(3, PRL, ciaddr='192.0.2.10'))
write('dhcp', 'inform', b'\x00\x01' + dhcp(8, PRL, ciaddr='192.0.2.10'))
write('dhcp', 'discover-variants', b'\xbf\x00' + dhcp(1, bytes([57, 2, 5, 0xdc]) + PRL))
write('dhcp', 'decline', b'\x00\x00' + dhcp(4, bytes([50, 4]) + ip4('192.0.2.10')))
write('dhcp', 'release', b'\x00\x01' + dhcp(7, bytes([54, 4]) + ip4('192.0.2.1'), ciaddr='192.0.2.10'))

# ---- DHCPv6 ----
def opt6(code, data=b''):
    return struct.pack('!HH', code, len(data)) + data


CLIENT_DUID = bytes.fromhex('000100012c5e1f00') + GUEST_MAC
SERVER_DUID = bytes.fromhex('00030001') + OUR_MAC


def ia_na(addr=None):
    body = struct.pack('!III', 0x00123456, 0, 0)
    if addr:
        body += opt6(5, ip6(addr) + struct.pack('!II', 0, 0))
    return opt6(3, body)


def v6(mtype, opts):
    return bytes([mtype, 0xab, 0xcd, 0xef]) + opts


BASE = opt6(1, CLIENT_DUID) + opt6(6, b'\x00\x17\x00\x18') + opt6(8, b'\x00\x00')
write('dhcpv6', 'solicit', b'\x00\x00' + v6(1, BASE + ia_na()))
write('dhcpv6', 'solicit-rapid', b'\x00\x00' + v6(1, BASE + ia_na() + opt6(14)))
write('dhcpv6', 'request', b'\x00\x00' + v6(3, BASE + opt6(2, SERVER_DUID) + ia_na('2001:db8:1::10')))
write('dhcpv6', 'renew', b'\x00\x01' + v6(5, BASE + opt6(2, SERVER_DUID) + ia_na('2001:db8:1::10')))
write('dhcpv6', 'rebind', b'\x00\x00' + v6(6, BASE + ia_na('2001:db8:1::10')))
write('dhcpv6', 'confirm', b'\x00\x00' + v6(4, BASE + ia_na('2001:db8:1::10')))
write('dhcpv6', 'confirm-notonlink', b'\x00\x00' + v6(4, BASE + ia_na('2001:db8:9::10')))
write('dhcpv6', 'information-request', b'\x00\x00' + v6(11, BASE))
write('dhcpv6', 'release', b'\x00\x00' + v6(8, BASE + opt6(2, SERVER_DUID) + ia_na('2001:db8:1::10')))
write('dhcpv6', 'solicit-variants', b'\xff\x00' + v6(1, BASE + ia_na('2001:db8:1::99') + ia_na()))
