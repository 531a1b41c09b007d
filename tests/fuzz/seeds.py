#!/usr/bin/env python3
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
"""Writes the hand-made seeds of the committed corpora (tests/fuzz/corpus/):
frames of every shape the filter's parser walks, captures of every link type
`lbpf test` reads, and real control requests. The corpora also hold inputs
the fuzzers found themselves (merged with -merge=1); rerun this after a
change of shape, then merge. Usage: tests/fuzz/seeds.py [CORPUS_DIR]"""
import hashlib
import json
import os
import struct
import sys

top = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")


def save(kind, name, data):
    d = os.path.join(top, kind)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def eth(ethertype, tags=()):
    h = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01"
    for tpid in tags:
        h += struct.pack(">H", tpid) + b"\x00\x05"
    return h + struct.pack(">H", ethertype)


def ipv4(proto, payload, options=b"", frag=0, src="10.0.0.1", dst="192.0.2.2", total=None):
    ihl = 5 + len(options) // 4
    total = total if total is not None else ihl * 4 + len(payload)
    hdr = struct.pack(">BBHHHBBH4s4s", 0x40 | ihl, 0, total, 1, frag, 64, proto, 0,
                      bytes(map(int, src.split("."))), bytes(map(int, dst.split("."))))
    return hdr + options + payload


def v6addr(text):
    import ipaddress
    return ipaddress.IPv6Address(text).packed


def ipv6(nh, payload, src="2001:db8::1", dst="2001:db8::2", plen=None):
    plen = len(payload) if plen is None else plen
    return struct.pack(">IHBB", 0x60000000, plen, nh, 64) + v6addr(src) + v6addr(dst) + payload


def tcp(sport, dport, flags):
    return struct.pack(">HHIIBBHHH", sport, dport, 1, 0, 0x50, flags, 1024, 0, 0)


def udp(sport, dport, data=b""):
    return struct.pack(">HHHH", sport, dport, 8 + len(data), 0) + data


def icmp(t, code):
    return struct.pack(">BBHI", t, code, 0, 0)


def ext(nh, length_units=0):  # hop-by-hop, routing, destination options
    return bytes([nh, length_units]) + bytes(6 + 8 * length_units)


def frag6(nh, offset, more):
    return struct.pack(">BBHI", nh, 0, offset << 3 | more, 7)


def ah(nh):
    return bytes([nh, 1]) + bytes(10)  # (1 + 2) * 4 = 12 bytes


def parser_seeds():
    s = {
        "v4-tcp-syn-22": eth(0x800) + ipv4(6, tcp(40000, 22, 0x02)),
        "v4-tcp-ack": eth(0x800) + ipv4(6, tcp(40000, 80, 0x10)),
        "v4-udp-53": eth(0x800) + ipv4(17, udp(53, 3333, b"x" * 12)),
        "v4-icmp-echo": eth(0x800) + ipv4(1, icmp(8, 0)),
        "v4-options-tcp": eth(0x800) + ipv4(6, tcp(1, 22, 2), options=b"\x01" * 8),
        "v4-ah-tcp": eth(0x800) + ipv4(51, ah(6) + tcp(1, 22, 2)),
        "v4-later-fragment": eth(0x800) + ipv4(6, b"\x00" * 24, frag=0x2001),
        "v4-first-fragment-short": eth(0x800) + ipv4(6, b"\x00\x16\x00\x16", frag=0x2000),
        "v4-esp": eth(0x800) + ipv4(50, b"\x00" * 16),
        "v4-gre": eth(0x800) + ipv4(47, b"\x00" * 8),
        "v4-ihl-4": eth(0x800) + b"\x44" + ipv4(6, tcp(1, 2, 2))[1:],
        "v4-truncated": eth(0x800) + ipv4(6, tcp(1, 2, 2))[:12],
        "v4-length-1500": eth(0x800) + ipv4(6, tcp(1, 8080, 0x18) + bytes(1460)),
        "v4-padding": eth(0x800) + ipv4(17, b"", total=20) + bytes(26),
        "vlan-v4-tcp": eth(0x800, (0x8100,)) + ipv4(6, tcp(1, 22, 2)),
        "qinq-v6-tcp": eth(0x86DD, (0x88A8, 0x8100)) + ipv6(6, tcp(1, 22, 2)),
        "three-tags": eth(0x800, (0x88A8, 0x8100, 0x8100)) + ipv4(6, tcp(1, 22, 2)),
        "arp": eth(0x806) + bytes(28),
        "v6-tcp": eth(0x86DD) + ipv6(6, tcp(5, 22, 2)),
        "v6-icmp6-echo": eth(0x86DD) + ipv6(58, icmp(128, 0)),
        "v6-ext-chain": eth(0x86DD) + ipv6(0, ext(43) + ext(60) + frag6(51, 0, 1) + ah(6)
                                           + tcp(1, 22, 2)),
        "v6-later-fragment": eth(0x86DD) + ipv6(44, frag6(6, 100, 0) + bytes(16)),
        "v6-ten-ext": eth(0x86DD) + ipv6(60, b"".join(ext(60) for _ in range(9)) + ext(6)
                                         + tcp(1, 22, 2)),
        "v6-eleven-ext": eth(0x86DD) + ipv6(60, b"".join(ext(60) for _ in range(10)) + ext(6)
                                            + tcp(1, 22, 2)),
        "v6-hip": eth(0x86DD) + ipv6(139, bytes(40)),
        "v6-esp": eth(0x86DD) + ipv6(50, bytes(16)),
        "v6-jumbo-udp": eth(0x86DD) + ipv6(17, udp(53, 1), plen=0),
        "v6-mapped-src": eth(0x86DD) + ipv6(17, udp(1, 2), src="::ffff:10.0.0.1"),
    }
    for name, frame in s.items():
        save("parser", name, frame)
    return s


