/*
 * The engine: one I/O thread running an epoll loop, a submission queue fed
 * by any thread through a mutex and an eventfd, a timer heap, the per-xfer
 * lifecycle (attempts, retries, completion) and the counters.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "session/sess.h"

/* ---- timers ------------------------------------------------------------- */

void ki_timer_init(ki_timer *t, ki_timer_fn fn) {
  t->when = 0;
  t->idx = KI_TIMER_IDLE;
  t->fn = fn;
}

int64_t ki_secs_to_ns(double s) {
  if (!(s >= 0) || isinf(s))
    return 0;
  if (s > 9.0e9)
    s = 9.0e9;
  int64_t ns = (int64_t)(s * 1e9);
  return ns > 0 ? ns : 1;
}

static void heap_swap(ki_engine *e, size_t a, size_t b) {
  ki_timer *t = e->heap[a];
  e->heap[a] = e->heap[b];
  e->heap[b] = t;
  e->heap[a]->idx = a;
  e->heap[b]->idx = b;
}

static void heap_up(ki_engine *e, size_t i) {
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (e->heap[parent]->when <= e->heap[i]->when)
      break;
    heap_swap(e, i, parent);
    i = parent;
  }
}

static void heap_down(ki_engine *e, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < e->nheap && e->heap[l]->when < e->heap[m]->when)
      m = l;
    if (r < e->nheap && e->heap[r]->when < e->heap[m]->when)
      m = r;
    if (m == i)
      return;
    heap_swap(e, i, m);
    i = m;
  }
}

int ki_timer_arm(ki_engine *e, ki_timer *t, int64_t when) {
  if (ki_timer_armed(t)) {
    t->when = when;
    heap_up(e, t->idx);
    heap_down(e, t->idx);
    return KINFER_OK;
  }
  if (e->nheap == e->capheap) {
    size_t cap = e->capheap ? e->capheap * 2 : 64;
    ki_timer **h = realloc(e->heap, cap * sizeof *h);
    if (!h)
      return KINFER_ENOMEM;
    e->heap = h;
    e->capheap = cap;
  }
  t->when = when;
  t->idx = e->nheap;
  e->heap[e->nheap++] = t;
  heap_up(e, t->idx);
  return KINFER_OK;
}

void ki_timer_disarm(ki_engine *e, ki_timer *t) {
  if (!ki_timer_armed(t))
    return;
  size_t i = t->idx;
  t->idx = KI_TIMER_IDLE;
  e->nheap--;
  if (i == e->nheap)
    return;
  e->heap[i] = e->heap[e->nheap];
  e->heap[i]->idx = i;
  heap_up(e, i);
  heap_down(e, i);
}

/* Milliseconds until the first timer, for epoll_wait (-1: none). */
static int timers_wait_ms(ki_engine *e, int64_t now) {
  if (e->nheap == 0)
    return -1;
  int64_t d = e->heap[0]->when - now;
  if (d <= 0)
    return 0;
  int64_t ms = (d + 999999) / 1000000;
  return ms > 60000 ? 60000 : (int)ms;
}

static void timers_run(ki_engine *e) {
  int64_t now = ki_now_ns();
  while (e->nheap > 0 && e->heap[0]->when <= now) {
    ki_timer *t = e->heap[0];
    ki_timer_disarm(e, t);
    t->fn(e, t);
  }
}

/* ---- xfer lifecycle --------------------------------------------------------- */

static bool state_queued(ki_xstate s) {
  return s == KI_XS_SUBMITTED || s == KI_XS_WAITING || s == KI_XS_BACKOFF;
}

void ki_xfer_set_state(ki_xfer_priv *p, ki_xstate st) {
  ki_engine *e = p->e;
  if (state_queued(p->state) && !state_queued(st))
    KI_STAT_SUB(e, requests_queued, 1);
  else if (!state_queued(p->state) && state_queued(st))
    KI_STAT_ADD(e, requests_queued, 1);
  if (p->state == KI_XS_WAITING && st != KI_XS_WAITING)
    p->origin->nwaiting--;
  else if (p->state != KI_XS_WAITING && st == KI_XS_WAITING)
    p->origin->nwaiting++;
  if (p->state == KI_XS_ACTIVE && st != KI_XS_ACTIVE)
    KI_STAT_SUB(e, streams_in_flight, 1);
  else if (p->state != KI_XS_ACTIVE && st == KI_XS_ACTIVE)
    KI_STAT_ADD(e, streams_in_flight, 1);
  p->state = st;
}

