/* SPDX-License-Identifier: GPL-2.0 */
/*
 * egress.h — confine: egress allowlist entries (CIDR + port per cgroup).
 * Owns: the types, parsing "10.0.0.0/8:443", "[::1]:8080", "::/0" and
 * host:port (resolved when loaded), and the LPM-trie entries contain.bpf.c
 * matches them by (the trie answers with the longest prefix only, so each
 * entry carries the ports of every entry covering it). Pure: no maps, no
 * logging; reading them from playbook files is playbook.h's, programming
 * the kernel contain.h's.
 *
 * Stage confine/: includes core/ to detect/; does not include respond/: it runs no playbooks.
 */
#ifndef VIGIL_EGRESS_H
#define VIGIL_EGRESS_H

#include <stdbool.h>
#include <stdint.h>

#include "vigil/abi.h"

struct egress_rule {
	uint8_t addr[16]; /* v4 as ::ffff:a.b.c.d */
	uint8_t prefix;	  /* of the 128 bits */
	uint16_t port;	  /* 0 = any */
};

struct egress_allowlist {
	char *name, *cgroup; /* cgroup: relative to the v2 mount */
	struct egress_rule *allow;
	unsigned nallow;
};

/* "10.0.0.0/8:443", "[::1]:8080", "192.0.2.1", "::/0" → rule; -EINVAL otherwise. */
int egress_rule_parse(const char *s, struct egress_rule *ret);
/*
 * Append s to e's rules: an address or CIDR, or (resolve) a host:port, every
 * address it resolves to now. 0, -EINVAL (malformed), -ENOENT (does not
 * resolve), -ENOMEM.
 */
int egress_allow_add(struct egress_allowlist *e, const char *s, bool resolve);
void egress_allowlist_fini(struct egress_allowlist *e);
/* The trie entry for e's rule j under policy number policy. */
void egress_trie_entry(const struct egress_allowlist *e, unsigned j, uint32_t policy,
		       struct vgl_allow_key *k, struct vgl_allow_val *v);

#endif
