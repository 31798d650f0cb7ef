/*
 * kinfer-bench's drivers: they keep requests in flight until the run stops.
 *
 *   callback  kinfer_infer_async; in a closed loop each completion records
 *             its latency and starts the next request from the library's
 *             completion thread, so no thread of ours sits in between.
 *   cq        kinfer_infer_cq; one thread takes completions with
 *             kinfer_cq_next, records them and submits the next requests.
 *   sync      one thread per request in flight, each calling kinfer_infer.
 *
 * Open loop (--rate): requests start at their scheduled times, whatever is
 * still in flight, and latency runs from the scheduled time, so a client or
 * server that falls behind shows it as queueing delay (the correction for
 * coordinated omission).  --concurrency then caps what may be in flight; a
 * request that finds the cap reached waits, and that wait counts.
 *
 * Nothing in the measuring path allocates: slots are made up front and the
 * histogram is a fixed array.
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t kb_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void kb_sleep_until(uint64_t t_ns) {
  struct timespec ts = {.tv_sec = (time_t)(t_ns / 1000000000u),
                        .tv_nsec = (long)(t_ns % 1000000000u)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
  }
}

void kb_rec_init(struct kb_rec *r) {
  memset(r, 0, sizeof *r);
  pthread_mutex_init(&r->mu, NULL);
  kb_hist_init(&r->hist);
}

void kb_rec_destroy(struct kb_rec *r) { pthread_mutex_destroy(&r->mu); }

static void note_error(struct kb_rec *r, int status, const char *msg) {
  r->err++;
  if (!r->first_err) {
    r->first_err = status;
    snprintf(r->first_msg, sizeof r->first_msg, "%s",
             msg && *msg ? msg : kinfer_strerror(status));
  }
}

void kb_rec_done(struct kb_rec *r, const struct kb_ticket *t, uint64_t now_ns,
                 int status, const kinfer_error *err) {
  if (!t->measured) return;
  pthread_mutex_lock(&r->mu);
  if (status == KINFER_OK) {
    kb_hist_record(&r->hist, now_ns > t->intended_ns ? now_ns - t->intended_ns : 0);
    r->ok++;
  } else {
    note_error(r, status, err ? err->message : NULL);
  }
  if (now_ns > r->last_ns) r->last_ns = now_ns;
  pthread_mutex_unlock(&r->mu);
}

void kb_rec_error(struct kb_rec *r, int status, const char *msg) {
  pthread_mutex_lock(&r->mu);
  note_error(r, status, msg);
  pthread_mutex_unlock(&r->mu);
}

bool kb_next_ticket(struct kb_run *run, struct kb_ticket *t) {
  if (atomic_load_explicit(&run->stop, memory_order_relaxed)) return false;
  if (run->o->rate > 0) {
    uint64_t i = atomic_fetch_add(&run->sched, 1);
    t->intended_ns = run->start_ns + (uint64_t)((double)i * 1e9 / run->o->rate);
  } else {
    t->intended_ns = kb_now_ns();
  }
  t->measured = t->intended_ns >= run->t0_ns;
  if (!t->measured) return true;
  if (run->end_ns && t->intended_ns >= run->end_ns) {
    atomic_store(&run->stop, true);
    return false;
  }
  if (run->o->requests &&
      atomic_fetch_add(&run->measured, 1) >= run->o->requests) {
    atomic_store(&run->stop, true);
    return false;
  }
  return true;
}

static double call_timeout(const struct kb_run *run) {
  return run->o->timeout > 0 ? run->o->timeout : KINFER_TIMEOUT_DEFAULT;
}

/* A request in flight (or a place for one). */
struct slot {
  struct kb_run *run;
  struct driver *d;
  kinfer_client *client;
  struct kb_rec *rec;
  struct kb_ticket t;
  unsigned idx;
};

/* What the callback and cq drivers share. */
struct driver {
  struct kb_run *run;
  struct slot *slots;
  unsigned nslots;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  unsigned inflight;  /* callback: slots still running */
  unsigned *freelist; /* open loop: idle slots */
  unsigned nfree;
  kinfer_cq *cq;
};