static const char *xfer_url(const ki_xfer *x) {
  return x->url ? x->url : x->target;
}

static void log_attempt(ki_xfer_priv *p, int code) {
  ki_engine *e = p->e;
  if (!e->cfg->verbose)
    return;
  ki_xfer *x = p->x;
  double ms = (double)(ki_now_ns() - p->attempt_start) / 1e6;
  /* Method, URL, outcome, protocol, attempt, duration: never header values,
   * which carry credentials. */
  if (code == KINFER_OK)
    ki_log(e->cfg, KINFER_LOG_INFO, "%s %s -> %d (%s, attempt %d, %.1f ms)",
           x->method, xfer_url(x), p->status, p->proto, x->attempts, ms);
  else
    ki_log(e->cfg, KINFER_LOG_INFO,
           "%s %s -> error %s: %s (%s, attempt %d, %.1f ms)", x->method,
           xfer_url(x), kinfer_strerror(code), p->err_msg, p->proto,
           x->attempts, ms);
}

static void xfer_complete(ki_xfer_priv *p, int code) {
  ki_engine *e = p->e;
  ki_xfer *x = p->x;
  ki_timer_disarm(e, &p->deadline);
  ki_timer_disarm(e, &p->wait);
  ki_list_remove(&p->link);
  ki_xfer_set_state(p, KI_XS_DONE);

  if (code == KINFER_OK) {
    size_t len = 0;
    char *body = ki_buf_steal(&p->body, &len);
    if (!body)
      body = calloc(1, 1);
    if (!body) {
      code = KINFER_ENOMEM;
      snprintf(p->err_msg, sizeof p->err_msg, "out of memory");
    } else {
      x->status = p->status;
      x->resp_headers = p->hdrs;
      p->hdrs = NULL;
      x->resp_body = body;
      x->resp_len = len;
      x->message[0] = '\0';
    }
  }
  x->result = code;
  if (code != KINFER_OK)
    snprintf(x->message, sizeof x->message, "%s", p->err_msg);
  kinfer_headers_free(p->hdrs);
  ki_buf_free(&p->body);
  x->priv = NULL;
  free(p);
  KI_STAT_ADD(e, requests, 1);
  if (code == KINFER_OK)
    KI_STAT_ADD(e, successes, 1);
  else
    KI_STAT_ADD(e, failures, 1);
  x->done(x); /* x may be gone after this */
}

static void xfer_complete_msg(ki_xfer_priv *p, int code, const char *fmt,
                              ...) KI_PRINTF(3, 4);
static void xfer_complete_msg(ki_xfer_priv *p, int code, const char *fmt,
                              ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->err_msg, sizeof p->err_msg, fmt, ap);
  va_end(ap);
  p->err_code = code;
  xfer_complete(p, code);
}

static void on_backoff_done(ki_engine *e, ki_timer *t) {
  ki_xfer_priv *p = KI_CONTAINER_OF(t, ki_xfer_priv, wait);
  ki_list_remove(&p->link);
  ki_pool_enqueue(p);
}

/* The client's retry policy (cfg->retries, the backoff). */
static ki_retry_policy retry_policy(const ki_engine *e) {
  ki_retry_policy pol = {
      .max_retries = e->cfg->retries > 0 ? e->cfg->retries : 0,
      .base_ns = ki_secs_to_ns(e->cfg->backoff_base),
      .cap_ns = ki_secs_to_ns(e->cfg->backoff_cap),
  };
  return pol;
}

/* After a verdict of KI_RETRY_AFTER: takes a token from the retry budget
 * and parks |p| for |delay| ns before its next attempt.  Returns false,
 * leaving |p| as it was, when the budget is empty (said in the error) or
 * the timer cannot be armed: the attempt's outcome then stands. */
static bool schedule_retry(ki_xfer_priv *p, int64_t now, int64_t delay) {
  ki_engine *e = p->e;
  if (!ki_retry_budget_withdraw(&e->budget, now)) {
    size_t n = strlen(p->err_msg);
    snprintf(p->err_msg + n, sizeof p->err_msg - n, "%s",
             " (not retried: retry budget exhausted)");
    if (e->cfg->verbose)
      ki_log(e->cfg, KINFER_LOG_WARN,
             "retry budget exhausted: %s %s not retried", p->x->method,
             xfer_url(p->x));
    return false;
  }
  p->wait.fn = on_backoff_done;
  if (ki_timer_arm(e, &p->wait, now + delay) != KINFER_OK)
    return false;
  p->retries_used++;
  KI_STAT_ADD(e, retries, 1);
  ki_xfer_set_state(p, KI_XS_BACKOFF);
  ki_list_push(&e->backoff, &p->link);
  return true;
}

