/*
 * kinfer-bench: a load generator over the kinfer library.  Options, the
 * clients, the once-a-second progress line and the final report.
 */
#include "bench.h"

#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static const char usage_text[] =
    "Usage: kinfer-bench --url URL --model MODEL --data FILE [OPTIONS]\n"
    "Sends one inference request over and over through the kinfer library\n"
    "and reports throughput, latency percentiles and client CPU time.\n"
    "\n"
    "Request:\n"
    "      --url URL             the server's base URL (http:// or https://)\n"
    "      --model MODEL         the model to call\n"
    "      --data FILE           the request body: a V2 (or V1) request JSON,\n"
    "                            sent as given ('-': standard input)\n"
    "      --binary              send FILE's inputs as typed tensors with the\n"
    "                            binary tensor extension (V2)\n"
    "      --protocol v1|v2      KServe protocol version (default v2)\n"
    "      --http2               use HTTP/2 (h2c over http://, ALPN over\n"
    "                            https://); default HTTP/1.1\n"
    "      --timeout S           deadline of each call (default: 60 s)\n"
    "      --retries N           extra attempts for requests certainly not\n"
    "                            run (default: the library's, 3)\n"
    "\n"
    "TLS:\n"
    "      --cacert FILE         trust the CA certificates in this PEM file\n"
    "      --capath DIR          trust this hashed CA certificate directory\n"
    "      --cert FILE           client certificate (PEM) for mutual TLS\n"
    "      --key FILE            the client certificate's private key\n"
    "      --key-password PW     the private key's password\n"
    "  -k, --insecure            do not verify the server's certificate\n"
    "\n"
    "Load:\n"
    "  -c, --connections C       C separate clients, each with its own\n"
    "                            connection(s) (default 1)\n"
    "  -n, --concurrency N       requests in flight, spread over the clients\n"
    "                            (default 1); with --rate, the most in flight\n"
    "  -r, --rate R              open loop: start R requests a second on\n"
    "                            schedule; latency counts from the scheduled\n"
    "                            start, so queueing shows\n"
    "      --requests N          measure N requests\n"
    "  -d, --duration S          measure for S seconds (default 10 when\n"
    "                            --requests is not given)\n"
    "  -w, --warmup S            run S seconds unmeasured first (default 0)\n"
    "      --api callback|cq|sync\n"
    "                            how requests are kept in flight:\n"
    "                            kinfer_infer_async (default), kinfer_infer_cq\n"
    "                            from one thread, or N threads each calling\n"
    "                            kinfer_infer\n"
    "      --threads-sync        the same as --api sync\n"
    "\n"
    "Output:\n"
    "      --progress            a progress line on stderr every second\n"
    "                            (default when stderr is a terminal)\n"
    "      --no-progress         no progress line\n"
    "      --json                end the report with one JSON line on stdout\n"
    "      --allow-errors        exit 0 even when requests failed\n"
    "  -v, --verbose             log every attempt to stderr\n"
    "  -h, --help                print this help and exit\n"
    "\n"
    "Exit status: 0 success; 1 some request failed (unless --allow-errors);\n"
    "2 usage error; 3 setup failure (file, client).\n";

enum {
  OPT_URL = 256, OPT_MODEL, OPT_DATA, OPT_BINARY, OPT_PROTOCOL, OPT_HTTP2,
  OPT_TIMEOUT, OPT_RETRIES, OPT_CACERT, OPT_CAPATH, OPT_CERT, OPT_KEY,
  OPT_KEYPW, OPT_REQUESTS, OPT_API, OPT_SYNC, OPT_PROGRESS, OPT_NOPROGRESS,
  OPT_JSON, OPT_ALLOW
};

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt,
                                                             ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "kinfer-bench: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\nTry 'kinfer-bench --help'.\n");
  va_end(ap);
  return 2;
}

static int parse_double(const char *opt, const char *s, double min, double *out) {
  char *end;
  double v = strtod(s, &end);
  if (end == s || *end || !(v >= min) || isinf(v))
    return usage_error("%s: bad number", opt);
  *out = v;
  return 0;
}

static int parse_uint(const char *opt, const char *s, unsigned long long min,
                      unsigned long long max, unsigned long long *out) {
  char *end;
  if (*s == '-') return usage_error("%s: bad count", opt);
  unsigned long long v = strtoull(s, &end, 10);
  if (end == s || *end || v < min || v > max)
    return usage_error("%s: bad count", opt);
  *out = v;
  return 0;
}

