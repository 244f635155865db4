// SPDX-License-Identifier: GPL-2.0
/*
 * cmd_bom.c — `vigil bom`: the models this host really loaded (vigild's
 * inventory, over the control socket) as a table, as JSON, as a CycloneDX
 * 1.6 ML-BOM, or (--approve) as an approved list for models.d to start from.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "core/fileio.h"
#include "core/util.h"

enum bom_format { BOM_TABLE, BOM_JSON, BOM_CYCLONEDX, BOM_APPROVE };

struct bom_opts {
	enum bom_format format;
	bool host_only;
	const char *out;
};

/* ---- Hugging Face cache paths: hub/models--ORG--NAME/{blobs,snapshots/COMMIT}/... ---- */

struct hf_ref {
	char org[128], name[128], commit[64], file[256];
};

/* The snapshot file that links to blobs/<blob> (one directory level deep at most). */
static bool find_snapshot(const char *repo, const char *blob, struct hf_ref *ref)
{
	char dir[PATH_MAX + 16];
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *c;

	snprintf(dir, sizeof(dir), "%s/snapshots", repo);
	if (!(d = opendir(dir)))
		return false;
	while ((c = readdir(d))) {
		_cleanup_closedir_ DIR *s = NULL;
		char snap[PATH_MAX + 300];
		struct dirent *f;

		if (c->d_name[0] == '.' || strlen(c->d_name) >= sizeof(ref->commit))
			continue;
		snprintf(snap, sizeof(snap), "%s/%s", dir, c->d_name);
		if (!(s = opendir(snap)))
			continue;
		while ((f = readdir(s))) {
			char link[PATH_MAX + 600], target[PATH_MAX];
			ssize_t n;
			const char *base;

			snprintf(link, sizeof(link), "%s/%s", snap, f->d_name);
			n = readlink(link, target, sizeof(target) - 1);
			if (n <= 0)
				continue;
			target[n] = 0;
			base = strrchr(target, '/');
			if (base && !strcmp(base + 1, blob)) {
				snprintf(ref->commit, sizeof(ref->commit), "%s", c->d_name);
				snprintf(ref->file, sizeof(ref->file), "%s", f->d_name);
				return true;
			}
		}
	}
	return false;
}

/* ORG and NAME from ".../models--ORG--NAME/blobs/<sha>", and the commit if a snapshot says. */
static bool hf_parse(const char *path, struct hf_ref *ref)
{
	const char *m = strstr(path, "/models--"), *sep, *end, *blob;
	char repo[PATH_MAX];

	memset(ref, 0, sizeof(*ref));
	if (!m || !(end = strchr(m + 9, '/')) || strncmp(end, "/blobs/", 7))
		return false;
	sep = strstr(m + 9, "--");
	if (!sep || sep >= end || sep == m + 9 || sep + 2 == end)
		return false;
	snprintf(ref->org, sizeof(ref->org), "%.*s", (int)(sep - (m + 9)), m + 9);
	snprintf(ref->name, sizeof(ref->name), "%.*s", (int)(end - (sep + 2)), sep + 2);
	blob = end + 7;
	snprintf(repo, sizeof(repo), "%.*s", (int)(end - path), path);
	find_snapshot(repo, blob, ref);
	return true;
}

/* ---- selection ---- */

