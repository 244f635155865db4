/* SPDX-License-Identifier: GPL-2.0 */
/*
 * probes_internal.h — sense: the probes' state, shared by probes.c (loading,
 * attaching, draining the programs) and watches.c (filling the watch maps
 * from config, pending and workload watches) and watch_bits.c (the bitmaps
 * in front of the watch maps). Other modules use probes.h.
 *
 * Stage sense/: includes core/ only; does not write the stream, decide alerts or act.
 */
#ifndef VIGIL_PROBES_INTERNAL_H
#define VIGIL_PROBES_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "file.skel.h"
#include "net.skel.h"
#include "process.skel.h"
#include "sense/probe_select.h"
#include "sense/probes.h"

#define MAX_LINKS	 64
#define MAX_PENDING_DIRS 256 /* inotify watches on pending watches' nearest ancestors */
#define EXTRA_MAX	 256 /* watches added at run time (probes_extra_add) */

/* A watch not from config: kept here so that a reload stages it too. */
struct extra {
	char *path;
	bool dir;
	uint32_t kind; /* files: VGL_KIND_* */
};

struct probes {
	struct bpf_link *links[MAX_LINKS];
	unsigned nlinks;
	struct vigil_process *proc;
	struct vigil_file *file;
	struct vigil_net *net;
	struct ring_buffer *rb;
	int cgroup_fd;
	int contain_fds[7];	  /* see contain.h CONTAIN_SHARED_MAPS; -1: none */
	struct bpf_link *sc_link; /* the seccomp check, while attached */
	int ncpus;
	bool open_via_lsm;
	struct probe_choice choice; /* each family's mechanism, as loaded */
	bool typed;	 /* the objects' typed build (bpf_rdonly_cast), else their compat build */
	bool raw;	 /* names and fd slots as plain loads (raw_loads) */
	bool tp_btf;	 /* the tp_btf variants of exec, exit, signal, TCP state (else classic) */
	bool watch_gpus; /* watch.gpu_devices is not empty */
	struct probes_info info;
	int ino_fd;		   /* inotify on pending watches' ancestors; -1: none */
	int wds[MAX_PENDING_DIRS]; /* its watch descriptors */
	unsigned nwds;
	struct strv pending;		/* configured paths not there yet */
	struct strv promoted;		/* pending before the last load, there now */
	const struct vigil_config *cfg; /* the watches were last loaded from it */
	struct extra extras[EXTRA_MAX];
	unsigned nextras;
};

/* The filter maps a watch list fills (watches.c), in this order. */
enum { W_EXTS, W_DIRS, W_FILES, W_MAJORS, W_NODES, W_PATHS, W_NR };

/* Set the bits in front of map W_* for one entry (key, a dirs value's flags): before adding it. */
void watch_bit(struct vigil_file__bss *b, int map, const void *key, uint32_t val);

/* Set the bits of a well-known name's VGL_NAME_HASH. */
void name_bit(struct vigil_file__bss *b, uint32_t hash);

/* The bitmaps from the live maps alone (watch_bits.c): after a reload removed entries. */
void probes_rebuild_bits(struct probes *p);

/* The well-known persistence names into the file probe's `names` map and bitmap. */
void probes_watch_names(struct vigil_file *f);

#endif
