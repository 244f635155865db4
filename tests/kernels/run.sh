#!/bin/bash
# Run one command on another kernel: Debian's own kernel booted under qemu,
# this machine's root filesystem shared into the guest read-only (9p), tmpfs
# over what must be writable, the command run in the repo directory, and
# the guest's exit status handed back as ours.
#
#   tests/kernels/run.sh [--kernel 6.1] [--timeout SECS] [--repo DIR] [--out DIR] -- COMMAND...
#
# --out DIR: a host directory the guest may write (9p, read-write), seen by
# the command as $VIGIL_VM_OUT (smoke.py leaves vigild's whole log there).
# VIGIL_VM_LOG=FILE keeps the console log (default: a temp file, removed);
# VIGIL_VM_CPUS (1: as fast as 2 under TCG), VIGIL_VM_MEM (MiB, 2048).
#
# Needs root (apt-get, qemu's 9p export of /). Downloads are cached under
# $VIGIL_KERNEL_CACHE (default /var/cache/vigil-kernels), never in the repo.
# The guest runs ONE command; its BPF loads into the guest kernel, so it
# takes no /tmp/vigil-suite.lock. One VM at a time: the machine has 2 cores.
set -euo pipefail

KERNEL=6.1
TIMEOUT=900
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${VIGIL_KERNEL_CACHE:-/var/cache/vigil-kernels}
OUTDIR=
MEM=${VIGIL_VM_MEM:-2048}
CPUS=${VIGIL_VM_CPUS:-1}

usage() {
	echo "usage: $0 [--kernel 6.1] [--timeout SECS] [--repo DIR] [--out DIR] -- COMMAND..." >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--kernel) KERNEL=$2; shift 2 ;;
	--timeout) TIMEOUT=$2; shift 2 ;;
	--repo) REPO=$(cd "$2" && pwd); shift 2 ;;
	--out) mkdir -p "$2"; OUTDIR=$(cd "$2" && pwd); shift 2 ;;
	--) shift; break ;;
	*) usage ;;
	esac
done
[ $# -gt 0 ] || usage
[ "$(id -u)" = 0 ] || { echo "$0: needs root (apt-get, qemu's 9p export of /)" >&2; exit 2; }

# One pinned package a kernel: the generic flavour (cloud has no 9p), BTF
# built in (CONFIG_DEBUG_INFO_BTF=y), virtio and 9p as modules.
case $KERNEL in
6.1) PKG=linux-image-6.1.0-50-amd64-unsigned ;; # Debian 12's own, 6.1.176
*) echo "$0: no pinned package for kernel $KERNEL (known: 6.1)" >&2; exit 2 ;;
esac
# and sock_diag's (a real host loads them on demand; the host root shared
# here has no modules for this kernel): contain --isolate cuts open sockets
MODULES="virtio_pci 9pnet_virtio 9p tcp_diag udp_diag"

