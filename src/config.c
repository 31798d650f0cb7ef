/* RESTConfig: defaults, setters, copies. */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define KI_DEFAULT_TIMEOUT 60.0

kinfer_config *kinfer_config_new(void) {
  kinfer_config *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->protocol = strdup("v1");
  if (!c->protocol) {
    free(c);
    return NULL;
  }
  c->retries = 3;
  c->timeout = c->connect_timeout = c->read_timeout = c->write_timeout =
      c->pool_timeout = KI_DEFAULT_TIMEOUT;
  c->verify = true;
  c->max_response_bytes = (size_t)256 << 20;
  c->max_header_bytes = (size_t)64 << 10;
  c->max_connections = 8;
  c->max_concurrent_streams = 1000;
  c->max_h2_connections = 1;
  c->max_queued = 65536;
  c->h2_conn_window = c->h2_stream_window = 16u << 20;
  c->budget_ratio = 0.2;
  c->budget_per_second = 10;
  c->backoff_base = 0.05;
  c->backoff_cap = 2.0;
  c->keepalive_interval = 30.0;
  c->keepalive_timeout = 10.0;
  return c;
}

static void free_secret(char *s) {
  if (s) {
    /* Credentials do not linger in freed memory. */
    volatile char *p = s;
    while (*p) *p++ = 0;
    free(s);
  }
}

void kinfer_config_free(kinfer_config *c) {
  if (!c) return;
  free(c->protocol);
  free(c->cert_file);
  free(c->key_file);
  free_secret(c->key_password);
  free(c->ca_file);
  free(c->ca_path);
  free_secret(c->auth_header);
  free(c->unix_socket);
  free(c->retry_status);
  free(c);
}

/* Replaces *slot with a copy of |v| (NULL clears).  KINFER_OK or ENOMEM. */
static int replace_str(char **slot, const char *v, bool secret) {
  char *copy = NULL;
  if (v && !(copy = strdup(v))) return KINFER_ENOMEM;
  if (secret)
    free_secret(*slot);
  else
    free(*slot);
  *slot = copy;
  return KINFER_OK;
}

kinfer_config *ki_config_copy(const kinfer_config *src) {
  kinfer_config *c = malloc(sizeof *c);
  if (!c) return NULL;
  *c = *src;
  c->protocol = c->cert_file = c->key_file = c->key_password = NULL;
  c->ca_file = c->ca_path = c->auth_header = c->unix_socket = NULL;
  c->retry_status = NULL;
  if (src->n_retry_status) {
    c->retry_status = malloc(src->n_retry_status * sizeof *c->retry_status);
    if (!c->retry_status) {
      c->n_retry_status = 0;
      kinfer_config_free(c);
      return NULL;
    }
    memcpy(c->retry_status, src->retry_status,
           src->n_retry_status * sizeof *c->retry_status);
  }
  if (replace_str(&c->protocol, src->protocol, false) ||
      replace_str(&c->cert_file, src->cert_file, false) ||
      replace_str(&c->key_file, src->key_file, false) ||
      replace_str(&c->key_password, src->key_password, true) ||
      replace_str(&c->ca_file, src->ca_file, false) ||
      replace_str(&c->ca_path, src->ca_path, false) ||
      replace_str(&c->auth_header, src->auth_header, true) ||
      replace_str(&c->unix_socket, src->unix_socket, false)) {
    kinfer_config_free(c);
    return NULL;
  }
  return c;
}

enum ki_protocol ki_config_protocol(const kinfer_config *cfg) {
  if (ki_strcasecmp(cfg->protocol, "v1") == 0) return KI_PROTO_V1;
  if (ki_strcasecmp(cfg->protocol, "v2") == 0) return KI_PROTO_V2;
  return KI_PROTO_UNSUPPORTED;
}

int kinfer_config_set_protocol(kinfer_config *cfg, const char *p) {
  if (!cfg || !p || !*p) return KINFER_EINVAL;
  return replace_str(&cfg->protocol, p, false);
}

int kinfer_config_set_retries(kinfer_config *cfg, int n) {
  if (!cfg || n < 0 || n > 100) return KINFER_EINVAL;
  cfg->retries = n;
  return KINFER_OK;
}

int kinfer_config_set_http2(kinfer_config *cfg, bool on) {
  if (!cfg) return KINFER_EINVAL;
  cfg->http2 = on;
  return KINFER_OK;
}

/* Seconds as stored: a positive finite value, or -1 for "none". */
static int timeout_value(double s, double *out) {
  if (s == KINFER_TIMEOUT_NONE) {
    *out = -1.0;
    return KINFER_OK;
  }
  if (!(s > 0) || !isfinite(s) || s > 1e9) return KINFER_EINVAL;
  *out = s;
  return KINFER_OK;
}

int kinfer_config_set_timeout(kinfer_config *cfg, double seconds) {
  double v;
  if (!cfg || timeout_value(seconds, &v) != KINFER_OK) return KINFER_EINVAL;
  cfg->timeout = cfg->connect_timeout = cfg->read_timeout =
      cfg->write_timeout = cfg->pool_timeout = v;
  cfg->timeout_is_tuple = false;
  return KINFER_OK;
}

