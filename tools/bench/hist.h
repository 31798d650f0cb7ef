/*
 * A log-bucketed latency histogram in the manner of HdrHistogram: values
 * below 128 are exact, larger ones fall in one of 128 linear sub-buckets per
 * power of two, so every reported value is within 1/128 (< 0.8%) of the
 * value recorded.  Recording is a few instructions and never allocates.
 */
#ifndef KINFER_BENCH_HIST_H
#define KINFER_BENCH_HIST_H

#include <stddef.h>
#include <stdint.h>

#define KB_HIST_SUB_BITS 7
#define KB_HIST_SUB (1u << KB_HIST_SUB_BITS)
#define KB_HIST_BUCKETS (KB_HIST_SUB + (64 - KB_HIST_SUB_BITS) * KB_HIST_SUB)

typedef struct kb_hist {
  uint64_t count;
  uint64_t min, max; /* exact */
  long double sum;
  uint64_t counts[KB_HIST_BUCKETS];
} kb_hist;

void kb_hist_init(kb_hist *h);
void kb_hist_record(kb_hist *h, uint64_t v);
/* Adds every count of |from| to |into|. */
void kb_hist_merge(kb_hist *into, const kb_hist *from);
/* The value at percentile |p| (0..100]: the highest value equivalent to
 * the bucket holding the ceil(p/100 * count)-th smallest value, capped at
 * the exact maximum.  0 for an empty histogram. */
uint64_t kb_hist_percentile(const kb_hist *h, double p);
double kb_hist_mean(const kb_hist *h);

/* Bucket index of |v|, and the largest value sharing that bucket. */
size_t kb_hist_index(uint64_t v);
uint64_t kb_hist_highest_equivalent(size_t idx);

#endif
