/*
 * The TLS filter between the socket and the HTTP codec: OpenSSL in
 * non-blocking mode over a small socket BIO that sends with MSG_NOSIGNAL
 * (OpenSSL's own socket BIO uses write(), which raises SIGPIPE).
 *
 * Verification is on unless the configuration turns it off: the chain
 * against cfg->ca_file / cfg->ca_path or the system store, the host name
 * (or IP address) with SSL_set1_host / X509_VERIFY_PARAM_set1_ip_asc, SNI
 * for names (never for IP literals), TLS 1.2 at least (also with a
 * caller's SSL_CTX), no renegotiation.  ALPN offers "h2,http/1.1" when
 * HTTP/2 is on, else "http/1.1".
 *
 * Each origin keeps its newest resumable session, and the next connection
 * to it offers that session.  A TLS 1.2 session serves every later
 * connection; a TLS 1.3 ticket is offered once (RFC 8446, C.4), each
 * connection bringing fresh ones.  Tickets arrive after the handshake, so
 * the session is looked at again after every read.  All of it runs on the
 * engine's I/O thread.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "session/sess.h"

/* ---- a socket BIO that never raises SIGPIPE --------------------------- */

static int bio_fd(BIO *b) { return (int)(intptr_t)BIO_get_data(b); }

static int bio_write(BIO *b, const char *buf, int len) {
  BIO_clear_retry_flags(b);
  ssize_t n;
  do
    n = send(bio_fd(b), buf, (size_t)len, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    BIO_set_retry_write(b);
  return (int)n;
}

static int bio_read(BIO *b, char *buf, int len) {
  BIO_clear_retry_flags(b);
  ssize_t n;
  do
    n = recv(bio_fd(b), buf, (size_t)len, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    BIO_set_retry_read(b);
  return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

static BIO_METHOD *bio_method(ki_engine *e) {
  if (e->bio_meth)
    return e->bio_meth;
  BIO_METHOD *m =
      BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "kinfer-socket");
  if (!m)
    return NULL;
  BIO_meth_set_write(m, bio_write);
  BIO_meth_set_read(m, bio_read);
  BIO_meth_set_ctrl(m, bio_ctrl);
  BIO_meth_set_create(m, bio_create);
  e->bio_meth = m;
  return m;
}

/* ---- the context ------------------------------------------------------- */

static int pw_cb(char *buf, int size, int rwflag, void *ud) {
  const char *pw = ud;
  if (!pw)
    return 0;
  size_t n = strlen(pw);
  if (n > (size_t)size)
    n = (size_t)size;
  memcpy(buf, pw, n);
  return (int)n;
}

static void ssl_errors(char *msg, size_t len, const char *what) {
  unsigned long e = ERR_get_error();
  char reason[160] = "unknown error";
  if (e)
    ERR_error_string_n(e, reason, sizeof reason);
  ERR_clear_error();
  snprintf(msg, len, "%s: %s", what, reason);
}

static SSL_CTX *make_ctx(ki_engine *e, char *msg, size_t len) {
  const kinfer_config *cfg = e->cfg;
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) {
    ssl_errors(msg, len, "cannot create a TLS context");
    return NULL;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_read_ahead(ctx, 1);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_verify(ctx, cfg->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
                     NULL);
  int ok = 1;
  if (cfg->ca_file || cfg->ca_path)
    ok = SSL_CTX_load_verify_locations(ctx, cfg->ca_file, cfg->ca_path);
  else
    ok = SSL_CTX_set_default_verify_paths(ctx);
  if (!ok) {
    ssl_errors(msg, len, "cannot load the CA certificates");
    goto fail;
  }
  if (cfg->cert_file) {
    SSL_CTX_set_default_passwd_cb(ctx, pw_cb);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, cfg->key_password);
    const char *key = cfg->key_file ? cfg->key_file : cfg->cert_file;
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_file) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
      ssl_errors(msg, len, "cannot load the client certificate");
      goto fail;
    }
  }
  return ctx;
fail:
  SSL_CTX_free(ctx);
  return NULL;
}

static SSL_CTX *engine_ctx(ki_engine *e, char *msg, size_t len) {
  if (e->ssl_ctx)
    return e->ssl_ctx;
  if (e->cfg->ssl_ctx) {
    SSL_CTX *user = e->cfg->ssl_ctx;
    SSL_CTX_up_ref(user);
    e->ssl_ctx = user;
  } else {
    e->ssl_ctx = make_ctx(e, msg, len);
  }
  return e->ssl_ctx;
}

void ki_tls_engine_free(ki_engine *e) {
  SSL_CTX_free(e->ssl_ctx);
  e->ssl_ctx = NULL;
  BIO_meth_free(e->bio_meth);
  e->bio_meth = NULL;
}

/* ---- session resumption --------------------------------------------------- */

