#!/usr/bin/python3
"""Decode every protobuf entry of CRIU images with kcsi's schemas.

Reports fields the schemas do not know (unknown fields), missing required
fields and bytes left over after the last entry. Used to check proto/
against real checkpoints.

Usage: /usr/bin/python3 proto/tools/check-images.py PROTODIR IMGDIR...
Needs protoc (Debian package protobuf-compiler) and Python google.protobuf.
Image kinds and payload rules come from PROTODIR/magic.tsv.
"""
import collections
import glob
import os
import struct
import subprocess
import sys
import tempfile

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

COMMON, SERVICE = 0x54564319, 0x55105940


def load_pool(protodir):
    protos = sorted(os.path.basename(p) for p in glob.glob(protodir + '/*.proto'))
    with tempfile.NamedTemporaryFile(suffix='.pb') as tmp:
        subprocess.check_call(['protoc', '-I', protodir, '-I/usr/include',
                               '--include_imports',
                               '--descriptor_set_out=' + tmp.name] + protos)
        fds = descriptor_pb2.FileDescriptorSet()
        fds.ParseFromString(open(tmp.name, 'rb').read())
    pool = descriptor_pool.DescriptorPool()
    for f in fds.file:
        pool.Add(f)
    factory = message_factory.MessageFactory(pool)
    return lambda name: factory.GetPrototype(pool.FindMessageTypeByName(name))


def main():
    protodir, dirs = sys.argv[1], sys.argv[2:]
    cls = load_pool(protodir)
    kinds = {}
    for line in open(os.path.join(protodir, 'magic.tsv')):
        if line.startswith('#') or not line.strip():
            continue
        name, magic, prefix, msg, payload, _tmpl = line.rstrip('\n').split('\t')
        if int(magic) and msg != 'raw':
            kinds.setdefault(int(magic), (name, prefix, msg, payload))

    unknown = collections.Counter()
    examples = {}
    missing = collections.Counter()
    seen = collections.Counter()
    raw = []
    problems = []

    def walk(m, path):
        for uf in m.UnknownFields():
            key = (path, uf.field_number, uf.wire_type)
            unknown[key] += 1
            examples.setdefault(key, repr(uf.data)[:60])
        for fd, v in m.ListFields():
            if fd.type == fd.TYPE_MESSAGE:
                for x in (v if fd.label == fd.LABEL_REPEATED else [v]):
                    walk(x, path + '.' + fd.name)

    def parse(msgname, data):
        m = cls(msgname)()
        m.MergeFromString(data)
        for e in m.FindInitializationErrors():
            missing[(msgname, e)] += 1
        walk(m, msgname)
        return m

    for d in dirs:
        files = sorted(glob.glob(d + '/*.img') + glob.glob(d + '/stats-*')
                       + glob.glob(d + '/../stats-dump'))
        for p in files:
            b = open(p, 'rb').read()
            if len(b) < 4:
                problems.append('short file ' + p)
                continue
            mg, = struct.unpack_from('<I', b, 0)
            off, pref = 4, 'none'
            if mg in (COMMON, SERVICE):
                pref = 'common' if mg == COMMON else 'service'
                mg, = struct.unpack_from('<I', b, 4)
                off = 8
            if mg not in kinds:
                raw.append(os.path.basename(p))
                continue
            name, xpref, msg, payload = kinds[mg]
            if pref != xpref:
                problems.append('%s: prefix %s, expected %s' % (p, pref, xpref))
            seen[name] += 1
            first = True
            while off < len(b):
                ln, = struct.unpack_from('<I', b, off)
                off += 4
                data = b[off:off + ln]
                off += ln
                mname = msg
                if payload == 'pagemap':
                    mname = 'pagemap_head' if first else 'pagemap_entry'
                elif payload == 'ghost_file' and not first:
                    mname = 'ghost_chunk_entry'
                m = parse(mname, data)
                if payload == 'tcp_stream':
                    off += m.inq_len + m.outq_len
                elif payload == 'ghost_file':
                    if first and not m.chunks:
                        off = len(b)
                    elif not first:
                        off += m.len
                elif payload == 'pipes_data':
                    off += m.bytes
                elif payload == 'sk_queues':
                    off += m.length
                elif payload == 'bpfmap_data':
                    off += m.keys_bytes + m.values_bytes
                elif payload == 'ipc_shm':
                    if not m.in_pagemaps:
                        off += (m.size + 3) & ~3
                elif payload == 'ipc_sem':
                    off += (2 * m.nsems + 7) & ~7
                elif payload == 'ipc_msg':
                    for _ in range(m.qnum):
                        l2, = struct.unpack_from('<I', b, off)
                        msg2 = parse('ipc_msg', b[off + 4:off + 4 + l2])
                        off += 4 + l2 + ((msg2.msize + 7) & ~7)
                first = False
            if off != len(b):
                problems.append('%s: ends at %d, file has %d bytes' % (p, off, len(b)))

    print('image kinds decoded:', dict(sorted(seen.items())))
    print('files without a known magic (raw):', len(raw))
    print('unknown fields:', 'none' if not unknown else '')
    for k, v in sorted(unknown.items()):
        print('  %s field %d (wire type %d) x%d e.g. %s' % (k[0], k[1], k[2], v, examples[k]))
    print('missing required fields:', 'none' if not missing else '')
    for k, v in sorted(missing.items()):
        print('  %s: %s x%d' % (k[0], k[1], v))
    for p in problems:
        print('problem:', p)
    return 1 if (unknown or missing or problems) else 0


if __name__ == '__main__':
    sys.exit(main())
