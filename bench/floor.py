"""floor.py — the empty program (bench/floor.bpf.c) attached to sys_exit_openat:
what the kernel's statistics count for a program that does nothing (two
clock reads and the call, ~60-70 ns on the test VM). bench/open_cost.py and
bench/prog_cost.py subtract it per run: their "net" figures.
"""
import ctypes
import json
import os
import subprocess

LIBC = ctypes.CDLL(None, use_errno=True)
SYS_BPF, SYS_PERF_EVENT_OPEN = 321, 298  # x86_64
PERF_EVENT_IOC_ENABLE, PERF_EVENT_IOC_SET_BPF = 0x2400, 0x40042408


def floor_attach(tmp):
    """The empty program (bench/floor.bpf.c) on sys_exit_openat, as libbpf
    attaches a tracepoint program: perf_event_open, then SET_BPF. Returns
    (its program id, the perf fd that holds it attached)."""
    obj, pin = os.path.join(tmp, "floor.bpf.o"), f"/sys/fs/bpf/vigil-floor-{os.getpid()}"
    arch = os.uname().machine
    subprocess.run(["clang", "-O2", "-g", "-target", "bpf", f"-I/usr/include/{arch}-linux-gnu",
                    "-c", "bench/floor.bpf.c", "-o", obj], check=True)
    subprocess.run(["bpftool", "prog", "load", obj, pin, "type", "tracepoint"], check=True)
    info = json.loads(subprocess.run(["bpftool", "-j", "prog", "show", "pinned", pin],
                                     capture_output=True, text=True, check=True).stdout)
    prog_fd = obj_get(pin)
    os.unlink(pin)  # the fd and then the perf event keep it
    pfd = tp_attach(prog_fd, "sys_exit_openat")
    os.close(prog_fd)
    return info["id"], pfd


def obj_get(pin):
    """An fd of the program or map pinned at pin."""
    path = ctypes.create_string_buffer(pin.encode())
    attr = (ctypes.c_uint64 * 16)(ctypes.cast(path, ctypes.c_void_p).value)
    fd = LIBC.syscall(SYS_BPF, 7, attr, 128)  # BPF_OBJ_GET
    if fd < 0:
        raise OSError(ctypes.get_errno(), f"opening {pin}")
    return fd


def tp_attach(prog_fd, tracepoint):
    """The program prog_fd attached to syscalls/tracepoint, as libbpf attaches a
    tracepoint program; returns the perf fd that holds it (close it to detach)."""
    if not os.path.exists("/sys/kernel/tracing/events"):  # as vigild does (sense/probes.c)
        subprocess.run(["mount", "-t", "tracefs", "tracefs", "/sys/kernel/tracing"], check=True)
    with open(f"/sys/kernel/tracing/events/syscalls/{tracepoint}/id") as f:
        tp = int(f.read())
    pattr = (ctypes.c_uint32 * 32)()
    pattr[0], pattr[1] = 2, 128  # PERF_TYPE_TRACEPOINT, size
    pattr[2], pattr[4] = tp & 0xffffffff, 1  # config, sample_period
    pfd = LIBC.syscall(SYS_PERF_EVENT_OPEN, pattr, -1, 0, -1, 8)  # PERF_FLAG_FD_CLOEXEC
    if pfd < 0 or LIBC.ioctl(pfd, PERF_EVENT_IOC_SET_BPF, prog_fd) < 0 \
            or LIBC.ioctl(pfd, PERF_EVENT_IOC_ENABLE, 0) < 0:
        raise OSError(ctypes.get_errno(), f"attaching program fd {prog_fd} to {tracepoint}")
    return pfd


def floor_ns(before, after):
    """ns per run of a program (the floor, or any) between two (run_cnt, run_time_ns) readings, or None."""
    runs = after[0] - before[0]
    return (after[1] - before[1]) / runs if runs > 0 else None


def floor_reading(floor_id):
    """(run_cnt, run_time_ns) of the floor program now."""
    p = json.loads(subprocess.run(["bpftool", "-j", "prog", "show", "id", str(floor_id)],
                                  capture_output=True, text=True, check=True).stdout)
    return p.get("run_cnt", 0), p.get("run_time_ns", 0)
