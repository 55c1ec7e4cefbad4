#!/usr/bin/env python3
"""Read Qt resource bundles (*.rcc, the binary output of `rcc -binary`).

Python 3 standard library only. Used by make_examples.py; also a small CLI:

    python3 rcc_extract.py list BUNDLE.rcc
    python3 rcc_extract.py extract BUNDLE.rcc OUTDIR [PREFIX]

Format (Qt 5/6 src/corelib/io/qresource.cpp), all integers big-endian:

    header   "qres"  version:u32  tree_offset:u32  data_offset:u32  names_offset:u32
             [flags:u32 when version >= 3]
    tree     nodes of 14 bytes (version 1) or 22 bytes (version >= 2: + last_modified:u64)
             node = name_offset:u32 flags:u16 then
                    directory: child_count:u32 first_child_index:u32
                    file:      country:u16 language:u16 data_offset:u32
             node 0 is the root directory; children of a directory are contiguous.
    names    at names_offset + name_offset: length:u16 (UTF-16 units) hash:u32 UTF-16BE text
    data     at data_offset + node.data_offset: size:u32 then size bytes
             flag 0x01: qCompress = expected_length:u32 + zlib stream
             flag 0x04: a zstd frame (decoded with the Debian `zstd` CLI)
"""

import struct
import subprocess
import sys
import zlib
from pathlib import Path

FLAG_COMPRESSED_ZLIB = 0x01
FLAG_DIRECTORY = 0x02
FLAG_COMPRESSED_ZSTD = 0x04


class RccError(Exception):
    """A bundle that does not follow the rcc binary format."""


class RccBundle:
    """An opened .rcc file: walk its tree with `files()`, read entries with `read()`."""

    def __init__(self, path):
        self.path = Path(path)
        self.blob = self.path.read_bytes()
        if self.blob[:4] != b"qres":
            raise RccError(f"{self.path}: no 'qres' magic; not a binary Qt resource bundle")
        self.version, self.tree_offset, self.data_offset, self.names_offset = struct.unpack_from(
            ">IIII", self.blob, 4
        )
        if self.version not in (1, 2, 3):
            raise RccError(f"{self.path}: unsupported rcc format version {self.version}")
        # Version 2 added an 8-byte modification time to every node.
        self.node_size = 14 if self.version == 1 else 22

    def _name(self, name_offset):
        position = self.names_offset + name_offset
        (length,) = struct.unpack_from(">H", self.blob, position)
        start = position + 2 + 4  # skip length and the 32-bit name hash
        return self.blob[start : start + 2 * length].decode("utf-16-be")

    def _node(self, index):
        position = self.tree_offset + index * self.node_size
        name_offset, flags = struct.unpack_from(">IH", self.blob, position)
        if flags & FLAG_DIRECTORY:
            child_count, first_child = struct.unpack_from(">II", self.blob, position + 6)
            return name_offset, flags, (child_count, first_child)
        _country, _language, data_offset = struct.unpack_from(">HHI", self.blob, position + 6)
        return name_offset, flags, data_offset

    def files(self):
        """Yield (path, flags, data_offset) for every file, depth first, paths like 'a/b/c.jpg'."""
        stack = [(0, "")]
        while stack:
            index, prefix = stack.pop()
            name_offset, flags, payload = self._node(index)
            name = "" if index == 0 else self._name(name_offset)
            path = f"{prefix}/{name}" if prefix else name
            if flags & FLAG_DIRECTORY:
                child_count, first_child = payload
                for child in reversed(range(first_child, first_child + child_count)):
                    stack.append((child, path))
            else:
                yield path, flags, payload

    def read(self, flags, data_offset):
        """Return the uncompressed bytes of one file entry."""
        position = self.data_offset + data_offset
        (size,) = struct.unpack_from(">I", self.blob, position)
        raw = self.blob[position + 4 : position + 4 + size]
        if flags & FLAG_COMPRESSED_ZLIB:
            (expected,) = struct.unpack_from(">I", raw, 0)
            data = zlib.decompress(raw[4:])
            if len(data) != expected:
                raise RccError(f"{self.path}: zlib entry is {len(data)} bytes, header says {expected}")
            return data
        if flags & FLAG_COMPRESSED_ZSTD:
            result = subprocess.run(
                ["zstd", "-d", "-q", "-c"], input=raw, capture_output=True, check=False
            )
            if result.returncode != 0:
                raise RccError(
                    f"{self.path}: zstd failed ({result.stderr.decode().strip()}); "
                    "install it with `apt-get install zstd`"
                )
            return result.stdout
        return raw

    def entries(self):
        """Return {path: bytes} for every file in the bundle."""
        return {path: self.read(flags, offset) for path, flags, offset in self.files()}


def main(argv):
    if len(argv) >= 3 and argv[1] == "list":
        bundle = RccBundle(argv[2])
        for path, flags, offset in bundle.files():
            kind = "zlib" if flags & FLAG_COMPRESSED_ZLIB else "zstd" if flags & FLAG_COMPRESSED_ZSTD else "raw"
            print(f"{kind:4} {len(bundle.read(flags, offset)):9d} {path}")
        return 0
    if len(argv) >= 4 and argv[1] == "extract":
        bundle = RccBundle(argv[2])
        prefix = argv[4] if len(argv) > 4 else ""
        for path, data in bundle.entries().items():
            if path.startswith(prefix):
                target = Path(argv[3]) / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
