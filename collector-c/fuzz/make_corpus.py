#!/usr/bin/env python3
"""Writes the seed corpus of control_frame_fuzz into corpus/: one file per
case, each a byte stream of control frames (varint length + ClientMessage)
as a client sends them. Hand-encoded, so that it needs nothing but Python;
field numbers are those of proto/profinfer/v1/profinfer.proto.

Usage: python3 collector-c/fuzz/make_corpus.py   (rewrites corpus/)"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def field(num, wire, payload):
    return varint(num << 3 | wire) + payload


def u(num, v):
    return field(num, 0, varint(v))


def s(num, b):
    if isinstance(b, str):
        b = b.encode()
    return field(num, 2, varint(len(b)) + b)


def d(num, v):
    return field(num, 1, struct.pack("<d", v))


def msg(rid, num, body):
    """A ClientMessage with request_id and one oneof member."""
    return u(1, rid) + s(num, body)


def frame(m):
    return varint(len(m)) + m


TOKEN = "0123456789abcdef" * 4
HELLO = msg(1, 2, u(1, 1) + s(2, TOKEN) + s(3, "fuzz"))
CONFIG = u(1, 4) + u(2, 1) + u(3, 1) + s(4, "page-faults") + u(5, 1) + s(10, "auto") + u(12, 4096)
QOS = s(9, d(1, 5.0) + d(2, 8.0) + u(3, 16) + u(4, 3))

CASES = {
    "hello": frame(HELLO),
    "hello_then_status": frame(HELLO) + frame(msg(2, 5, b"")),
    "start_pid": frame(HELLO) + frame(msg(2, 3, u(1, 4242) + s(3, CONFIG))),
    "start_name": frame(HELLO) + frame(msg(2, 3, s(2, "llama-cli") + s(3, CONFIG + QOS))),
    "start_output_path": frame(msg(3, 3, u(1, 1) + s(3, s(13, "/etc/shadow")))),
    "stop_level_list": frame(msg(4, 4, s(1, "s-20260101-000000-0123456789ab")))
    + frame(msg(5, 6, s(1, "s-x") + u(2, 2)))
    + frame(msg(6, 7, b"")),
    "fetch_delete_subscribe": frame(msg(7, 8, s(1, "20260101-000000-0123456789ab") + u(2, 12345)))
    + frame(msg(8, 9, s(1, "../../etc/passwd")))
    + frame(msg(9, 10, s(1, "s-abc") + u(2, 1 << 40))),
    "empty_oneof": frame(u(1, 10)),
    "unknown_field": frame(u(111, 1)),
    "truncated": frame(HELLO)[:-5],
    "oversized_length": varint(1 << 20) + b"\x08\x01",
    "bad_varint": b"\x80" * 11,
    "string_overflow": frame(msg(11, 9, s(1, "x" * 200))),
}

if __name__ == "__main__":
    out = os.path.join(HERE, "corpus")
    os.makedirs(out, exist_ok=True)
    for name, data in CASES.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print(f"wrote {len(CASES)} seeds to {out}")