/* --host-only: the workloads outside containers, and the models they loaded. */
static void keep_host_only(json_t *models)
{
	size_t i = 0;

	while (i < json_array_size(models)) {
		json_t *wl = json_object_get(json_array_get(models, i), "workloads");
		size_t k = 0;

		while (k < json_array_size(wl)) {
			const char *u =
			    json_string_value(json_object_get(json_array_get(wl, k), "unit"));

			if (u && !strncmp(u, "container:", 10))
				json_array_remove(wl, k);
			else
				k++;
		}
		if (json_array_size(wl))
			i++;
		else
			json_array_remove(models, i);
	}
}

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static json_int_t num(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static const char *first_path(const json_t *model)
{
	const char *p = json_string_value(json_array_get(json_object_get(model, "paths"), 0));

	return p ? p : "";
}

/* ---- the table ---- */

static void human_size(uint64_t n, char *buf, size_t len)
{
	static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = n;
	unsigned i = 0;

	while (v >= 1024 && i + 1 < ARRAY_SIZE(u)) {
		v /= 1024;
		i++;
	}
	snprintf(buf, len, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

static void print_table(FILE *f, const json_t *models)
{
	const json_t *m;
	size_t i;

	fprintf(f, "%-14s %-9s %-12s %10s %6s  %s\n", "SHA256", "DIGEST", "FORMAT", "SIZE", "LOADS",
		"PATH / WORKLOADS");
	json_array_foreach (models, i, m) {
		const json_t *w, *h = json_object_get(m, "header"),
				 *p = json_object_get(m, "pickle");
		char size[32], sha[16];
		size_t k;

		human_size(num(m, "size"), size, sizeof(size));
		snprintf(sha, sizeof(sha), "%.12s", str(m, "sha256")[0] ? str(m, "sha256") : "-");
		fprintf(f, "%-14s %-9s %-12s %10s %6lld  %s\n", sha, str(m, "digest"),
			str(m, "format"), size, (long long)num(m, "loads"), first_path(m));
		if (str(h, "architecture")[0] || num(h, "parameters"))
			fprintf(f, "%55s  %s %s %lld params %s\n", "", str(h, "architecture"),
				str(h, "name"), (long long)num(h, "parameters"),
				str(h, "quantization"));
		if (p && num(p, "dangerous"))
			fprintf(f, "%55s  pickle imports %lld dangerous callables\n", "",
				(long long)num(p, "dangerous"));
		json_array_foreach (json_object_get(m, "workloads"), k, w)
			fprintf(f, "%55s  <- %s%s%s%s (%lld loads)\n", "", str(w, "executable"),
				str(w, "unit")[0] ? " [" : "", str(w, "unit"),
				str(w, "unit")[0] ? "]" : "", (long long)num(w, "loads"));
	}
	if (!json_array_size(models))
		fprintf(f, "(no model loaded since the inventory started)\n");
}

/* ---- CycloneDX 1.6 ---- */

static void uuid4(char out[37])
{
	unsigned char b[16] = {0};
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, b, sizeof(b)) != (ssize_t)sizeof(b)) {
		uint64_t t = clock_ns(CLOCK_REALTIME) ^ ((uint64_t)getpid() << 32);

		memcpy(b, &t, sizeof(t));
	}
	if (fd >= 0)
		close(fd);
	b[6] = (b[6] & 0x0f) | 0x40; /* version 4 */
	b[8] = (b[8] & 0x3f) | 0x80; /* RFC 4122 variant */
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
}

static void add_prop(json_t *props, const char *name, const char *value)
{
	if (value && value[0])
		json_array_append_new(props, json_pack("{s:s, s:s}", "name", name, "value", value));
}

static void add_prop_num(json_t *props, const char *name, json_int_t v)
{
	char buf[32];

	if (v <= 0)
		return;
	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	add_prop(props, name, buf);
}

/* evidence: where it was seen, and how its identity (the digest) was established. */
static json_t *evidence(const json_t *m)
{
	const char *how = str(m, "digest");
	json_t *occ = json_array(), *v, *e;
	size_t i;

	json_array_foreach (json_object_get(m, "paths"), i, v)
		json_array_append_new(occ, json_pack("{s:O}", "location", v));
	e = json_pack("{s:o}", "occurrences", occ);
	if (str(m, "sha256")[0]) {
		/* hashed or verified: the bytes were hashed; "name": only the file name says */
		bool hashed = !strcmp(how, "hashed") || !strcmp(how, "verified");
		double conf = hashed ? 1.0 : 0.5;

		json_object_set_new(e, "identity",
				    json_pack("[{s:s, s:f, s:[{s:s, s:f, s:s}]}]", "field", "hash",
					      "confidence", conf, "methods", "technique",
					      hashed ? "hash-comparison" : "filename", "confidence",
					      conf, "value", str(m, "sha256")));
	}
	return e;
}

static json_t *model_card(const json_t *h)
{
	json_t *p = json_object();

	if (str(h, "architecture")[0]) {
		json_object_set_new(p, "architectureFamily", json_string(str(h, "architecture")));
		json_object_set_new(p, "modelArchitecture", json_string(str(h, "architecture")));
	}
	if (!json_object_size(p)) {
		json_decref(p);
		return NULL;
	}
	return json_pack("{s:o}", "modelParameters", p);
}

static json_t *model_props(const json_t *m)
{
	const json_t *h = json_object_get(m, "header"), *p = json_object_get(m, "pickle"), *w;
	json_t *props = json_array();
	size_t i;

	add_prop(props, "vigil:format", str(m, "format"));
	add_prop_num(props, "vigil:size", num(m, "size"));
	add_prop(props, "vigil:digest_source", str(m, "digest"));
	add_prop_num(props, "vigil:loads", num(m, "loads"));
	add_prop(props, "vigil:header_name", str(h, "name"));
	add_prop_num(props, "vigil:parameters", num(h, "parameters"));
	add_prop(props, "vigil:quantization", str(h, "quantization"));
	add_prop_num(props, "vigil:context_length", num(h, "context_length"));
	add_prop(props, "vigil:producer", str(h, "producer"));
	add_prop_num(props, "vigil:opset", num(h, "opset"));
	if (p)
		add_prop(props, "vigil:pickle_dangerous_callables",
			 num(p, "dangerous") ? "yes" : "none");
	if (json_object_get(m, "approved"))
		add_prop(props, "vigil:approved",
			 json_is_true(json_object_get(m, "approved")) ? "true" : "false");
	json_array_foreach (json_object_get(m, "workloads"), i, w)
		add_prop(props, "vigil:loaded_by", str(w, "executable"));
	return props;
}

static json_t *model_component(const json_t *m, const char *ref)
{
	const char *path = first_path(m), *base = strrchr(path, '/');
	struct hf_ref hf;
	json_t *c, *card;
	char name[512], purl[600];

	base = base ? base + 1 : path;
	snprintf(name, sizeof(name), "%s", str(json_object_get(m, "header"), "name"));
	if (!name[0])
		snprintf(name, sizeof(name), "%s", base[0] ? base : "model");
	c = json_pack("{s:s, s:s}", "type", "machine-learning-model", "bom-ref", ref);
	if (hf_parse(path, &hf)) {
		snprintf(name, sizeof(name), "%s/%s%s%s", hf.org, hf.name, hf.file[0] ? "/" : "",
			 hf.file);
		snprintf(purl, sizeof(purl), "pkg:huggingface/%s/%s%s%s", hf.org, hf.name,
			 hf.commit[0] ? "@" : "", hf.commit);
		json_object_set_new(c, "purl", json_string(purl));
		if (hf.commit[0])
			json_object_set_new(c, "version", json_string(hf.commit));
	}
	json_object_set_new(c, "name", json_string(name));
	if (str(m, "sha256")[0] && strcmp(str(m, "digest"), "mismatch"))
		json_object_set_new(
		    c, "hashes",
		    json_pack("[{s:s, s:s}]", "alg", "SHA-256", "content", str(m, "sha256")));
	json_object_set_new(c, "evidence", evidence(m));
	json_object_set_new(c, "properties", model_props(m));
	if ((card = model_card(json_object_get(m, "header"))))
		json_object_set_new(c, "modelCard", card);
	return c;
}

/* A workload's bom-ref: one per (executable, unit), shared across models. */
static const char *workload_ref(json_t *workloads, json_t *components, const json_t *w)
{
	char key[PATH_MAX + 300], id[40];
	json_t *ref, *props;

	snprintf(key, sizeof(key), "%s|%s", str(w, "executable"), str(w, "unit"));
	if ((ref = json_object_get(workloads, key)))
		return json_string_value(ref);
	snprintf(id, sizeof(id), "workload-%zu", json_object_size(workloads) + 1);
	ref = json_string(id);
	json_object_set_new(workloads, key, ref);
	props = json_array();
	add_prop(props, "vigil:executable", str(w, "executable"));
	add_prop(props, "vigil:unit", str(w, "unit"));
	add_prop(props, "vigil:inference",
		 json_is_true(json_object_get(w, "inference")) ? "true" : "false");
	json_array_append_new(components,
			      json_pack("{s:s, s:O, s:s, s:o}", "type", "application", "bom-ref",
					ref, "name",
					str(w, "executable")[0] ? str(w, "executable") : "unknown",
					"properties", props));
	return json_string_value(ref);
}

static json_t *cyclonedx(const json_t *resp, const json_t *models)
{
	json_t *components = json_array(), *deps = json_array(), *wrefs = json_object();
	json_t *by_wl = json_object(), *m, *w, *doc;
	const char *key;
	size_t i, k;
	char uuid[37], ts[32], host_ref[300];
	time_t now = time(NULL);
	struct tm tm;

	json_array_foreach (models, i, m) {
		char ref[96];

		snprintf(ref, sizeof(ref), "model-%lld-%lld-%lld", (long long)num(m, "dev"),
			 (long long)num(m, "ino"), (long long)num(m, "mtime_ns"));
		json_array_append_new(components, model_component(m, ref));
		json_array_append_new(deps, json_pack("{s:s, s:[]}", "ref", ref, "dependsOn"));
		json_array_foreach (json_object_get(m, "workloads"), k, w) {
			const char *wr = workload_ref(wrefs, components, w);
			json_t *on = json_object_get(by_wl, wr);

			if (!on)
				json_object_set_new(by_wl, wr, on = json_array());
			json_array_append_new(on, json_string(ref));
		}
	}
	json_object_foreach (by_wl, key, w)
		json_array_append_new(deps, json_pack("{s:s, s:O}", "ref", key, "dependsOn", w));
	uuid4(uuid);
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(host_ref, sizeof(host_ref), "host-%s", str(resp, "host"));
	doc = json_pack(
	    "{s:s, s:s, s:s, s:i, s:{s:s, s:[{s:s}], s:{s:[{s:s, s:s, s:s}]}, s:{s:s, s:s, s:s}}}",
	    "bomFormat", "CycloneDX", "specVersion", "1.6", "serialNumber", "", "version", 1,
	    "metadata", "timestamp", ts, "lifecycles", "phase", "operations", "tools", "components",
	    "type", "application", "name", "vigil", "version", str(resp, "version"), "component",
	    "type", "device", "bom-ref", host_ref, "name", str(resp, "host"));
	json_object_set_new(doc, "serialNumber", json_sprintf("urn:uuid:%s", uuid));
	json_object_set_new(doc, "components", components);
	json_object_set_new(doc, "dependencies", deps);
	json_decref(wrefs);
	json_decref(by_wl);
	return doc;
}

/* ---- --approve: the inventory as a models.d file ---- */

static void yaml_quoted(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if ((unsigned char)*s < 0x20)
			fprintf(f, "\\x%02x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void print_approve(FILE *f, const json_t *resp, const json_t *models)
{
	const json_t *m, *w;
	size_t i, k, skipped = 0;

	fprintf(f,
		"# Approved models, written by `vigil bom --approve` on %s.\n"
		"# Review, then install root-owned (0644) into /etc/vigil/models.d/.\n"
		"models:\n",
		str(resp, "host"));
	json_array_foreach (models, i, m) {
		const char *d = str(m, "digest");

		/* a tampered blob is not approved by having been seen; pending has no digest */
		if (!str(m, "sha256")[0] || !strcmp(d, "mismatch") || !strcmp(d, "pending")) {
			skipped++;
			continue;
		}
		fprintf(f, "  - sha256: %s\n    name: ", str(m, "sha256"));
		yaml_quoted(f, first_path(m));
		fprintf(f, "\n    workloads:\n");
		json_array_foreach (json_object_get(m, "workloads"), k, w) {
			fprintf(f, "      - ");
			yaml_quoted(f, str(w, "executable"));
			fprintf(f, "\n");
		}
	}
	if (i == skipped)
		fprintf(f, "  []\n");
	if (skipped)
		fprintf(f, "# %zu models left out: digest pending or not matching its name\n",
			skipped);
}

/* ---- the command ---- */

static int parse(int argc, char **argv, struct bom_opts *o, bool json)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},	      {"format", required_argument, NULL, 'f'},
	    {"host-only", no_argument, NULL, 'H'},    {"approve", no_argument, NULL, 'a'},
	    {"output", required_argument, NULL, 'o'}, {}};
	int c;

	*o = (struct bom_opts){.format = json ? BOM_JSON : BOM_TABLE};
	optind = 1;
	while ((c = getopt_long(argc, argv, "+o:", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o->format = BOM_JSON;
			break;
		case 'f':
			if (!strcmp(optarg, "cyclonedx"))
				o->format = BOM_CYCLONEDX;
			else if (!strcmp(optarg, "json"))
				o->format = BOM_JSON;
			else if (!strcmp(optarg, "table"))
				o->format = BOM_TABLE;
			else {
				fprintf(stderr,
					"vigil: bom: --format: cyclonedx, json or table, "
					"not %s\n",
					optarg);
				return -1;
			}
			break;
		case 'H':
			o->host_only = true;
			break;
		case 'a':
			o->format = BOM_APPROVE;
			break;
		case 'o':
			o->out = optarg;
			break;
		default:
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vigil: bom: unexpected argument %s\n", argv[optind]);
		return -1;
	}
	return 0;
}

static void render(FILE *f, const struct bom_opts *o, const json_t *resp, const json_t *models)
{
	_cleanup_(json_decrefp) json_t *doc = NULL;

	switch (o->format) {
	case BOM_TABLE:
		print_table(f, models);
		break;
	case BOM_APPROVE:
		print_approve(f, resp, models);
		break;
	case BOM_CYCLONEDX:
		doc = cyclonedx(resp, models);
		json_dumpf(doc, f, JSON_INDENT(2));
		fputc('\n', f);
		break;
	case BOM_JSON:
		doc = json_pack("{s:O, s:O, s:O}", "host", json_object_get(resp, "host"),
				"approved_models", json_object_get(resp, "approved_models"),
				"models", models);
		json_dumpf(doc, f, JSON_INDENT(2));
		fputc('\n', f);
		break;
	}
}

/* -o FILE: written whole, then renamed over FILE (never half a BOM). */
static int write_out(const char *path, const struct bom_opts *o, const json_t *resp,
		     const json_t *models)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int r;

	if (!f)
		return -ENOMEM;
	render(f, o, resp, models);
	if (fclose(f))
		return -ENOMEM;
	r = write_file_atomic(path, buf, len, 0644);
	if (r < 0)
		fprintf(stderr, "vigil: bom: cannot write %s: %s\n", path, strerror(-r));
	return r;
}

int cmd_bom(struct cli *c, int argc, char **argv)
{
	_cleanup_(json_decrefp) json_t *resp = NULL;
	struct bom_opts o;
	json_t *models;

	if (parse(argc, argv, &o, c->json) < 0)
		return 2;
	resp = cli_call(c, "bom");
	if (!resp)
		return 1;
	models = json_object_get(json_object_get(resp, "inventory"), "models");
	if (!json_is_array(models)) {
		fprintf(stderr, "vigil: bom: vigild sent no inventory\n");
		return 1;
	}
	if (o.host_only)
		keep_host_only(models);
	if (o.out)
		return write_out(o.out, &o, resp, models) < 0 ? 1 : 0;
	render(stdout, &o, resp, models);
	return fflush(stdout) ? 1 : 0;
}