static int parse_args(int argc, char **argv, struct kb_options *o) {
  static const struct option longs[] = {
      {"url", required_argument, NULL, OPT_URL},
      {"model", required_argument, NULL, OPT_MODEL},
      {"data", required_argument, NULL, OPT_DATA},
      {"binary", no_argument, NULL, OPT_BINARY},
      {"protocol", required_argument, NULL, OPT_PROTOCOL},
      {"http2", no_argument, NULL, OPT_HTTP2},
      {"timeout", required_argument, NULL, OPT_TIMEOUT},
      {"retries", required_argument, NULL, OPT_RETRIES},
      {"cacert", required_argument, NULL, OPT_CACERT},
      {"capath", required_argument, NULL, OPT_CAPATH},
      {"cert", required_argument, NULL, OPT_CERT},
      {"key", required_argument, NULL, OPT_KEY},
      {"key-password", required_argument, NULL, OPT_KEYPW},
      {"insecure", no_argument, NULL, 'k'},
      {"connections", required_argument, NULL, 'c'},
      {"concurrency", required_argument, NULL, 'n'},
      {"rate", required_argument, NULL, 'r'},
      {"requests", required_argument, NULL, OPT_REQUESTS},
      {"duration", required_argument, NULL, 'd'},
      {"warmup", required_argument, NULL, 'w'},
      {"api", required_argument, NULL, OPT_API},
      {"threads-sync", no_argument, NULL, OPT_SYNC},
      {"progress", no_argument, NULL, OPT_PROGRESS},
      {"no-progress", no_argument, NULL, OPT_NOPROGRESS},
      {"json", no_argument, NULL, OPT_JSON},
      {"allow-errors", no_argument, NULL, OPT_ALLOW},
      {"verbose", no_argument, NULL, 'v'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  int progress = -1, c, rc;
  unsigned long long u;
  bool duration_set = false;
  while ((c = getopt_long(argc, argv, "kc:n:r:d:w:vh", longs, NULL)) != -1) {
    rc = 0;
    switch (c) {
    case OPT_URL: o->url = optarg; break;
    case OPT_MODEL: o->model = optarg; break;
    case OPT_DATA: o->data_file = optarg; break;
    case OPT_BINARY: o->binary = true; break;
    case OPT_PROTOCOL:
      if (strcasecmp(optarg, "v1") && strcasecmp(optarg, "v2"))
        return usage_error("--protocol: '%s' is not v1 or v2", optarg);
      o->protocol = optarg;
      break;
    case OPT_HTTP2: o->http2 = true; break;
    case OPT_TIMEOUT: rc = parse_double("--timeout", optarg, 1e-6, &o->timeout); break;
    case OPT_RETRIES:
      rc = parse_uint("--retries", optarg, 0, 100, &u);
      o->retries = (int)u;
      break;
    case OPT_CACERT: o->cacert = optarg; break;
    case OPT_CAPATH: o->capath = optarg; break;
    case OPT_CERT: o->cert = optarg; break;
    case OPT_KEY: o->key = optarg; break;
    case OPT_KEYPW: o->key_password = optarg; break;
    case 'k': o->insecure = true; break;
    case 'c':
      rc = parse_uint("--connections", optarg, 1, 10000, &u);
      o->connections = (unsigned)u;
      break;
    case 'n':
      rc = parse_uint("--concurrency", optarg, 1, 100000, &u);
      o->concurrency = (unsigned)u;
      o->concurrency_set = true;
      break;
    case 'r': rc = parse_double("--rate", optarg, 1e-3, &o->rate); break;
    case OPT_REQUESTS:
      rc = parse_uint("--requests", optarg, 1, UINT64_MAX / 2, &u);
      o->requests = u;
      break;
    case 'd':
      rc = parse_double("--duration", optarg, 1e-3, &o->duration);
      duration_set = true;
      break;
    case 'w': rc = parse_double("--warmup", optarg, 0, &o->warmup); break;
    case OPT_API:
      if (!strcmp(optarg, "callback") || !strcmp(optarg, "async"))
        o->api = KB_API_CALLBACK;
      else if (!strcmp(optarg, "cq"))
        o->api = KB_API_CQ;
      else if (!strcmp(optarg, "sync"))
        o->api = KB_API_SYNC;
      else
        return usage_error("--api: '%s' is not callback, cq or sync", optarg);
      break;
    case OPT_SYNC: o->api = KB_API_SYNC; break;
    case OPT_PROGRESS: progress = 1; break;
    case OPT_NOPROGRESS: progress = 0; break;
    case OPT_JSON: o->json = true; break;
    case OPT_ALLOW: o->allow_errors = true; break;
    case 'v': o->verbose = true; break;
    case 'h': fputs(usage_text, stdout); exit(0);
    default: fprintf(stderr, "Try 'kinfer-bench --help'.\n"); return 2;
    }
    if (rc) return rc;
  }
  if (optind < argc) return usage_error("unexpected argument '%s'", argv[optind]);
  if (!o->url) return usage_error("--url is required");
  if (!o->model) return usage_error("--model is required");
  if (!o->data_file) return usage_error("--data is required");
  if (o->key && !o->cert) return usage_error("--key needs --cert");
  if (o->connections > o->concurrency && o->concurrency_set)
    return usage_error("--connections is more than --concurrency");
  if (o->connections > o->concurrency) o->concurrency = o->connections;
  if (!o->requests && !duration_set) o->duration = 10;
  o->progress = progress < 0 ? isatty(2) : progress;
  return 0;
}

static kinfer_client *make_client(const struct kb_options *o, unsigned share) {
  kinfer_config *cfg = kinfer_config_new();
  kinfer_error err = {0};
  int rc = cfg ? KINFER_OK : KINFER_ENOMEM;
  if (!rc) rc = kinfer_config_set_protocol(cfg, o->protocol);
  if (!rc) rc = kinfer_config_set_http2(cfg, o->http2);
  /* HTTP/1.1 carries one request per connection: give each client enough
   * connections for its share of the requests in flight. */
  if (!rc) rc = kinfer_config_set_max_connections(cfg, share ? share : 1);
  if (!rc && share > 1000) rc = kinfer_config_set_max_concurrent_streams(cfg, share);
  if (!rc && o->timeout > 0) rc = kinfer_config_set_timeout(cfg, o->timeout);
  if (!rc && o->retries >= 0) rc = kinfer_config_set_retries(cfg, o->retries);
  if (!rc && o->cacert) rc = kinfer_config_set_ca_file(cfg, o->cacert);
  if (!rc && o->capath) rc = kinfer_config_set_ca_path(cfg, o->capath);
  if (!rc && o->cert) rc = kinfer_config_set_cert(cfg, o->cert, o->key, o->key_password);
  if (!rc && o->insecure) rc = kinfer_config_set_verify(cfg, false);
  if (!rc && o->verbose) rc = kinfer_config_set_verbose(cfg, true);
  kinfer_client *c = NULL;
  if (!rc) {
    c = kinfer_client_new(cfg, &err);
    if (!c) fprintf(stderr, "kinfer-bench: cannot make a client: %s\n", err.message);
  } else {
    fprintf(stderr, "kinfer-bench: bad client settings: %s\n", kinfer_strerror(rc));
  }
  kinfer_config_free(cfg);
  return c;
}

/* Totals over every recorder; the merged histogram goes to |h|. */
struct totals {
  uint64_t ok, err, last_ns;
  int first_err;
  char first_msg[512];
};

static void collect(struct kb_run *run, kb_hist *h, struct totals *t) {
  memset(t, 0, sizeof *t);
  kb_hist_init(h);
  for (unsigned i = 0; i < run->nrecs; i++) {
    struct kb_rec *r = &run->recs[i];
    pthread_mutex_lock(&r->mu);
    kb_hist_merge(h, &r->hist);
    t->ok += r->ok;
    t->err += r->err;
    if (r->last_ns > t->last_ns) t->last_ns = r->last_ns;
    if (r->first_err && !t->first_err) {
      t->first_err = r->first_err;
      memcpy(t->first_msg, r->first_msg, sizeof t->first_msg);
    }
    pthread_mutex_unlock(&r->mu);
  }
}

static double cpu_seconds(const struct timeval *tv) {
  return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

/* The monitor thread: takes the CPU baseline when measurement starts and
 * prints the progress line. */
struct monitor {
  struct kb_run *run;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool done;
  bool have_ru0; /* under mu */
  struct rusage ru0;
  kb_hist hist; /* scratch */
};

static void *monitor_thread(void *arg) {
  struct monitor *m = arg;
  struct kb_run *run = m->run;
  kb_sleep_until(run->t0_ns);
  pthread_mutex_lock(&m->mu);
  if (!m->have_ru0) {
    getrusage(RUSAGE_SELF, &m->ru0);
    m->have_ru0 = true;
  }
  pthread_mutex_unlock(&m->mu);
  uint64_t prev = 0, tick = run->t0_ns;
  struct totals t;
  for (;;) {
    tick += 1000000000u;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts); /* condvars wait on CLOCK_REALTIME */
    uint64_t now = kb_now_ns();
    uint64_t wait = tick > now ? tick - now : 0;
    uint64_t ns = (uint64_t)ts.tv_nsec + wait % 1000000000u;
    ts.tv_sec += (time_t)(wait / 1000000000u + ns / 1000000000u);
    ts.tv_nsec = (long)(ns % 1000000000u);
    pthread_mutex_lock(&m->mu);
    while (!m->done && pthread_cond_timedwait(&m->cv, &m->mu, &ts) == 0) {
    }
    bool done = m->done;
    pthread_mutex_unlock(&m->mu);
    if (done) break;
    if (!run->o->progress) continue;
    collect(run, &m->hist, &t);
    uint64_t n = t.ok + t.err;
    fprintf(stderr,
            "[%6.1fs] %9.1f req/s  p50 %9.1f us  p99 %9.1f us  %llu requests  "
            "%llu errors\n",
            (double)(kb_now_ns() - run->t0_ns) / 1e9, (double)(n - prev),
            (double)kb_hist_percentile(&m->hist, 50) / 1e3,
            (double)kb_hist_percentile(&m->hist, 99) / 1e3,
            (unsigned long long)n, (unsigned long long)t.err);
    prev = n;
  }
  return NULL;
}

static const char *api_name(enum kb_api a) {
  return a == KB_API_CALLBACK ? "callback" : a == KB_API_CQ ? "cq" : "sync";
}

int main(int argc, char **argv) {
  struct kb_options o = {.protocol = "v2", .connections = 1, .concurrency = 1,
                         .retries = -1, .api = KB_API_CALLBACK};
  int rc = parse_args(argc, argv, &o);
  if (rc) return rc;
  if (o.api == KB_API_SYNC && o.rate > 0 && !o.concurrency_set) {
    fprintf(stderr, "kinfer-bench: --rate with --api sync needs --concurrency "
                    "(the number of threads)\n");
    return 2;
  }

  void *keep = NULL;
  kinfer_request *req = kb_request_load(o.data_file, o.binary, &keep);
  if (!req) return 3;

  struct kb_run run = {.o = &o, .req = req, .url = o.url};
  run.clients = calloc(o.connections, sizeof *run.clients);
  run.nrecs = o.api == KB_API_SYNC ? o.concurrency
              : o.api == KB_API_CQ  ? 1
                                    : o.connections;
  run.recs = calloc(run.nrecs, sizeof *run.recs);
  if (!run.clients || !run.recs) {
    fprintf(stderr, "kinfer-bench: out of memory\n");
    return 3;
  }
  for (unsigned i = 0; i < run.nrecs; i++) kb_rec_init(&run.recs[i]);
  int status = 0;
  for (unsigned i = 0; i < o.connections; i++) {
    unsigned share = o.concurrency / o.connections + (i < o.concurrency % o.connections);
    if (!(run.clients[i] = make_client(&o, share))) {
      status = 3;
      goto out;
    }
  }

  run.start_ns = kb_now_ns();
  run.t0_ns = run.start_ns + (uint64_t)(o.warmup * 1e9);
  if (o.duration > 0) run.end_ns = run.t0_ns + (uint64_t)(o.duration * 1e9);

  struct monitor *m = calloc(1, sizeof *m);
  pthread_t mon;
  if (!m) {
    status = 3;
    goto out;
  }
  m->run = &run;
  pthread_mutex_init(&m->mu, NULL);
  pthread_cond_init(&m->cv, NULL);
  if (o.warmup <= 0) { /* measurement starts now */
    getrusage(RUSAGE_SELF, &m->ru0);
    m->have_ru0 = true;
  }
  if (pthread_create(&mon, NULL, monitor_thread, m)) {
    fprintf(stderr, "kinfer-bench: cannot start a thread\n");
    status = 3;
    free(m);
    goto out;
  }
  int lrc = kb_load(&run);
  struct rusage ru1;
  getrusage(RUSAGE_SELF, &ru1);
  pthread_mutex_lock(&m->mu);
  if (!m->have_ru0) { /* ended before measurement started */
    m->ru0 = ru1;
    m->have_ru0 = true;
  }
  m->done = true;
  pthread_cond_signal(&m->cv);
  pthread_mutex_unlock(&m->mu);
  pthread_join(mon, NULL);
  if (lrc < 0) status = 3;

  struct totals t;
  collect(&run, &m->hist, &t);
  const kb_hist *h = &m->hist;
  uint64_t n = t.ok + t.err;
  double secs = t.last_ns > run.t0_ns ? (double)(t.last_ns - run.t0_ns) / 1e9 : 0;
  double rps = secs > 0 ? (double)n / secs : 0;
  double cpu_user = cpu_seconds(&ru1.ru_utime) - cpu_seconds(&m->ru0.ru_utime);
  double cpu_sys = cpu_seconds(&ru1.ru_stime) - cpu_seconds(&m->ru0.ru_stime);
  if (cpu_user < 0) cpu_user = 0;
  if (cpu_sys < 0) cpu_sys = 0;
  double cpu_per = n ? (cpu_user + cpu_sys) * 1e6 / (double)n : 0;
  uint64_t h2 = 0, h1 = 0, opened = 0;
  for (unsigned i = 0; i < o.connections; i++) {
    kinfer_stats st;
    if (kinfer_client_stats(run.clients[i], &st) == KINFER_OK) {
      h2 += st.h2_requests;
      h1 += st.h1_requests;
      opened += st.connections_opened;
    }
  }
  const char *proto = h2 || h1 ? (h2 >= h1 ? "h2" : "http/1.1")
                               : (o.http2 ? "h2" : "http/1.1");
  double p50 = (double)kb_hist_percentile(h, 50) / 1e3,
         p90 = (double)kb_hist_percentile(h, 90) / 1e3,
         p99 = (double)kb_hist_percentile(h, 99) / 1e3,
         p999 = (double)kb_hist_percentile(h, 99.9) / 1e3,
         pmax = (double)h->max / 1e3 * (h->count > 0), mean = kb_hist_mean(h) / 1e3;

  printf("kinfer-bench: %s %s, %s, %u client(s), %s %u, api %s\n", o.url,
         o.model, proto, o.connections,
         o.rate > 0 ? "max in flight" : "concurrency",
         o.api != KB_API_SYNC && o.rate > 0 && !o.concurrency_set ? 10000
                                                                    : o.concurrency,
         api_name(o.api));
  if (o.rate > 0) printf("  open loop at %.1f requests/s\n", o.rate);
  printf("  requests   %llu (%llu errors) in %.3f s, warmup %.1f s\n",
         (unsigned long long)n, (unsigned long long)t.err, secs, o.warmup);
  printf("  throughput %.1f requests/s\n", rps);
  printf("  latency    mean %.1f us, p50 %.1f, p90 %.1f, p99 %.1f, p99.9 %.1f, "
         "max %.1f us\n", mean, p50, p90, p99, p999, pmax);
  printf("  client cpu user %.3f s, sys %.3f s, %.2f us/request\n", cpu_user,
         cpu_sys, cpu_per);
  printf("  sockets    %llu opened\n", (unsigned long long)opened);
  if (t.err)
    printf("  first error: %s: %s\n", kinfer_strerror(t.first_err), t.first_msg);
  if (o.json) {
    printf("{\"requests\":%llu,\"errors\":%llu,\"seconds\":%.6f,\"rps\":%.2f,"
           "\"latency_us\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,"
           "\"p999\":%.1f,\"max\":%.1f},\"cpu_user_s\":%.6f,\"cpu_sys_s\":%.6f,"
           "\"cpu_us_per_request\":%.3f,\"protocol\":\"%s\",\"connections\":%u,"
           "\"concurrency\":%u,\"rate\":%.3f,\"api\":\"%s\",\"mean_us\":%.1f,"
           "\"sockets_opened\":%llu}\n",
           (unsigned long long)n, (unsigned long long)t.err, secs, rps, p50, p90,
           p99, p999, pmax, cpu_user, cpu_sys, cpu_per, proto, o.connections,
           o.concurrency, o.rate, api_name(o.api), mean,
           (unsigned long long)opened);
  }
  fflush(stdout);
  if (!status && (t.err || n == 0) && !o.allow_errors) status = 1;
  pthread_cond_destroy(&m->cv);
  pthread_mutex_destroy(&m->mu);
  free(m);

out:
  for (unsigned i = 0; i < o.connections; i++) kinfer_client_close(run.clients[i]);
  kinfer_request_free(req);
  kb_request_data_free(keep);
  for (unsigned i = 0; i < run.nrecs; i++) kb_rec_destroy(&run.recs[i]);
  free(run.recs);
  free(run.clients);
  return status;
}
