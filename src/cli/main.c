/* berth: the command-line client. */
#include <stdio.h>

int
main(void)
{
	fprintf(stderr, "berth %s\n", BERTH_VERSION);
	return 1;
}
