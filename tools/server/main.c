/*
 * kinfer-server: command line, start-up and shutdown.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"

ks_config ks_cfg = {
  .host = "127.0.0.1",
  .port = "8000",
  .threads = 1,
  .max_streams = 1000,
  .max_body = KS_DEFAULT_MAX_BODY,
  .retry_after = -1,
};

static const char usage[] =
  "Usage: " KS_NAME " [OPTIONS]\n"
  "A KServe V1/V2 (Open Inference Protocol) REST server with models echo,\n"
  "add_sub and not_ready, speaking HTTP/1.1 and HTTP/2 on one port.\n"
  "\n"
  "  --listen HOST:PORT     address to listen on (default 127.0.0.1:8000;\n"
  "                         port 0 picks a free port; [::1]:PORT for IPv6)\n"
  "  --port-file FILE       write the bound port to FILE once listening\n"
  "                         (written atomically, removed at exit)\n"
  "  --tls-cert PEM         serve TLS with this certificate chain\n"
  "  --tls-key PEM          private key for --tls-cert\n"
  "  --tls-client-ca PEM    with --tls-cert: require a client certificate signed\n"
  "                         by this CA; the handshake fails without a valid one\n"
  "  --threads N            worker threads (default 1)\n"
  "  --max-streams N        HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS (default 1000)\n"
  "  --max-body BYTES       largest request body accepted (default 536870912)\n"
  "  --delay-ms D           run every model D milliseconds after its request\n"
  "                         arrived, without blocking other requests\n"
  "  --path-prefix P        serve every endpoint under the path P (as behind a\n"
  "                         gateway that routes by path); others are 404\n"
  "  --quiet                print nothing but errors\n"
  "  --verbose              log one line per request to stderr\n"
  "  --help                 show this help\n"
  "  --version              show the version\n"
  "\n"
  "Fault injection (for client tests):\n"
  "  --h1-only              no HTTP/2: the h2c preface gets an HTTP/1.1 400 and\n"
  "                         a close; TLS never selects h2\n"
  "  --no-alpn-h2           over TLS, never select h2 by ALPN\n"
  "  --refuse-every N       reset every N-th HTTP/2 inference stream (counted\n"
  "                         server-wide) with REFUSED_STREAM before the model runs\n"
  "  --goaway-after N       after N streams on an HTTP/2 connection, send a\n"
  "                         graceful two-phase GOAWAY\n"
  "  --stall-window         HTTP/2: advertise SETTINGS_INITIAL_WINDOW_SIZE 0 and\n"
  "                         never send WINDOW_UPDATE, so request bodies stall\n"
  "  --drop-after N         close the TCP connection, with no response, no\n"
  "                         GOAWAY and no TLS close_notify, right after the N-th\n"
  "                         model execution on that connection\n"
  "  --status CODE          with --status-every: the status to answer\n"
  "  --status-every N       answer every N-th inference request (counted\n"
  "                         server-wide) with --status CODE instead of running\n"
  "                         the model\n"
  "  --retry-after S        add Retry-After: S to those answers\n"
  "\n"
  "Endpoints: GET /v2, /v2/health/live, /v2/health/ready, /v2/models/M,\n"
  "/v2/models/M/ready; POST /v2/models/M/infer; GET /, /v1/models,\n"
  "/v1/models/M; POST /v1/models/M:predict, /v1/models/M:explain;\n"
  "GET /_executions (model runs and duplicated request ids).\n"
  "\n"
  "Exit status: 0 after SIGINT/SIGTERM, 1 on a start-up failure, 2 on a\n"
  "usage error.\n";

void ks_log(const char *fmt, ...)
{
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  fprintf(stderr, KS_NAME ": %s\n", line);
}

static int parse_uint(const char *opt, const char *s, unsigned long max, unsigned long *out)
{
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno || end == s || *end || s[0] == '-' || v > max) {
    fprintf(stderr, KS_NAME ": %s: invalid value '%s'\n", opt, s);
    return -1;
  }
  *out = v;
  return 0;
}

/* Splits HOST:PORT or [HOST]:PORT into ks_cfg (argv itself stays intact, so
 * ps shows the command line as given). */
static int parse_listen(const char *arg)
{
  static char host[256];
  const char *h = arg, *colon;
  size_t hlen;
  if (arg[0] == '[') {
    const char *close = strchr(arg, ']');
    if (!close || close[1] != ':')
      return -1;
    h = arg + 1;
    hlen = (size_t)(close - h);
    colon = close + 1;
  } else {
    colon = strrchr(arg, ':');
    if (!colon)
      return -1;
    hlen = (size_t)(colon - arg);
  }
  if (!colon[1] || hlen >= sizeof host)
    return -1;
  memcpy(host, h, hlen);
  host[hlen] = '\0';
  ks_cfg.host = host;
  ks_cfg.port = colon + 1;
  return 0;
}