void ki_xfer_fail(ki_xfer_priv *p, ki_fail_class cls, int code,
                  const char *fmt, ...) {
  ki_engine *e = p->e;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->err_msg, sizeof p->err_msg, fmt, ap);
  va_end(ap);
  p->err_code = code;
  log_attempt(p, code);
  if (e->shutting_down) {
    xfer_complete(p, code);
    return;
  }
  ki_retry_policy pol = retry_policy(e);
  int64_t now = ki_now_ns(), delay = 0;
  ki_retry_verdict v =
      ki_retry_decide(&pol, cls, p->x->idempotent, p->retries_used, now,
                      p->x->deadline_ns, ki_retry_rand(&e->rng), &delay);
  if (v != KI_RETRY_AFTER || !schedule_retry(p, now, delay))
    xfer_complete(p, code);
}

/* An answer the caller asked to retry (kinfer_config_set_retry_on_status):
 * schedules the next attempt and returns true, or returns false when the
 * answer stands (no retry left, the wait would pass the deadline, or the
 * retry budget is empty). */
static bool retry_on_status(ki_xfer_priv *p) {
  ki_engine *e = p->e;
  if (e->shutting_down || !ki_config_retry_status(e->cfg, p->status))
    return false;
  ki_retry_policy pol = retry_policy(e);
  int64_t after = ki_retry_after_ns(
      p->hdrs ? kinfer_headers_get(p->hdrs, "retry-after") : NULL, time(NULL));
  int64_t now = ki_now_ns(), delay = 0;
  ki_retry_verdict v = ki_retry_decide_at_least(
      &pol, KI_FAIL_STATUS, p->x->idempotent, p->retries_used, now,
      p->x->deadline_ns, ki_retry_rand(&e->rng), after > 0 ? after : 0, &delay);
  return v == KI_RETRY_AFTER && schedule_retry(p, now, delay);
}

void ki_xfer_fail_lost(ki_xfer_priv *p, bool stale_idle, const char *msg) {
  if (!p->req_written)
    ki_xfer_fail(p, KI_FAIL_NOT_SENT, KINFER_ECONNECT,
                 "%s before the request was sent", msg);
  else if (p->resp_started)
    ki_xfer_fail(p, KI_FAIL_FATAL, KINFER_EBADRESPONSE,
                 "%s: response cut short", msg);
  else if (stale_idle)
    ki_xfer_fail(p, KI_FAIL_STALE_IDLE, KINFER_EUNKNOWN_OUTCOME,
                 "%s on a reused connection after the request was sent", msg);
  else
    ki_xfer_fail(p, KI_FAIL_LOST, KINFER_EUNKNOWN_OUTCOME,
                 "%s after the request was sent", msg);
}

void ki_xfer_succeed(ki_xfer_priv *p) {
  p->err_code = KINFER_OK;
  log_attempt(p, KINFER_OK);
  if (retry_on_status(p))
    return;
  xfer_complete(p, KINFER_OK);
}

bool ki_xfer_requeue(ki_xfer_priv *p, const char *why) {
  if (p->e->shutting_down || p->requeues >= KI_REQUEUE_MAX)
    return false;
  p->requeues++;
  snprintf(p->err_msg, sizeof p->err_msg, "%s: sent again", why);
  log_attempt(p, KINFER_EREFUSED);
  ki_pool_enqueue(p);
  return true;
}

void ki_xfer_resend(ki_xfer_priv *p) {
  snprintf(p->err_msg, sizeof p->err_msg,
           "server does not speak HTTP/2: resending over HTTP/1.1");
  log_attempt(p, KINFER_EBADRESPONSE);
  if (p->e->shutting_down) {
    xfer_complete_msg(p, KINFER_ECANCELLED, "engine shut down");
    return;
  }
  ki_pool_enqueue(p);
}