ensure_tools() {
	local missing=()
	command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
	[ -x /usr/sbin/depmod ] || [ -x /sbin/depmod ] || missing+=(kmod)
	[ -x /bin/busybox ] && file -L /bin/busybox | grep -q 'statically linked' || missing+=(busybox-static)
	if [ ${#missing[@]} -gt 0 ]; then
		echo "run.sh: installing ${missing[*]}"
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
	fi
}

# the kernel package, downloaded and unpacked once into $CACHE/$PKG
ensure_kernel() {
	local dir=$CACHE/$PKG
	if [ ! -e "$dir/.unpacked" ]; then
		mkdir -p "$CACHE"
		(cd "$CACHE" && ls "${PKG}"_*.deb >/dev/null 2>&1 || apt-get download "$PKG" 2>&1 | grep -v '^W: Download is performed unsandboxed')
		rm -rf "$dir" && mkdir -p "$dir"
		dpkg-deb -x "$(ls "$CACHE/${PKG}"_*.deb | head -1)" "$dir"
		# the package ships no modules.dep (its postinst makes one)
		PATH=$PATH:/usr/sbin:/sbin depmod -b "$dir" "$(ls "$dir/lib/modules" | head -1)"
		touch "$dir/.unpacked"
	fi
	KDIR=$dir
	KVER=$(ls "$dir/lib/modules" | head -1)
	VMLINUZ=$dir/boot/vmlinuz-$KVER
}

# module names in load order (dependencies first), from modules.dep
DEPFILE=
declare -A SEEN=()
ORDER=()
load_order() {
	local name=$1 line path deps d
	line=$(grep -E "/${name//_/[_-]}\.ko(\.[a-z]+)?:" "$DEPFILE" | head -1) ||
		{ echo "run.sh: module $name not in $KVER's modules.dep" >&2; exit 1; }
	path=${line%%:*}
	[ -z "${SEEN[$path]:-}" ] || return 0
	SEEN[$path]=1
	deps=${line#*:}
	for d in $deps; do
		d=$(basename "$d"); d=${d%%.ko*}
		load_order "$d"
	done
	ORDER+=("$path")
}

build_initramfs() {
	local root=$WORK/initramfs m i=0
	mkdir -p "$root"/{bin,dev,proc,sys,host,modules}
	cp /bin/busybox "$root/bin/busybox"
	DEPFILE=$KDIR/lib/modules/$KVER/modules.dep
	for m in $MODULES; do load_order "$m"; done
	for m in "${ORDER[@]}"; do
		i=$((i + 1))
		cp "$KDIR/lib/modules/$KVER/$m" "$root/modules/$(printf %02d $i)-$(basename "$m")"
	done
	cp "$(dirname "${BASH_SOURCE[0]}")/init" "$root/init"
	chmod 755 "$root/init"
	# the command, quoted for the guest's bash; run in the repo
	printf '%q ' "$@" >"$root/cmd"
	printf '%s' "$REPO" >"$root/repo"
	[ -z "$OUTDIR" ] || touch "$root/outshare"
	(cd "$root" && find . | /bin/busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$WORK/initramfs.gz"
}

boot() {
	local log=$1 accel=(-accel kvm -accel tcg) cpu=max out=()
	[ -z "$OUTDIR" ] || out=(-virtfs "local,path=$OUTDIR,mount_tag=out,security_model=none")
	# /dev/kvm is there, but without vmx/svm KVM cannot start: qemu then
	# takes the next -accel (tcg); ask for it directly to skip the noise
	grep -qE 'vmx|svm' /proc/cpuinfo || accel=(-accel tcg,thread=multi)
	timeout --foreground -k 10 "$TIMEOUT" qemu-system-x86_64 \
		"${accel[@]}" -cpu "$cpu" -smp "$CPUS" -m "$MEM" -machine q35 \
		-kernel "$VMLINUZ" -initrd "$WORK/initramfs.gz" \
		-append "console=ttyS0 panic=-1 loglevel=4 rdinit=/init" \
		-virtfs local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap \
		"${out[@]}" -display none -monitor none -no-reboot \
		-chardev stdio,id=con,signal=off,logfile="$log" -serial chardev:con \
		</dev/null
}

ensure_tools
ensure_kernel
WORK=$(mktemp -d /tmp/vigil-vm.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
build_initramfs "$@"
LOG=${VIGIL_VM_LOG:-$WORK/console.log}
echo "run.sh: booting $KVER ($PKG), ${CPUS} vCPU, ${MEM} MiB; console log $LOG"
start=$(date +%s)
vmrc=0
boot "$LOG" || vmrc=$?
echo "run.sh: guest ran $(($(date +%s) - start)) s"
rc=$(tr -d '\r' <"$LOG" | sed -n 's/^VIGIL-VM-RC=\([0-9]*\)$/\1/p' | tail -1)
if [ -z "$rc" ]; then
	[ "$vmrc" = 124 ] && echo "run.sh: timed out after $TIMEOUT s" >&2
	echo "run.sh: the guest printed no exit status (qemu exit $vmrc): it crashed, hung or timed out" >&2
	exit 125
fi
exit "$rc"