static void submit_failed(struct slot *s, int rc, const kinfer_error *err) {
  /* A call refused before it started is a setup problem (bad URL, request
   * that cannot be encoded, client closing), not load: count it and stop. */
  kb_rec_error(s->rec, rc, err->message[0] ? err->message : kinfer_strerror(rc));
  atomic_store(&s->run->stop, true);
}

/* ---- callback ----------------------------------------------------------- */

static void on_done(void *ud, int status, kinfer_response *resp,
                    const kinfer_error *err);

/* Starts slot |s| with ticket s->t.  Returns true when a call is in flight. */
static bool cb_submit(struct slot *s) {
  struct kb_run *run = s->run;
  int rc = kinfer_infer_async(s->client, run->url, run->req, run->o->model,
                              NULL, false, call_timeout(run), on_done, s);
  if (rc == KINFER_OK) return true;
  kinfer_error e = {.code = rc};
  submit_failed(s, rc, &e);
  return false;
}

static void cb_release(struct slot *s) {
  struct driver *d = s->d;
  pthread_mutex_lock(&d->mu);
  if (s->run->o->rate > 0) d->freelist[d->nfree++] = s->idx;
  d->inflight--;
  pthread_cond_broadcast(&d->cv);
  pthread_mutex_unlock(&d->mu);
}

static void on_done(void *ud, int status, kinfer_response *resp,
                    const kinfer_error *err) {
  uint64_t now = kb_now_ns();
  struct slot *s = ud;
  kinfer_response_free(resp);
  kb_rec_done(s->rec, &s->t, now, status, err);
  if (s->run->o->rate <= 0 && kb_next_ticket(s->run, &s->t) && cb_submit(s))
    return;
  cb_release(s);
}

static void run_callback(struct driver *d) {
  struct kb_run *run = d->run;
  if (run->o->rate <= 0) {
    d->inflight = d->nslots;
    for (unsigned i = 0; i < d->nslots; i++) {
      struct slot *s = &d->slots[i];
      if (!(kb_next_ticket(run, &s->t) && cb_submit(s))) cb_release(s);
    }
  } else {
    struct kb_ticket t;
    while (kb_next_ticket(run, &t)) {
      kb_sleep_until(t.intended_ns);
      pthread_mutex_lock(&d->mu);
      while (d->nfree == 0) pthread_cond_wait(&d->cv, &d->mu);
      struct slot *s = &d->slots[d->freelist[--d->nfree]];
      d->inflight++;
      pthread_mutex_unlock(&d->mu);
      s->t = t;
      if (!cb_submit(s)) cb_release(s);
    }
  }
  pthread_mutex_lock(&d->mu);
  while (d->inflight) pthread_cond_wait(&d->cv, &d->mu);
  pthread_mutex_unlock(&d->mu);
}

/* ---- completion queue --------------------------------------------------- */

static bool cq_submit(struct slot *s) {
  struct kb_run *run = s->run;
  int rc = kinfer_infer_cq(s->client, run->url, run->req, run->o->model, NULL,
                           false, call_timeout(run), s->d->cq, s->idx);
  if (rc == KINFER_OK) return true;
  kinfer_error e = {.code = rc};
  submit_failed(s, rc, &e);
  return false;
}