def pcap(linktype, records, snaplen=65535, magic=0xA1B2C3D4, ns=False):
    out = struct.pack("<IHHiIII", 0xA1B23C4D if ns else magic, 2, 4, 0, 0, snaplen, linktype)
    for i, r in enumerate(records):
        out += struct.pack("<IIII", 1700000000 + i, 0, len(r), len(r)) + r
    return out


def sll(proto, payload, hatype=1):
    return struct.pack(">HHH8sH", 0, hatype, 6, b"\x02" * 6 + b"\x00\x00", proto) + payload


def sll2(proto, payload):
    return struct.pack(">HHIHHBB8s", proto, 0, 2, 1, 0, 6, 0, b"\x02" * 8) + payload


def pcap_seeds(frames):
    v4 = ipv4(6, tcp(40000, 22, 2))
    v6 = ipv6(58, icmp(128, 0))
    arp = bytes(28)
    save("pcap", "ethernet", pcap(1, list(frames.values())[:8]))
    save("pcap", "raw", pcap(101, [v4, v6]))
    save("pcap", "ipv4-ipv6", pcap(228, [v4]) )
    save("pcap", "ipv6", pcap(229, [v6]))
    save("pcap", "null", pcap(0, [b"\x02\x00\x00\x00" + v4, b"\x18\x00\x00\x00" + v6]))
    save("pcap", "loop", pcap(108, [b"\x00\x00\x00\x02" + v4]))
    save("pcap", "sll", pcap(113, [sll(0x800, v4), sll(0x86DD, v6), sll(0x806, arp),
                                   sll(0x800, b"")]))
    save("pcap", "sll2", pcap(276, [sll2(0x800, v4), sll2(0x86DD, v6), sll2(0x806, arp)]))
    save("pcap", "nanoseconds", pcap(1, [frames["v4-udp-53"]], ns=True))
    save("pcap", "big-endian", struct.pack(">IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
         + struct.pack(">IIII", 1, 0, 60, 60) + frames["v4-tcp-ack"][:60])
    save("pcap", "truncated-record", pcap(1, [frames["v6-tcp"]])[:-10])
    save("pcap", "short-snaplen", pcap(1, [frames["v4-tcp-syn-22"][:20]], snaplen=20))
    save("pcap", "unsupported-link", pcap(147, [v4]))


def control_seeds():
    code = 'local fw = lbpf.filter{hook = "xdp"}\nfw:rule{proto = "tcp", dport = 22, action = "drop"}\n'
    reqs = {
        "status": [{"op": "status"}],
        "list": [{"op": "list"}],
        "logs": [{"op": "logs", "name": "p1"}, {"op": "logs", "name": "p1", "follow": True}],
        "load": [{"op": "load", "file": "/tmp/p1.lua", "code": "print('hi')", "name": "p1"},
                 {"op": "list"}],
        "load-args": [{"op": "load", "file": "/etc/lbpf/x.lua", "code": "print(...)",
                       "args": ["a", "b"], "memory": 1048576}],
        "load-filter": [{"op": "load", "file": "/tmp/fw.lua", "code": code}],
        "load-trusted": [{"op": "load", "file": "/tmp/t.lua", "code": "x = 1",
                          "trusted": True}],
        "load-bytecode": [{"op": "load", "file": "/tmp/b.lua", "code": "\x1bLua"}],
        "reload": [{"op": "load", "file": "/tmp/r.lua", "code": "y = 2"},
                   {"op": "reload", "name": "r", "code": "y = 3"},
                   {"op": "reload", "name": "r", "file": "/tmp/r2.lua"}],
        "unload": [{"op": "load", "file": "/tmp/u.lua", "code": "lbpf.every(100, function() end)"},
                   {"op": "unload", "name": "u"}, {"op": "unload", "name": "u"}],
        "errors": [{"op": "nope"}, {"op": 1}, {"name": "x"}, {"op": "unload"},
                   {"op": "load", "file": "rel.lua", "code": ""},
                   {"op": "load", "file": "/x.lua", "code": "", "name": "../bad"},
                   {"op": "load", "file": "/x.lua", "code": "", "memory": 1e300}],
    }
    # an empty line: the harness waits for the answers so far
    reqs["loaded-then"] = [
        {"op": "load", "file": "/tmp/w.lua", "code": code + "lbpf.every(50, function() print('tick') end)\n"},
        None, {"op": "list"}, {"op": "logs", "name": "w", "follow": True},
        {"op": "reload", "name": "w", "code": "print('again')"}, None,
        {"op": "reload", "name": "w", "code": "error('broken')"}, None,
        {"op": "status"}, {"op": "unload", "name": "w"}, {"op": "unload", "name": "w"}]
    reqs["load-fails"] = [{"op": "load", "file": "/tmp/e.lua", "code": "error('no')"}, None,
                          {"op": "load", "file": "/tmp/s.lua", "code": "local x = ("}, None,
                          {"op": "load", "file": "/tmp/o.lua", "code": "os.execute('true')"}]
    for name, lines in reqs.items():
        save("control", name, "".join(("" if r is None else json.dumps(r)) + "\n"
                                      for r in lines).encode())
    save("control", "malformed", b'{"op":"status"\n[1,2,\n{"op":"list"}\r\n\xff\xfe\n{}\n')
    save("control", "escapes", b'{"op":"logs","name":"a\\u0000b\\ud800"}\n'
         b'{"op":"load","file":"/\\u00e9.lua","code":"\\"\\\\"}\n')


frames = parser_seeds()
pcap_seeds(frames)
control_seeds()
