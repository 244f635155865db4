/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pin.bpf.h — VGL_PINNING for the maps shared through contain.bpf.c:
 * pinned by name there (VGL_CONTAIN_PIN) so they outlive vigild, plain in the
 * objects that receive them with bpf_map__reuse_fd().
 */
#ifndef VIGIL_PIN_BPF_H
#define VIGIL_PIN_BPF_H

#ifdef VGL_CONTAIN_PIN
#define VGL_PINNING __uint(pinning, LIBBPF_PIN_BY_NAME);
#else
#define VGL_PINNING
#endif

#endif
