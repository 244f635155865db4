// SPDX-License-Identifier: GPL-2.0
/*
 * egress.c — egress allowlist entries: parsing CIDR[:port] and host:port,
 * and the trie entries the kernel matches them by.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "confine/egress.h"

static int parse_port(const char *s, uint16_t *ret)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (!*s || *end || v == 0 || v > 65535)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_addr(const char *s, struct egress_rule *r, int *bits)
{
	struct in_addr a4;

	if (inet_pton(AF_INET, s, &a4) == 1) {
		memset(r->addr, 0, 10);
		r->addr[10] = r->addr[11] = 0xff;
		memcpy(r->addr + 12, &a4, 4);
		*bits = 32;
		return 0;
	}
	if (inet_pton(AF_INET6, s, r->addr) == 1) {
		*bits = 128;
		return 0;
	}
	return -EINVAL;
}

int egress_rule_parse(const char *s, struct egress_rule *ret)
{
	char buf[128], *port = NULL, *slash, *host = buf;
	int bits;
	unsigned long plen;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	strcpy(buf, s);
	if (buf[0] == '[') { /* [v6]:port or [v6/len]:port */
		char *close = strchr(buf, ']');

		if (!close || (close[1] && close[1] != ':'))
			return -EINVAL;
		*close = 0;
		host = buf + 1;
		port = close[1] ? close + 2 : NULL;
	} else if (strchr(buf, ':') == strrchr(buf, ':') && strchr(buf, ':')) {
		port = strchr(buf, ':'); /* one colon: v4 with a port */
		*port++ = 0;
	}
	if (port && parse_port(port, &ret->port) < 0)
		return -EINVAL;
	slash = strchr(host, '/');
	if (slash)
		*slash = 0;
	if (parse_addr(host, ret, &bits) < 0)
		return -EINVAL;
	plen = bits;
	if (slash) {
		char *end;

		plen = strtoul(slash + 1, &end, 10);
		if (!slash[1] || *end || plen > (unsigned long)bits)
			return -EINVAL;
	}
	ret->prefix = 128 - bits + plen;
	/* clear host bits so equal networks compare equal */
	for (unsigned i = ret->prefix; i < 128; i++)
		ret->addr[i / 8] &= ~(0x80 >> (i % 8));
	return 0;
}

/* A host name in an allowlist: every address it resolves to now (docs/response.md). */
static int resolve_rule(const char *s, struct egress_allowlist *e)
{
	char host[256];
	const char *colon = strrchr(s, ':');
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	uint16_t port = 0;
	int r;

	if (!colon || (size_t)(colon - s) >= sizeof(host) || parse_port(colon + 1, &port) < 0)
		return -EINVAL;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - s), s);
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return -ENOENT;
	r = -ENOENT;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		char ip[INET6_ADDRSTRLEN];
		struct egress_rule *nr = realloc(e->allow, (e->nallow + 1) * sizeof(*nr));
		const void *a = ai->ai_family == AF_INET
				    ? (void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
				    : (void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;

		if (!nr)
			break;
		e->allow = nr;
		inet_ntop(ai->ai_family, a, ip, sizeof(ip));
		if (egress_rule_parse(ip, &nr[e->nallow]) == 0) {
			nr[e->nallow++].port = port;
			r = 0;
		}
	}
	freeaddrinfo(res);
	return r;
}

int egress_allow_add(struct egress_allowlist *e, const char *s, bool resolve)
{
	struct egress_rule *nr = realloc(e->allow, (e->nallow + 1) * sizeof(*nr));

	if (!nr)
		return -ENOMEM;
	e->allow = nr;
	if (egress_rule_parse(s, &nr[e->nallow]) == 0) {
		e->nallow++;
		return 0;
	}
	return resolve ? resolve_rule(s, e) : -EINVAL;
}

void egress_allowlist_fini(struct egress_allowlist *e)
{
	free(e->name);
	free(e->cgroup);
	free(e->allow);
	memset(e, 0, sizeof(*e));
}

static void allow_key(struct vgl_allow_key *k, uint32_t policy, const struct egress_rule *e)
{
	memset(k, 0, sizeof(*k));
	k->prefixlen = 32 + e->prefix;
	k->policy = policy;
	memcpy(k->addr, e->addr, 16);
}

static bool covers(const struct egress_rule *outer, const struct egress_rule *in)
{
	if (outer->prefix > in->prefix)
		return false;
	for (unsigned b = 0; b < outer->prefix; b++)
		if ((outer->addr[b / 8] ^ in->addr[b / 8]) & (0x80 >> (b % 8)))
			return false;
	return true;
}

/*
 * The trie answers with the longest matching prefix only, so each entry
 * carries the ports of every entry covering it.
 */
static void allow_value(const struct egress_allowlist *e, const struct egress_rule *r,
			struct vgl_allow_val *v)
{
	memset(v, 0, sizeof(*v));
	for (unsigned i = 0; i < e->nallow; i++) {
		const struct egress_rule *q = &e->allow[i];
		bool have = false;

		if (!covers(q, r) || v->nports == (uint32_t)-1)
			continue;
		if (!q->port) {
			v->nports = (uint32_t)-1; /* any port */
			continue;
		}
		for (unsigned j = 0; j < v->nports; j++)
			have |= v->ports[j] == q->port;
		if (!have && v->nports < VGL_ALLOW_PORTS)
			v->ports[v->nports++] = q->port;
	}
	if (v->nports == (uint32_t)-1)
		v->nports = 0;
}

void egress_trie_entry(const struct egress_allowlist *e, unsigned j, uint32_t policy,
		       struct vgl_allow_key *k, struct vgl_allow_val *v)
{
	allow_key(k, policy, &e->allow[j]);
	allow_value(e, &e->allow[j], v);
}