int ki_xfer_attempt_begin(ki_xfer_priv *p) {
  ki_xfer *x = p->x;
  kinfer_headers_free(p->hdrs);
  p->hdrs = NULL;
  ki_buf_free(&p->body); /* nothing of an earlier attempt survives */
  p->hdr_bytes = 0;
  p->status = 0;
  p->stream_id = 0;
  p->req_written = p->req_done = p->resp_started = p->resp_done = false;
  p->iov_idx = p->iov_off = 0;
  p->attempt_start = ki_now_ns();
  x->attempts++;
  ki_fmt_u64(p->attempt_hdr, (uint64_t)x->attempts);
  return KINFER_OK;
}

int ki_xfer_add_header(ki_xfer_priv *p, const char *name, size_t nlen,
                       const char *value, size_t vlen) {
  size_t max = p->e->cfg->max_header_bytes;
  p->hdr_bytes += nlen + vlen + 4;
  if (max && p->hdr_bytes > max)
    return KINFER_ELIMIT;
  if (!p->hdrs && !(p->hdrs = kinfer_headers_new()))
    return KINFER_ENOMEM;
  int rc = ki_headers_addn(p->hdrs, name, nlen, value, vlen, true);
  /* A value the header list refuses (CR/LF/NUL) is a malformed response. */
  return rc == KINFER_EINVAL ? KINFER_EBADRESPONSE : rc;
}

int ki_xfer_add_body(ki_xfer_priv *p, const void *data, size_t len) {
  size_t max = p->e->cfg->max_response_bytes;
  if (max && (len > max || p->body.len > max - len))
    return KINFER_ELIMIT;
  return ki_buf_append(&p->body, data, len);
}

bool ki_xfer_has_header(const ki_xfer *x, const char *name) {
  return x->headers && kinfer_headers_get(x->headers, name) != NULL;
}

/* ---- deadlines ----------------------------------------------------------- */

static const char *waiting_phase(ki_origin *o) {
  for (ki_list *l = o->conns.next; l != &o->conns; l = l->next) {
    ki_conn *c = KI_CONTAINER_OF(l, ki_conn, link);
    if (c->state == KI_CS_RESOLVING || c->state == KI_CS_CONNECTING ||
        c->state == KI_CS_HANDSHAKE)
      return "connect";
  }
  return "pool";
}

static void on_deadline(ki_engine *e, ki_timer *t) {
  ki_xfer_priv *p = KI_CONTAINER_OF(t, ki_xfer_priv, deadline);
  switch (p->state) {
  case KI_XS_WAITING: {
    const char *phase = waiting_phase(p->origin);
    ki_pool_unqueue(p);
    snprintf(p->err_msg, sizeof p->err_msg, "deadline exceeded (%s) for %s %s",
             phase, p->x->method, xfer_url(p->x));
    log_attempt(p, KINFER_ETIMEOUT);
    xfer_complete(p, KINFER_ETIMEOUT);
    break;
  }
  case KI_XS_BACKOFF:
    xfer_complete_msg(p, KINFER_ETIMEOUT,
                      "deadline exceeded (backoff) for %s %s; last error: %.120s",
                      p->x->method, xfer_url(p->x), p->err_msg);
    break;
  case KI_XS_ACTIVE: {
    const char *phase = p->req_done ? "read" : "write";
    ki_conn *c = p->conn;
    c->ops->cancel(c, p);
    ki_conn_mark_dirty(c);
    snprintf(p->err_msg, sizeof p->err_msg,
             "deadline exceeded (%s) for %s %s", phase, p->x->method,
             xfer_url(p->x));
    log_attempt(p, KINFER_ETIMEOUT);
    xfer_complete(p, KINFER_ETIMEOUT);
    break;
  }
  default:
    break;
  }
}

static void on_pool_timeout(ki_engine *e, ki_timer *t) {
  ki_xfer_priv *p = KI_CONTAINER_OF(t, ki_xfer_priv, wait);
  if (p->state != KI_XS_WAITING)
    return;
  ki_pool_unqueue(p);
  snprintf(p->err_msg, sizeof p->err_msg,
           "timed out (pool) waiting for a connection for %s %s",
           p->x->method, xfer_url(p->x));
  log_attempt(p, KINFER_ETIMEOUT);
  xfer_complete(p, KINFER_ETIMEOUT);
}

void ki_xfer_wait_pool(ki_xfer_priv *p) {
  int64_t t = ki_secs_to_ns(p->e->cfg->pool_timeout);
  p->wait.fn = on_pool_timeout;
  if (t > 0)
    (void)ki_timer_arm(p->e, &p->wait, ki_now_ns() + t); /* best effort */
}

