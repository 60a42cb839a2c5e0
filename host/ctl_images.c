/* ctl_images.c — `dmsctl image import FILE`: dmsctl opens the tarball and
 * passes the open file to the executor, so dms-host never opens a path a
 * caller names. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl_cmd.h"
#include "util.h"

/* "dir/Busybox-rootfs.tar.gz" -> "busybox-rootfs" (NULL if nothing is left
 * of it); the executor checks what it makes of it. */
static char *ref_from_file(const char *file)
{
	static const char *const exts[] = {".tar.gz", ".tar.xz", ".tar", ".tgz", ".gz"};
	const char *base = strrchr(file, '/');
	char *ref = host_strdup(base ? base + 1 : file);
	size_t n = strlen(ref);

	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		size_t e = strlen(exts[i]);
		if (n > e && strcmp(ref + n - e, exts[i]) == 0) {
			ref[n - e] = '\0';
			break;
		}
	}
	for (char *c = ref; *c; c++)
		*c = (char)((*c >= 'A' && *c <= 'Z') ? *c - 'A' + 'a' : *c);
	if (!*ref) {
		free(ref);
		return NULL;
	}
	return ref;
}

int ctl_cmd_image(struct globals *g, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"ref", required_argument, NULL, 'r'},
	    SUBCMD_HELP_OPT,
	    {NULL, 0, NULL, 0},
	};
	const char *ref = NULL;
	int opt, status = 1;

	if (argc < 2 || strcmp(argv[1], "import") != 0) {
		if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
			return ctl_command_help("image", stdout, 0);
		fprintf(stderr, "dmsctl image: the only subcommand is import\n");
		return ctl_command_help("image", stderr, 2);
	}
	argc--;
	argv++;
	optind = 0; /* a full re-initialisation: main's getopt stopped at the command */
	while ((opt = getopt_long(argc, argv, "r:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			ref = optarg;
			break;
		case 'h':
			return ctl_command_help("image", stdout, 0);
		default:
			return ctl_command_help("image", stderr, 2);
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "dmsctl image import: FILE is required\n");
		return ctl_command_help("image", stderr, 2);
	}
	const char *file = argv[optind];
	char *owned_ref = NULL;
	if (!ref && !(ref = owned_ref = ref_from_file(file))) {
		fprintf(stderr,
		        "dmsctl image import: cannot name an image after \"%s\"; give --ref\n",
		        file);
		return 2;
	}
	int fd = strcmp(file, "-") == 0 ? dup(STDIN_FILENO) : open(file, O_RDONLY | O_CLOEXEC);
	struct ctl_backend *b = NULL;
	struct ctl_error err = {0};
	char *id = NULL;

	if (fd < 0) {
		fprintf(stderr, "dmsctl image import: %s: %s\n", file, strerror(errno));
		free(owned_ref);
		return 1;
	}
	if (!ctl_utf8_ok("the reference", ref) || ctl_open_backend(g, &b) < 0)
		goto out;
	if (ctl_image_import(b, fd, ref, &id, &err) < 0) {
		ctl_print_error("image import", &err);
		goto out;
	}
	ctl_print_id(g, "image_id", id, "reference", ref);
	status = 0;
out:
	close(fd);
	free(id);
	free(owned_ref);
	ctl_error_clear(&err);
	ctl_backend_close(b);
	return status;
}
