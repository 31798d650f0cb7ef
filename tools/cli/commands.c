/*
 * kinfer(1): the commands.  Turns checked options into a client, headers and
 * a request, makes one library call per command and prints its result.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct ctx {
  const struct cli_options *o;
  kinfer_client *client;
  kinfer_headers *headers;
};

/* The exit status for a library error code (see cli.h). */
static int exit_status(int code) {
  switch (code) {
  case KINFER_OK:
    return CLI_EXIT_OK;
  case KINFER_EHTTP:
    return CLI_EXIT_HTTP;
  case KINFER_ECONNECT:
  case KINFER_ETLS:
  case KINFER_ETIMEOUT:
  case KINFER_EREFUSED:
  case KINFER_EUNKNOWN_OUTCOME:
    return CLI_EXIT_NETWORK;
  case KINFER_EBADRESPONSE:
  case KINFER_ELIMIT:
    return CLI_EXIT_RESPONSE;
  case KINFER_EINVAL:
  case KINFER_EINPUT:
  case KINFER_EURL:
  case KINFER_EUNSUPPORTED:
    return CLI_EXIT_INPUT;
  default:
    return CLI_EXIT_OTHER;
  }
}

/* Prints "kinfer: [<what>: ]<error>[ (HTTP <status>)]: <message>" and
 * returns the exit status for |code|.  |what| and |err| may be NULL. */
static int report(const char *what, int code, const kinfer_error *err) {
  fputs("kinfer: ", stderr);
  if (what != NULL)
    fprintf(stderr, "%s: ", what);
  fputs(kinfer_strerror(code), stderr);
  if (err != NULL && err->http_status != 0)
    fprintf(stderr, " (HTTP %d)", err->http_status);
  if (err != NULL && err->message[0] != '\0')
    fprintf(stderr, ": %s", err->message);
  if (err != NULL && err->attempts > 1)
    fprintf(stderr, " (%d attempts)", err->attempts);
  fputc('\n', stderr);
  return exit_status(code);
}

static void log_line(void *ud, int level, const char *line) {
  (void)ud;
  (void)level;
  fprintf(stderr, "* %s\n", line);
}

/* Applies the connection options to |cfg|. */
static int configure(const struct cli_options *o, kinfer_config *cfg) {
  int rc = KINFER_OK;
  const char *what = NULL;
#define SET(option, call)                                                      \
  do {                                                                         \
    if (rc == KINFER_OK && (rc = (call)) != KINFER_OK)                         \
      what = (option);                                                         \
  } while (0)
  if (o->protocol != NULL)
    SET("--protocol", kinfer_config_set_protocol(cfg, o->protocol));
  SET("--http2", kinfer_config_set_http2(cfg, o->http2));
  if (o->timeout_set)
    SET("--timeout", kinfer_config_set_timeout(cfg, o->timeout > 0
                                                        ? o->timeout
                                                        : KINFER_TIMEOUT_NONE));
  if (o->retries >= 0)
    SET("--retries", kinfer_config_set_retries(cfg, o->retries));
  if (o->unix_socket != NULL)
    SET("--unix-socket", kinfer_config_set_unix_socket(cfg, o->unix_socket));
  if (o->bearer != NULL)
    SET("--bearer", kinfer_config_set_auth_bearer(cfg, o->bearer));
  if (o->basic_user != NULL)
    SET("--basic", kinfer_config_set_auth_basic(cfg, o->basic_user,
                                                o->basic_password));
  if (o->cacert != NULL)
    SET("--cacert", kinfer_config_set_ca_file(cfg, o->cacert));
  if (o->capath != NULL)
    SET("--capath", kinfer_config_set_ca_path(cfg, o->capath));
  if (o->cert != NULL)
    SET("--cert", kinfer_config_set_cert(cfg, o->cert, o->key,
                                         o->key_password));
  if (o->insecure)
    SET("--insecure", kinfer_config_set_verify(cfg, false));
  if (o->verbose) {
    SET("--verbose", kinfer_config_set_log(cfg, log_line, NULL));
    SET("--verbose", kinfer_config_set_verbose(cfg, true));
  }
#undef SET
  return rc == KINFER_OK ? CLI_EXIT_OK : report(what, rc, NULL);
}

static int make_client(const struct cli_options *o, kinfer_client **out) {
  kinfer_config *cfg = kinfer_config_new();
  if (cfg == NULL)
    return report(NULL, KINFER_ENOMEM, NULL);
  int status = configure(o, cfg);
  if (status == CLI_EXIT_OK) {
    kinfer_error err = {0};
    *out = kinfer_client_new(cfg, &err);
    if (*out == NULL)
      status = report(NULL, err.code != KINFER_OK ? err.code : KINFER_ENOMEM,
                      &err);
  }
  kinfer_config_free(cfg);
  return status;
}

