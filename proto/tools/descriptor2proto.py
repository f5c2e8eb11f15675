#!/usr/bin/python3
"""Turn the compiled CRIU descriptors shipped with pycriu into .proto text.

Provenance helper for kcsi's proto/ directory.  Debian 12's `criu` package
(CRIU 3.17) installs pycriu/images/*_pb2.py; each module carries its
FileDescriptorProto in DESCRIPTOR.serialized_pb.  This script re-renders
those descriptors as proto2 source, keeping CRIU's (criu).* field options
in standard option syntax.

Usage (needs Debian's /usr/bin/python3, which has google.protobuf):
    /usr/bin/python3 proto/tools/descriptor2proto.py OUTDIR [PYCRIU_IMAGES_DIR]

The output is the CRIU 3.17 baseline; the 4.x additions listed in
proto/README.md were then applied by hand.
"""
import importlib
import os
import sys

from google.protobuf import descriptor_pb2 as dpb

IMAGES = sys.argv[2] if len(sys.argv) > 2 else \
    "/usr/lib/python3/dist-packages/pycriu/images"

F = dpb.FieldDescriptorProto
TYPES = {
    F.TYPE_DOUBLE: "double", F.TYPE_FLOAT: "float", F.TYPE_INT64: "int64",
    F.TYPE_UINT64: "uint64", F.TYPE_INT32: "int32", F.TYPE_FIXED64: "fixed64",
    F.TYPE_FIXED32: "fixed32", F.TYPE_BOOL: "bool", F.TYPE_STRING: "string",
    F.TYPE_BYTES: "bytes", F.TYPE_UINT32: "uint32", F.TYPE_SFIXED32: "sfixed32",
    F.TYPE_SFIXED64: "sfixed64", F.TYPE_SINT32: "sint32",
    F.TYPE_SINT64: "sint64",
}
LABELS = {F.LABEL_OPTIONAL: "optional", F.LABEL_REQUIRED: "required",
          F.LABEL_REPEATED: "repeated"}

# CRIU_Opts fields (opts.proto), in field-number order.
CRIU_OPTS = ["hex", "ipadd", "flags", "dev", "odev", "dict", "conv"]
CRIU_EXT = 1018


def quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def criu_opts(options):
    """Return [(name, value)] of the (criu).* extension in FieldOptions."""
    raw = options.SerializeToString()
    # Parse the raw bytes ourselves so we do not depend on the extension
    # being registered in the default pool.
    out = []
    pos = 0

    def varint(b, p):
        r = s = 0
        while True:
            c = b[p]
            p += 1
            r |= (c & 0x7f) << s
            s += 7
            if not c & 0x80:
                return r, p

    while pos < len(raw):
        key, pos = varint(raw, pos)
        num, wt = key >> 3, key & 7
        if wt == 0:
            _, pos = varint(raw, pos)
        elif wt == 2:
            ln, pos = varint(raw, pos)
            body = raw[pos:pos + ln]
            pos += ln
            if num == CRIU_EXT:
                p = 0
                while p < len(body):
                    k, p = varint(body, p)
                    n, w = k >> 3, k & 7
                    name = CRIU_OPTS[n - 1]
                    if w == 0:
                        v, p = varint(body, p)
                        out.append((name, "true" if v else "false"))
                    elif w == 2:
                        l2, p = varint(body, p)
                        out.append((name, quote(body[p:p + l2].decode())))
                        p += l2
                    else:
                        raise SystemExit("unexpected wire type in CRIU_Opts")
        elif wt == 5:
            pos += 4
        elif wt == 1:
            pos += 8
        else:
            raise SystemExit("unexpected wire type in FieldOptions")
    return out


def field_opts(f):
    opts = []
    if f.HasField("default_value"):
        v = f.default_value
        if f.type in (F.TYPE_STRING, F.TYPE_BYTES):
            v = quote(v)
        opts.append("default = " + v)
    if f.HasField("options"):
        o = f.options
        if o.HasField("packed"):
            opts.append("packed = " + ("true" if o.packed else "false"))
        if o.HasField("deprecated"):
            opts.append("deprecated = " + ("true" if o.deprecated else "false"))
        for name, val in criu_opts(o):
            opts.append("(criu).%s = %s" % (name, val))
    return " [" + ", ".join(opts) + "]" if opts else ""


def type_name(f):
    if f.type in (F.TYPE_MESSAGE, F.TYPE_ENUM):
        return f.type_name.lstrip(".")
    return TYPES[f.type]


def emit_enum(e, ind, out):
    out.append("%senum %s {" % (ind, e.name))
    if e.options.HasField("allow_alias"):
        out.append("%s\toption allow_alias = %s;" %
                   (ind, "true" if e.options.allow_alias else "false"))
    for v in e.value:
        out.append("%s\t%s = %d;" % (ind, v.name, v.number))
    out.append("%s}" % ind)


def emit_msg(m, ind, out):
    out.append("%smessage %s {" % (ind, m.name))
    if m.oneof_decl:
        raise SystemExit("oneof not handled: " + m.name)
    for e in m.enum_type:
        emit_enum(e, ind + "\t", out)
    for n in m.nested_type:
        emit_msg(n, ind + "\t", out)
    for f in m.field:
        out.append("%s\t%s %s %s = %d%s;" % (ind, LABELS[f.label], type_name(f),
                                            f.name, f.number, field_opts(f)))
    for r in m.extension_range:
        out.append("%s\textensions %d to %d;" % (ind, r.start, r.end - 1))
    out.append("%s}" % ind)


def render(fd):
    out = ["// SPDX-License-Identifier: MIT",
           "// Schema of CRIU's images/%s (CRIU is MIT-licensed for images/)." % fd.name,
           "// Baseline rendered by proto/tools/descriptor2proto.py from the CRIU 3.17",
           "// descriptors in Debian's pycriu; CRIU 4.x additions are listed in",
           "// proto/README.md.", ""]
    out.append('syntax = "proto2";')
    out.append("")
    for d in fd.dependency:
        out.append('import "%s";' % d)
    if fd.dependency:
        out.append("")
    for e in fd.enum_type:
        emit_enum(e, "", out)
        out.append("")
    for m in fd.message_type:
        emit_msg(m, "", out)
        out.append("")
    for x in fd.extension:
        out.append("extend %s {" % x.extendee.lstrip("."))
        out.append("\t%s %s %s = %d;" % (LABELS[x.label], type_name(x),
                                          x.name, x.number))
        out.append("}")
        out.append("")
    if fd.package or fd.service or fd.options.ListFields():
        raise SystemExit("unhandled file-level items in " + fd.name)
    return "\n".join(out).rstrip() + "\n"


def main():
    outdir = sys.argv[1]
    sys.path.insert(0, os.path.dirname(os.path.dirname(IMAGES)))
    os.makedirs(outdir, exist_ok=True)
    for fn in sorted(os.listdir(IMAGES)):
        if not fn.endswith("_pb2.py"):
            continue
        mod = importlib.import_module("pycriu.images." + fn[:-3])
        fd = dpb.FileDescriptorProto()
        fd.ParseFromString(mod.DESCRIPTOR.serialized_pb)
        with open(os.path.join(outdir, fd.name), "w") as f:
            f.write(render(fd))
        print(fd.name)


if __name__ == "__main__":
    main()