void ki_tls_origin_free(ki_origin *o) {
  SSL_SESSION_free(o->tls_session);
  o->tls_session = NULL;
}

/* Keeps the connection's session for its origin once it is resumable.  The
 * SSL's app data holds the last session kept from this connection, so each
 * one is taken once. */
static void keep_session(ki_conn *c) {
  SSL_SESSION *s = SSL_get0_session(c->ssl);
  if (!s || s == SSL_get_app_data(c->ssl) || !SSL_SESSION_is_resumable(s))
    return;
  SSL_set_app_data(c->ssl, s);
  /* Kept as a copy: OpenSSL marks the live session unresumable when the
   * connection ends without close_notify, or on a fatal alert, which says
   * nothing about the session itself. */
  SSL_SESSION *keep = SSL_SESSION_dup(s);
  if (!keep)
    return;
  SSL_SESSION_free(c->o->tls_session);
  c->o->tls_session = keep;
}

/* Offers the origin's session to a new connection. */
static void offer_session(ki_conn *c) {
  ki_origin *o = c->o;
  SSL_SESSION *s = o->tls_session;
  if (!s)
    return;
  if (!SSL_SESSION_is_resumable(s)) {
    ki_tls_origin_free(o);
    return;
  }
  if (SSL_set_session(c->ssl, s) != 1) {
    ERR_clear_error();
    return;
  }
  if (SSL_SESSION_get_protocol_version(s) >= TLS1_3_VERSION)
    ki_tls_origin_free(o); /* the connection holds its own reference */
}

/* ---- alerts from the peer ------------------------------------------------ */

/* A fatal alert the peer sent is kept on the SSL (ex data: 0x100 | the alert
 * description), so a failed read can be told from a lost connection: with
 * TLS 1.3 a server rejects the client certificate only after the client
 * finished its handshake. */
static int alert_idx = -1;
static pthread_once_t alert_once = PTHREAD_ONCE_INIT;

static void alert_index_init(void) {
  alert_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static void info_cb(const SSL *ssl, int where, int ret) {
  if ((where & SSL_CB_READ_ALERT) && (ret >> 8) == SSL3_AL_FATAL &&
      alert_idx >= 0)
    SSL_set_ex_data((SSL *)ssl, alert_idx, (void *)(intptr_t)(0x100 | (ret & 0xff)));
  /* A caller's context may have its own callback, which this one hides. */
  void (*user)(const SSL *, int, int) =
      SSL_CTX_get_info_callback(SSL_get_SSL_CTX(ssl));
  if (user)
    user(ssl, where, ret);
}

bool ki_tls_peer_alert(const ki_conn *c, char *msg, size_t len) {
  if (!c->ssl || alert_idx < 0)
    return false;
  intptr_t a = (intptr_t)SSL_get_ex_data(c->ssl, alert_idx);
  if (!a)
    return false;
  int desc = (int)(a & 0xff);
  /* OpenSSL 3.0 names neither of these TLS 1.3 alerts. */
  const char *what = desc == 116   ? "certificate required"
                     : desc == 120 ? "no application protocol"
                                   : SSL_alert_desc_string_long(desc);
  snprintf(msg, len, "TLS alert from %s: %s (%d)", c->addr, what, desc);
  return true;
}

/* ---- per connection ------------------------------------------------------- */

static bool is_ip_literal(const char *host) {
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, host, buf) == 1 ||
         inet_pton(AF_INET6, host, buf) == 1;
}

int ki_tls_start(ki_conn *c, char *msg, size_t len) {
  ki_engine *e = c->e;
  SSL_CTX *ctx = engine_ctx(e, msg, len);
  if (!ctx)
    return KINFER_ETLS;
  BIO_METHOD *m = bio_method(e);
  SSL *ssl = SSL_new(ctx);
  BIO *bio = m ? BIO_new(m) : NULL;
  if (!ssl || !bio) {
    SSL_free(ssl);
    BIO_free(bio);
    snprintf(msg, len, "out of memory setting up TLS");
    return KINFER_ENOMEM;
  }
  BIO_set_data(bio, (void *)(intptr_t)c->fd);
  SSL_set_bio(ssl, bio, bio);
  c->ssl = ssl;
  /* Also over a caller's context: never below TLS 1.2 (HTTP/2 requires
   * it), never renegotiated (HTTP/2 forbids it; HTTP/1.1 has no use for
   * it). */
  if (SSL_get_min_proto_version(ssl) < TLS1_2_VERSION)
    SSL_set_min_proto_version(ssl, TLS1_2_VERSION);
  SSL_set_options(ssl, SSL_OP_NO_RENEGOTIATION);
  pthread_once(&alert_once, alert_index_init);
  SSL_set_info_callback(ssl, info_cb);

  const char *host = c->o->host;
  int ok = 1;
  if (is_ip_literal(host)) {
    ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
  } else {
    ok = SSL_set_tlsext_host_name(ssl, host) && SSL_set1_host(ssl, host);
  }
  static const unsigned char alpn_h2[] = "\x02h2\x08http/1.1";
  static const unsigned char alpn_h1[] = "\x08http/1.1";
  if (ok) {
    if (e->cfg->http2)
      ok = SSL_set_alpn_protos(ssl, alpn_h2, sizeof alpn_h2 - 1) == 0;
    else
      ok = SSL_set_alpn_protos(ssl, alpn_h1, sizeof alpn_h1 - 1) == 0;
  }
  if (!ok) {
    ssl_errors(msg, len, "cannot set up TLS");
    return KINFER_ETLS;
  }
  offer_session(c);
  SSL_set_connect_state(ssl);
  return KINFER_OK;
}