static int make_headers(const struct cli_options *o, kinfer_headers **out) {
  *out = NULL;
  if (o->n_headers == 0)
    return CLI_EXIT_OK;
  kinfer_headers *h = kinfer_headers_new();
  if (h == NULL)
    return report(NULL, KINFER_ENOMEM, NULL);
  for (size_t i = 0; i < o->n_headers; i++) {
    int rc = kinfer_headers_add(h, o->headers[i].name, o->headers[i].value);
    if (rc != KINFER_OK) {
      kinfer_headers_free(h);
      return report("-H", rc, NULL);
    }
  }
  *out = h;
  return CLI_EXIT_OK;
}

static int add_input(kinfer_request *r, const struct cli_tensor *t,
                     bool binary) {
  kinfer_input *in =
      kinfer_request_add_input(r, t->name, t->dtype, t->shape, t->ndim);
  if (in == NULL)
    return KINFER_ENOMEM;
  int rc = t->dtype == KINFER_BYTES
               ? kinfer_input_set_bytes(in, (const char *const *)t->elems,
                                        t->lens, t->count)
               : kinfer_input_set_data(in, t->data, t->nbytes);
  if (rc == KINFER_OK && binary)
    rc = kinfer_input_set_binary(in, true);
  return rc;
}

/* The tensor request described by -i, --output, --binary and --id. */
static int make_tensor_request(const struct cli_options *o,
                               kinfer_request **out) {
  kinfer_request *r = kinfer_request_new();
  if (r == NULL)
    return report(NULL, KINFER_ENOMEM, NULL);
  int rc = KINFER_OK;
  for (size_t i = 0; i < o->n_inputs && rc == KINFER_OK; i++)
    rc = add_input(r, &o->inputs[i], o->binary);
  for (size_t i = 0; i < o->n_outputs && rc == KINFER_OK; i++) {
    kinfer_requested_output *ro = kinfer_request_add_output(r, o->outputs[i]);
    if (ro == NULL)
      rc = KINFER_ENOMEM;
    else if (o->binary)
      rc = kinfer_requested_output_set_binary(ro, true);
  }
  if (rc == KINFER_OK && o->binary)
    rc = kinfer_request_set_binary_outputs(r, true);
  if (rc == KINFER_OK && o->id != NULL)
    rc = kinfer_request_set_id(r, o->id);
  if (rc != KINFER_OK) {
    kinfer_request_free(r);
    return report("-i", rc, NULL);
  }
  *out = r;
  return CLI_EXIT_OK;
}

static int make_request(const struct cli_options *o, kinfer_request **out) {
  if (o->body == NULL)
    return make_tensor_request(o, out);
  kinfer_error err = {0};
  *out = kinfer_request_from_json(o->body, o->body_len, &err);
  if (*out == NULL)
    return report("-d", err.code != KINFER_OK ? err.code : KINFER_ENOMEM,
                  &err);
  return CLI_EXIT_OK;
}

static void print_json(const struct cli_options *o, const char *json,
                       size_t len) {
  if (json == NULL)
    len = 0;
  if (o->pretty) {
    cli_json_pretty(stdout, json, len);
    return;
  }
  fwrite(json, 1, len, stdout);
  if (len == 0 || json[len - 1] != '\n')
    fputc('\n', stdout);
}

/* Whether the outputs came with the binary tensor extension, so that the
 * JSON part of the body does not hold their data. */
static bool has_binary_outputs(const kinfer_response *r,
                               const kinfer_headers *rh) {
  if (kinfer_headers_get(rh, "inference-header-content-length") != NULL)
    return true;
  for (size_t i = 0; i < kinfer_response_output_count(r); i++) {
    const kinfer_tensor *t = kinfer_response_output(r, i);
    int64_t size;
    if (t != NULL &&
        kinfer_params_get_int(kinfer_tensor_parameters(t), "binary_data_size",
                              &size) == KINFER_OK)
      return true;
  }
  return false;
}

static void print_response(const struct cli_options *o,
                           const kinfer_response *r,
                           const kinfer_headers *rh) {
  if (rh != NULL && has_binary_outputs(r, rh)) {
    struct cli_buf b = {0};
    cli_json_render_response(&b, r);
    if (b.failed)
      fputs("kinfer: out of memory rendering the outputs\n", stderr);
    else
      print_json(o, b.data, b.len);
    cli_buf_free(&b);
    return;
  }
  size_t len = 0;
  const char *json = kinfer_response_json(r, &len);
  print_json(o, json, len);
}

