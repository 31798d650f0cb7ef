/* TLS server context with ALPN selection of "h2" or "http/1.1". */
#include <openssl/err.h>
#include <stdio.h>
#include <string.h>

#include "conn.h"

static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
  bool offer_h2 = arg != NULL;
  static const unsigned char h2[] = "\x02h2";
  static const unsigned char h1[] = "\x08http/1.1";
  unsigned char *sel = NULL;
  if (offer_h2 && SSL_select_next_proto(&sel, outlen, h2, sizeof h2 - 1, in, inlen) ==
                      OPENSSL_NPN_NEGOTIATED) {
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
  }
  if (SSL_select_next_proto(&sel, outlen, h1, sizeof h1 - 1, in, inlen) ==
      OPENSSL_NPN_NEGOTIATED) {
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;  /* go on without ALPN: HTTP/1.1 */
}

static void print_ssl_error(const char *what)
{
  unsigned long e = ERR_get_error();
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  fprintf(stderr, KS_NAME ": %s: %s\n", what, e ? buf : "unknown error");
}

SSL_CTX *ks_tls_ctx_new(const char *cert, const char *key, bool offer_h2)
{
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) {
    print_ssl_error("SSL_CTX_new");
    return NULL;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
    print_ssl_error(cert);
    SSL_CTX_free(ctx);
    return NULL;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    print_ssl_error(key);
    SSL_CTX_free(ctx);
    return NULL;
  }
  SSL_CTX_set_alpn_select_cb(ctx, select_alpn, offer_h2 ? ctx : NULL);
  return ctx;
}

bool ks_tls_selected_h2(SSL *ssl)
{
  const unsigned char *p = NULL;
  unsigned int n = 0;
  SSL_get0_alpn_selected(ssl, &p, &n);
  return n == 2 && memcmp(p, "h2", 2) == 0;
}

int ks_tls_require_client_ca(SSL_CTX *ctx, const char *ca_file)
{
  STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca_file);
  if (!names || SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
    sk_X509_NAME_pop_free(names, X509_NAME_free);
    print_ssl_error(ca_file);
    return -1;
  }
  SSL_CTX_set_client_CA_list(ctx, names);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
  /* Resuming a session is refused when verifying peers without a session
   * id context. */
  static const unsigned char sid_ctx[] = KS_NAME;
  SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
  return 0;
}
