"""What tests/kernels/smoke.sh runs in the guest: a private vigild
(harness.Agent, --debug so libbpf's and the verifier's lines are in its
log), `vigil status`, one integration case a probe family on that vigild
(test_events' own functions: its main() would also run the forced-features
combinations, minutes each under TCG), then stop. Prints what loaded and
every libbpf/verifier error line; the whole log goes to $VIGIL_VM_OUT."""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402
import test_events  # noqa: E402

# each family on each mechanism the kernel gives it (on 6.1: opens on
# BPF-LSM, name changes and ptrace on fexit, the compat build's path walk
# across stacked mounts): an exec, watched, unwatched, folded and created
# opens, well-known names, a GPU node, name changes, ptrace, TCP, UDP
# (without sock_send_length before 6.3), listen; SMOKE_CASES= names others
CASES = os.environ.get("SMOKE_CASES", "exec_hostile_argv open_relative_path credential_file_read "
                       "tcp_connect_v4_v6 listen_event paths_under_stacked_mounts "
                       "rename_unlink_truncate_chmod ptrace_and_process_vm_readv "
                       "unwatched_opens_produce_nothing open_for_write_and_create "
                       "repeated_opens_are_folded udp_sendto_new_destinations_once gpu_device_open "
                       "well_known_names_anywhere").split()

# libbpf's refusals and vigild's own errors and warnings
ERR = re.compile(r"libbpf: .*(fail|error|not found|invalid|unknown|not supported|-E[A-Z]+\b)|"
                 r"vigild: (error|warning|fatal)", re.I)
# the verifier's log of a program it refused, as libbpf prints it
LOG_BEGIN, LOG_END = "-- BEGIN PROG LOAD LOG --", "-- END PROG LOAD LOG --"


def verifier_logs(lines):
    """The last 25 lines of each verifier log in lines (its verdict is at the end)."""
    out, cur = [], None
    for l in lines:
        if LOG_BEGIN in l:
            cur = []
        elif LOG_END in l and cur is not None:
            out.append(cur[-25:])
            cur = None
        elif cur is not None:
            cur.append(l)
    return out


def objects_one_by_one():
    """Each build/*.bpf.o loaded alone by bpftool (its own libbpf, every
    program autoloaded, none attached): which objects this kernel takes at
    all, whether or not vigild got that far (an object vigild would not
    choose on this kernel may be refused: it does not fail the smoke). The
    end of each refusal shown; libbpf stops at the first program refused.
    SMOKE_OBJECTS=0 skips it (a minute under TCG)."""
    if not shutil.which("bpftool"):
        print("smoke: no bpftool: objects not loaded one by one")
        return
    for obj in sorted(glob.glob(os.path.join(os.path.dirname(harness.VIGILD), "*.bpf.o"))):
        # on a bpffs of its own: bpftool pins contain.bpf.o's pinned-by-name maps at
        # libbpf's default root, /sys/fs/bpf, and removing the pin dir leaves them
        r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                            'mount -t bpf bpf /sys/fs/bpf && bpftool prog loadall "$0" /sys/fs/bpf/smoke',
                            obj], capture_output=True, text=True, timeout=300)
        print(f"smoke: bpftool prog loadall {os.path.basename(obj)}: "
              + ("loads" if r.returncode == 0 else f"REFUSED (rc {r.returncode})"))
        said = [l for l in (r.stdout + r.stderr).splitlines()
                if l.strip() and not l.startswith(("Warning: bpftool is now", "If it used to work"))]
        for l in said[-12:] if r.returncode else []:
            print("  | " + l[:400])


def exercise(a):
    """Start a (vigild --debug), print `vigil status`, run CASES on it, stop it:
    0 when each step went through."""
    t0 = time.monotonic()
    try:
        a.start(args=("--debug",))
    except AssertionError as e:
        print(f"smoke: vigild did not start: {str(e).split(':')[0]}")
        return 1
    print(f"smoke: vigild started (agent-start seen after {time.monotonic() - t0:.0f} s)")
    st = subprocess.run([harness.VIGIL, "--socket", a.sock, "status"],
                        capture_output=True, text=True, timeout=60)
    print("smoke: vigil status (rc %d):\n%s%s" % (st.returncode, st.stdout, st.stderr))
    rc = st.returncode
    for t in [t for t in test_events.TESTS if any(c in t.__name__ for c in CASES)]:
        rc = 0 if harness.run_one(t.__name__, t, a) and rc == 0 else 1
    stop = a.stop()
    if stop:
        print(f"smoke: vigild stopped with status {stop}")
    return rc or (1 if stop else 0)


def report(a):
    """vigild's error lines and the end of each verifier log; the whole log to $VIGIL_VM_OUT."""
    log = open(a.stderr, errors="replace").read().splitlines() if os.path.exists(a.stderr) else []
    if os.environ.get("VIGIL_VM_OUT") and os.path.exists(a.stderr):
        shutil.copy(a.stderr, os.path.join(os.environ["VIGIL_VM_OUT"], "vigild-smoke.stderr"))
    errs = [l for l in log if ERR.search(l)]
    print(f"smoke: vigild's log has {len(log)} lines, {len(errs)} look like errors:")
    for l in errs[:200]:
        print("  | " + l[:400])
    for i, v in enumerate(verifier_logs(log)):
        print(f"smoke: verifier log #{i + 1}, its end:")
        for l in v:
            print("  | " + l[:400])


def main():
    tmp = tempfile.mkdtemp(prefix="vigil-smoke-")
    os.chmod(tmp, 0o755)
    a = harness.Agent(tmp)
    t0 = time.monotonic()
    try:
        rc = exercise(a)
    finally:
        if a.proc and a.proc.poll() is None:
            a.proc.kill()
        a.cleanup()
        report(a)
        shutil.rmtree(tmp, ignore_errors=True)
    t1 = time.monotonic()
    # what vigild loads decides the status; this is what the kernel takes raw
    if os.environ.get("SMOKE_OBJECTS") != "0":
        objects_one_by_one()
    print(f"smoke: status {rc}; vigild {t1 - t0:.0f} s, objects alone {time.monotonic() - t1:.0f} s")
    return rc


if __name__ == "__main__":
    sys.exit(main())
