/*
 * kinfer-bench: a load generator over the kinfer library.
 *
 * Shared declarations of bench.c (options, report), load.c (the drivers
 * that keep requests in flight) and request.c (building the request once).
 */
#ifndef KINFER_BENCH_BENCH_H
#define KINFER_BENCH_BENCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <kinfer/kinfer.h>

#include "hist.h"

/* How requests are issued. */
enum kb_api {
  KB_API_CALLBACK, /* kinfer_infer_async: completions resubmit from the
                      library's completion thread */
  KB_API_CQ,       /* kinfer_infer_cq + kinfer_cq_next from one thread */
  KB_API_SYNC      /* one thread per request in flight, kinfer_infer */
};

struct kb_options {
  const char *url, *model, *data_file;
  const char *protocol; /* "v1" or "v2" */
  bool binary, http2;
  const char *cacert, *capath, *cert, *key, *key_password;
  bool insecure;
  unsigned connections, concurrency;
  bool concurrency_set;
  double rate;          /* requests/s; 0: closed loop */
  uint64_t requests;    /* measured requests; 0: run for duration */
  double duration;      /* seconds */
  double warmup;        /* seconds */
  double timeout;       /* per call; <= 0: library default */
  int retries;          /* -1: library default */
  enum kb_api api;
  bool progress, json, allow_errors, verbose;
};

/* One histogram with its counters, filled by one thread at a time. */
struct kb_rec {
  pthread_mutex_t mu;
  kb_hist hist;      /* latencies of successful measured requests, ns */
  uint64_t ok, err;  /* measured requests */
  uint64_t last_ns;  /* completion time of the last measured request */
  int first_err;     /* first error code seen, and its message */
  char first_msg[512];
};

/* The state of one run, shared by the drivers and the reporter. */
struct kb_run {
  const struct kb_options *o;
  kinfer_request *req;
  kinfer_client **clients; /* o->connections of them */
  const char *url;

  uint64_t start_ns;     /* load starts */
  uint64_t t0_ns;        /* measurement starts: start + warmup */
  uint64_t end_ns;       /* duration mode: no request starts at or after */
  uint64_t interval_ns;  /* open loop: 1e9 / rate */

  atomic_uint_fast64_t sched;    /* open loop: next schedule index */
  atomic_uint_fast64_t measured; /* measured requests issued */
  atomic_bool stop;              /* no more requests start */

  struct kb_rec *recs;  /* nrecs of them */
  unsigned nrecs;
};

/* A request about to start: when it was meant to start, and whether it
 * counts. */
struct kb_ticket {
  uint64_t intended_ns;
  bool measured;
};

uint64_t kb_now_ns(void);
void kb_sleep_until(uint64_t t_ns);

void kb_rec_init(struct kb_rec *r);
void kb_rec_destroy(struct kb_rec *r);
/* Records one finished request into |r| (takes its lock). */
void kb_rec_done(struct kb_rec *r, const struct kb_ticket *t, uint64_t now_ns,
                 int status, const kinfer_error *err);
void kb_rec_error(struct kb_rec *r, int status, const char *msg);

/* Whether another request may start, and its ticket.  Thread-safe. In open
 * loop, |t->intended_ns| is the schedule; the caller waits for it. */
bool kb_next_ticket(struct kb_run *run, struct kb_ticket *t);

/* Runs the load with run->o->api until it stops and every request is done.
 * Returns 0, or -1 when the drivers could not start (message printed). */
int kb_load(struct kb_run *run);

/* Reads the V2 request JSON in |path| and builds the request: sent as given
 * (kinfer_request_from_json), or with |binary| its inputs as typed tensors
 * with the binary extension (the data stays owned by *keep, to free with
 * kb_request_data_free after the request).  Returns NULL with a message
 * printed on failure. */
kinfer_request *kb_request_load(const char *path, bool binary, void **keep);
void kb_request_data_free(void *keep);

#endif