int kinfer_config_set_timeouts(kinfer_config *cfg, double connect, double read,
                               double write, double pool) {
  double c, r, w, p;
  if (!cfg || timeout_value(connect, &c) || timeout_value(read, &r) ||
      timeout_value(write, &w) || timeout_value(pool, &p))
    return KINFER_EINVAL;
  cfg->connect_timeout = c;
  cfg->read_timeout = r;
  cfg->write_timeout = w;
  cfg->pool_timeout = p;
  cfg->timeout = -1.0;
  cfg->timeout_is_tuple = true;
  return KINFER_OK;
}

int kinfer_config_set_cert(kinfer_config *cfg, const char *cert_pem,
                           const char *key_pem, const char *key_password) {
  if (!cfg || !cert_pem || !*cert_pem) return KINFER_EINVAL;
  char *c = strdup(cert_pem);
  char *k = key_pem ? strdup(key_pem) : NULL;
  char *pw = key_password ? strdup(key_password) : NULL;
  if (!c || (key_pem && !k) || (key_password && !pw)) {
    free(c);
    free(k);
    free_secret(pw);
    return KINFER_ENOMEM;
  }
  free(cfg->cert_file);
  free(cfg->key_file);
  free_secret(cfg->key_password);
  cfg->cert_file = c;
  cfg->key_file = k;
  cfg->key_password = pw;
  return KINFER_OK;
}

int kinfer_config_set_verify(kinfer_config *cfg, bool verify) {
  if (!cfg) return KINFER_EINVAL;
  cfg->verify = verify;
  return KINFER_OK;
}

int kinfer_config_set_ca_file(kinfer_config *cfg, const char *path) {
  if (!cfg || (path && !*path)) return KINFER_EINVAL;
  return replace_str(&cfg->ca_file, path, false);
}

int kinfer_config_set_ca_path(kinfer_config *cfg, const char *dir) {
  if (!cfg || (dir && !*dir)) return KINFER_EINVAL;
  return replace_str(&cfg->ca_path, dir, false);
}

