#!/bin/sh
# compat_skel.sh TYPED_SKEL COMPAT_SKEL NAME: do an object's two builds
# (bpf/lib/common.bpf.h, VGL_TYPED) declare the same maps, programs and
# globals at the same offsets? vigild opens the typed skeleton (NAME) on the
# compat build's bytes (NAME_compat), so they must. Run by make.
set -eu
strip_bytes() { # FILE NAME: the skeleton without its embedded ELF, named NAME
	sed -e '/__elf_bytes(size_t \*sz)$/,/^}/d' -e '/_SKEL_H__/d' -e "s/${2}_compat/$2/g" "$1"
}
a=$(mktemp) b=$(mktemp)
trap 'rm -f "$a" "$b"' EXIT
strip_bytes "$1" "$3" >"$a"
strip_bytes "$2" "$3" >"$b"
if ! diff -u "$a" "$b" >&2; then
	echo "error: $2: the compat build of $3 differs from the typed one in maps, programs or globals" >&2
	exit 1
fi
