/* ctl_executor.c — dmsctl's commands on the executor as a whole: cleanup,
 * ls and info; and metrics, dms-host's counters. */
#include <stdlib.h>
#include <string.h>

#include "ctl_cmd.h"

int ctl_cmd_cleanup(struct globals *g, int argc, char **argv)
{
	int status = 0;
	struct ctl_backend *b = NULL;
	struct ctl_error err = {0};

	if (ctl_no_args("cleanup", argc, argv, &status) < 0)
		return status;
	if (ctl_open_backend(g, &b) < 0)
		return 1;
	if (ctl_cleanup(b, &err) < 0) {
		ctl_print_error("cleanup", &err);
		status = 1;
	}
	ctl_error_clear(&err);
	ctl_backend_close(b);
	return status;
}

int ctl_cmd_ls(struct globals *g, int argc, char **argv)
{
	int status = 0;
	struct ctl_backend *b = NULL;
	struct ctl_error err = {0};
	char *list = NULL;

	if (ctl_no_args(argv[0], argc, argv, &status) < 0)
		return status;
	if (ctl_open_backend(g, &b) < 0)
		return 1;
	if (ctl_list(b, &list, &err) < 0) {
		ctl_print_error("ls", &err);
		status = 1;
	} else if (g->json) {
		printf("%s\n", list);
	} else {
		struct host_json *arr = host_json_parse(list, strlen(list), NULL);
		printf("%-32s %-24s %-10s %s\n", "EXECUTION ID", "JOB ID", "STATE", "CONTAINER");
		for (size_t i = 0; arr && arr->type == HOST_JSON_ARRAY && i < arr->n_items; i++) {
			const struct host_json *e = arr->items[i];
			const char *c = host_json_get_string(e, "container_id");
			printf("%-32s %-24s %-10s %.12s\n",
			       host_json_get_string(e, "execution_id") ?: "-",
			       host_json_get_string(e, "job_id") ?: "-",
			       host_json_get_string(e, "state") ?: "-", c ? c : "-");
		}
		host_json_free(arr);
	}
	free(list);
	ctl_error_clear(&err);
	ctl_backend_close(b);
	return status;
}

int ctl_cmd_info(struct globals *g, int argc, char **argv)
{
	int status = 0;
	struct ctl_backend *b = NULL;
	struct ctl_error err = {0};
	char *info = NULL;
	bool installed = false;

	if (ctl_no_args("info", argc, argv, &status) < 0)
		return status;
	if (ctl_open_backend(g, &b) < 0)
		return 1;
	if (ctl_is_installed(b, &installed, &info, &err) < 0) {
		ctl_print_error("info", &err);
		status = 1;
	} else {
		if (g->json) {
			printf("{\"installed\":%s,\"mode\":\"%s\",\"engine\":%s}\n",
			       installed ? "true" : "false",
			       ctl_backend_embedded(b) ? "embedded" : "bus", info);
		} else {
			struct host_json *j = host_json_parse(info, strlen(info), NULL);
			printf("installed: %s\nmode: %s\n", installed ? "yes" : "no",
			       ctl_backend_embedded(b) ? "embedded (plugin in-process)"
			                               : "dms-host on the bus");
			for (size_t i = 0; j && j->type == HOST_JSON_OBJECT && i < j->n_items;
			     i++) {
				const struct host_json *v = j->items[i];
				if (strcmp(j->keys[i], "installed") == 0)
					continue; /* said above */
				if (v->type == HOST_JSON_STRING)
					printf("%s: %s\n", j->keys[i], v->string);
				else if (v->type == HOST_JSON_BOOL)
					printf("%s: %s\n", j->keys[i],
					       v->boolean ? "true" : "false");
				else if (v->type == HOST_JSON_NUMBER)
					printf("%s: %g\n", j->keys[i], v->number);
			}
			host_json_free(j);
		}
		status = installed ? 0 : 1;
	}
	free(info);
	ctl_error_clear(&err);
	ctl_backend_close(b);
	return status;
}

int ctl_cmd_metrics(struct globals *g, int argc, char **argv)
{
	int status = 0;
	struct ctl_error err = {0};
	char *text = NULL;

	if (ctl_no_args("metrics", argc, argv, &status) < 0)
		return status;
	if (ctl_bus_metrics(&g->opts, &text, &err) < 0) {
		ctl_print_error("metrics", &err);
		status = 1;
	} else {
		fputs(text, stdout);
	}
	free(text);
	ctl_error_clear(&err);
	return status;
}
