#!/usr/bin/env python3
"""jit_lines.py PROG PERF_DATA: where a BPF program's time goes, by source line.

perf samples whose ip falls inside PROG's JIT image (its subprograms too)
are mapped to source lines: the program's jited_line_info/line_info (from
BPF_OBJ_GET_INFO_BY_FD) give each line's JIT address and xlated insn, and
`bpftool prog dump xlated linum` the insn's source line. A sample counts
for the line of the byte before its ip (the instruction that was retiring).
Works where bpftool has no libbfd to disassemble the JIT image. Root;
the program must still be loaded (run it while vigild runs), e.g.:

  perf record -o /tmp/p.data -e cycles:k -C 1 -F 20000 -- taskset -c 1 build/loops open FILE 200000 50000
  python3 bench/jit_lines.py exit_openat /tmp/p.data

(bench/RESULTS.md, issue 13 sessions 5 and 7; `-e cycles:k`: a paced loop
busy-waits in user space, and only kernel cycles then get the samples.)
x86_64 syscall numbers.
"""
import bisect
import collections
import ctypes
import json
import re
import struct
import subprocess
import sys

LIBC = ctypes.CDLL(None, use_errno=True)
SYS_BPF = 321  # x86_64
BPF_PROG_GET_FD_BY_ID, BPF_OBJ_GET_INFO_BY_FD = 13, 15
INFO_SIZE = 512  # struct bpf_prog_info, generously


def bpf(cmd, attr):
    r = LIBC.syscall(SYS_BPF, cmd, ctypes.byref(attr), ctypes.sizeof(attr))
    if r < 0:
        raise OSError(ctypes.get_errno(), f"bpf command {cmd}")
    return r


def prog_id(name):
    progs = json.loads(subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True,
                                      text=True, check=True).stdout)
    ids = [p["id"] for p in progs if p.get("name") == name]
    if not ids:
        sys.exit(f"jit_lines: no loaded program named {name}")
    return ids[-1]


def prog_info(fd, info):
    attr = (ctypes.c_uint8 * 128)()
    struct.pack_into("<IIQ", attr, 0, fd, INFO_SIZE, ctypes.addressof(info))
    bpf(BPF_OBJ_GET_INFO_BY_FD, attr)


def jit_lines(pid):
    """(JIT address ranges of the program and its subprograms,
    sorted [(jit address, xlated insn)]) of program id pid."""
    attr = (ctypes.c_uint8 * 128)()
    struct.pack_into("<I", attr, 0, pid)
    fd = bpf(BPF_PROG_GET_FD_BY_ID, attr)
    first = (ctypes.c_uint8 * INFO_SIZE)()
    prog_info(fd, first)
    nks, nfl = struct.unpack_from("<II", first, 104)  # nr_jited_ksyms, nr_jited_func_lens
    nli, = struct.unpack_from("<I", first, 148)  # nr_line_info
    njli, lrs, jlrs = struct.unpack_from("<III", first, 168)
    ks, fl = (ctypes.c_uint64 * nks)(), (ctypes.c_uint32 * nfl)()
    li, jli = (ctypes.c_uint8 * (nli * lrs))(), (ctypes.c_uint64 * njli)()
    again = (ctypes.c_uint8 * INFO_SIZE)()
    struct.pack_into("<II", again, 104, nks, nfl)
    struct.pack_into("<QQ", again, 112, ctypes.addressof(ks), ctypes.addressof(fl))
    struct.pack_into("<I", again, 148, nli)
    struct.pack_into("<QQ", again, 152, ctypes.addressof(li), ctypes.addressof(jli))
    struct.pack_into("<III", again, 168, njli, lrs, jlrs)
    prog_info(fd, again)
    insn = [struct.unpack_from("<I", li, k * lrs)[0] for k in range(nli)]
    ranges = [(ks[k], ks[k] + fl[k]) for k in range(nks)]
    return ranges, sorted((jli[k], insn[k]) for k in range(njli))


def source_of_insns(pid):
    """{xlated insn: "file:line code"} from bpftool's linum dump."""
    out = subprocess.run(["bpftool", "prog", "dump", "xlated", "id", str(pid), "linum"],
                         capture_output=True, text=True, check=True).stdout
    src, cur = {}, "?"
    for line in out.splitlines():
        m = re.match(r"\s*; (.*) \[file:\S*/(\S+) line_num:(\d+)", line)
        if m:
            cur = f"{m.group(2)}:{m.group(3)} {m.group(1).strip()[:70]}"
            continue
        m = re.match(r"\s*(\d+): \(", line)
        if m:
            src[int(m.group(1))] = cur
    return src


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: jit_lines.py PROG PERF_DATA")
    pid = prog_id(sys.argv[1])
    ranges, lines = jit_lines(pid)
    src = source_of_insns(pid)
    addrs = [a for a, _ in lines]
    out = subprocess.run(["perf", "script", "-i", sys.argv[2], "-F", "ip"], capture_output=True,
                         text=True, check=True).stdout
    hist, total = collections.Counter(), 0
    for field in out.split():
        ip = int(field, 16)
        if not any(lo <= ip < hi for lo, hi in ranges):
            continue
        total += 1
        k = bisect.bisect_right(addrs, ip - 1) - 1
        hist[src.get(lines[k][1], "?") if k >= 0 else "?"] += 1
    print(f"{total} samples in {sys.argv[1]} (and its subprograms)")
    for line, n in hist.most_common(40):
        print(f"{n:6d} {100 * n / max(total, 1):5.1f}%  {line}")


if __name__ == "__main__":
    sys.exit(main())