enum {
  OPT_LISTEN = 256, OPT_PORT_FILE, OPT_TLS_CERT, OPT_TLS_KEY, OPT_THREADS, OPT_MAX_STREAMS,
  OPT_MAX_BODY, OPT_DELAY, OPT_QUIET, OPT_VERBOSE, OPT_HELP, OPT_VERSION, OPT_H1_ONLY,
  OPT_NO_ALPN_H2, OPT_REFUSE, OPT_GOAWAY, OPT_DROP, OPT_STATUS, OPT_STATUS_EVERY,
  OPT_RETRY_AFTER, OPT_PATH_PREFIX, OPT_STALL_WINDOW,
  OPT_TLS_CLIENT_CA,
};

static const struct option options[] = {
  {"listen", required_argument, NULL, OPT_LISTEN},
  {"port-file", required_argument, NULL, OPT_PORT_FILE},
  {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
  {"tls-key", required_argument, NULL, OPT_TLS_KEY},
  {"threads", required_argument, NULL, OPT_THREADS},
  {"max-streams", required_argument, NULL, OPT_MAX_STREAMS},
  {"max-body", required_argument, NULL, OPT_MAX_BODY},
  {"delay-ms", required_argument, NULL, OPT_DELAY},
  {"quiet", no_argument, NULL, OPT_QUIET},
  {"verbose", no_argument, NULL, OPT_VERBOSE},
  {"help", no_argument, NULL, OPT_HELP},
  {"version", no_argument, NULL, OPT_VERSION},
  {"h1-only", no_argument, NULL, OPT_H1_ONLY},
  {"no-alpn-h2", no_argument, NULL, OPT_NO_ALPN_H2},
  {"refuse-every", required_argument, NULL, OPT_REFUSE},
  {"goaway-after", required_argument, NULL, OPT_GOAWAY},
  {"drop-after", required_argument, NULL, OPT_DROP},
  {"status", required_argument, NULL, OPT_STATUS},
  {"status-every", required_argument, NULL, OPT_STATUS_EVERY},
  {"retry-after", required_argument, NULL, OPT_RETRY_AFTER},
  {"path-prefix", required_argument, NULL, OPT_PATH_PREFIX},
  {"stall-window", no_argument, NULL, OPT_STALL_WINDOW},
  {"tls-client-ca", required_argument, NULL, OPT_TLS_CLIENT_CA},
  {NULL, 0, NULL, 0},
};

/* Returns 0 to run, 1 to exit successfully (help, version), -1 on error. */
static int parse_option(int opt, char *arg)
{
  unsigned long v = 0;
  const char *name = opt >= OPT_LISTEN ? options[opt - OPT_LISTEN].name : "?";
  switch (opt) {
  case OPT_LISTEN:
    if (parse_listen(arg) < 0) {
      fprintf(stderr, KS_NAME ": --listen: expected HOST:PORT, got '%s'\n", arg);
      return -1;
    }
    return 0;
  case OPT_PORT_FILE: ks_cfg.port_file = arg; return 0;
  case OPT_TLS_CERT: ks_cfg.tls_cert = arg; return 0;
  case OPT_TLS_KEY: ks_cfg.tls_key = arg; return 0;
  case OPT_TLS_CLIENT_CA: ks_cfg.tls_client_ca = arg; return 0;
  case OPT_PATH_PREFIX:
    /* "/serving/ns" or "/serving/ns/": kept without the trailing '/' */
    if (arg[0] != '/' || strlen(arg) < 2) {
      fprintf(stderr, KS_NAME ": --path-prefix must start with '/' and not be '/'\n");
      return -1;
    }
    ks_cfg.path_prefix = arg;
    ks_cfg.path_prefix_len = strlen(arg) - (arg[strlen(arg) - 1] == '/');
    return 0;
  case OPT_QUIET: ks_cfg.verbosity = -1; return 0;
  case OPT_VERBOSE: ks_cfg.verbosity = 1; return 0;
  case OPT_H1_ONLY: ks_cfg.h1_only = true; return 0;
  case OPT_NO_ALPN_H2: ks_cfg.no_alpn_h2 = true; return 0;
  case OPT_STALL_WINDOW: ks_cfg.stall_window = true; return 0;
  case OPT_HELP: fputs(usage, stdout); return 1;
  case OPT_VERSION: puts(KS_NAME " " KS_VERSION); return 1;
  case OPT_THREADS:
    if (parse_uint(name, arg, 256, &v) < 0 || v == 0)
      return -1;
    ks_cfg.threads = (int)v;
    return 0;
  case OPT_MAX_BODY:
    if (parse_uint(name, arg, ULONG_MAX, &v) < 0)
      return -1;
    ks_cfg.max_body = v;
    return 0;
  case OPT_STATUS:
    if (parse_uint(name, arg, 599, &v) < 0 || v < 100)
      return -1;
    ks_cfg.status_code = (int)v;
    return 0;
  case OPT_RETRY_AFTER:
    if (parse_uint(name, arg, INT_MAX, &v) < 0)
      return -1;
    ks_cfg.retry_after = (int)v;
    return 0;
  default:
    break;
  }
  if (opt < OPT_LISTEN || parse_uint(name, arg, UINT32_MAX, &v) < 0)
    return -1;
  switch (opt) {
  case OPT_MAX_STREAMS: ks_cfg.max_streams = (uint32_t)v; break;
  case OPT_DELAY: ks_cfg.delay_ms = (unsigned)v; break;
  case OPT_REFUSE: ks_cfg.refuse_every = (unsigned)v; break;
  case OPT_GOAWAY: ks_cfg.goaway_after = (unsigned)v; break;
  case OPT_DROP: ks_cfg.drop_after = (unsigned)v; break;
  case OPT_STATUS_EVERY: ks_cfg.status_every = (unsigned)v; break;
  default: return -1;
  }
  return 0;
}

static int parse_args(int argc, char **argv)
{
  int opt;
  while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
    if (opt == '?')
      return -1;
    int rc = parse_option(opt, optarg);
    if (rc != 0)
      return rc;
  }
  if (optind < argc) {
    fprintf(stderr, KS_NAME ": unexpected argument '%s'\n", argv[optind]);
    return -1;
  }
  if (!ks_cfg.tls_cert != !ks_cfg.tls_key) {
    fprintf(stderr, KS_NAME ": --tls-cert and --tls-key go together\n");
    return -1;
  }
  if (ks_cfg.tls_client_ca && !ks_cfg.tls_cert) {
    fprintf(stderr, KS_NAME ": --tls-client-ca needs --tls-cert\n");
    return -1;
  }
  if (ks_cfg.status_every && !ks_cfg.status_code) {
    fprintf(stderr, KS_NAME ": --status-every needs --status CODE\n");
    return -1;
  }
  return 0;
}

