/*
 * Retry policy (see retry.h).  Kept free of I/O and clocks so every rule is
 * checked in memory.
 */
#include "retry.h"

bool ki_retry_allowed(ki_fail_class cls, bool idempotent) {
  switch (cls) {
  case KI_FAIL_CONNECT:
  case KI_FAIL_NOT_SENT:
  case KI_FAIL_REFUSED:
    return true;
  case KI_FAIL_STALE_IDLE:
  case KI_FAIL_LOST:
    /* The server may have run it: only safe when running it twice is. */
    return idempotent;
  case KI_FAIL_FATAL:
  default:
    return false;
  }
}

int64_t ki_retry_backoff_ns(int64_t base_ns, int64_t cap_ns, int retry,
                            uint64_t rnd) {
  if (base_ns <= 0)
    return 0;
  if (cap_ns < 0)
    cap_ns = 0;
  int64_t d = base_ns;
  /* Double without overflowing: stop as soon as the cap is reached. */
  for (int i = 1; i < retry && d < cap_ns; i++)
    d = d > INT64_MAX / 2 ? INT64_MAX : d * 2;
  if (cap_ns > 0 && d > cap_ns)
    d = cap_ns;
  int64_t half = d / 2;
  uint64_t span = (uint64_t)(d - half) + 1; /* values half..d inclusive */
  return half + (int64_t)(rnd % span);
}

ki_retry_verdict ki_retry_decide(const ki_retry_policy *pol, ki_fail_class cls,
                                 bool idempotent, int retries_used,
                                 int64_t now_ns, int64_t deadline_ns,
                                 uint64_t rnd, int64_t *delay_ns) {
  if (!ki_retry_allowed(cls, idempotent))
    return KI_RETRY_NO;
  if (retries_used >= pol->max_retries)
    return KI_RETRY_BUDGET;
  int64_t d = ki_retry_backoff_ns(pol->base_ns, pol->cap_ns, retries_used + 1,
                                  rnd);
  if (deadline_ns > 0 && now_ns + d >= deadline_ns)
    return KI_RETRY_DEADLINE;
  *delay_ns = d;
  return KI_RETRY_AFTER;
}

uint64_t ki_retry_rand(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
