/* Unit tests of src/secret/redact: secret values out of an enclave's text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "secret/redact.h"

/* redact_text() of text with the set, compared with want. */
static void
check(const struct redact *rd, const char *text, const char *want)
{
	char *got = redact_text(rd, text);

	assert_string_equal(got, want);
	free(got);
}

static void
add(struct redact *rd, const char *name, const char *value)
{
	redact_add(rd, name, value, strlen(value));
}

static void
test_without_values_text_is_copied(void **state)
{
	struct redact *rd = redact_new();
	char *s;

	(void)state;
	check(NULL, "a b c", "a b c");
	check(rd, "a b c", "a b c");
	check(rd, "", "");
	assert_null(redact_text(rd, NULL));
	s = redact_mem(NULL, "x\0y", 3, NULL);
	assert_memory_equal(s, "x\0y", 4);
	free(s);
	redact_free(rd);
	redact_free(NULL);
}

static void
test_every_occurrence_is_replaced(void **state)
{
	struct redact *rd = redact_new();

	(void)state;
	add(rd, "API_KEY", "s3cr3t-v4lue");
	assert_int_equal(redact_count(rd), 1);
	check(rd, "s3cr3t-v4lue", "[secret API_KEY]");
	check(rd, "key=s3cr3t-v4lue; again s3cr3t-v4lues3cr3t-v4lue.",
	      "key=[secret API_KEY]; again [secret API_KEY][secret API_KEY].");
	check(rd, "s3cr3t-v4lu", "s3cr3t-v4lu");   /* a part of it is not it */
	check(rd, "S3CR3T-V4LUE", "S3CR3T-V4LUE"); /* bytes, exactly */
	redact_free(rd);
}

static void
test_several_secrets(void **state)
{
	struct redact *rd = redact_new();

	(void)state;
	add(rd, "USER", "alice-admin");
	add(rd, "PASS", "hunter2hunter2");
	check(rd, "login alice-admin:hunter2hunter2 ok", "login [secret USER]:[secret PASS] ok");
	redact_free(rd);
}

static void
test_a_value_inside_another_goes_whole(void **state)
{
	struct redact *rd = redact_new();

	(void)state;
	/* Added shortest first: the order of redact_add() does not matter. */
	add(rd, "INNER", "bcde");
	add(rd, "OUTER", "abcdefgh");
	check(rd, "x abcdefgh y", "x [secret OUTER] y");
	check(rd, "x bcde y", "x [secret INNER] y");
	redact_free(rd);
}

static void
test_a_prefix_of_a_value_loses_to_it(void **state)
{
	struct redact *rd = redact_new();

	(void)state;
	add(rd, "PREFIX", "abcd");
	add(rd, "WHOLE", "abcdefgh");
	add(rd, "SUFFIX", "efgh");
	check(rd, "abcdefgh", "[secret WHOLE]");
	check(rd, "abcd efgh", "[secret PREFIX] [secret SUFFIX]");
	redact_free(rd);
}

static void
test_overlapping_values_leave_no_byte(void **state)
{
	struct redact *rd = redact_new();

	(void)state;
	add(rd, "A", "abcdef");
	add(rd, "B", "defghi");
	/* B starts inside A: the span is both, named after A. */
	check(rd, "[abcdefghi]", "[[secret A]]");
	/* A chain of overlaps, each extending the span. */
	check(rd, "abcdefghi abcdef", "[secret A] [secret A]");
	add(rd, "C", "hijklm");
	check(rd, "<abcdefghijklm>", "<[secret A]>");
	/* Only touching: two spans. */
	check(rd, "abcdefdefghi", "[secret A][secret B]");
	redact_free(rd);
}

static void
test_a_value_overlapping_itself(void **state)
{
	struct redact *rd = redact_new();

	(void)state;
	add(rd, "A", "aaaa");
	check(rd, "aaa", "aaa");
	check(rd, "aaaaaa", "[secret A]");
	check(rd, "aaaa aaaa", "[secret A] [secret A]");
	add(rd, "B", "abab");
	check(rd, "xababababx", "x[secret B]x");
	redact_free(rd);
}