/* ---- submission ------------------------------------------------------------ */

void ki_engine_wake(ki_engine *e) {
  /* One eventfd write until the loop consumes it: submissions that come
   * while a wake-up is pending ride on it. */
  if (atomic_exchange(&e->wake_pending, true))
    return;
  uint64_t one = 1;
  ssize_t n;
  do
    n = write(e->evfd, &one, sizeof one);
  while (n < 0 && errno == EINTR);
}

/* Validates |x| and makes its private part, not yet queued anywhere. */
static int xfer_new(ki_engine *e, ki_xfer *x, ki_xfer_priv **out) {
  if (!e || !x || !x->method || !x->target || !x->authority || !x->done ||
      (!x->host && !e->cfg->unix_socket) ||
      (x->body_iovcnt && !x->body))
    return KINFER_EINVAL;
  ki_xfer_priv *p = calloc(1, sizeof *p);
  if (!p)
    return KINFER_ENOMEM;
  p->x = x;
  p->e = e;
  p->state = KI_XS_DONE; /* not yet counted anywhere */
  ki_timer_init(&p->deadline, on_deadline);
  ki_timer_init(&p->wait, on_pool_timeout);
  x->result = KINFER_OK;
  x->status = 0;
  x->resp_headers = NULL;
  x->resp_body = NULL;
  x->resp_len = 0;
  x->attempts = 0;
  x->http_version = 0;
  x->message[0] = '\0';
  x->priv = p;
  *out = p;
  return KINFER_OK;
}

int ki_engine_submit(ki_engine *e, ki_xfer *x) {
  ki_xfer_priv *p;
  int rc = xfer_new(e, x, &p);
  if (rc != KINFER_OK)
    return rc;
  pthread_mutex_lock(&e->mu);
  if (e->stopping) {
    pthread_mutex_unlock(&e->mu);
    x->priv = NULL;
    free(p);
    return KINFER_ECANCELLED;
  }
  ki_xfer_set_state(p, KI_XS_SUBMITTED);
  ki_list_push(&e->submitq, &p->link);
  pthread_mutex_unlock(&e->mu);
  ki_engine_wake(e);
  return KINFER_OK;
}

static void start_submitted(ki_engine *e, ki_xfer_priv *p) {
  ki_xfer *x = p->x;
  p->origin = ki_origin_get(e, x);
  if (!p->origin) {
    xfer_complete_msg(p, KINFER_ENOMEM, "out of memory");
    return;
  }
  if (x->deadline_ns > 0) {
    if (x->deadline_ns <= ki_now_ns()) {
      xfer_complete_msg(p, KINFER_ETIMEOUT,
                        "deadline exceeded (deadline) before %s %s was sent",
                        x->method, xfer_url(x));
      return;
    }
    if (ki_timer_arm(e, &p->deadline, x->deadline_ns) != KINFER_OK) {
      xfer_complete_msg(p, KINFER_ENOMEM, "out of memory");
      return;
    }
  }
  if (p->origin->nwaiting >= e->cfg->max_queued) {
    xfer_complete_msg(p, KINFER_ELIMIT,
                      "%zu requests already wait for a connection to %s: "
                      "%s %s not queued (kinfer_config_set_max_queued)",
                      p->origin->nwaiting, p->origin->host, x->method,
                      xfer_url(x));
    return;
  }
  ki_retry_budget_deposit(&e->budget);
  ki_pool_enqueue(p);
}

/* Drains the eventfd and takes what other threads handed over.  Returns
 * true when the engine is asked to stop. */
static bool take_submissions(ki_engine *e) {
  uint64_t v;
  while (read(e->evfd, &v, sizeof v) < 0 && errno == EINTR)
    ;
  /* After the read: a wake-up that skipped its write because one was
   * pending has its submission queued already, and the drain below takes
   * it; a later one writes again. */
  atomic_store(&e->wake_pending, false);
  ki_list q, jobs;
  ki_list_init(&q);
  ki_list_init(&jobs);
  pthread_mutex_lock(&e->mu);
  bool stop = e->stopping;
  while (!ki_list_empty(&e->submitq)) {
    ki_list *l = e->submitq.next;
    ki_list_remove(l);
    ki_list_push(&q, l);
  }
  while (!ki_list_empty(&e->resolved)) {
    ki_list *l = e->resolved.next;
    ki_list_remove(l);
    ki_list_push(&jobs, l);
  }
  pthread_mutex_unlock(&e->mu);
  while (!ki_list_empty(&jobs)) {
    ki_list *l = jobs.next;
    ki_list_remove(l);
    ki_conn_on_resolved(KI_CONTAINER_OF(l, ki_resolve_job, link));
  }
  while (!ki_list_empty(&q)) {
    ki_list *l = q.next;
    ki_list_remove(l);
    start_submitted(e, KI_CONTAINER_OF(l, ki_xfer_priv, link));
  }
  return stop;
}

