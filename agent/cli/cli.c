// SPDX-License-Identifier: GPL-2.0
/* cli.c — the CLI's shared machinery: command tables, the control-socket call, output. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "daemon/control.h"
#include "core/util.h"

void cmd_usage(FILE *f, const char *prefix, const struct cmd *cmds)
{
	for (const struct cmd *k = cmds; k->name; k++) {
		char head[160];

		snprintf(head, sizeof(head), "%s%s%s%s", prefix, k->name, k->args[0] ? " " : "",
			 k->args);
		if (strlen(head) <= 17)
			fprintf(f, "  %-17s %s\n", head, k->help);
		else
			fprintf(f, "  %s\n  %-17s %s\n", head, "", k->help);
	}
}

/* The command whose name is word, or the only one it is a prefix of. */
static const struct cmd *cmd_find(const struct cmd *cmds, const char *word, const char *group)
{
	const struct cmd *hit = NULL;
	unsigned n = 0;

	for (const struct cmd *k = cmds; k->name; k++) {
		if (!strcmp(k->name, word))
			return k;
		if (!strncmp(k->name, word, strlen(word)) && n++ == 0)
			hit = k;
	}
	if (n == 1)
		return hit;
	fprintf(stderr, "vigil: %s%s\"%s\" (see vigil --help)\n", group,
		n ? "ambiguous command " : "unknown command ", word);
	return NULL;
}

int cmd_select(struct cli *c, const struct cmd *cmds, const char *group, int argc, char **argv)
{
	const struct cmd *k;

	if (argc < 1) {
		fprintf(stderr, "vigil: %swhich command? (see vigil --help)\n", group);
		return 2;
	}
	k = cmd_find(cmds, argv[0], group);
	if (!k)
		return 2;
	argv[0] = (char *)k->name; /* handlers and getopt see the whole name */
	return k->fn(c, argc, argv);
}

void cli_print_obj(json_t *o, int indent)
{
	const char *k;
	json_t *v;

	json_object_foreach (o, k, v) {
		if (json_is_object(v)) {
			printf("%*s%s:\n", indent, "", k);
			cli_print_obj(v, indent + 2);
			continue;
		}
		char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

		if (json_is_string(v))
			printf("%*s%s: %s\n", indent, "", k, json_string_value(v));
		else
			printf("%*s%s: %s\n", indent, "", k, s ? s : "?");
		free(s);
	}
}

/* One request to vigild (req is consumed); NULL (and a message) on failure. */
json_t *cli_call_req(struct cli *c, const char *cmd, json_t *req)
{
	_cleanup_(json_decrefp) json_t *sent = req, *resp = NULL;
	char err[512];

	resp = c->fleet ? cli_fleet_call(c, cmd, sent, err, sizeof(err))
			: control_call(c->socket, sent, err, sizeof(err));
	if (!resp) {
		fprintf(stderr, "vigil: %s\n", err);
		return NULL;
	}
	if (!json_is_true(json_object_get(resp, "ok"))) {
		fprintf(stderr, "vigil: %s: %s\n", cmd,
			json_string_value(json_object_get(resp, "error")) ?: "failed");
		return NULL;
	}
	json_object_del(resp, "ok");
	return TAKE_PTR(resp);
}

json_t *cli_call(struct cli *c, const char *cmd)
{
	return cli_call_req(c, cmd, json_pack("{s:s}", "cmd", cmd));
}

int cli_print_json(const json_t *o)
{
	json_dumpf(o, stdout, JSON_COMPACT);
	putchar('\n');
	return 0;
}

void cli_print_diag(void *ctx, bool error, const char *line)
{
	fprintf(stderr, "%s\n", line);
}
