// SPDX-License-Identifier: GPL-2.0
/*
 * watch_bits.c — the bitmaps in front of the file probe's watch maps
 * (abi.h's VGL_*_SLOT), and their first level, the gate block
 * (abi.h's VGL_GATE_BITS): an open whose bit is clear costs no lookup. Both bits
 * are set before their entry is added (staged or live); after a reload
 * they are rebuilt from the live maps, so removed watches stop costing
 * lookups.
 */
#include <bpf/bpf.h>
#include <string.h>

#include "sense/probes_internal.h"
#include "core/util.h"

static void bit_set(volatile __u64 *bits, uint32_t slot)
{
	bits[slot / 64] |= 1ull << (slot % 64);
}

/* A fine bit and its coarse one in the gate block: the slot's low bits, as BIT() in the kernel. */
static void gated_put(volatile __u64 *gate, size_t gate_words, volatile __u64 *bits, uint32_t slot)
{
	bit_set(gate, slot & (gate_words * 64 - 1));
	bit_set(bits, slot);
}
#define gated_set(gate, bits, slot) gated_put(gate, ARRAY_SIZE(gate), bits, slot)

void watch_bit(struct vigil_file__bss *b, int map, const void *key, uint32_t val)
{
	const struct vgl_inode_key *ik = key;
	uint64_t w[2];
	uint32_t u;

	switch (map) {
	case W_EXTS:
		memcpy(w, key, sizeof(w));
		gated_set(b->gates.ext, b->ext_bits, VGL_EXT_SLOT(w[0], w[1]));
		break;
	case W_FILES:
		gated_set(b->gates.file, b->file_bits, VGL_INO_SLOT(ik->ino));
		break;
	case W_DIRS:
		/* an open reads a dir's flags for these only: a dir that just holds watched files sets none */
		if (val & (VGL_DIR_AMBIGUOUS | VGL_DIR_ALL)) {
			gated_set(b->gates.dir, b->dir_bits, VGL_INO_SLOT(ik->ino));
			bit_set(b->walk_devs, VGL_DEV_SLOT(ik->dev));
		}
		if (val & VGL_DIR_PENDING)
			bit_set(b->pending_bits, VGL_INO_SLOT(ik->ino));
		break;
	case W_MAJORS:
		memcpy(&u, key, sizeof(u));
		bit_set(b->major_bits, u & (VGL_DEV_BITS - 1));
		break;
	case W_NODES:
		memcpy(&u, key, sizeof(u));
		bit_set(b->node_bits, VGL_DEV_SLOT(u));
		break;
	}
}

void name_bit(struct vigil_file__bss *b, uint32_t hash)
{
	gated_set(b->gates.name, b->name_bits, hash);
}

/* Every entry of one live map into b's bits. */
static void bits_of(struct vigil_file__bss *b, int map, const struct bpf_map *m)
{
	char key[sizeof(struct vgl_inode_key) + sizeof(struct vgl_ext_key)], next[sizeof(key)];
	uint32_t val[4] = {0};
	int fd = bpf_map__fd(m);

	for (void *prev = NULL; bpf_map_get_next_key(fd, prev, next) == 0; prev = key) {
		memcpy(key, next, sizeof(key));
		if (bpf_map_lookup_elem(fd, key, val) == 0)
			watch_bit(b, map, key, val[0]);
	}
}

/* Copy word by word: every word old and new holds the bits of every live entry. */
static void bits_copy(volatile __u64 *dst, const volatile __u64 *src, size_t words)
{
	for (size_t i = 0; i < words; i++)
		dst[i] = src[i];
}

#define COPY(field) bits_copy(live->field, fresh.field, ARRAY_SIZE(fresh.field))

void probes_rebuild_bits(struct probes *p)
{
	struct vigil_file__bss *live = p->file->bss;
	static struct vigil_file__bss fresh; /* 34 KiB: not on the stack; one event loop */
	struct vigil_file *f = p->file;

	memset((void *)&fresh, 0, sizeof(fresh));
	bits_of(&fresh, W_EXTS, f->maps.exts);
	bits_of(&fresh, W_FILES, f->maps.files);
	bits_of(&fresh, W_DIRS, f->maps.dirs);
	bits_of(&fresh, W_MAJORS, f->maps.majors);
	bits_of(&fresh, W_NODES, f->maps.gpu_nodes);
	COPY(gates.ext);
	COPY(gates.file);
	COPY(gates.dir);
	COPY(ext_bits);
	COPY(file_bits);
	COPY(dir_bits);
	COPY(pending_bits);
	COPY(walk_devs);
	COPY(major_bits);
	COPY(node_bits);
}