int ki_tls_handshake(ki_conn *c, char *msg, size_t len) {
  ERR_clear_error();
  int rc = SSL_do_handshake(c->ssl);
  if (rc == 1) {
    const kinfer_config *cfg = c->e->cfg;
    if (cfg->verbose)
      ki_log(cfg, KINFER_LOG_DEBUG, "TLS %s with %s (%s): %s, %s",
             SSL_session_reused(c->ssl) ? "session resumed" : "full handshake",
             c->o->host, c->addr, SSL_get_version(c->ssl),
             SSL_get_cipher_name(c->ssl));
    keep_session(c);
    return 1;
  }
  int err = SSL_get_error(c->ssl, rc);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
    uint32_t ev = err == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT;
    if (ki_engine_watch(c->e, c, ev) != KINFER_OK) {
      snprintf(msg, len, "cannot watch the socket");
      return -1;
    }
    return 0;
  }
  long vr = SSL_get_verify_result(c->ssl);
  if (vr != X509_V_OK) {
    snprintf(msg, len, "TLS certificate verification failed for %s (%s): %s",
             c->o->host, c->addr, X509_verify_cert_error_string(vr));
  } else if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
    snprintf(msg, len, "TLS handshake with %s failed: %s", c->addr,
             errno ? strerror(errno) : "connection closed");
  } else {
    char what[120];
    snprintf(what, sizeof what, "TLS handshake with %s failed", c->addr);
    ssl_errors(msg, len, what);
  }
  return -1;
}

bool ki_tls_alpn_h2(const ki_conn *c) {
  const unsigned char *p = NULL;
  unsigned int n = 0;
  SSL_get0_alpn_selected(c->ssl, &p, &n);
  return n == 2 && memcmp(p, "h2", 2) == 0;
}

bool ki_tls_pending(const ki_conn *c) {
  /* SSL_has_pending also sees raw bytes pulled in by read-ahead that no
   * record has been decrypted from yet. */
  return c->ssl && SSL_has_pending(c->ssl);
}

ssize_t ki_tls_recv(ki_conn *c, void *buf, size_t len) {
  ERR_clear_error();
  int n = SSL_read(c->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
  if (n > 0) {
    keep_session(c);
    return n;
  }
  switch (SSL_get_error(c->ssl, n)) {
  case SSL_ERROR_WANT_READ:
  case SSL_ERROR_WANT_WRITE:
    keep_session(c); /* a record with nothing but a session ticket */
    errno = EAGAIN;
    return -1;
  case SSL_ERROR_ZERO_RETURN:
    return 0;
  case SSL_ERROR_SYSCALL:
    /* A close without close_notify reads as EOF; the codec decides
     * whether what came before was complete. */
    if (ERR_peek_error() == 0 && (n == 0 || errno == 0))
      return 0;
    if (errno == 0)
      errno = ECONNRESET;
    return -1;
  default:
    ERR_clear_error();
    errno = EPROTO;
    return -1;
  }
}

ssize_t ki_tls_sendv(ki_conn *c, const struct iovec *iov, int iovcnt) {
  size_t total = 0;
  for (int i = 0; i < iovcnt; i++) {
    if (iov[i].iov_len == 0)
      continue;
    int want = iov[i].iov_len > INT_MAX ? INT_MAX : (int)iov[i].iov_len;
    ERR_clear_error();
    int n = SSL_write(c->ssl, iov[i].iov_base, want);
    if (n > 0) {
      total += (size_t)n;
      if (n < want)
        break;
      continue;
    }
    if (total > 0)
      break;
    int err = SSL_get_error(c->ssl, n);
    if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
      errno = EAGAIN;
      return -1;
    }
    ERR_clear_error();
    if (errno == 0 || errno == EAGAIN)
      errno = EPIPE;
    return -1;
  }
  return (ssize_t)total;
}

void ki_tls_free(ki_conn *c) {
  SSL_free(c->ssl); /* frees the BIO too */
  c->ssl = NULL;
}
