#include "common/prom.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"

void
prom_hist_init(struct prom_hist *h, const double *bounds, int n)
{
	memset(h, 0, sizeof *h);
	if (n > PROM_MAX_BUCKETS)
		n = PROM_MAX_BUCKETS;
	memcpy(h->bounds, bounds, sizeof *bounds * (size_t)n);
	h->n_bounds = n;
}

void
prom_hist_observe(struct prom_hist *h, double v)
{
	int i = 0;

	while (i < h->n_bounds && v > h->bounds[i])
		i++;
	h->counts[i]++;
	h->sum += v;
	h->count++;
}

void
prom_header(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
prom_value(struct buf *b, double v)
{
	if (isinf(v))
		buf_puts(b, v > 0 ? "+Inf" : "-Inf");
	else if (v == (double)(int64_t)v && fabs(v) < 1e15)
		buf_printf(b, "%lld", (long long)v);
	else
		buf_printf(b, "%.6g", v);
}

void
prom_sample(struct buf *b, const char *name, const char *labels, double value)
{
	if (labels != NULL && *labels != '\0')
		buf_printf(b, "%s{%s} ", name, labels);
	else
		buf_printf(b, "%s ", name);
	prom_value(b, value);
	buf_putc(b, '\n');
}

void
prom_hist_write(struct buf *b, const char *name, const char *labels, const struct prom_hist *h)
{
	const char *sep = labels != NULL && *labels != '\0' ? "," : "";
	uint64_t cum = 0;

	if (labels == NULL)
		labels = "";
	for (int i = 0; i <= h->n_bounds; i++) {
		cum += h->counts[i];
		buf_printf(b, "%s_bucket{%s%sle=\"", name, labels, sep);
		prom_value(b, i < h->n_bounds ? h->bounds[i] : INFINITY);
		buf_printf(b, "\"} %llu\n", (unsigned long long)cum);
	}
	buf_printf(b, "%s_sum%s%s%s ", name, *labels ? "{" : "", labels, *labels ? "}" : "");
	prom_value(b, h->sum);
	buf_printf(b, "\n%s_count%s%s%s %llu\n", name, *labels ? "{" : "", labels,
	           *labels ? "}" : "", (unsigned long long)h->count);
}

char *
prom_escape(const char *s)
{
	struct buf b = BUF_INIT;

	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			buf_putc(&b, '\\');
		if (*s == '\n') {
			buf_puts(&b, "\\n");
			continue;
		}
		buf_putc(&b, *s);
	}
	return buf_take(&b);
}
