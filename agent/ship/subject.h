/* SPDX-License-Identifier: GPL-2.0 */
/*
 * subject.h — the fleet stream's subject names (../shared/DESIGN.md "Fleet"):
 * <prefix>.events.<P>.<host>, <prefix>.alerts.<P>.<host>,
 * <prefix>.health.<host>, <prefix>.cmd.<host>.
 *
 * Owns: a host's partition P (32-bit FNV-1a of host.name, modulo the
 * partition count: stable across versions, machines and languages, so hunt
 * workers and every agent agree), the host name made a single subject token,
 * which subject an event line goes to (by event.kind), and checks that a
 * prefix and a stream name are valid for NATS.
 *
 * Stage ship/: includes core/ and any stage below daemon/; does not own the
 * loop, the socket or any connection.
 */
#ifndef VIGIL_SUBJECT_H
#define VIGIL_SUBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SUBJECT_MAX 512

uint32_t subject_fnv1a(const char *s);
/* FNV-1a(host) % partitions; partitions >= 1. */
uint32_t subject_partition(const char *host, uint32_t partitions);
/* host as one token: letters, digits, '-' and '_' kept, anything else '_'; "" becomes "_". */
void subject_host_token(const char *host, char *out, size_t len);

enum subject_kind { SUBJECT_EVENTS, SUBJECT_ALERTS, SUBJECT_HEALTH };
/* alert → alerts, metric and state → health (heartbeats, drops, gaps), the rest → events. */
enum subject_kind subject_kind_of(const char *event_kind);
/* The subject for one line; -ENAMETOOLONG if it does not fit. */
int subject_for(const char *prefix, enum subject_kind k, const char *host, uint32_t partitions,
		char *out, size_t len);
/* The command subject a host's vigild listens on: <prefix>.cmd.<host token>. */
int subject_cmd(const char *prefix, const char *host, char *out, size_t len);

/* A prefix: dot-separated tokens of [A-Za-z0-9_-], no wildcards, none empty. */
bool subject_prefix_valid(const char *prefix);
/* A stream name: [A-Za-z0-9_-], 1..255 characters. */
bool subject_stream_valid(const char *name);

#endif