static void
test_short_values_are_not_redacted(void **state)
{
	struct redact *rd = redact_new();

	(void)state;
	add(rd, "ONE", "1");
	add(rd, "THREE", "abc");
	add(rd, "EMPTY", "");
	add(rd, "NEWLINES", "\n\r\n");
	add(rd, "SHORT_LINE", "ab\n\n");
	assert_int_equal(redact_count(rd), 0);
	check(rd, "1 abc 11 ab\n", "1 abc 11 ab\n");
	add(rd, "FOUR", "abcd"); /* REDACT_MIN_LEN bytes is enough */
	assert_int_equal(REDACT_MIN_LEN, 4);
	assert_int_equal(redact_count(rd), 1);
	check(rd, "abc abcd", "abc [secret FOUR]");
	redact_free(rd);
}

static void
test_trailing_line_breaks_are_not_the_secret(void **state)
{
	struct redact *rd = redact_new();

	(void)state;
	add(rd, "TOKEN", "tok-12345\r\n");
	/* Printed with or without its line break; the lines stay lines. */
	check(rd, "token: tok-12345\r\nnext\n", "token: [secret TOKEN]\r\nnext\n");
	check(rd, "t=$(cat) gives tok-12345!", "t=$(cat) gives [secret TOKEN]!");
	redact_free(rd);
}

static void
test_multi_line_values(void **state)
{
	struct redact *rd = redact_new();

	(void)state;
	add(rd, "KEY", "-----BEGIN KEY-----\nMIIEvQIBADANBg\n-----END KEY-----\n");
	check(rd, "cat key:\n-----BEGIN KEY-----\nMIIEvQIBADANBg\n-----END KEY-----\ndone\n",
	      "cat key:\n[secret KEY]\ndone\n");
	redact_free(rd);
}

static void
test_binary_text_and_values(void **state)
{
	struct redact *rd = redact_new();
	static const char text[] = "a\0s\0cret\0b", want[] = "a\0[secret BIN]\0b";
	size_t len = 0;
	char *s;

	(void)state;
	redact_add(rd, "BIN", "s\0cret", 6);
	s = redact_mem(rd, text, sizeof text - 1, &len);
	assert_int_equal(len, sizeof want - 1);
	assert_memory_equal(s, want, sizeof want); /* NUL-terminated too */
	free(s);
	redact_free(rd);
}

static void
test_same_value_under_two_names(void **state)
{
	struct redact *rd = redact_new();

	(void)state;
	add(rd, "FIRST", "same-value");
	add(rd, "SECOND", "same-value");
	check(rd, "same-value", "[secret FIRST]");
	redact_free(rd);
}

static void
test_inplace_cuts_and_wipes(void **state)
{
	struct redact *rd = redact_new();
	char buf[24];

	(void)state;
	add(rd, "K", "a-very-long-secret-value");
	memset(buf, 'x', sizeof buf);
	memcpy(buf, "v=a-very-long-secret-val", 24);
	buf[23] = '\0'; /* already cut: the part left is not recognised */
	redact_inplace(rd, buf, sizeof buf);
	assert_string_equal(buf, "v=a-very-long-secret-va");

	strcpy(buf, "x");
	redact_inplace(NULL, buf, sizeof buf);
	assert_string_equal(buf, "x");

	{
		char big[64];

		memset(big, 0, sizeof big);
		strcpy(big, "k=a-very-long-secret-value!");
		redact_inplace(rd, big, sizeof big);
		assert_string_equal(big, "k=[secret K]!");
		/* Nothing of the old text is left behind the new one. */
		for (size_t i = strlen(big); i < sizeof big; i++)
			assert_int_equal(big[i], 0);
	}
	redact_free(rd);
	/* Longer once redacted than the buffer: cut to fit. */
	rd = redact_new();
	add(rd, "LONG_NAME", "abcdefgh");
	strcpy(buf, "abcdefgh abcdef");
	redact_inplace(rd, buf, 16);
	assert_string_equal(buf, "[secret LONG_NA");
	redact_free(rd);
}

