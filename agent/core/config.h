/* SPDX-License-Identifier: GPL-2.0 */
/*
 * config.h — vigild's configuration: defaults that work with no file, and
 * the YAML reader (libyaml) that overrides them.
 *
 * Owns: struct vigil_config and every default. Errors name FILE:LINE:COL
 * and the dotted key. Does not expand globs or touch the kernel: probes.c
 * turns watch lists into map entries, enrich.c applies workload selectors.
 *
 * Stage core/: includes no other stage; does not know events, rules or the kernel side.
 */
#ifndef VIGIL_CONFIG_H
#define VIGIL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strv {
	char **v; /* NULL-terminated */
	unsigned n;
};

/*
 * capture.process_cache_max's default. An entry is 400 bytes plus its argv
 * (<= 4 KiB), path, cgroup and cached JSON: ~1 KiB typically, so ~64 MiB
 * when full; hosts run far fewer.
 */
#define PROC_CACHE_MAX_DEFAULT 65536

struct vigil_config {
	char *source;	 /* file it was read from, NULL for defaults */
	char *host_name; /* NULL: gethostname() */
	char *state_dir;
	char *socket_path;
	char *log_level;
	/* output */
	char *events_file; /* "" = no file sink */
	uint64_t file_max_size;
	uint32_t file_max_files;
	bool stdout_stream;
	uint64_t heartbeat_ms;
	/* capture */
	uint64_t args_max;
	uint64_t ring_buffer_size;
	uint64_t exit_grace_ms;	 /* how long an exited process stays in the cache */
	uint32_t proc_cache_max; /* processes cached at most (lost exits are resynced) */
	bool sniff_network_fs;	 /* read model heads on NFS/FUSE/SMB/9p too (may hang: deadline) */
	uint64_t fold_window_ms; /* identical re-opens within this are counted, not sent */
	uint32_t udp_dedup_entries; /* UDP (process, destination) pairs remembered in the kernel */
	/* watch */
	struct strv model_extensions;
	struct strv ambiguous_extensions;
	struct strv model_dirs;
	struct strv credential_files;
	struct strv watch_paths;
	struct strv gpu_devices;
	/* workloads.inference */
	struct strv inference_executables;
	struct strv inference_command_lines;
	struct strv inference_cgroups;
	struct strv inference_units;	 /* systemd units (globs), from the cgroup path */
	struct strv inference_launchers; /* match a selector yet are not the workload */
	/* rules */
	struct strv rules_paths; /* empty: the defaults (see detect.h) */
	struct strv rules_enable, rules_disable, rules_severity;
	uint32_t rules_max_sequences;
	uint64_t alert_dedup_ms;
	char *falco_file; /* "" = no Falco-format alert file */
	/* response */
	struct strv playbook_paths; /* empty: the defaults (see respond.h) */
	char *pin_dir;		    /* bpffs directory for containment state */
	char *cgroup_parent;	    /* quarantine cells live below this cgroup */
	bool isolate_loopback;	    /* isolated cells may still reach loopback */
	struct strv protected;	    /* names/executables never acted on */
	uint64_t spool_max;	    /* webhook outbox budget, bytes */
	uint64_t webhook_max_backoff_ms;
	/* output.nats: the fleet stream (ship/); no servers, no fleet */
	struct strv nats_servers;
	char *nats_creds_file;				  /* "" = none; root-only (0600) */
	char *nats_tls_ca, *nats_tls_cert, *nats_tls_key; /* "" = none */
	char *nats_subject_prefix, *nats_stream;
	char *nats_responders; /* responder public keys for signed remote commands */
	uint32_t nats_replicas, nats_partitions;
	/* metrics */
	char *metrics_file; /* "" = none: node_exporter textfile collector output */
	uint64_t metrics_interval_ms;
	/* inventory (the model BOM) */
	uint32_t inventory_max_models;
	uint64_t inventory_hash_rate; /* bytes/s the background hasher reads; 0 = no hashing */
	char *inventory_approved_dir; /* models.d: approved digests */
};

int config_defaults(struct vigil_config **ret);
/* Read FILE over the defaults in cfg. On error writes one line to err. */
int config_load_file(struct vigil_config *cfg, const char *path, char *err, size_t errlen);
struct vigil_config *config_free(struct vigil_config *cfg);
/* Exchange every list (watch lists, workload selectors) between a and b. */
void config_swap_lists(struct vigil_config *a, struct vigil_config *b);

/*
 * The keys a config file may set, for checks that the documentation covers
 * them (tests/unit/test_config.c against packaging/man/vigil.yaml.5): the
 * dotted name, its type (string, size, duration, number, boolean, list), and
 * whether two configs hold the same value for key I. NULL/false past the end.
 */
unsigned config_key_count(void);
const char *config_key_name(unsigned i);
const char *config_key_type(unsigned i);
bool config_key_equal(const struct vigil_config *a, const struct vigil_config *b, unsigned i);

/*
 * Where rule or playbook files come from: cli if given, else cfg_paths, else
 * NAME/ beside build/ when running from a source tree, else system_dir and
 * local_dir (those that exist; a later same-named file overrides).
 */
int config_yaml_paths(const struct strv *cli, const struct strv *cfg_paths, const char *name,
		      const char *system_dir, const char *local_dir, struct strv *out);
int strv_push(struct strv *s, const char *str);
void strv_clear(struct strv *s);
bool strv_contains(const struct strv *s, const char *str);

#endif
