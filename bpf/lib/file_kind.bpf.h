/* SPDX-License-Identifier: GPL-2.0 */
/*
 * file_kind.bpf.h — the open path's gates: what kind of watched file an
 * open's struct file is, and whether the caller's cell is denied it.
 * file.bpf.c includes it once per way of reading the file: FK(name) names
 * the functions, FREAD(p, a, b...) reads p->a->b. Once with KREAD (a
 * pointer made by VGL_CAST: typed loads, or probe reads in the compat
 * build); and in the compat build once more with plain `->` (FK: *_btf),
 * for the BPF-LSM hook, whose file argument the verifier types itself even
 * where bpf_rdonly_cast does not exist. Not a header of its own: it uses
 * file.bpf.c's maps, bitmaps and name helpers.
 */

/* Is some ancestor of dentry (typed, up to dir_depth) a watched dir with `want`? */
static __always_inline int FK(under_dir)(struct dentry *dentry, __u32 want)
{
	struct vgl_inode_key k = {.dev = FREAD(dentry, d_sb, s_dev)};
	int i;

	/* d_parent stays on one filesystem: none of its model dirs, nothing to find */
	if (!BIT(walk_devs, VGL_DEV_SLOT(k.dev)))
		return 0;
	for (i = 0; i < 16; i++) {
		struct dentry *parent = FREAD(dentry, d_parent);
		__u32 *v;

		if (i >= dir_depth || parent == dentry)
			return 0;
		dentry = parent;
		k.ino = FREAD(dentry, d_inode, i_ino);
		if (!GATED(dir, dir_bits, VGL_INO_SLOT(k.ino)))
			continue;
		v = bpf_map_lookup_elem(&dirs, &k);
		if (v && (*v & want))
			return 1;
	}
	return 0;
}

/*
 * VGL_DIR_* of the file's own directory (its inode number), for an open that
 * created the file or not: a dir only awaiting a watched name is no reason
 * to look up an open that created nothing (/etc, awaiting ld.so.preload:
 * every exec's loader opens ld.so.cache there). One bit test, a lookup on
 * a hit (its key's dev: the file's, which d_parent never leaves).
 */
static __always_inline __u32 FK(dir_flags)(__u64 dir_ino, struct inode *inode, __u32 created)
{
	__u32 slot = VGL_INO_SLOT(dir_ino), *v;
	struct vgl_inode_key k;

	if (!GATED(dir, dir_bits, slot) && !(created && BIT(pending_bits, slot)))
		return 0;
	k = (struct vgl_inode_key){.ino = dir_ino, .dev = FREAD(inode, i_sb, s_dev)};
	v = bpf_map_lookup_elem(&dirs, &k);
	return v ? *v : 0;
}

/*
 * VGL_KIND_* if this file (a typed pointer) is watched, 0 otherwise. The hot
 * path of every open: plain loads and bit tests, cheapest first, a map lookup
 * only behind a set bit.
 */
static __always_inline __u32 FK(file_kind)(struct file *f)
{
	struct dentry *dentry = FREAD(f, f_path.dentry);
	struct inode *inode = FREAD(f, f_inode);
	__u32 len = FREAD(dentry, d_name.len), mode = FREAD(inode, i_mode), start, kind, named, *v;
	union ext_key ek;
	union name_tail t;
	__u64 ino;
	int has_ext;

	if ((mode & S_IFMT) == S_IFCHR)
		return dev_kind(FREAD(inode, i_rdev)); /* device nodes: by number, not by name */
	start = len > VGL_NAME_TAIL ? len - VGL_NAME_TAIL : 0;
	kload128(t.w, FREAD(dentry, d_name.name) + start);
	has_ext = tail_ext_words(t.w, len, start, ek.w);
	kind = has_ext ? ext_kind(&ek.k) : 0;
	if (kind == VGL_KIND_MODEL)
		return VGL_KIND_MODEL;
	if (kind == VGL_KIND_MODEL_PTH)
		return in_site_packages(dentry) ? 0 : VGL_KIND_MODEL;
	if (kind == VGL_KIND_UNIT) {
		if (in_unit_dir(dentry))
			return VGL_KIND_PERSIST;
	} else if (kind && FK(under_dir)(dentry, VGL_DIR_AMBIGUOUS | VGL_DIR_ALL)) {
		return VGL_KIND_MODEL;
	}
	/*
	 * Hugging Face and Ollama keep weights as extension-less content
	 * addressed blobs (40-71 characters): such names count under model dirs.
	 */
	if (!has_ext && len >= 40 && (mode & S_IFMT) == S_IFREG &&
	    FK(under_dir)(dentry, VGL_DIR_AMBIGUOUS | VGL_DIR_ALL))
		return VGL_KIND_MODEL;
	named = known_name(t.c, len, f);
	if (named)
		return named;
	ino = FREAD(inode, i_ino);
	if (gates.nr_files && GATED(file, file_bits, VGL_INO_SLOT(ino))) {
		struct vgl_inode_key ik = {.ino = ino, .dev = FREAD(inode, i_sb, s_dev)};

		v = bpf_map_lookup_elem(&files, &ik);
		if (v)
			return *v;
	}
	if (gates.have_all_dirs) {
		/* a pending watch appears by creation: other opens there are not watched */
		__u32 created = FREAD(f, f_mode) & FMODE_CREATED_;
		__u32 d = FK(dir_flags)(FREAD(dentry, d_parent, d_inode, i_ino), inode, created);

		if (d & VGL_DIR_ALL)
			return VGL_KIND_CONFIG;
		if ((d & VGL_DIR_PENDING) && created)
			return VGL_KIND_PENDING;
	}
	return 0;
}

/* Is the file (typed) denied to the caller's cell (vigil deny-path)? VGL_SF_DENIED if so. */
static __always_inline __u32 FK(denied_open)(struct file *f)
{
	struct vgl_deny_key k = {};
	struct vgl_cell *c;
	struct inode *inode;

	/* the file first: the caller's cell is up to VGL_CELL_DEPTH + 2 lookups */
	if (!cstate_get(VGL_CSTATE_DENY))
		return 0;
	inode = FREAD(f, f_inode);
	k.ino = FREAD(inode, i_ino);
	k.dev = FREAD(inode, i_sb, s_dev);
	if (!deny_maybe(k.ino, k.dev) || !(c = current_cell()))
		return 0;
	k.cell = c->id;
	return bpf_map_lookup_elem(&vgl_deny, &k) ? VGL_SF_DENIED : 0;
}