static void print_headers(const kinfer_response *r, const kinfer_headers *rh) {
  fprintf(stderr, "HTTP %d\n", kinfer_response_status(r));
  for (size_t i = 0; i < kinfer_headers_count(rh); i++)
    fprintf(stderr, "%s: %s\n", kinfer_headers_name(rh, i),
            kinfer_headers_value(rh, i));
}

/* Prints a health answer: true (exit 0) or false (exit 1). */
static int health_answer(int rc, bool answer, const kinfer_error *err) {
  if (rc != KINFER_OK)
    return report(NULL, rc, err);
  puts(answer ? "true" : "false");
  return answer ? CLI_EXIT_OK : CLI_EXIT_FALSE;
}

static int cmd_live(struct ctx *c) {
  kinfer_error err = {0};
  bool live = false;
  int rc = kinfer_is_server_live(c->client, c->o->url, c->headers,
                                 KINFER_TIMEOUT_DEFAULT, &live, &err);
  return health_answer(rc, live, &err);
}

static int cmd_ready(struct ctx *c) {
  kinfer_error err = {0};
  bool ready = false;
  int rc = kinfer_is_server_ready(c->client, c->o->url, c->headers,
                                  KINFER_TIMEOUT_DEFAULT, &ready, &err);
  return health_answer(rc, ready, &err);
}

static int cmd_model_ready(struct ctx *c) {
  kinfer_error err = {0};
  bool ready = false;
  int rc = kinfer_is_model_ready(c->client, c->o->url, c->o->model,
                                 c->headers, KINFER_TIMEOUT_DEFAULT, &ready,
                                 &err);
  return health_answer(rc, ready, &err);
}

static int cmd_infer(struct ctx *c) {
  kinfer_request *req = NULL;
  int status = make_request(c->o, &req);
  if (status != CLI_EXIT_OK)
    return status;
  kinfer_headers *rh = kinfer_headers_new();
  if (rh == NULL) {
    kinfer_request_free(req);
    return report(NULL, KINFER_ENOMEM, NULL);
  }
  kinfer_error err = {0};
  kinfer_response *resp = NULL;
  int rc = kinfer_infer(c->client, c->o->url, req, c->o->model, c->headers, rh,
                        c->o->graph, KINFER_TIMEOUT_DEFAULT, &resp, &err);
  if (rc == KINFER_OK) {
    if (c->o->show_headers)
      print_headers(resp, rh);
    print_response(c->o, resp, rh);
  } else {
    status = report(NULL, rc, &err);
  }
  kinfer_response_free(resp);
  kinfer_headers_free(rh);
  kinfer_request_free(req);
  return status;
}

static int cmd_explain(struct ctx *c) {
  kinfer_request *req = NULL;
  int status = make_request(c->o, &req);
  if (status != CLI_EXIT_OK)
    return status;
  kinfer_error err = {0};
  kinfer_response *resp = NULL;
  int rc = kinfer_explain(c->client, c->o->url, c->o->model, req, c->headers,
                          KINFER_TIMEOUT_DEFAULT, &resp, &err);
  if (rc == KINFER_OK)
    print_response(c->o, resp, NULL);
  else
    status = report(NULL, rc, &err);
  kinfer_response_free(resp);
  kinfer_request_free(req);
  return status;
}

static int (*const command_fn[])(struct ctx *) = {
    [CLI_CMD_LIVE] = cmd_live,
    [CLI_CMD_READY] = cmd_ready,
    [CLI_CMD_MODEL_READY] = cmd_model_ready,
    [CLI_CMD_INFER] = cmd_infer,
    [CLI_CMD_EXPLAIN] = cmd_explain,
};

int cli_run(const struct cli_options *o) {
  struct ctx c = {o, NULL, NULL};
  int status = make_headers(o, &c.headers);
  if (status == CLI_EXIT_OK)
    status = make_client(o, &c.client);
  if (status == CLI_EXIT_OK)
    status = command_fn[o->command](&c);
  kinfer_client_close(c.client);
  kinfer_headers_free(c.headers);
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fprintf(stderr, "kinfer: cannot write the output: %s\n", strerror(errno));
    if (status == CLI_EXIT_OK || status == CLI_EXIT_FALSE)
      status = CLI_EXIT_OTHER;
  }
  return status;
}