/* Writes the port to a temporary name, then renames it into place. */
static int write_port_file(const char *path, int port)
{
  char tmp[PATH_MAX];
  if (snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid()) >= (int)sizeof tmp)
    return -1;
  FILE *f = fopen(tmp, "w");
  if (!f)
    return -1;
  int rc = fprintf(f, "%d\n", port) < 0;
  rc |= fclose(f) != 0;
  if (rc || rename(tmp, path) != 0) {
    unlink(tmp);
    return -1;
  }
  return 0;
}

static int serve(void)
{
  SSL_CTX *tls = NULL;
  if (ks_cfg.tls_cert) {
    tls = ks_tls_ctx_new(ks_cfg.tls_cert, ks_cfg.tls_key,
                         !ks_cfg.h1_only && !ks_cfg.no_alpn_h2);
    if (!tls)
      return 1;
    if (ks_cfg.tls_client_ca && ks_tls_require_client_ca(tls, ks_cfg.tls_client_ca) < 0) {
      SSL_CTX_free(tls);
      return 1;
    }
  }
  int port = 0, rc = 1;
  int fd = ks_listen(ks_cfg.host, ks_cfg.port, &port);
  if (fd >= 0) {
    if (ks_cfg.port_file && write_port_file(ks_cfg.port_file, port) < 0) {
      fprintf(stderr, KS_NAME ": cannot write %s: %s\n", ks_cfg.port_file, strerror(errno));
    } else {
      if (ks_cfg.verbosity >= 0)
        ks_log(strchr(ks_cfg.host, ':') ? "listening on [%s]:%d (%s)" : "listening on %s:%d (%s)",
               ks_cfg.host, port, tls ? "https" : "http");
      rc = ks_workers_run(fd, tls, ks_cfg.threads) < 0 ? 1 : 0;
      if (ks_cfg.port_file)
        unlink(ks_cfg.port_file);
    }
    close(fd);
  }
  SSL_CTX_free(tls);
  return rc;
}

int main(int argc, char **argv)
{
  int rc = parse_args(argc, argv);
  if (rc != 0)
    return rc > 0 ? 0 : 2;
  signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);  /* workers inherit it; main sigwaits */
  if (ks_stats_init() < 0) {
    fprintf(stderr, KS_NAME ": out of memory\n");
    return 1;
  }
  rc = serve();
  ks_stats_free();
  if (rc == 0 && ks_cfg.verbosity >= 0)
    ks_log("stopped");
  return rc;
}
