// SPDX-License-Identifier: GPL-2.0
/* cmd_stream.c — status, events (from vigild) and verify (the hash chain, standalone). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "stream/chain.h"
#include "core/util.h"

/*
 * The stream as vigild writes it; --follow keeps asking for what came after.
 * A reply holds at most about 1 MiB of lines ("more"): the rest is asked for
 * at once, up to the 1000 lines a plain `events` shows.
 */
int cmd_events(struct cli *c, int argc, char **argv)
{
	bool follow = argc == 2 && (!strcmp(argv[1], "--follow") || !strcmp(argv[1], "-f"));
	bool more;
	json_int_t next = -1;
	size_t shown = 0;

	argc--, argv++; /* the arguments after the command word */

	if (argc > 1 || (argc == 1 && !follow)) {
		fprintf(stderr, "vigil: events: usage: events [--follow]\n");
		return 2;
	}
	do {
		json_t *req = json_pack("{s:s, s:i}", "cmd", "events", "max",
					follow ? 1000 : (int)(1000 - shown)),
		       *l;
		_cleanup_(json_decrefp) json_t *resp = NULL;
		size_t i;

		if (next >= 0)
			json_object_set_new(req, "after", json_integer(next));
		resp = cli_call_req(c, "events", req);
		if (!resp)
			return 1;
		if (json_integer_value(json_object_get(resp, "missed")) && next >= 0)
			fprintf(stderr, "vigil: events: %lld lines went by too fast to show\n",
				(long long)json_integer_value(json_object_get(resp, "missed")));
		json_array_foreach (json_object_get(resp, "lines"), i, l)
			puts(json_string_value(l));
		fflush(stdout);
		shown += json_array_size(json_object_get(resp, "lines"));
		next = json_integer_value(json_object_get(resp, "next"));
		more = json_is_true(json_object_get(resp, "more"));
		if (follow && !more)
			usleep(200000);
	} while (follow || (more && shown < 1000));
	return 0;
}

int cmd_status(struct cli *c, int argc, char **argv)
{
	_cleanup_(json_decrefp) json_t *resp = NULL;

	if (argc > 1) {
		fprintf(stderr, "vigil: status: takes no arguments\n");
		return 2;
	}
	resp = cli_call(c, "status");
	if (!resp)
		return 1;
	if (c->json)
		return cli_print_json(resp);
	cli_print_obj(resp, 0);
	return 0;
}

static void print_break(void *ctx, const char *file, uint64_t line, const char *reason)
{
	if (ctx)
		json_array_append_new(ctx, json_pack("{s:s, s:I, s:s}", "file", file, "line",
						     (json_int_t)line, "reason", reason));
	else
		printf("%s:%llu: %s\n", file, (unsigned long long)line, reason);
}

/* vigil verify [--continued] FILE...: every break, one line each, then a verdict. */
int cmd_verify(struct cli *c, int argc, char **argv)
{
	_cleanup_(json_decrefp) json_t *breaks = c->json ? json_array() : NULL;
	struct chain_verify_opts o = {.on_break = print_break, .ctx = breaks};
	struct chain_result res;
	int r;

	argc--, argv++; /* the arguments after the command word */

	if (argc > 0 && !strcmp(argv[0], "--continued")) {
		o.continued = true;
		argc--;
		argv++;
	}
	if (argc < 1) {
		fprintf(stderr, "vigil: verify: which files? (oldest first, e.g. events.jsonl.2 "
				"events.jsonl.1 events.jsonl)\n");
		return 2;
	}
	r = chain_verify(argv, argc, &o, &res);
	if (r < 0) {
		fprintf(stderr, "vigil: verify: %s: %s\n", res.file, strerror(-r));
		return 1;
	}
	if (c->json) {
		_cleanup_(json_decrefp) json_t *out =
		    json_pack("{s:b, s:I, s:I, s:O}", "ok", r == 0, "lines", (json_int_t)res.lines,
			      "breaks_found", (json_int_t)res.breaks, "breaks", breaks);

		cli_print_json(out);
	} else if (r) {
		printf("FAILED: %llu lines, %llu break%s in the hash chain\n",
		       (unsigned long long)res.lines, (unsigned long long)res.breaks,
		       res.breaks == 1 ? "" : "s");
	} else {
		printf("OK: %llu lines, hash chain intact%s\n", (unsigned long long)res.lines,
		       o.continued
			   ? " (continued: the first line was not checked against the genesis)"
			   : " from the genesis");
	}
	return r ? 1 : 0;
}
