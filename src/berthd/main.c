/* berthd: the control plane. Wiring only; the work is in the core library. */
#include <stdio.h>

int
main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "berthd %s: the control plane is not built yet\n", BERTH_VERSION);
	return 1;
}
