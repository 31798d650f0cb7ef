/*
 * Retry policy (see retry.h).  Kept free of I/O and clocks so every rule is
 * checked in memory.
 */
#include "retry.h"

#include <string.h>

bool ki_retry_allowed(ki_fail_class cls, bool idempotent) {
  switch (cls) {
  case KI_FAIL_CONNECT:
  case KI_FAIL_NOT_SENT:
  case KI_FAIL_REFUSED:
    return true;
  case KI_FAIL_STATUS: /* the caller listed the status: their decision */
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

ki_retry_verdict ki_retry_decide_at_least(const ki_retry_policy *pol,
                                          ki_fail_class cls, bool idempotent,
                                          int retries_used, int64_t now_ns,
                                          int64_t deadline_ns, uint64_t rnd,
                                          int64_t min_delay_ns,
                                          int64_t *delay_ns) {
  if (!ki_retry_allowed(cls, idempotent))
    return KI_RETRY_NO;
  if (retries_used >= pol->max_retries)
    return KI_RETRY_BUDGET;
  int64_t d = ki_retry_backoff_ns(pol->base_ns, pol->cap_ns, retries_used + 1,
                                  rnd);
  if (min_delay_ns > KI_RETRY_AFTER_MAX_NS)
    min_delay_ns = KI_RETRY_AFTER_MAX_NS;
  if (min_delay_ns > d)
    d = min_delay_ns;
  if (deadline_ns > 0 && now_ns + d >= deadline_ns)
    return KI_RETRY_DEADLINE;
  *delay_ns = d;
  return KI_RETRY_AFTER;
}

ki_retry_verdict ki_retry_decide(const ki_retry_policy *pol, ki_fail_class cls,
                                 bool idempotent, int retries_used,
                                 int64_t now_ns, int64_t deadline_ns,
                                 uint64_t rnd, int64_t *delay_ns) {
  return ki_retry_decide_at_least(pol, cls, idempotent, retries_used, now_ns,
                                  deadline_ns, rnd, 0, delay_ns);
}

/* Reads exactly |n| digits at *s; -1 when they are not all digits. */
static int digits(const char **s, int n) {
  int v = 0;
  for (int i = 0; i < n; i++, (*s)++) {
    if (**s < '0' || **s > '9')
      return -1;
    v = v * 10 + (**s - '0');
  }
  return v;
}

static bool expect(const char **s, const char *lit) {
  size_t n = strlen(lit);
  if (strncmp(*s, lit, n) != 0)
    return false;
  *s += n;
  return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"; -1 when malformed. */
static int64_t parse_imf_fixdate(const char *s) {
  static const char *const days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  bool day_ok = false;
  for (int i = 0; i < 7 && !day_ok; i++) day_ok = strncmp(s, days[i], 3) == 0;
  if (!day_ok) return -1;
  s += 3;
  if (!expect(&s, ", ")) return -1;
  int mday = digits(&s, 2);
  if (mday < 1 || mday > 31 || !expect(&s, " ")) return -1;
  int mon = 0;
  while (mon < 12 && strncmp(s, months[mon], 3) != 0) mon++;
  if (mon == 12) return -1;
  s += 3;
  int year = expect(&s, " ") ? digits(&s, 4) : -1;
  if (year < 0 || !expect(&s, " ")) return -1;
  int hh = digits(&s, 2), mm = -1, ss = -1;
  if (hh >= 0 && expect(&s, ":")) mm = digits(&s, 2);
  if (mm >= 0 && expect(&s, ":")) ss = digits(&s, 2);
  if (hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60 ||
      !expect(&s, " GMT") || *s)
    return -1;
  return days_from_civil(year, mon + 1, mday) * 86400 + hh * 3600 + mm * 60 + ss;
}

int64_t ki_retry_after_ns(const char *value, int64_t now_unix) {
  if (!value)
    return -1;
  while (*value == ' ' || *value == '\t') value++;
  if (*value >= '0' && *value <= '9') {
    int64_t secs = 0;
    const char *p = value;
    for (; *p >= '0' && *p <= '9'; p++)
      if (secs < KI_RETRY_AFTER_MAX_NS / 1000000000) secs = secs * 10 + (*p - '0');
    while (*p == ' ' || *p == '\t') p++;
    if (*p)
      return -1;
    int64_t ns = secs * 1000000000;
    return ns > KI_RETRY_AFTER_MAX_NS ? KI_RETRY_AFTER_MAX_NS : ns;
  }
  int64_t when = parse_imf_fixdate(value);
  if (when < 0)
    return -1;
  if (when <= now_unix)
    return 0;
  int64_t secs = when - now_unix;
  return secs >= KI_RETRY_AFTER_MAX_NS / 1000000000 ? KI_RETRY_AFTER_MAX_NS
                                                     : secs * 1000000000;
}

uint64_t ki_retry_rand(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void ki_retry_budget_init(ki_retry_budget *b, double ratio, double per_second,
                          int64_t now_ns) {
  memset(b, 0, sizeof *b);
  b->off = ratio < 0;
  b->ratio = ratio < 0 ? 0 : ratio;
  b->per_ns = per_second > 0 ? per_second / 1e9 : 0;
  b->cap = per_second * 10 > 10 ? per_second * 10 : 10;
  b->tokens = b->cap;
  b->last_ns = now_ns;
}

void ki_retry_budget_deposit(ki_retry_budget *b) {
  b->tokens += b->ratio;
  if (b->tokens > b->cap)
    b->tokens = b->cap;
}

bool ki_retry_budget_withdraw(ki_retry_budget *b, int64_t now_ns) {
  if (b->off)
    return true;
  if (now_ns > b->last_ns) {
    b->tokens += (double)(now_ns - b->last_ns) * b->per_ns;
    if (b->tokens > b->cap)
      b->tokens = b->cap;
    b->last_ns = now_ns;
  }
  if (b->tokens < 1)
    return false;
  b->tokens -= 1;
  return true;
}
