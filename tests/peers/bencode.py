"""Bencode, as rtpengine's ng control protocol uses it.

Written here because bencode2, the well-kept typed library, refuses rtpengine's replies: it
requires sorted dictionary keys, and rtpengine does not sort them. Encoding sorts keys
(canonical); decoding takes them in any order. Byte strings decode to str (the protocol's
strings are text: commands, tags, SDP).
"""

from __future__ import annotations

Value = int | str | bytes | list["Value"] | dict[str, "Value"]
Decoded = int | str | list["Decoded"] | dict[str, "Decoded"]


def bencode(value: Value) -> bytes:
    """The bencoding of `value`; TypeError for types bencode has no form for (bool, float...)."""
    if isinstance(value, bool) or not isinstance(value, int | str | bytes | list | dict):
        raise TypeError(f"cannot bencode {type(value).__name__}")
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list):
        return b"l" + b"".join(bencode(item) for item in value) + b"e"
    items = sorted((key.encode(), item) for key, item in value.items())
    return b"d" + b"".join(bencode(key) + bencode(item) for key, item in items) + b"e"


def bdecode(data: bytes) -> Decoded:
    """The value bencoded in `data`; ValueError if it is malformed or has trailing bytes."""
    value, end = _decode(data, 0)
    if end != len(data):
        raise ValueError(f"trailing bytes after the bencoded value at offset {end}")
    return value


def _decode(data: bytes, at: int) -> tuple[Decoded, int]:
    if at >= len(data):
        raise ValueError("bencoded value truncated")
    kind = data[at : at + 1]
    if kind == b"i":
        end = data.find(b"e", at)
        if end < 0:
            raise ValueError(f"unterminated integer at offset {at}")
        return int(data[at + 1 : end]), end + 1
    if kind == b"l":
        items: list[Decoded] = []
        at += 1
        while data[at : at + 1] != b"e":
            item, at = _decode(data, at)
            items.append(item)
        return items, at + 1
    if kind == b"d":
        mapping: dict[str, Decoded] = {}
        at += 1
        while data[at : at + 1] != b"e":
            key, at = _decode(data, at)
            if not isinstance(key, str):
                raise ValueError(f"dictionary key is not a string at offset {at}")
            mapping[key], at = _decode(data, at)
        return mapping, at + 1
    colon = data.find(b":", at)
    if colon < 0 or not data[at:colon].isdigit():
        raise ValueError(f"invalid bencoded value at offset {at}")
    end = colon + 1 + int(data[at:colon])
    if end > len(data):
        raise ValueError(f"string at offset {at} runs past the end")
    return data[colon + 1 : end].decode(errors="surrogateescape"), end
