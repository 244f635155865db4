// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "core/config.h"
#include "core/fileio.h"
#include "core/util.h"

int strv_push(struct strv *s, const char *str)
{
	char **nv = realloc(s->v, (s->n + 2) * sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	s->v = nv;
	s->v[s->n] = strdup(str);
	if (!s->v[s->n])
		return -ENOMEM;
	s->v[++s->n] = NULL;
	return 0;
}

void strv_clear(struct strv *s)
{
	for (unsigned i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

bool strv_contains(const struct strv *s, const char *str)
{
	for (unsigned i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], str))
			return true;
	return false;
}

static int strv_set(struct strv *s, const char *const *items)
{
	strv_clear(s);
	for (; *items; items++)
		if (strv_push(s, *items) < 0)
			return -ENOMEM;
	return 0;
}

enum key_type { K_STR, K_SIZE, K_DURATION, K_U32, K_BOOL, K_LIST };

struct key_def {
	const char *name; /* dotted */
	enum key_type type;
	size_t off;
	uint64_t min, max; /* numeric bounds */
};

#define CONFIG_MAX (1u << 20) /* a config file is a few KiB */

#define CFG(f) offsetof(struct vigil_config, f)
static const struct key_def keys[] = {
    {"host_name", K_STR, CFG(host_name)},
    {"state_dir", K_STR, CFG(state_dir)},
    {"socket", K_STR, CFG(socket_path)},
    {"log_level", K_STR, CFG(log_level)},
    {"output.file", K_STR, CFG(events_file)},
    {"output.max_size", K_SIZE, CFG(file_max_size), 4096, UINT64_MAX},
    {"output.max_files", K_U32, CFG(file_max_files), 1, 1000},
    {"output.stdout", K_BOOL, CFG(stdout_stream)},
    {"output.heartbeat_interval", K_DURATION, CFG(heartbeat_ms), 100, 86400000},
    {"capture.max_args_bytes", K_SIZE, CFG(args_max), 64, 16383},
    {"capture.ring_buffer_size", K_SIZE, CFG(ring_buffer_size), 1 << 16, 1ull << 30},
    {"capture.exit_grace", K_DURATION, CFG(exit_grace_ms), 0, 3600000},
    {"capture.process_cache_max", K_U32, CFG(proc_cache_max), 1024, 16777216},
    {"capture.fold_window", K_DURATION, CFG(fold_window_ms), 0, 3600000},
    {"capture.udp_dedup_entries", K_U32, CFG(udp_dedup_entries), 16, 4194304},
    {"watch.model_extensions", K_LIST, CFG(model_extensions)},
    {"watch.ambiguous_extensions", K_LIST, CFG(ambiguous_extensions)},
    {"watch.model_dirs", K_LIST, CFG(model_dirs)},
    {"watch.credential_files", K_LIST, CFG(credential_files)},
    {"watch.paths", K_LIST, CFG(watch_paths)},
    {"watch.gpu_devices", K_LIST, CFG(gpu_devices)},
    {"watch.sniff_network_filesystems", K_BOOL, CFG(sniff_network_fs)},
    {"workloads.inference.executables", K_LIST, CFG(inference_executables)},
    {"workloads.inference.command_lines", K_LIST, CFG(inference_command_lines)},
    {"workloads.inference.cgroups", K_LIST, CFG(inference_cgroups)},
    {"workloads.inference.units", K_LIST, CFG(inference_units)},
    {"workloads.inference.launchers", K_LIST, CFG(inference_launchers)},
    {"rules.paths", K_LIST, CFG(rules_paths)},
    {"rules.enable", K_LIST, CFG(rules_enable)},
    {"rules.disable", K_LIST, CFG(rules_disable)},
    {"rules.severity", K_LIST, CFG(rules_severity)},
    {"rules.max_sequences", K_U32, CFG(rules_max_sequences), 16, 10000000},
    {"rules.dedup_window", K_DURATION, CFG(alert_dedup_ms), 0, 86400000},
    {"output.falco_file", K_STR, CFG(falco_file)},
    {"response.playbooks", K_LIST, CFG(playbook_paths)},
    {"response.pin_dir", K_STR, CFG(pin_dir)},
    {"response.cgroup_parent", K_STR, CFG(cgroup_parent)},
    {"response.isolate_loopback", K_BOOL, CFG(isolate_loopback)},
    {"response.protected", K_LIST, CFG(protected)},
    {"response.spool_max", K_SIZE, CFG(spool_max), 1 << 16, 1ull << 40},
    {"response.webhook_max_backoff", K_DURATION, CFG(webhook_max_backoff_ms), 100, 86400000},
    {"output.metrics_file", K_STR, CFG(metrics_file)},
    {"output.metrics_interval", K_DURATION, CFG(metrics_interval_ms), 1000, 86400000},
    {"inventory.max_models", K_U32, CFG(inventory_max_models), 16, 1048576},
    {"inventory.hash_rate", K_SIZE, CFG(inventory_hash_rate), 0, 1ull << 40},
    {"inventory.approved_dir", K_STR, CFG(inventory_approved_dir)},
    {"output.nats.servers", K_LIST, CFG(nats_servers)},
    {"output.nats.creds_file", K_STR, CFG(nats_creds_file)},
    {"output.nats.tls_ca", K_STR, CFG(nats_tls_ca)},
    {"output.nats.tls_cert", K_STR, CFG(nats_tls_cert)},
    {"output.nats.tls_key", K_STR, CFG(nats_tls_key)},
    {"output.nats.subject_prefix", K_STR, CFG(nats_subject_prefix)},
    {"output.nats.stream", K_STR, CFG(nats_stream)},
    {"output.nats.replicas", K_U32, CFG(nats_replicas), 1, 5},
    {"output.nats.partitions", K_U32, CFG(nats_partitions), 1, 4096},
    {"output.nats.responders", K_STR, CFG(nats_responders)},
};

unsigned config_key_count(void)
{
	return ARRAY_SIZE(keys);
}

const char *config_key_name(unsigned i)
{
	return i < ARRAY_SIZE(keys) ? keys[i].name : NULL;
}

const char *config_key_type(unsigned i)
{
	static const char *const names[] = {
	    [K_STR] = "string", [K_SIZE] = "size",    [K_DURATION] = "duration",
	    [K_U32] = "number", [K_BOOL] = "boolean", [K_LIST] = "list"};

	return i < ARRAY_SIZE(keys) ? names[keys[i].type] : NULL;
}

bool config_key_equal(const struct vigil_config *a, const struct vigil_config *b, unsigned i)
{
	const void *x, *y;

	if (i >= ARRAY_SIZE(keys))
		return false;
	x = (const char *)a + keys[i].off;
	y = (const char *)b + keys[i].off;
	switch (keys[i].type) {
	case K_STR: {
		const char *s = *(char *const *)x, *t = *(char *const *)y;

		return s == t || (s && t && !strcmp(s, t));
	}
	case K_LIST: {
		const struct strv *s = x, *t = y;

		if (s->n != t->n)
			return false;
		for (unsigned j = 0; j < s->n; j++)
			if (strcmp(s->v[j], t->v[j]))
				return false;
		return true;
	}
	case K_BOOL:
		return *(const bool *)x == *(const bool *)y;
	case K_U32:
		return *(const uint32_t *)x == *(const uint32_t *)y;
	default:
		return *(const uint64_t *)x == *(const uint64_t *)y;
	}
}

static const char *const default_model_exts[] = {
    "safetensors", "gguf", "onnx", "pt", "pth", "ckpt", "tflite", "keras", "mar", "engine", NULL};
static const char *const default_ambiguous_exts[] = {"bin", "pkl", "pickle", "joblib", "dill", "h5",
						     "pb",  "npy", "npz",    "plan",   NULL};
static const char *const default_model_dirs[] = {"/models",
						 "/data/models",
						 "/root/.cache/huggingface",
						 "/home/*/.cache/huggingface",
						 "/root/.ollama/models",
						 "/home/*/.ollama/models",
						 "/usr/share/ollama/.ollama/models",
						 "/var/lib/ollama",
						 NULL};
static const char *const default_credential_files[] = {
    "/root/.cache/huggingface/token",
    "/home/*/.cache/huggingface/token",
    "/root/.ollama/id_ed25519",
    "/home/*/.ollama/id_ed25519",
    "/usr/share/ollama/.ollama/id_ed25519",
    "/root/.aws/credentials",
    "/home/*/.aws/credentials",
    "/root/.kube/config",
    "/home/*/.kube/config",
    "/root/.docker/config.json",
    "/home/*/.docker/config.json",
    "/root/.config/gcloud/application_default_credentials.json",
    "/home/*/.config/gcloud/application_default_credentials.json",
    "/root/.config/gcloud/credentials.db",
    "/home/*/.config/gcloud/credentials.db",
    "/root/.git-credentials",
    "/home/*/.git-credentials",
    NULL};
/*
 * Persistence places and vigil's own config and log: rules VGL-0021, VGL-0025
 * and VGL-0026 watch them. A directory counts as a whole for renames, links
 * and unlinks (by path), and by the files directly in it for opens.
 */
static const char *const default_watch_paths[] = {"/etc/crontab",
						  "/etc/cron.d",
						  "/etc/cron.hourly",
						  "/etc/cron.daily",
						  "/etc/cron.weekly",
						  "/etc/cron.monthly",
						  "/var/spool/cron",
						  "/etc/systemd/system",
						  "/etc/systemd/user",
						  "/root/.config/systemd/user",
						  "/home/*/.config/systemd/user",
						  "/etc/ld.so.preload",
						  "/etc/profile.d",
						  "/etc/rc.local",
						  "/root/.ssh",
						  "/home/*/.ssh",
						  "/root/.bashrc",
						  "/root/.profile",
						  "/home/*/.bashrc",
						  "/home/*/.profile",
						  "/etc/vigil",
						  "/etc/vigil/rules.d",
						  "/etc/vigil/playbooks.d",
						  "/var/spool/cron/crontabs",
						  "/var/log/vigil",
						  NULL};
static const char *const default_gpu_devices[] = {
    "/dev/nvidia*", "/dev/nvidia-uvm*", "/dev/nvidiactl", "/dev/kfd", "/dev/dri/renderD*", NULL};
static const char *const default_inference_exes[] = {"vllm",
						     "text-generation-launcher",
						     "text-generation-router",
						     "text-generation-server",
						     "tritonserver",
						     "ollama",
						     "llama-server",
						     "torchserve",
						     "sglang",
						     NULL};
static const char *const default_inference_cmdlines[] = {"vllm.entrypoints",
							 "-m vllm",
							 "vllm serve",
							 "sglang.launch_server",
							 "text_generation_server",
							 "org.pytorch.serve",
							 "ray serve",
							 "llama_cpp.server",
							 NULL};

/* What starts a server without being it: shells, exec wrappers, container inits, shims. */
static const char *const default_inference_launchers[] = {
    "sh",      "bash",	  "dash",      "zsh",	     "ksh",	"mksh",	  "ash",  "busybox",
    "env",     "tini",	  "dumb-init", "catatonit",  "nohup",	"setsid", "nice", "ionice",
    "taskset", "numactl", "stdbuf",    "timeout",    "runuser", "su",	  "sudo", "chroot",
    "pyenv",   "conda",	  "mamba",     "micromamba", NULL};

/*
 * The systemd units inference servers ship or are usually given: only root
 * installs a system unit, so a process in one is trusted (units a user starts
 * live under user@UID.service and never match).
 */
static const char *const default_inference_units[] = {"ollama.service",
						      "vllm*.service",
						      "text-generation*.service",
						      "tgi*.service",
						      "tritonserver*.service",
						      "triton*.service",
						      "sglang*.service",
						      "llama-server*.service",
						      "localai*.service",
						      "torchserve*.service",
						      NULL};

int config_defaults(struct vigil_config **ret)
{
	struct vigil_config *c = calloc(1, sizeof(*c));
	int r = 0;

	if (!c)
		return -ENOMEM;
	c->state_dir = strdup("/var/lib/vigil");
	c->socket_path = strdup("/run/vigil/vigil.sock");
	c->log_level = strdup("info");
	c->events_file = strdup("/var/log/vigil/events.jsonl");
	c->file_max_size = 100ull << 20;
	c->file_max_files = 10;
	c->heartbeat_ms = 60000;
	c->args_max = 4096;
	c->ring_buffer_size = 8ull << 20;
	c->exit_grace_ms = 5000;
	c->proc_cache_max = PROC_CACHE_MAX_DEFAULT;
	c->fold_window_ms = 1000;
	c->udp_dedup_entries = 65536;
	c->rules_max_sequences = 10000;
	c->alert_dedup_ms = 10000;
	c->falco_file = strdup("");
	c->pin_dir = strdup("/sys/fs/bpf/vigil");
	c->cgroup_parent = strdup("vigil.quarantine");
	c->spool_max = 64ull << 20;
	c->webhook_max_backoff_ms = 300000;
	c->metrics_file = strdup("");
	c->metrics_interval_ms = 15000;
	c->inventory_max_models = 1024;
	c->inventory_hash_rate = 32ull << 20;
	c->inventory_approved_dir = strdup("/etc/vigil/models.d");
	c->nats_creds_file = strdup("");
	c->nats_tls_ca = strdup("");
	c->nats_tls_cert = strdup("");
	c->nats_tls_key = strdup("");
	c->nats_subject_prefix = strdup("vigil");
	c->nats_stream = strdup("VIGIL");
	c->nats_replicas = 3;
	c->nats_partitions = 16;
	c->nats_responders = strdup("/etc/vigil/responders.d");
	r |= strv_set(&c->model_extensions, default_model_exts);
	r |= strv_set(&c->ambiguous_extensions, default_ambiguous_exts);
	r |= strv_set(&c->model_dirs, default_model_dirs);
	r |= strv_set(&c->credential_files, default_credential_files);
	r |= strv_set(&c->gpu_devices, default_gpu_devices);
	r |= strv_set(&c->watch_paths, default_watch_paths);
	r |= strv_set(&c->inference_executables, default_inference_exes);
	r |= strv_set(&c->inference_command_lines, default_inference_cmdlines);
	r |= strv_set(&c->inference_launchers, default_inference_launchers);
	r |= strv_set(&c->inference_units, default_inference_units);
	if (r || !c->state_dir || !c->socket_path || !c->log_level || !c->events_file ||
	    !c->falco_file || !c->pin_dir || !c->cgroup_parent || !c->metrics_file ||
	    !c->inventory_approved_dir || !c->nats_creds_file || !c->nats_tls_ca ||
	    !c->nats_tls_cert || !c->nats_tls_key || !c->nats_subject_prefix || !c->nats_stream ||
	    !c->nats_responders) {
		config_free(c);
		return -ENOMEM;
	}
	*ret = c;
	return 0;
}

struct vigil_config *config_free(struct vigil_config *c)
{
	if (!c)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		void *field = (char *)c + keys[i].off;

		if (keys[i].type == K_STR)
			free(*(char **)field);
		else if (keys[i].type == K_LIST)
			strv_clear(field);
	}
	free(c->source);
	free(c);
	return NULL;
}

