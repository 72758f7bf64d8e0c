/* prom: Prometheus text exposition helpers: counters, gauges, histograms. */
#ifndef BERTH_PROM_H
#define BERTH_PROM_H

#include <stdint.h>

#include "common/buf.h"

#define PROM_MAX_BUCKETS 16

/* A histogram with fixed upper bounds (seconds); not thread-safe. */
struct prom_hist {
	double bounds[PROM_MAX_BUCKETS]; /* ascending upper bounds, +Inf implied */
	int n_bounds;
	uint64_t counts[PROM_MAX_BUCKETS + 1]; /* per bucket, not cumulative */
	double sum;
	uint64_t count;
};

/* Sets up h with n ascending bounds. */
void prom_hist_init(struct prom_hist *h, const double *bounds, int n);

/* Records one observation. */
void prom_hist_observe(struct prom_hist *h, double v);

/* Writes "# HELP" and "# TYPE" lines. */
void prom_header(struct buf *b, const char *name, const char *type, const char *help);

/* Writes `name{labels} value`; labels is "" or `key="value",...` (escaped by
 * the caller with prom_escape). */
void prom_sample(struct buf *b, const char *name, const char *labels, double value);

/* Writes the _bucket, _sum and _count lines of h. */
void prom_hist_write(struct buf *b, const char *name, const char *labels,
                     const struct prom_hist *h);

/* A label value escaped for the text format (\\, \", \n); caller frees. */
char *prom_escape(const char *s);

#endif
