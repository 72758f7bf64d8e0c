/* What the unit tests share: a temporary directory a test works in. */
#ifndef BERTH_UNIT_H
#define BERTH_UNIT_H

/* Makes /tmp/berth-unit-WHAT-XXXXXX and returns its path (owned by the
 * caller); the test fails if it cannot. */
char *unit_tmpdir(const char *what);

/* Removes dir and everything below it (links are not followed). */
void unit_rmtree(const char *dir);

/* cmocka setup and teardown of a test whose state is a unit_tmpdir(). */
int unit_setup_dir(void **state);
int unit_teardown_dir(void **state);

/* What fd sends until EOF, NUL-terminated (owned), or NULL when it stays
 * open (or silent) for timeout_ms. */
char *unit_read_to_eof(int fd, int timeout_ms);

#endif
