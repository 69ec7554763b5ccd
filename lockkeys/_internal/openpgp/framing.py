"""The one OpenPGP packet framing reader (and writer) of lockkeys.

Every packet lockkeys reads (certificates, secret keys, signature files, the keys it protects
with a passphrase) is split here, with one set of rules (RFC 9580 section 4.2):

- old- and new-format headers with definite lengths are read;
- partial body lengths and old-format indeterminate lengths are refused: RFC 9580 allows them
  for data packets only (literal, compressed, encrypted), never for keys or signatures, and
  lockkeys reads nothing else;
- tag 0 is reserved and refused; a packet that runs past the end of the data, or bytes that do
  not start a packet, are refused.

Every refusal is an :class:`~lockkeys.errors.InputError` naming the file. What a packet *says*
(versions, algorithms, subpackets) is read elsewhere; this module only finds the boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    "Packet",
    "encode_packet",
    "split_packets",
]

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


@dataclass(frozen=True)
class Packet:
    """One OpenPGP packet as framed: its tag, its body and the exact bytes read."""

    tag: int
    body: bytes
    raw: bytes  # header + body, exactly as read

    @property
    def what(self) -> str:
        """The packet's kind in words, for messages."""
        return TAG_NAMES.get(self.tag, f"a packet of type {self.tag}")


def _truncated(source: str) -> InputError:
    return InputError(
        "truncated OpenPGP data: a packet ends before its stated length",
        file=source,
        fix="download or copy the file again; it was cut off",
    )


def split_packets(data: bytes, source: str) -> tuple[Packet, ...]:
    """Split binary OpenPGP data into packets; any framing fault is an InputError."""
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
                    expected="keys or signatures (definite lengths, RFC 9580 section 4.2.1.4)",
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
        if tag == 0:
            raise InputError(
                f"OpenPGP packet at offset {start} has the reserved tag 0", file=source
            )
        if pos + length > end:
            raise _truncated(source)
        body = data[pos : pos + length]
        pos += length
        packets.append(Packet(tag=tag, body=body, raw=data[start:pos]))
    if not packets:
        raise InputError("empty: no OpenPGP data", file=source)
    return tuple(packets)


def encode_packet(tag: int, body: bytes) -> bytes:
    """Encode one packet with a new-format header and the shortest definite length form."""
    if not 1 <= tag <= 63:
        raise ValueError(f"OpenPGP packet tag must be 1..63, got {tag}")
    n = len(body)
    if n < 192:
        length = bytes([n])
    elif n < 8384:
        n -= 192
        length = bytes([(n >> 8) + 192, n & 0xFF])
    elif n <= 0xFFFFFFFF:
        length = b"\xff" + n.to_bytes(4, "big")
    else:
        raise ValueError(f"OpenPGP packet body too long: {n} octets")
    return bytes([0xC0 | tag]) + length + body
