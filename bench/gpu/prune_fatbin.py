#!/usr/bin/env python3
"""Zero the GPU machine code of every architecture but one in a CUDA shared library's .nv_fatbin section.

Why: ONNX Runtime 1.31's libonnxruntime_providers_cuda.so is 284 MB, 219 MB of it fatbins holding SASS for
sm_75/80/86/89/90/120; compressed it is ~194 MB (xz -9e), far over what one device call carries (64 MiB with the
working tree). A Hopper GPU (sm_90) can only run the sm_90 entries (SASS is not portable across major
versions and this build ships no PTX), so the other entries' payloads are replaced by zeros: the file keeps its
size and layout (every header, offset and symbol unchanged), and the zeros compress to nothing (~52 MB zstd).

Whether the CUDA driver accepts a fatbin whose unused entries are zeroed is NOT verified on a GPU yet:
bench/gpu/run.sh checks it (the CUDA provider must load and run) and the unpruned bundle
(`run.sh --prepare --full`) is the fallback.

Usage: prune_fatbin.py LIB OUT [--keep 90]
"""
import argparse
import struct
import sys

FATBIN_MAGIC = 0xBA55ED50


def sections(d):
    if d[:4] != b"\x7fELF" or d[4] != 2:
        sys.exit("not a 64-bit ELF file")
    shoff = struct.unpack_from("<Q", d, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", d, 0x3A)
    heads = [struct.unpack_from("<IIQQQQIIQQ", d, shoff + i * shentsize) for i in range(shnum)]
    names_at = heads[shstrndx][4]
    for h in heads:
        start = names_at + h[0]
        yield d[start:d.index(b"\0", start)].decode(), h[4], h[5]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("lib")
    ap.add_argument("out")
    ap.add_argument("--keep", type=int, default=90, help="SM architecture to keep (90 = Hopper)")
    a = ap.parse_args()
    d = bytearray(open(a.lib, "rb").read())
    found = [(off, size) for name, off, size in sections(d) if name == ".nv_fatbin"]
    if not found:
        sys.exit(f"{a.lib} has no .nv_fatbin section")
    off, size = found[0]
    pos, end = off, off + size
    kept = zeroed = fatbins = without_keep = 0
    while pos + 16 <= end:
        magic, _version, header, fat_size = struct.unpack_from("<IHHQ", d, pos)
        if magic != FATBIN_MAGIC:
            pos += 8  # fatbins are 8-byte aligned inside the section
            continue
        fatbins += 1
        p, stop, has_keep = pos + header, pos + header + fat_size, False
        while p < stop:
            _kind, _unused, entry_header, payload = struct.unpack_from("<HHIQ", d, p)
            if entry_header == 0:
                sys.exit(f"malformed fatbin entry at offset {p}")
            arch = struct.unpack_from("<I", d, p + 28)[0]
            if arch == a.keep:
                kept += payload
                has_keep = True
            else:
                d[p + entry_header:p + entry_header + payload] = bytes(payload)
                zeroed += payload
            p += entry_header + payload
        without_keep += not has_keep
        pos = stop
    if kept == 0:
        sys.exit(f"no sm_{a.keep} entry in {a.lib}: pruning would leave nothing to run")
    open(a.out, "wb").write(d)
    print(f"{a.lib}: {fatbins} fatbins; kept {kept / 1e6:.1f} MB of sm_{a.keep}, zeroed {zeroed / 1e6:.1f} MB; "
          f"{without_keep} fatbins have no sm_{a.keep} entry (their kernels could not run on sm_{a.keep} anyway)")


if __name__ == "__main__":
    main()
