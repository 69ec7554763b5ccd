"""Strict ASCII armor, in pure Python; packet boundaries come from :mod:`.framing`.

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

from lockkeys._internal.openpgp.framing import (
    TAG_COMPRESSED,
    TAG_LITERAL,
    TAG_MARKER,
    TAG_NAMES,
    TAG_PUBLIC_KEY,
    TAG_PUBLIC_SUBKEY,
    TAG_SECRET_KEY,
    TAG_SECRET_SUBKEY,
    TAG_SIGNATURE,
    TAG_USER_ID,
    Packet,
    split_packets,
)
from lockkeys.errors import InputError

__all__ = [
    "TAG_COMPRESSED",
    "TAG_LITERAL",
    "TAG_MARKER",
    "TAG_NAMES",
    "TAG_PUBLIC_KEY",
    "TAG_PUBLIC_SUBKEY",
    "TAG_SECRET_KEY",
    "TAG_SECRET_SUBKEY",
    "TAG_SIGNATURE",
    "TAG_USER_ID",
    "Block",
    "Packet",
    "armor",
    "decode",
    "split_packets",
]

_BEGIN = re.compile(r"^-----BEGIN PGP ([A-Z0-9 ,/]+)-----$")
_END = re.compile(r"^-----END PGP ([A-Z0-9 ,/]+)-----$")
_HEADER = re.compile(r"^[A-Za-z][A-Za-z0-9-]*: ?.*$")


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
