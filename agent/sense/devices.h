/* SPDX-License-Identifier: GPL-2.0 */
/*
 * devices.h — which character-device majors belong to GPU and accelerator
 * drivers that get their major at module load rather than a fixed number.
 *
 * Owns: the list of those drivers (nvidia-uvm, often loaded only when the
 * first CUDA program starts, after vigild; NVIDIA's caps, NVLink and
 * NVSwitch nodes; AMD's kfd; the kernel's accel class) and reading their
 * majors from a /proc/devices text. Fixed majors (NVIDIA 195, DRM 226) and
 * the nodes named in watch.gpu_devices are probes.c's.
 *
 * Stage sense/: includes core/ only; does not write the stream, decide alerts or act.
 */
#ifndef VIGIL_DEVICES_H
#define VIGIL_DEVICES_H

#include <stdint.h>

struct gpu_major {
	uint32_t major;
	const char *driver; /* static string */
};

/* The GPU drivers' majors among the character devices of text; at most max. */
unsigned gpu_majors_parse(const char *text, struct gpu_major *out, unsigned max);

#endif