/* ---- the loop ---------------------------------------------------------------- */

int ki_engine_watch(ki_engine *e, ki_conn *c, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.ptr = c};
  int op = c->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  if (c->in_epoll && c->events == events)
    return KINFER_OK;
  if (epoll_ctl(e->epfd, op, c->fd, &ev) < 0)
    return KINFER_ENOMEM;
  c->in_epoll = true;
  c->events = events;
  return KINFER_OK;
}

void ki_engine_unwatch(ki_engine *e, ki_conn *c) {
  if (c->in_epoll)
    epoll_ctl(e->epfd, EPOLL_CTL_DEL, c->fd, NULL);
  c->in_epoll = false;
}

static void run_kicks(ki_engine *e) {
  while (!ki_list_empty(&e->kicks)) {
    ki_list *l = e->kicks.next;
    ki_list_remove(l);
    ki_pool_dispatch(KI_CONTAINER_OF(l, ki_origin, kick_link));
  }
}

/* One write per connection per turn: codecs only queue frames; the flush
 * here sends everything queued during the turn together. */
static void run_flushes(ki_engine *e) {
  while (!ki_list_empty(&e->dirty)) {
    ki_list *l = e->dirty.next;
    ki_list_remove(l);
    ki_conn *c = KI_CONTAINER_OF(l, ki_conn, dirty_link);
    if (c->state != KI_CS_OPEN)
      continue;
    int rc = c->ops->flush(c);
    if (rc != KINFER_OK && ki_conn_tls_refused(c))
      continue;
    if (rc != KINFER_OK)
      ki_conn_close(c, rc, "write to %s failed: %s", c->addr,
                    c->last_errno ? strerror(c->last_errno) : "error");
    else if (c->draining && c->nstreams == 0)
      ki_conn_close(c, KINFER_OK, "connection to %s drained", c->addr);
    else
      ki_conn_update(c);
  }
}

static void bury_dead(ki_engine *e) {
  while (!ki_list_empty(&e->graveyard)) {
    ki_list *l = e->graveyard.next;
    ki_list_remove(l);
    free(KI_CONTAINER_OF(l, ki_conn, link));
  }
}

static void fail_list(ki_list *h, const char *msg) {
  while (!ki_list_empty(h)) {
    ki_xfer_priv *p = KI_CONTAINER_OF(h->next, ki_xfer_priv, link);
    ki_list_remove(&p->link);
    xfer_complete_msg(p, KINFER_ECANCELLED, "%s", msg);
  }
}

/* Completes everything with KINFER_ECANCELLED and closes every connection. */
static void engine_shutdown(ki_engine *e) {
  static const char msg[] = "cancelled: the client was closed";
  e->shutting_down = true;
  pthread_mutex_lock(&e->mu);
  ki_list q;
  ki_list_init(&q);
  while (!ki_list_empty(&e->submitq)) {
    ki_list *l = e->submitq.next;
    ki_list_remove(l);
    ki_list_push(&q, l);
  }
  pthread_mutex_unlock(&e->mu);
  fail_list(&q, msg);
  fail_list(&e->backoff, msg);
  while (!ki_list_empty(&e->origins)) {
    ki_origin *o = KI_CONTAINER_OF(e->origins.next, ki_origin, link);
    while (!ki_list_empty(&o->conns))
      ki_conn_close(KI_CONTAINER_OF(o->conns.next, ki_conn, link),
                    KINFER_ECANCELLED, "%s", msg);
    ki_list_remove(&o->kick_link);
    while (!ki_list_empty(&o->waiting)) {
      ki_xfer_priv *p = KI_CONTAINER_OF(o->waiting.next, ki_xfer_priv, link);
      ki_pool_unqueue(p);
      xfer_complete_msg(p, KINFER_ECANCELLED, "%s", msg);
    }
    ki_list_remove(&o->link);
    ki_origin_free(o);
  }
  bury_dead(e);
  /* Lookups still running: wait for them (getaddrinfo cannot be
   * interrupted) so no thread outlives the engine. */
  for (;;) {
    pthread_mutex_lock(&e->mu);
    ki_list *l = ki_list_first(&e->jobs);
    if (l)
      ki_list_remove(l);
    pthread_mutex_unlock(&e->mu);
    if (!l)
      break;
    ki_resolve_job *job = KI_CONTAINER_OF(l, ki_resolve_job, all);
    pthread_join(job->thread, NULL);
    pthread_mutex_lock(&e->mu);
    ki_list_remove(&job->link);
    pthread_mutex_unlock(&e->mu);
    if (job->res)
      freeaddrinfo(job->res);
    free(job->host);
    free(job);
  }
}

