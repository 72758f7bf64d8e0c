/* berth-router: the data plane. Wiring only. */
#include <stdio.h>

int
main(void)
{
	fprintf(stderr, "berth-router %s: not built yet\n", BERTH_VERSION);
	return 1;
}