/* The rules by brute force: every match of every value is an interval,
 * sorted by start (the longest value first at a tie); overlapping intervals
 * make one span named after its first. */
static char *
reference(const char *const *values, const size_t *order, size_t n, const char *text)
{
	size_t len = strlen(text), cur_end = 0, i = 0;
	char *out = calloc(1, len * 16 + 1);
	int have = 0;
	size_t cur_start = 0, cur_k = 0;

	for (size_t p = 0; p <= len; p++) {
		for (size_t j = 0; j < n && p < len; j++) {
			size_t k = order[j], vl = strlen(values[k]);

			if (p + vl > len || memcmp(text + p, values[k], vl) != 0)
				continue;
			if (have && p < cur_end) {
				if (p + vl > cur_end)
					cur_end = p + vl;
				continue;
			}
			if (have) {
				strncat(out, text + i, cur_start - i);
				sprintf(out + strlen(out), "[secret V%zu]", cur_k);
				i = cur_end;
			}
			have = 1;
			cur_start = p;
			cur_end = p + vl;
			cur_k = k;
		}
	}
	if (have) {
		strncat(out, text + i, cur_start - i);
		sprintf(out + strlen(out), "[secret V%zu]", cur_k);
		i = cur_end;
	}
	strcat(out, text + i);
	return out;
}

static void
test_against_brute_force(void **state)
{
	unsigned seed = 12345;

	(void)state;
	for (int round = 0; round < 3000; round++) {
		struct redact *rd = redact_new();
		char values[4][8], text[48], name[24], *got, *want;
		const char *vp[4];
		size_t n = 1 + (size_t)(rand_r(&seed) % 4), order[4], len, m = 0;

		for (size_t k = 0; k < n; k++) {
			size_t vl = 4 + (size_t)(rand_r(&seed) % 4);

			for (size_t c = 0; c < vl; c++)
				values[k][c] = "ab"[rand_r(&seed) % 2];
			values[k][vl] = '\0';
			vp[k] = values[k];
			snprintf(name, sizeof name, "V%zu", k);
			add(rd, name, values[k]);
		}
		/* The set's order: longest first, then as added. */
		for (size_t l = 7; l >= 4; l--)
			for (size_t k = 0; k < n; k++)
				if (strlen(values[k]) == l)
					order[m++] = k;
		len = (size_t)(rand_r(&seed) % (sizeof text));
		for (size_t c = 0; c < len; c++)
			text[c] = "ab"[rand_r(&seed) % 2];
		text[len] = '\0';
		got = redact_text(rd, text);
		want = reference(vp, order, n, text);
		if (strcmp(got, want) != 0)
			fail_msg("text %s: got %s, want %s", text, got, want);
		free(got);
		free(want);
		redact_free(rd);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_without_values_text_is_copied),
	    cmocka_unit_test(test_every_occurrence_is_replaced),
	    cmocka_unit_test(test_several_secrets),
	    cmocka_unit_test(test_a_value_inside_another_goes_whole),
	    cmocka_unit_test(test_a_prefix_of_a_value_loses_to_it),
	    cmocka_unit_test(test_overlapping_values_leave_no_byte),
	    cmocka_unit_test(test_a_value_overlapping_itself),
	    cmocka_unit_test(test_short_values_are_not_redacted),
	    cmocka_unit_test(test_trailing_line_breaks_are_not_the_secret),
	    cmocka_unit_test(test_multi_line_values),
	    cmocka_unit_test(test_binary_text_and_values),
	    cmocka_unit_test(test_same_value_under_two_names),
	    cmocka_unit_test(test_inplace_cuts_and_wipes),
	    cmocka_unit_test(test_against_brute_force),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
