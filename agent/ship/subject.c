// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ship/subject.h"

uint32_t subject_fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

uint32_t subject_partition(const char *host, uint32_t partitions)
{
	return subject_fnv1a(host) % (partitions ? partitions : 1);
}

static bool token_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

void subject_host_token(const char *host, char *out, size_t len)
{
	size_t i = 0;

	for (; host[i] && i + 1 < len; i++)
		out[i] = token_char(host[i]) ? host[i] : '_';
	if (!i && len > 1)
		out[i++] = '_';
	out[i] = 0;
}

enum subject_kind subject_kind_of(const char *event_kind)
{
	if (!strcmp(event_kind, "alert"))
		return SUBJECT_ALERTS;
	if (!strcmp(event_kind, "metric") || !strcmp(event_kind, "state"))
		return SUBJECT_HEALTH;
	return SUBJECT_EVENTS;
}

int subject_for(const char *prefix, enum subject_kind k, const char *host, uint32_t partitions,
		char *out, size_t len)
{
	static const char *const names[] = {"events", "alerts", "health"};
	char tok[256];
	int n;

	subject_host_token(host, tok, sizeof(tok));
	if (k == SUBJECT_HEALTH)
		n = snprintf(out, len, "%s.health.%s", prefix, tok);
	else
		n = snprintf(out, len, "%s.%s.%u.%s", prefix, names[k],
			     subject_partition(host, partitions), tok);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int subject_cmd(const char *prefix, const char *host, char *out, size_t len)
{
	char tok[256];
	int n;

	subject_host_token(host, tok, sizeof(tok));
	n = snprintf(out, len, "%s.cmd.%s", prefix, tok);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

bool subject_prefix_valid(const char *prefix)
{
	bool empty_token = true;

	for (const char *p = prefix; *p; p++) {
		if (*p == '.') {
			if (empty_token)
				return false;
			empty_token = true;
		} else if (!token_char(*p)) {
			return false;
		} else {
			empty_token = false;
		}
	}
	return !empty_token;
}

bool subject_stream_valid(const char *name)
{
	size_t n = strlen(name);

	if (!n || n > 255)
		return false;
	for (const char *p = name; *p; p++)
		if (!token_char(*p))
			return false;
	return true;
}