/* The end of every turn: due timers, dispatch, one flush per connection,
 * closed connections freed. */
static void turn_end(ki_engine *e) {
  timers_run(e);
  run_kicks(e);
  run_flushes(e);
  bury_dead(e);
}

/* One turn of the loop: waits up to |timeout_ms| for events, handles them,
 * runs due timers, dispatches, flushes.  Returns true when the engine is
 * asked to stop. */
static bool loop_turn(ki_engine *e, int timeout_ms) {
  struct epoll_event evs[64];
  int n = epoll_wait(e->epfd, evs, 64, timeout_ms);
  bool stop = false;
  for (int i = 0; i < n; i++) {
    if (evs[i].data.ptr == NULL) {
      stop |= take_submissions(e);
      continue;
    }
    ki_conn *c = evs[i].data.ptr;
    if (c->state != KI_CS_CLOSED)
      ki_conn_on_events(c, evs[i].events);
  }
  turn_end(e);
  return stop;
}

/* Mutes or unmutes the loop's epoll set in the I/O thread's outer set.
 * EPOLL_CTL_MOD allocates nothing, so it cannot fail for want of memory;
 * unmuting a set with events pending wakes the I/O thread. */
static void mute_io_thread(ki_engine *e, bool mute) {
  struct epoll_event ev = {.events = mute ? 0 : EPOLLIN, .data.ptr = NULL};
  (void)epoll_ctl(e->outerfd, EPOLL_CTL_MOD, e->epfd, &ev);
}

static void *engine_main(void *arg) {
  ki_engine *e = arg;
  pthread_mutex_lock(&e->loop_mu);
  for (;;) {
    /* Sleep without the loop, so a ki_engine_run caller can take it. */
    int64_t now = ki_now_ns();
    int ms = timers_wait_ms(e, now);
    /* The first timer's own time, not now + ms (rounded up to whole ms):
     * a caller leaving the loop compares timers against it. */
    e->idle_until = ms < 0                ? INT64_MAX
                    : ms == 60000         ? now + (int64_t)ms * 1000000
                                          : e->heap[0]->when;
    pthread_mutex_unlock(&e->loop_mu);
    struct epoll_event ev;
    (void)epoll_wait(e->outerfd, &ev, 1, ms);
    pthread_mutex_lock(&e->loop_mu);
    if (loop_turn(e, 0)) {
      engine_shutdown(e);
      pthread_mutex_unlock(&e->loop_mu);
      return NULL;
    }
  }
}

int ki_engine_run(ki_engine *e, ki_xfer *x) {
  if (!e || pthread_mutex_trylock(&e->loop_mu) != 0)
    return ki_engine_submit(e, x);
  ki_xfer_priv *p;
  int rc = xfer_new(e, x, &p);
  if (rc != KINFER_OK) {
    pthread_mutex_unlock(&e->loop_mu);
    return rc;
  }
  pthread_mutex_lock(&e->mu);
  bool stopping = e->stopping;
  pthread_mutex_unlock(&e->mu);
  if (stopping) {
    pthread_mutex_unlock(&e->loop_mu);
    x->priv = NULL;
    free(p);
    return KINFER_ECANCELLED;
  }
  mute_io_thread(e, true);
  ki_xfer_set_state(p, KI_XS_SUBMITTED);
  start_submitted(e, p);
  turn_end(e);
  /* x->priv is cleared when x completes (before done() runs). */
  bool stop = false;
  while (x->priv && !stop)
    stop = loop_turn(e, timers_wait_ms(e, ki_now_ns()));
  /* The I/O thread takes over: it must wake for a stop request this turn
   * consumed, and for a timer due before it planned to wake. */
  bool wake = stop || (e->nheap > 0 && e->heap[0]->when < e->idle_until);
  mute_io_thread(e, false);
  pthread_mutex_unlock(&e->loop_mu);
  if (wake)
    ki_engine_wake(e);
  return KINFER_OK;
}

