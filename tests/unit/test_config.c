// SPDX-License-Identifier: GPL-2.0
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/config.h"
#include "core/util.h"

static char path[] = "/tmp/vigil-cfg-XXXXXX";

static int load(const char *yaml, struct vigil_config **ret, char *err, size_t errlen)
{
	int fd = mkstemp(path);
	int r;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
	close(fd);
	assert_int_equal(config_defaults(ret), 0);
	r = config_load_file(*ret, path, err, errlen);
	unlink(path);
	strcpy(path, "/tmp/vigil-cfg-XXXXXX");
	return r;
}

static void test_config_defaults_work_without_file(void **state)
{
	struct vigil_config *c;

	assert_int_equal(config_defaults(&c), 0);
	assert_string_equal(c->events_file, "/var/log/vigil/events.jsonl");
	assert_true(strv_contains(&c->model_extensions, "safetensors"));
	assert_true(strv_contains(&c->ambiguous_extensions, "bin"));
	config_free(c);
}

static void test_config_values_override(void **state)
{
	struct vigil_config *c;
	char err[512] = "";

	assert_int_equal(load("output:\n  file: /tmp/x.jsonl\n  max_size: 10MiB\n"
			      "  heartbeat_interval: 5s\ncapture:\n  max_args_bytes: 1KiB\n"
			      "watch:\n  model_dirs: [/srv/models]\n",
			      &c, err, sizeof(err)),
			 0);
	assert_string_equal(c->events_file, "/tmp/x.jsonl");
	assert_int_equal(c->file_max_size, 10 << 20);
	assert_int_equal(c->heartbeat_ms, 5000);
	assert_int_equal(c->args_max, 1024);
	assert_int_equal(c->model_dirs.n, 1);
	config_free(c);
}

static void test_config_unknown_key_names_line(void **state)
{
	struct vigil_config *c;
	char err[512] = "";

	assert_int_not_equal(
	    load("output:\n  file: /tmp/x\n  rotate_size: 1\n", &c, err, sizeof(err)), 0);
	assert_non_null(strstr(err, ":3:3: unknown key \"output.rotate_size\""));
	config_free(c);
}

static void test_config_bad_values(void **state)
{
	struct vigil_config *c;
	char err[512] = "";

	assert_int_not_equal(load("output:\n  heartbeat_interval: soon\n", &c, err, sizeof(err)),
			     0);
	assert_non_null(strstr(err, ":2:23: output.heartbeat_interval: invalid duration"));
	config_free(c);
	assert_int_not_equal(load("capture:\n  max_args_bytes: 1GiB\n", &c, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "out of range"));
	config_free(c);
	assert_int_not_equal(load("watch:\n  model_dirs: /x\n", &c, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "watch.model_dirs: expected a list"));
	config_free(c);
	assert_int_not_equal(load("output: [\n", &c, err, sizeof(err)), 0);
	assert_non_null(strstr(err, ":2:1:"));
	config_free(c);
}

static void test_config_refuses_world_writable(void **state)
{
	struct vigil_config *c;
	char err[512] = "";
	int fd = mkstemp(path);

	close(fd);
	chmod(path, 0666);
	assert_int_equal(config_defaults(&c), 0);
	assert_int_not_equal(config_load_file(c, path, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "world-writable"));
	unlink(path);
	strcpy(path, "/tmp/vigil-cfg-XXXXXX");
	config_free(c);
}

/*
 * The man page documents every key of config.c's table and no other: each
 * key is a `.TP` entry under `.SH KEYS` whose tag line is
 *   .BR output.max_size " (size, default " 100MiB )
 * (`" (list)"` or `" (string)"` when there is no single default). The type
 * must be the table's, and the default, read by the config parser, must give
 * the built-in value. Keys added in config.c fail here until the page has them.
 */
#define MAN_PAGE "packaging/man/vigil.yaml.5"

struct man_key {
	char name[128], type[32], def[256];
	bool has_def;
	unsigned line;
};

/* The page beside this source (tests/unit/ → root) or beside the binary (build[/san]/tests/). */
static FILE *open_man_page(char *path, size_t len)
{
	const char *src = __FILE__, *tail = strstr(src, "tests/unit/test_config.c");
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	FILE *f;
	char tries[3][PATH_MAX + 64];
	unsigned ntries = 1;

	snprintf(tries[0], sizeof(tries[0]), "%.*s" MAN_PAGE, tail ? (int)(tail - src) : 0, src);
	if (n > 0) {
		exe[n] = 0;
		*strrchr(exe, '/') = 0;
		snprintf(tries[ntries++], sizeof(tries[0]), "%s/../../" MAN_PAGE, exe);
		snprintf(tries[ntries++], sizeof(tries[0]), "%s/../../../" MAN_PAGE, exe);
	}
	for (unsigned i = 0; i < ntries; i++)
		if ((f = fopen(tries[i], "r"))) {
			_cleanup_free_ char *real = realpath(tries[i], NULL);

			snprintf(path, len, "%s", real ? real : MAN_PAGE);
			return f;
		}
	snprintf(path, len, MAN_PAGE);
	return NULL;
}

/* Next argument of a roff request line: a word or a "quoted string". */
static const char *roff_arg(const char *p, char *out, size_t len)
{
	size_t o = 0;
	bool q;

	while (*p == ' ')
		p++;
	if (!*p)
		return NULL;
	q = *p == '"';
	p += q;
	for (; *p && (q ? *p != '"' : *p != ' '); p++)
		if (o + 1 < len)
			out[o++] = *p;
	out[o] = 0;
	return *p ? p + 1 : p;
}