void config_swap_lists(struct vigil_config *a, struct vigil_config *b)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		struct strv *x, *y, t;

		if (keys[i].type != K_LIST)
			continue;
		x = (struct strv *)((char *)a + keys[i].off);
		y = (struct strv *)((char *)b + keys[i].off);
		t = *x;
		*x = *y;
		*y = t;
	}
}

/* Parsing context: where we are, for error messages. */
struct reader {
	const char *path;
	yaml_document_t *doc;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4))) static int rd_error(struct reader *rd, yaml_node_t *node,
							  const char *fmt, ...)
{
	size_t n =
	    snprintf(rd->err, rd->errlen, "%s:%zu:%zu: ", rd->path,
		     node ? node->start_mark.line + 1 : 0, node ? node->start_mark.column + 1 : 0);
	va_list ap;

	if (n < rd->errlen) {
		va_start(ap, fmt);
		vsnprintf(rd->err + n, rd->errlen - n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static const char *scalar(yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int set_list(struct reader *rd, const struct key_def *k, yaml_node_t *n, struct strv *dst)
{
	yaml_node_item_t *it;
	struct strv tmp = {0};

	if (n->type == YAML_SCALAR_NODE && !n->data.scalar.length) {
		strv_clear(dst); /* `key:` with nothing = empty list */
		return 0;
	}
	if (n->type != YAML_SEQUENCE_NODE)
		return rd_error(rd, n, "%s: expected a list", k->name);
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		yaml_node_t *item = yaml_document_get_node(rd->doc, *it);
		const char *s = scalar(item);

		if (!s || !*s) {
			strv_clear(&tmp);
			return rd_error(rd, item, "%s: list items must be non-empty strings",
					k->name);
		}
		if (strv_push(&tmp, s) < 0) {
			strv_clear(&tmp);
			return -ENOMEM;
		}
	}
	strv_clear(dst);
	*dst = tmp;
	return 0;
}

static int set_value(struct reader *rd, const struct key_def *k, yaml_node_t *n,
		     struct vigil_config *c)
{
	void *field = (char *)c + k->off;
	const char *s = scalar(n);
	uint64_t v = 0;
	int r = 0;

	if (k->type == K_LIST)
		return set_list(rd, k, n, field);
	if (!s)
		return rd_error(rd, n, "%s: expected a single value", k->name);
	switch (k->type) {
	case K_STR:
		free(*(char **)field);
		*(char **)field = strdup(s);
		return *(char **)field ? 0 : -ENOMEM;
	case K_BOOL:
		if (parse_bool(s, (bool *)field))
			return rd_error(rd, n, "%s: expected true or false, got \"%s\"", k->name,
					s);
		return 0;
	case K_SIZE:
	case K_U32:
		r = parse_size(s, &v);
		break;
	case K_DURATION:
		r = parse_duration_ms(s, &v);
		break;
	default:
		break;
	}
	if (r < 0)
		return rd_error(rd, n, "%s: invalid %s \"%s\"", k->name,
				k->type == K_DURATION ? "duration (e.g. 10s, 500ms)"
						      : "size (e.g. 4096, 64KiB, 100MiB)",
				s);
	if (v < k->min || v > k->max)
		return rd_error(rd, n, "%s: %s is out of range [%llu, %llu]", k->name, s,
				(unsigned long long)k->min, (unsigned long long)k->max);
	if (k->type == K_U32)
		*(uint32_t *)field = v;
	else
		*(uint64_t *)field = v;
	return 0;
}

static bool is_prefix_of_key(const char *prefix)
{
	size_t n = strlen(prefix);

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (!strncmp(keys[i].name, prefix, n) && keys[i].name[n] == '.')
			return true;
	return false;
}

static int read_mapping(struct reader *rd, yaml_node_t *map, const char *prefix,
			struct vigil_config *c)
{
	yaml_node_pair_t *p;

	if (map->type != YAML_MAPPING_NODE)
		return rd_error(rd, map, "%s: expected a mapping",
				prefix[0] ? prefix : "top level");
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = yaml_document_get_node(rd->doc, p->key);
		yaml_node_t *vn = yaml_document_get_node(rd->doc, p->value);
		const char *ks = scalar(kn);
		char name[256];
		int r;

		if (!ks)
			return rd_error(rd, kn, "keys must be plain strings");
		snprintf(name, sizeof(name), "%s%s%s", prefix, prefix[0] ? "." : "", ks);
		r = -ENOENT;
		for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
			if (!strcmp(keys[i].name, name)) {
				r = set_value(rd, &keys[i], vn, c);
				break;
			}
		if (r == -ENOENT && is_prefix_of_key(name))
			r = read_mapping(rd, vn, name, c);
		if (r == -ENOENT)
			return rd_error(rd, kn, "unknown key \"%s\"", name);
		if (r < 0)
			return r;
	}
	return 0;
}

int config_load_file(struct vigil_config *c, const char *path, char *err, size_t errlen)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	struct reader rd = {.path = path, .doc = &doc, .err = err, .errlen = errlen};
	int r;

	r = read_trusted_file(path, CONFIG_MAX, &text, &len, err, errlen);
	if (r < 0)
		return r;
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errlen, "%s:%zu:%zu: %s", path, parser.problem_mark.line + 1,
			 parser.problem_mark.column + 1,
			 parser.problem ? parser.problem : "YAML syntax error");
		yaml_parser_delete(&parser);
		return -EINVAL;
	}
	root = yaml_document_get_root_node(&doc);
	r = 0;
	if (root && !(root->type == YAML_SCALAR_NODE && !root->data.scalar.length))
		r = read_mapping(&rd, root, "", c);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (r == 0) {
		free(c->source);
		c->source = strdup(path);
	}
	return r;
}