/* ---- public ------------------------------------------------------------------ */

ki_engine *ki_engine_new(const kinfer_config *cfg, kinfer_error *err) {
  ki_engine *e = calloc(1, sizeof *e);
  if (!e) {
    ki_error_set(err, KINFER_ENOMEM, "out of memory");
    return NULL;
  }
  e->cfg = cfg;
  e->epfd = e->evfd = e->outerfd = -1;
  e->idle_until = INT64_MAX;
  atomic_init(&e->wake_pending, false);
  ki_list_init(&e->submitq);
  ki_list_init(&e->resolved);
  ki_list_init(&e->jobs);
  ki_list_init(&e->origins);
  ki_list_init(&e->dirty);
  ki_list_init(&e->kicks);
  ki_list_init(&e->backoff);
  ki_list_init(&e->graveyard);
  e->rng = (uint64_t)ki_now_ns() ^ ((uint64_t)(uintptr_t)e << 17);
  ki_retry_budget_init(&e->budget, cfg->budget_ratio, cfg->budget_per_second,
                       ki_now_ns());
  if (pthread_mutex_init(&e->mu, NULL) != 0) {
    free(e);
    ki_error_set(err, KINFER_ENOMEM, "cannot create a mutex");
    return NULL;
  }
  if (pthread_mutex_init(&e->loop_mu, NULL) != 0) {
    pthread_mutex_destroy(&e->mu);
    free(e);
    ki_error_set(err, KINFER_ENOMEM, "cannot create a mutex");
    return NULL;
  }
  e->rbuf = malloc(KI_READ_CHUNK);
  e->epfd = epoll_create1(EPOLL_CLOEXEC);
  e->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  e->outerfd = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  if (!e->rbuf || e->epfd < 0 || e->evfd < 0 || e->outerfd < 0 ||
      epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->evfd, &ev) < 0 ||
      epoll_ctl(e->outerfd, EPOLL_CTL_ADD, e->epfd, &ev) < 0) {
    ki_error_set(err, KINFER_ENOMEM, "cannot create the event loop: %s",
                 strerror(errno));
    ki_engine_free(e);
    return NULL;
  }
  if (pthread_create(&e->thread, NULL, engine_main, e) != 0) {
    ki_error_set(err, KINFER_ENOMEM, "cannot start the I/O thread");
    ki_engine_free(e);
    return NULL;
  }
  e->thread_started = true;
  return e;
}

void ki_engine_free(ki_engine *e) {
  if (!e)
    return;
  if (e->thread_started) {
    pthread_mutex_lock(&e->mu);
    e->stopping = true;
    pthread_mutex_unlock(&e->mu);
    ki_engine_wake(e);
    pthread_join(e->thread, NULL);
  }
  if (e->epfd >= 0)
    close(e->epfd);
  if (e->evfd >= 0)
    close(e->evfd);
  if (e->outerfd >= 0)
    close(e->outerfd);
  ki_tls_engine_free(e);
  free(e->heap);
  free(e->rbuf);
  pthread_mutex_destroy(&e->mu);
  pthread_mutex_destroy(&e->loop_mu);
  free(e);
}

void ki_xfer_release(ki_xfer *x) {
  if (!x)
    return;
  kinfer_headers_free(x->resp_headers);
  x->resp_headers = NULL;
  free(x->resp_body);
  x->resp_body = NULL;
  x->resp_len = 0;
  /* The engine frees its private part before done() runs. */
  x->priv = NULL;
}

void ki_engine_stats_get(ki_engine *e, ki_engine_stats *out) {
  memset(out, 0, sizeof *out);
  if (!e)
    return;
#define KI_LOAD(f) out->f = atomic_load_explicit(&e->st.f, memory_order_relaxed)
  KI_LOAD(requests);
  KI_LOAD(successes);
  KI_LOAD(failures);
  KI_LOAD(retries);
  KI_LOAD(connections_opened);
  KI_LOAD(connections_open);
  KI_LOAD(streams_in_flight);
  KI_LOAD(requests_queued);
  KI_LOAD(bytes_sent);
  KI_LOAD(bytes_received);
  KI_LOAD(h2_requests);
  KI_LOAD(h1_requests);
#undef KI_LOAD
}