static void run_cq(struct driver *d) {
  struct kb_run *run = d->run;
  bool open = run->o->rate > 0;
  kinfer_completion done[64];
  unsigned inflight = 0;
  struct kb_ticket next;
  bool have_next = false;

  if (!open) {
    for (unsigned i = 0; i < d->nslots; i++) {
      struct slot *s = &d->slots[i];
      if (kb_next_ticket(run, &s->t) && cq_submit(s)) inflight++;
    }
  } else {
    have_next = kb_next_ticket(run, &next);
  }
  for (;;) {
    double wait = 1.0;
    if (open) {
      uint64_t now = kb_now_ns();
      while (have_next && next.intended_ns <= now && d->nfree) {
        struct slot *s = &d->slots[d->freelist[--d->nfree]];
        s->t = next;
        if (cq_submit(s))
          inflight++;
        else
          d->freelist[d->nfree++] = s->idx;
        have_next = kb_next_ticket(run, &next);
        now = kb_now_ns();
      }
      if (have_next && d->nfree)
        wait = next.intended_ns > now ? (double)(next.intended_ns - now) / 1e9 : 0;
    }
    if (!inflight && !have_next) break;
    int n = kinfer_cq_next(d->cq, done, 64, wait);
    if (n < 0) {
      fprintf(stderr, "kinfer-bench: kinfer_cq_next: %s\n", kinfer_strerror(n));
      atomic_store(&run->stop, true);
      break;
    }
    uint64_t now = kb_now_ns();
    for (int i = 0; i < n; i++) {
      struct slot *s = &d->slots[done[i].tag];
      kinfer_response_free(done[i].resp);
      kb_rec_done(s->rec, &s->t, now, done[i].status, &done[i].err);
      inflight--;
      if (open)
        d->freelist[d->nfree++] = s->idx;
      else if (kb_next_ticket(run, &s->t) && cq_submit(s))
        inflight++;
    }
  }
}

/* ---- synchronous threads ------------------------------------------------ */

static void *sync_thread(void *arg) {
  struct slot *s = arg;
  struct kb_run *run = s->run;
  bool open = run->o->rate > 0;
  while (kb_next_ticket(run, &s->t)) {
    if (open) kb_sleep_until(s->t.intended_ns);
    kinfer_response *resp = NULL;
    kinfer_error err;
    int rc = kinfer_infer(s->client, run->url, run->req, run->o->model, NULL,
                          NULL, false, call_timeout(run), &resp, &err);
    uint64_t now = kb_now_ns();
    kinfer_response_free(resp);
    kb_rec_done(s->rec, &s->t, now, rc, &err);
  }
  return NULL;
}

/* ---- entry -------------------------------------------------------------- */

int kb_load(struct kb_run *run) {
  const struct kb_options *o = run->o;
  struct driver d = {.run = run, .nslots = o->concurrency};
  if (o->api != KB_API_SYNC && o->rate > 0 && !o->concurrency_set)
    d.nslots = 10000; /* open loop: effectively unbounded */
  d.slots = calloc(d.nslots, sizeof *d.slots);
  d.freelist = calloc(d.nslots, sizeof *d.freelist);
  if (!d.slots || !d.freelist) {
    fprintf(stderr, "kinfer-bench: out of memory\n");
    free(d.slots);
    free(d.freelist);
    return -1;
  }
  pthread_mutex_init(&d.mu, NULL);
  pthread_cond_init(&d.cv, NULL);
  for (unsigned i = 0; i < d.nslots; i++) {
    struct slot *s = &d.slots[i];
    s->run = run;
    s->d = &d;
    s->idx = i;
    s->client = run->clients[i % o->connections];
    s->rec = &run->recs[i % run->nrecs];
    d.freelist[d.nfree++] = d.nslots - 1 - i;
  }
  int rc = 0;
  switch (o->api) {
  case KB_API_CALLBACK: run_callback(&d); break;
  case KB_API_CQ:
    d.cq = kinfer_cq_new();
    if (!d.cq) {
      fprintf(stderr, "kinfer-bench: kinfer_cq_new failed\n");
      rc = -1;
      break;
    }
    run_cq(&d);
    kinfer_cq_free(d.cq);
    break;
  case KB_API_SYNC: {
    pthread_t *th = calloc(d.nslots, sizeof *th);
    unsigned started = 0;
    for (; th && started < d.nslots; started++) {
      int e = pthread_create(&th[started], NULL, sync_thread, &d.slots[started]);
      if (e) {
        fprintf(stderr, "kinfer-bench: thread %u: %s\n", started, strerror(e));
        atomic_store(&run->stop, true);
        rc = -1;
        break;
      }
    }
    for (unsigned i = 0; i < started; i++) pthread_join(th[i], NULL);
    if (!th) rc = -1;
    free(th);
  } break;
  }
  pthread_cond_destroy(&d.cv);
  pthread_mutex_destroy(&d.mu);
  free(d.slots);
  free(d.freelist);
  return rc;
}