static bool is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* name/ beside build/ (or build/san/) when the executable runs from a source tree. */
static int source_tree_dir(const char *name, struct strv *out)
{
	char exe[PATH_MAX], dir[PATH_MAX + 64];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n <= 0)
		return 0;
	exe[n] = 0;
	slash = strrchr(exe, '/');
	if (!slash || strstr(exe, "/usr/"))
		return 0;
	*slash = 0;
	snprintf(dir, sizeof(dir), "%s/../%s", exe, name);
	if (is_dir(dir))
		return strv_push(out, dir) < 0 ? -ENOMEM : 1;
	snprintf(dir, sizeof(dir), "%s/../../%s", exe, name);
	if (is_dir(dir))
		return strv_push(out, dir) < 0 ? -ENOMEM : 1;
	return 0;
}

int config_yaml_paths(const struct strv *cli, const struct strv *cfg_paths, const char *name,
		      const char *system_dir, const char *local_dir, struct strv *out)
{
	const struct strv *src = cli && cli->n ? cli : cfg_paths->n ? cfg_paths : NULL;
	int r;

	strv_clear(out);
	if (src) {
		for (unsigned i = 0; i < src->n; i++)
			if (strv_push(out, src->v[i]) < 0)
				return -ENOMEM;
		return 0;
	}
	r = source_tree_dir(name, out);
	if (r)
		return r < 0 ? r : 0;
	if (is_dir(system_dir) && strv_push(out, system_dir) < 0)
		return -ENOMEM;
	if (is_dir(local_dir) && strv_push(out, local_dir) < 0)
		return -ENOMEM;
	return 0;
}
