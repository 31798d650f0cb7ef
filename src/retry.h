/*
 * Retry policy: which failed attempts may be sent again, and how long to wait
 * before the next one.  Pure functions, no I/O and no clock, so the policy is
 * tested on its own (tests/unit/check_retry.c); the session engine applies it.
 */
#ifndef KINFER_RETRY_H
#define KINFER_RETRY_H

#include <stdbool.h>
#include <stdint.h>

/* How an attempt failed, as far as the transport can prove it. */
typedef enum ki_fail_class {
  KI_FAIL_CONNECT,    /* no connection was established (refused, unreachable,
                         name lookup, connect timeout): request not sent     */
  KI_FAIL_NOT_SENT,   /* the connection died before any byte of the request
                         was written                                         */
  KI_FAIL_REFUSED,    /* RST_STREAM(REFUSED_STREAM), or a GOAWAY whose last
                         stream id is below the request's stream             */
  KI_FAIL_STALE_IDLE, /* a reused idle HTTP/1.1 connection was closed by the
                         server as we wrote; nothing of a response was read  */
  KI_FAIL_LOST,       /* the connection was lost after the request was
                         written, before the response headers arrived        */
  KI_FAIL_FATAL,      /* anything else: framing, limits, TLS, timeouts, loss
                         after response headers: never retried               */
  KI_FAIL_STATUS      /* an HTTP answer whose status the caller listed with
                         kinfer_config_set_retry_on_status (their opt-in)    */
} ki_fail_class;

/* True when an attempt that failed with |cls| may be sent again.  Only the
 * classes that prove the server did not process the request qualify, plus
 * the lost/stale cases for requests marked idempotent. */
bool ki_retry_allowed(ki_fail_class cls, bool idempotent);

/* The backoff before retry number |retry| (1 for the first retry):
 * d = min(cap, base * 2^(retry-1)), then a jittered value uniform in
 * [d/2, d] drawn from |rnd| (any 64-bit random value).  Nanoseconds;
 * never negative, never above cap (nor above base when base > cap). */
int64_t ki_retry_backoff_ns(int64_t base_ns, int64_t cap_ns, int retry,
                            uint64_t rnd);

typedef enum ki_retry_verdict {
  KI_RETRY_NO,        /* complete with the attempt's error                   */
  KI_RETRY_BUDGET,    /* retriable, but every retry has been used            */
  KI_RETRY_DEADLINE,  /* retriable, but the wait would pass the deadline     */
  KI_RETRY_AFTER      /* wait *delay_ns, then send again                     */
} ki_retry_verdict;

typedef struct ki_retry_policy {
  int max_retries;    /* extra attempts after the first (cfg->retries)       */
  int64_t base_ns;    /* cfg->backoff_base                                   */
  int64_t cap_ns;     /* cfg->backoff_cap                                    */
} ki_retry_policy;

/* Decides what follows a failed attempt.  |retries_used| counts retries
 * already made; |deadline_ns| is absolute (0 = none) and |now_ns| the
 * current time on the same clock.  On KI_RETRY_AFTER fills *delay_ns. */
ki_retry_verdict ki_retry_decide(const ki_retry_policy *pol, ki_fail_class cls,
                                 bool idempotent, int retries_used,
                                 int64_t now_ns, int64_t deadline_ns,
                                 uint64_t rnd, int64_t *delay_ns);

/* As ki_retry_decide, with a floor on the wait: |min_delay_ns| (a server's
 * Retry-After; 0 for none) replaces the backoff when it is longer. */
ki_retry_verdict ki_retry_decide_at_least(const ki_retry_policy *pol,
                                          ki_fail_class cls, bool idempotent,
                                          int retries_used, int64_t now_ns,
                                          int64_t deadline_ns, uint64_t rnd,
                                          int64_t min_delay_ns,
                                          int64_t *delay_ns);

/* The longest Retry-After honoured; a longer one counts as this. */
#define KI_RETRY_AFTER_MAX_NS ((int64_t)60 * 1000000000)

/* Parses a Retry-After value (RFC 9110 10.2.3): delta-seconds, or an
 * IMF-fixdate compared with |now_unix| (seconds since the epoch).  Returns
 * the wait in nanoseconds, capped at KI_RETRY_AFTER_MAX_NS; 0 for a date in
 * the past; -1 for NULL, garbage, negative numbers or other date forms,
 * which callers ignore (falling back to their backoff). */
int64_t ki_retry_after_ns(const char *value, int64_t now_unix);

/* The retry budget: a token bucket shared by a client's requests, so a
 * failing server is not met with a retry storm.  Every retry takes one
 * token; first attempts add |ratio| of a token, time adds |per_second|
 * tokens a second; the bucket starts full and holds at most
 * max(10, 10 * per_second). */
typedef struct ki_retry_budget {
  bool off;           /* ratio < 0: no budget */
  double ratio, per_ns, cap, tokens;
  int64_t last_ns;    /* time of the last refill */
} ki_retry_budget;

void ki_retry_budget_init(ki_retry_budget *b, double ratio, double per_second,
                          int64_t now_ns);
/* A first attempt went out. */
void ki_retry_budget_deposit(ki_retry_budget *b);
/* Takes a token for a retry at |now_ns|: true when one was there. */
bool ki_retry_budget_withdraw(ki_retry_budget *b, int64_t now_ns);

/* A small, fast PRNG (splitmix64) for jitter; not for secrets. */
uint64_t ki_retry_rand(uint64_t *state);

#endif