/* Roff escapes a value may carry: \- \(dq \& \e. */
static void roff_unescape(char *s)
{
	char *o = s;

	while (*s) {
		if (!strncmp(s, "\\-", 2))
			*o++ = '-', s += 2;
		else if (!strncmp(s, "\\(dq", 4))
			*o++ = '"', s += 4;
		else if (!strncmp(s, "\\&", 2))
			s += 2;
		else if (!strncmp(s, "\\e", 2))
			*o++ = '\\', s += 2;
		else
			*o++ = *s++;
	}
	*o = 0;
}

static unsigned read_man_keys(FILE *f, struct man_key *keys, unsigned max)
{
	char line[1024], arg[256];
	bool in_keys = false, after_tp = false;
	unsigned n = 0, lineno = 0;

	while (fgets(line, sizeof(line), f)) {
		const char *p;
		struct man_key *k = &keys[n];

		lineno++;
		line[strcspn(line, "\n")] = 0;
		if (!strncmp(line, ".SH", 3)) {
			in_keys = !strcmp(line, ".SH KEYS");
			continue;
		}
		if (!in_keys)
			continue;
		if (!strcmp(line, ".TP")) {
			after_tp = true;
			continue;
		}
		if (!after_tp)
			continue;
		after_tp = false;
		if (strncmp(line, ".BR ", 4) && strncmp(line, ".B ", 3))
			continue;
		assert_true(n < max);
		memset(k, 0, sizeof(*k));
		k->line = lineno;
		p = roff_arg(strchr(line, ' '), k->name, sizeof(k->name));
		roff_unescape(k->name);
		if (p && (p = roff_arg(p, arg, sizeof(arg)))) {
			const char *t = strchr(arg, '(');

			if (t)
				snprintf(k->type, sizeof(k->type), "%.*s",
					 (int)strcspn(t + 1, ",)"), t + 1);
			if (strstr(arg, "default ") && roff_arg(p, k->def, sizeof(k->def))) {
				k->has_def = true;
				roff_unescape(k->def);
			}
		}
		n++;
	}
	return n;
}

/* The YAML that sets dotted NAME to VALUE: "a.b: v" → "a:\n  b: v\n". */
static void yaml_for_key(const char *name, const char *value, char *out, size_t len)
{
	size_t o = 0;
	unsigned depth = 0;

	for (const char *p = name; *p && o + 64 < len; depth++) {
		size_t l = strcspn(p, ".");

		o += snprintf(out + o, len - o, "%*s%.*s:%s", depth * 2, "", (int)l, p,
			      p[l] ? "\n" : "");
		p += l + !!p[l];
	}
	snprintf(out + o, len - o, " %s\n", value);
}

static void test_config_man_page_documents_every_key(void **state)
{
	static struct man_key man[512];
	char path[PATH_MAX + 64];
	FILE *f = open_man_page(path, sizeof(path));
	struct vigil_config *defaults;
	unsigned nman, bad = 0;

	if (!f)
		fail_msg("%s: cannot open it (the page config.c's keys are checked against)", path);
	nman = read_man_keys(f, man, ARRAY_SIZE(man));
	fclose(f);
	assert_int_equal(config_defaults(&defaults), 0);
	for (unsigned i = 0; i < config_key_count(); i++) {
		const char *name = config_key_name(i), *type = config_key_type(i);
		const struct man_key *k = NULL;

		for (unsigned j = 0; j < nman && !k; j++)
			if (!strcmp(man[j].name, name))
				k = &man[j];
		if (!k) {
			print_error("%s: key %s (%s) is in config.c but not documented: add\n"
				    "  .TP\n  .BR %s \" (%s%s\nunder .SH KEYS\n",
				    path, name, type, name, type,
				    strcmp(type, "list") ? ", default \" VALUE )" : ")\"");
			bad++;
			continue;
		}
		if (strcmp(k->type, type)) {
			print_error("%s:%u: %s is documented as (%s), config.c has it as (%s)\n",
				    path, k->line, name, k->type, type);
			bad++;
		}
		if (!k->has_def && strcmp(type, "list") && strcmp(type, "string")) {
			print_error("%s:%u: %s: no default given: \" (%s, default \" VALUE )\n",
				    path, k->line, name, type);
			bad++;
		}
		if (k->has_def) {
			struct vigil_config *c;
			char yaml[1024], err[512] = "";

			yaml_for_key(name, k->def, yaml, sizeof(yaml));
			if (load(yaml, &c, err, sizeof(err)) < 0) {
				print_error("%s:%u: %s: the default '%s' is not valid: %s\n", path,
					    k->line, name, k->def, err);
				bad++;
			} else if (!config_key_equal(c, defaults, i)) {
				print_error("%s:%u: %s: the page says default %s, config.c's "
					    "config_defaults() differs\n",
					    path, k->line, name, k->def);
				bad++;
			}
			config_free(c);
		}
	}
	for (unsigned j = 0; j < nman; j++) {
		bool known = false;

		for (unsigned i = 0; i < config_key_count() && !known; i++)
			known = !strcmp(man[j].name, config_key_name(i));
		if (!known) {
			print_error("%s:%u: documents key %s, which config.c's table does not "
				    "have (a config setting it is refused)\n",
				    path, man[j].line, man[j].name);
			bad++;
		}
	}
	config_free(defaults);
	if (bad)
		fail_msg("%s and config.c's keys[] disagree in %u place(s), listed above", path,
			 bad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config_defaults_work_without_file),
	    cmocka_unit_test(test_config_values_override),
	    cmocka_unit_test(test_config_unknown_key_names_line),
	    cmocka_unit_test(test_config_bad_values),
	    cmocka_unit_test(test_config_refuses_world_writable),
	    cmocka_unit_test(test_config_man_page_documents_every_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
