#!/usr/bin/env bash
# Interleaved A/B of builds: runs one bench script per build in turn, ROUNDS
# times, each run under the suite lock in a private mount namespace with B=
# that build (its vigild embeds its own BPF objects). On this VM a figure
# swings ±15-20 % between windows; builds compared in the same round share
# the window. Each output line is prefixed with the build's directory.
#
#   sudo bench/interleave.sh ROUNDS BUILD_DIR [BUILD_DIR...] -- SCRIPT [ARGS...]
#   sudo bench/interleave.sh 3 /tmp/a/build build -- bench/open_cost.py 100000 1
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "interleave: run as root (bench scripts load BPF)" >&2; exit 1; }
[ $# -ge 4 ] || { echo "usage: $0 ROUNDS BUILD_DIR... -- SCRIPT [ARGS...]" >&2; exit 2; }
rounds=$1
shift
builds=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
	[ -x "$1/vigild" ] || { echo "interleave: $1: no vigild built there" >&2; exit 2; }
	builds+=("$(cd "$1" && pwd)")
	shift
done
[ "${1:-}" = -- ] && [ $# -ge 2 ] || { echo "interleave: missing '-- SCRIPT'" >&2; exit 2; }
shift
for ((r = 1; r <= rounds; r++)); do
	for b in "${builds[@]}"; do
		flock /tmp/vigil-suite.lock unshare -m --propagation private \
			env B="$b" "${PYTHON:-/usr/bin/python3}" "$@" 2>&1 | sed "s|^|round $r $b: |"
	done
done
