/* berthd: the control plane. Wiring only; the work is in the core library. */
#include <stdio.h>

#include "common/log.h"
#include "daemon/daemon.h"
#include "daemon/settings.h"

int
main(int argc, char **argv)
{
	struct settings settings;
	struct err err = ERR_INIT;
	struct berthd d;
	int rc;

	/* Before anything reads a key or a secret. */
	if (berthd_harden(&err) < 0) {
		fprintf(stderr, "berthd: %s\n", err.msg);
		return 1;
	}
	rc = settings_from_args(&settings, argc, argv, &err);
	if (rc != 0) {
		settings_free(&settings);
		if (rc > 0)
			return 0;
		fprintf(stderr, "berthd: %s\n", err.msg);
		return 2;
	}
	log_init("berthd", (enum log_level)log_level_parse(settings.log_level));
	if (berthd_start(&d, &settings, &err) < 0) {
		log_error("%s", err.msg);
		berthd_stop(&d);
		return 1;
	}
	rc = berthd_run(&d);
	berthd_stop(&d);
	return rc < 0 ? 1 : 0;
}
