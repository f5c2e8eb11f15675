"""Editing CRIU images in tests, without a protobuf library.

A CRIU image is a 4-byte magic (8 with the common/service prefix) followed by
entries: a little-endian u32 length and that many bytes of protobuf.  A
message is kept as a list of [field, wire type, value] triples in file order
(unknown fields survive a round trip); length-delimited values stay bytes
until a caller decodes them as a nested message with `msg()`.
"""
import struct

COMMON_MAGICS = (0x54564319, 0x55105940)


def _varint(buf, i):
    shift = val = 0
    while True:
        b = buf[i]
        i += 1
        val |= (b & 0x7f) << shift
        if b < 0x80:
            return val, i
        shift += 7


def _put_varint(v):
    out = bytearray()
    while True:
        b = v & 0x7f
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def msg(buf):
    """Decode protobuf bytes into [[field, wire, value], ...]."""
    fields, i = [], 0
    while i < len(buf):
        key, i = _varint(buf, i)
        f, w = key >> 3, key & 7
        if w == 0:
            v, i = _varint(buf, i)
        elif w == 1:
            v, i = buf[i:i + 8], i + 8
        elif w == 2:
            n, i = _varint(buf, i)
            v, i = bytes(buf[i:i + n]), i + n
        elif w == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError('wire type %d' % w)
        fields.append([f, w, v])
    return fields


def enc(fields):
    """Encode [[field, wire, value], ...]; a list value for wire 2 is a nested message."""
    out = bytearray()
    for f, w, v in fields:
        out += _put_varint(f << 3 | w)
        if w == 0:
            out += _put_varint(v)
        elif w == 2:
            b = enc(v) if isinstance(v, list) else v
            out += _put_varint(len(b)) + b
        else:
            out += v
    return bytes(out)


def get(fields, num):
    """Values of field num."""
    return [v for f, _, v in fields if f == num]


def put(fields, num, value, wire=0):
    """Set field num to value (replacing every occurrence, or appending)."""
    kept = [x for x in fields if x[0] != num]
    if len(kept) == len(fields):
        fields.append([num, wire, value])
    else:
        i = next(k for k, x in enumerate(fields) if x[0] == num)
        fields[:] = kept[:i] + [[num, wire, value]] + kept[i:]


def read_image(data):
    """(header bytes, [entry bytes, ...]) of an image without raw payloads."""
    hdr = 8 if struct.unpack_from('<I', data, 0)[0] in COMMON_MAGICS else 4
    entries, i = [], hdr
    while i < len(data):
        n = struct.unpack_from('<I', data, i)[0]
        entries.append(data[i + 4:i + 4 + n])
        i += 4 + n
    return data[:hdr], entries


def write_image(hdr, entries):
    out = bytearray(hdr)
    for e in entries:
        b = enc(e) if isinstance(e, list) else e
        out += struct.pack('<I', len(b)) + b
    return bytes(out)