int kinfer_config_set_ssl_ctx(kinfer_config *cfg, void *ssl_ctx) {
  if (!cfg) return KINFER_EINVAL;
  cfg->ssl_ctx = ssl_ctx;
  return KINFER_OK;
}

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void base64_encode(const unsigned char *in, size_t n, char *out) {
  size_t i = 0;
  for (; i + 2 < n; i += 3) {
    *out++ = b64[in[i] >> 2];
    *out++ = b64[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
    *out++ = b64[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)];
    *out++ = b64[in[i + 2] & 63];
  }
  if (i < n) {
    *out++ = b64[in[i] >> 2];
    if (i + 1 < n) {
      *out++ = b64[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
      *out++ = b64[(in[i + 1] & 15) << 2];
    } else {
      *out++ = b64[(in[i] & 3) << 4];
      *out++ = '=';
    }
    *out++ = '=';
  }
  *out = '\0';
}

static bool has_crlf(const char *s) { return strpbrk(s, "\r\n") != NULL; }

int kinfer_config_set_auth_basic(kinfer_config *cfg, const char *user,
                                 const char *password) {
  if (!cfg || !user || !password || strchr(user, ':') || has_crlf(user) ||
      has_crlf(password))
    return KINFER_EINVAL;
  size_t ul = strlen(user), pl = strlen(password);
  if (ul > 4096 || pl > 4096) return KINFER_EINVAL;
  char *plain = malloc(ul + pl + 2);
  char *hdr = malloc(6 + ((ul + pl + 1 + 2) / 3) * 4 + 1);
  if (!plain || !hdr) {
    free(plain);
    free(hdr);
    return KINFER_ENOMEM;
  }
  memcpy(plain, user, ul);
  plain[ul] = ':';
  memcpy(plain + ul + 1, password, pl + 1);
  memcpy(hdr, "Basic ", 6);
  base64_encode((const unsigned char *)plain, ul + pl + 1, hdr + 6);
  free_secret(plain);
  free_secret(cfg->auth_header);
  cfg->auth_header = hdr;
  return KINFER_OK;
}

int kinfer_config_set_auth_bearer(kinfer_config *cfg, const char *token) {
  if (!cfg || !token || !*token || has_crlf(token) || strlen(token) > 16384)
    return KINFER_EINVAL;
  size_t n = strlen(token);
  char *hdr = malloc(n + 8);
  if (!hdr) return KINFER_ENOMEM;
  memcpy(hdr, "Bearer ", 7);
  memcpy(hdr + 7, token, n + 1);
  free_secret(cfg->auth_header);
  cfg->auth_header = hdr;
  return KINFER_OK;
}

int kinfer_config_set_verbose(kinfer_config *cfg, bool on) {
  if (!cfg) return KINFER_EINVAL;
  cfg->verbose = on;
  return KINFER_OK;
}

int kinfer_config_set_log(kinfer_config *cfg, kinfer_log_fn fn, void *ud) {
  if (!cfg) return KINFER_EINVAL;
  cfg->log_fn = fn;
  cfg->log_ud = fn ? ud : NULL;
  return KINFER_OK;
}

int kinfer_config_set_transport(kinfer_config *cfg, const kinfer_transport *t,
                                void *ud) {
  if (!cfg || (t && !t->round_trip)) return KINFER_EINVAL;
  if (t) {
    cfg->transport = *t;
    cfg->transport_ud = ud;
    cfg->has_transport = true;
  } else {
    memset(&cfg->transport, 0, sizeof cfg->transport);
    cfg->transport_ud = NULL;
    cfg->has_transport = false;
  }
  return KINFER_OK;
}

int kinfer_config_set_unix_socket(kinfer_config *cfg, const char *path) {
  if (!cfg || (path && (!*path || strlen(path) >= 108))) return KINFER_EINVAL;
  return replace_str(&cfg->unix_socket, path, false);
}

int kinfer_config_set_max_response_bytes(kinfer_config *cfg, size_t n) {
  if (!cfg || n == 0) return KINFER_EINVAL;
  cfg->max_response_bytes = n;
  return KINFER_OK;
}

int kinfer_config_set_max_header_bytes(kinfer_config *cfg, size_t n) {
  if (!cfg || n < 256) return KINFER_EINVAL;
  cfg->max_header_bytes = n;
  return KINFER_OK;
}

int kinfer_config_set_max_connections(kinfer_config *cfg, unsigned n) {
  if (!cfg || n == 0 || n > 1024) return KINFER_EINVAL;
  cfg->max_connections = n;
  return KINFER_OK;
}

int kinfer_config_set_max_concurrent_streams(kinfer_config *cfg, unsigned n) {
  if (!cfg || n == 0 || n > (1u << 30)) return KINFER_EINVAL;
  cfg->max_concurrent_streams = n;
  return KINFER_OK;
}

int kinfer_config_set_max_h2_connections(kinfer_config *cfg, unsigned n) {
  if (!cfg || n == 0 || n > 1024) return KINFER_EINVAL;
  cfg->max_h2_connections = n;
  return KINFER_OK;
}

int kinfer_config_set_max_queued(kinfer_config *cfg, size_t n) {
  if (!cfg || n == 0) return KINFER_EINVAL;
  cfg->max_queued = n;
  return KINFER_OK;
}

int kinfer_config_set_h2_windows(kinfer_config *cfg, unsigned connection,
                                 unsigned stream) {
  /* RFC 9113 6.9.1: at most 2^31-1; below the initial 65535 gains nothing. */
  if (!cfg || connection < 65535 || stream < 65535 ||
      connection > 0x7fffffffu || stream > 0x7fffffffu)
    return KINFER_EINVAL;
  cfg->h2_conn_window = connection;
  cfg->h2_stream_window = stream;
  return KINFER_OK;
}

int kinfer_config_set_retry_budget(kinfer_config *cfg, double ratio,
                                   double per_second) {
  if (!cfg || isnan(ratio) || !isfinite(per_second) || per_second < 0 ||
      ratio > 1000 || per_second > 1e6)
    return KINFER_EINVAL;
  cfg->budget_ratio = ratio < 0 ? -1 : ratio;
  cfg->budget_per_second = per_second;
  return KINFER_OK;
}

int kinfer_config_set_retry_backoff(kinfer_config *cfg, double base,
                                    double cap) {
  if (!cfg || !(base >= 0) || !(cap >= 0) || !isfinite(base) ||
      !isfinite(cap) || base > cap || cap > 3600)
    return KINFER_EINVAL;
  cfg->backoff_base = base;
  cfg->backoff_cap = cap;
  return KINFER_OK;
}

int kinfer_config_set_retry_on_status(kinfer_config *cfg, const int *codes,
                                      size_t n) {
  if (!cfg || (n && !codes) || n > 64) return KINFER_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (codes[i] < 400 || codes[i] > 599) return KINFER_EINVAL;
  int *copy = NULL;
  if (n) {
    if (!(copy = malloc(n * sizeof *copy))) return KINFER_ENOMEM;
    memcpy(copy, codes, n * sizeof *copy);
  }
  free(cfg->retry_status);
  cfg->retry_status = copy;
  cfg->n_retry_status = n;
  return KINFER_OK;
}

bool ki_config_retry_status(const kinfer_config *cfg, int status) {
  for (size_t i = 0; i < cfg->n_retry_status; i++)
    if (cfg->retry_status[i] == status) return true;
  return false;
}

int kinfer_config_set_idempotent(kinfer_config *cfg, bool on) {
  if (!cfg) return KINFER_EINVAL;
  cfg->idempotent = on;
  return KINFER_OK;
}

int kinfer_config_set_keepalive(kinfer_config *cfg, double interval,
                                double timeout) {
  double i, t;
  if (!cfg || timeout_value(interval, &i) || timeout_value(timeout, &t))
    return KINFER_EINVAL;
  cfg->keepalive_interval = i;
  cfg->keepalive_timeout = t;
  return KINFER_OK;
}
