#include "hist.h"

#include <math.h>
#include <string.h>

void kb_hist_init(kb_hist *h) {
  memset(h, 0, sizeof *h);
  h->min = UINT64_MAX;
}

size_t kb_hist_index(uint64_t v) {
  if (v < KB_HIST_SUB) return (size_t)v;
  unsigned e = 63u - (unsigned)__builtin_clzll(v); /* floor(log2 v) >= 7 */
  unsigned shift = e - KB_HIST_SUB_BITS;
  size_t sub = (size_t)(v >> shift) - KB_HIST_SUB;
  return KB_HIST_SUB + (size_t)shift * KB_HIST_SUB + sub;
}

uint64_t kb_hist_highest_equivalent(size_t idx) {
  if (idx < KB_HIST_SUB) return idx;
  size_t shift = (idx - KB_HIST_SUB) / KB_HIST_SUB;
  uint64_t sub = (idx - KB_HIST_SUB) % KB_HIST_SUB;
  uint64_t low = (KB_HIST_SUB + sub) << shift;
  uint64_t width = (uint64_t)1 << shift;
  return low + (width - 1); /* cannot overflow: top bucket ends at 2^64-1 */
}

void kb_hist_record(kb_hist *h, uint64_t v) {
  h->counts[kb_hist_index(v)]++;
  h->count++;
  h->sum += (long double)v;
  if (v < h->min) h->min = v;
  if (v > h->max) h->max = v;
}

void kb_hist_merge(kb_hist *into, const kb_hist *from) {
  for (size_t i = 0; i < KB_HIST_BUCKETS; i++) into->counts[i] += from->counts[i];
  into->count += from->count;
  into->sum += from->sum;
  if (from->count) {
    if (from->min < into->min) into->min = from->min;
    if (from->max > into->max) into->max = from->max;
  }
}

uint64_t kb_hist_percentile(const kb_hist *h, double p) {
  if (!h->count) return 0;
  if (p <= 0) return h->min;
  if (p > 100) p = 100;
  uint64_t rank = (uint64_t)ceil(p / 100.0 * (double)h->count);
  if (rank < 1) rank = 1;
  if (rank > h->count) rank = h->count;
  uint64_t seen = 0;
  for (size_t i = 0; i < KB_HIST_BUCKETS; i++) {
    seen += h->counts[i];
    if (seen >= rank) {
      uint64_t v = kb_hist_highest_equivalent(i);
      return v > h->max ? h->max : v;
    }
  }
  return h->max;
}

double kb_hist_mean(const kb_hist *h) {
  return h->count ? (double)(h->sum / (long double)h->count) : 0.0;
}
