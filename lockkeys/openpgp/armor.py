"""Strict OpenPGP framing: ASCII armor and packet boundaries, in pure Python.

Everything lockkeys reads (certificates, secret keys, signature files) passes through here
before the engine sees it, so that malformed input ends in one clear sentence naming the file:
empty files, binary garbage, non-UTF-8 text, truncated armor, a bad checksum, trailing junk,
or packets of the wrong kind. Nothing here decides trust.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from lockkeys.errors import InputError

# Packet tags (RFC 9580 section 5).
TAG_SIGNATURE = 2
TAG_SECRET_KEY = 5
TAG_PUBLIC_KEY = 6
TAG_SECRET_SUBKEY = 7
TAG_COMPRESSED = 8
TAG_MARKER = 10
TAG_LITERAL = 11
TAG_USER_ID = 13
TAG_PUBLIC_SUBKEY = 14

TAG_NAMES = {
    1: "an encrypted session key",
    2: "a signature",
    3: "an encrypted session key",
    4: "a one-pass signature",
    5: "a secret key",
    6: "a public key",
    7: "a secret subkey",
    8: "compressed data",
    9: "encrypted data",
    10: "a marker",
    11: "literal data",
    12: "trust data",
    13: "a user ID",
    14: "a public subkey",
    17: "a user attribute",
    18: "encrypted data",
    20: "encrypted data",
    21: "padding",
}

_BEGIN = re.compile(r"^-----BEGIN PGP ([A-Z0-9 ,/]+)-----$")
_END = re.compile(r"^-----END PGP ([A-Z0-9 ,/]+)-----$")
_HEADER = re.compile(r"^[A-Za-z][A-Za-z0-9-]*: ?.*$")


@dataclass(frozen=True)
class Packet:
    tag: int
    body: bytes
    raw: bytes  # header + body, exactly as read

    @property
    def what(self) -> str:
        return TAG_NAMES.get(self.tag, f"a packet of type {self.tag}")


@dataclass(frozen=True)
class Block:
    """One decoded unit of input: the armor label (None for binary input) and its packets."""

    label: str | None
    packets: tuple[Packet, ...]


def _crc24_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
        table.append(crc & 0xFFFFFF)
    return tuple(table)


_CRC24_TABLE = _crc24_table()


def _crc24(data: bytes) -> int:
    """RFC 9580 section 6.1 CRC-24, one table lookup per byte."""
    crc = 0xB704CE
    table = _CRC24_TABLE
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFF) ^ table[((crc >> 16) ^ byte) & 0xFF]
    return crc


def split_packets(data: bytes, source: str) -> tuple[Packet, ...]:
    """Split binary OpenPGP data into packets; any truncation or junk is an InputError."""
    packets: list[Packet] = []
    pos = 0
    end = len(data)
    while pos < end:
        start = pos
        first = data[pos]
        if not first & 0x80:
            raise InputError(
                f"not OpenPGP data: byte {pos} (0x{first:02x}) does not start a packet",
                file=source,
                expected="OpenPGP packets (binary) or an ASCII-armored block",
                found="binary data that is not OpenPGP" if pos == 0 else "trailing junk",
            )
        pos += 1
        if first & 0x40:  # new format
            tag = first & 0x3F
            if pos >= end:
                raise _truncated(source)
            o1 = data[pos]
            if o1 < 192:
                length, pos = o1, pos + 1
            elif o1 < 224:
                if pos + 1 >= end:
                    raise _truncated(source)
                length, pos = ((o1 - 192) << 8) + data[pos + 1] + 192, pos + 2
            elif o1 == 255:
                if pos + 4 >= end:
                    raise _truncated(source)
                length, pos = int.from_bytes(data[pos + 1 : pos + 5], "big"), pos + 5
            else:
                raise InputError(
                    "partial-length packet where keys and signatures never use one",
                    file=source,
                    expected="keys or signatures",
                    found=f"{TAG_NAMES.get(tag, f'packet type {tag}')} with a partial body length",
                )
        else:  # old format
            tag = (first >> 2) & 0x0F
            ltype = first & 0x03
            if ltype == 3:
                raise InputError(
                    "packet of indeterminate length where keys and signatures never use one",
                    file=source,
                )
            nbytes = 1 << ltype
            if pos + nbytes > end:
                raise _truncated(source)
            length = int.from_bytes(data[pos : pos + nbytes], "big")
            pos += nbytes
        if pos + length > end:
            raise _truncated(source)
        body = data[pos : pos + length]
        pos += length
        packets.append(Packet(tag=tag, body=body, raw=data[start:pos]))
    if not packets:
        raise InputError("empty: no OpenPGP data", file=source)
    return tuple(packets)


def _truncated(source: str) -> InputError:
    return InputError(
        "truncated OpenPGP data: a packet ends before its stated length",
        file=source,
        fix="download or copy the file again; it was cut off",
    )


def decode(data: bytes, source: str) -> list[Block]:
    """Decode a file's bytes into blocks of packets, armored or binary.

    Armored input may hold several consecutive armor blocks (e.g. signature files joined with
    ``cat``), separated only by white space; anything else outside the blocks is an error.
    """
    if not data.strip():
        raise InputError("empty file", file=source, expected="an OpenPGP key or signature")
    if data[0] & 0x80:
        return [Block(label=None, packets=split_packets(data, source))]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"neither OpenPGP binary data nor UTF-8 text (invalid byte at offset {exc.start})",
            file=source,
            expected="an ASCII-armored block (-----BEGIN PGP ...-----) or binary OpenPGP",
        ) from None
    return _decode_armor(text, source)


def _decode_armor(text: str, source: str) -> list[Block]:
    lines = text.splitlines()
    blocks: list[Block] = []
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i].strip()
        if not line:
            i += 1
            continue
        m = _BEGIN.match(line)
        if not m:
            what = "text before the armor header" if not blocks else "trailing data after the armor"
            raise InputError(
                f"{what} at line {i + 1}",
                file=source,
                expected="only ASCII-armored OpenPGP blocks (-----BEGIN PGP ...-----)",
                found=_shorten(line),
            )
        label = m.group(1)
        i += 1
        # Armor headers, then one blank line.
        while i < n and lines[i].strip() and _HEADER.match(lines[i].strip()):
            i += 1
        if i < n and not lines[i].strip():
            i += 1
        body_lines: list[str] = []
        crc: str | None = None
        closed = False
        while i < n:
            current = lines[i].strip()
            i += 1
            end = _END.match(current)
            if end:
                if end.group(1) != label:
                    raise InputError(
                        f"armor ends with 'END PGP {end.group(1)}' "
                        f"but began with 'BEGIN PGP {label}'",
                        file=source,
                    )
                closed = True
                break
            if current.startswith("=") and len(current) == 5:
                crc = current[1:]
                continue
            if crc is not None:
                raise InputError("data after the armor checksum line", file=source)
            if current:
                body_lines.append(current)
        if not closed:
            raise InputError(
                f"truncated armor: no '-----END PGP {label}-----' line",
                file=source,
                fix="the file was cut off; download or copy it again",
            )
        try:
            binary = base64.b64decode("".join(body_lines), validate=True)
        except (binascii.Error, ValueError):
            raise InputError("armor body is not valid base64", file=source) from None
        if crc is not None:
            try:
                expected_crc = int.from_bytes(base64.b64decode(crc, validate=True), "big")
            except (binascii.Error, ValueError):
                raise InputError("armor checksum line is not valid base64", file=source) from None
            if _crc24(binary) != expected_crc:
                raise InputError(
                    "armor checksum mismatch: the block was altered or damaged", file=source
                )
        if not binary:
            raise InputError(f"empty armor block 'PGP {label}'", file=source)
        blocks.append(Block(label=label, packets=split_packets(binary, source)))
    if not blocks:
        raise InputError("empty file", file=source)
    return blocks


def _shorten(line: str, limit: int = 60) -> str:
    from lockkeys.errors import escape

    line = escape(line)
    return line if len(line) <= limit else line[: limit - 3] + "..."


def armor(binary: bytes, label: str) -> str:
    """ASCII-armor binary packets (RFC 9580 section 6), without headers, deterministically."""
    encoded = base64.b64encode(binary).decode("ascii")
    body = "\n".join(encoded[i : i + 64] for i in range(0, len(encoded), 64))
    crc = base64.b64encode(_crc24(binary).to_bytes(3, "big")).decode("ascii")
    return f"-----BEGIN PGP {label}-----\n\n{body}\n={crc}\n-----END PGP {label}-----\n"
