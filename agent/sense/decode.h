/* SPDX-License-Identifier: GPL-2.0 */
/*
 * decode.h — ring-buffer record → struct vigil_event.
 *
 * Owns the ABI checks: every length is validated against the record size,
 * so a short or corrupt record is rejected (-EBADMSG) and counted by the
 * caller, never read past. Owns the buffers for paths it has to build
 * (a rename's names joined to their directories).
 *
 * Stage sense/: includes core/ only; does not write the stream, decide alerts or act.
 */
#ifndef VIGIL_DECODE_H
#define VIGIL_DECODE_H

#include <stddef.h>

#include "sense/event.h"

struct decoder {
	char path[2][8192];
};

int decode_record(struct decoder *d, const void *data, size_t size, struct vigil_event *ev);

#endif
