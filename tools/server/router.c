/*
 * Request routing: the V2 and V1 endpoints, the /_executions test oracle and
 * the --status fault. Works on protocol-neutral requests, so HTTP/1.1 and
 * HTTP/2 share it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor.h"

typedef enum { OP_METADATA, OP_READY, OP_INFER, OP_PREDICT, OP_EXPLAIN } model_op;

static bool is_get(const ks_request *req)
{
  return strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
}

static bool is_post(const ks_request *req)
{
  return strcmp(req->method, "POST") == 0;
}

static bool starts_with(const char *s, const char *prefix)
{
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void reply_json(ks_response *resp, const char *json)
{
  resp->status = 200;
  if (ks_buf_puts(&resp->body, json) < 0)
    ks_response_error(resp, 500, "out of memory");
}

static void reply_not_found_model(ks_response *resp, const char *name)
{
  char msg[300];
  snprintf(msg, sizeof msg, "Model with name %.200s does not exist.", name);
  ks_response_error(resp, 404, msg);
}

static void reply_not_ready(ks_response *resp, const ks_model *m)
{
  char msg[300];
  snprintf(msg, sizeof msg, "Model with name %s is not ready.", ks_model_name(m));
  ks_response_error(resp, 503, msg);
}

static void reply_model_ready(ks_response *resp, const ks_model *m)
{
  if (!ks_model_ready(m)) {
    reply_not_ready(resp, m);
    return;
  }
  if (ks_buf_printf(&resp->body, "{\"name\":\"%s\",\"ready\":true}", ks_model_name(m)) < 0)
    ks_response_error(resp, 500, "out of memory");
}

/* The --status/--status-every fault: true if this execution is answered with
 * the configured status instead of running the model. */
static bool inject_status(ks_response *resp)
{
  if (!ks_cfg.status_every || ks_stats_next_status_seq() % ks_cfg.status_every != 0)
    return false;
  char msg[64];
  snprintf(msg, sizeof msg, "injected status %d", ks_cfg.status_code);
  ks_response_error(resp, ks_cfg.status_code, msg);
  resp->retry_after = ks_cfg.retry_after;
  return true;
}

static void run_v2_infer(const ks_model *m, const ks_request *req, ks_response *resp)
{
  char err[512] = "";
  ks_infer_request ireq;
  ks_infer_response ires = {0};
  if (req->header_length_bad) {
    ks_response_error(resp, 400, "Inference-Header-Content-Length is not a valid length");
    return;
  }
  bool failed;
  if (ks_v2_decode(&req->body, req->header_length, &ireq, err, sizeof err) < 0) {
    failed = true;
  } else {
    ks_stats_record(ireq.id);
    failed = ks_model_infer(m, &ireq, &ires, err, sizeof err) < 0 ||
             ks_v2_encode(ks_model_name(m), &ireq, &ires, resp, err, sizeof err) < 0;
  }
  if (failed)
    ks_response_error(resp, strcmp(err, "out of memory") == 0 ? 500 : 400, err);
  ks_v2_response_free(&ires);
  ks_v2_request_free(&ireq);
}

static void run_v1(const ks_model *m, const ks_request *req, ks_response *resp)
{
  if (strcmp(ks_model_name(m), "add_sub") == 0) {
    ks_response_error(resp, 400, "Model add_sub only supports the V2 protocol");
    return;
  }
  const char *jerr = NULL;
  json_object *root = ks_json_parse(req->body.data ? req->body.data : "", req->body.len, &jerr);
  json_object *v = NULL;
  if (!root) {
    char msg[300];
    snprintf(msg, sizeof msg, "Unrecognized request format: %s", jerr);
    ks_response_error(resp, 400, msg);
    return;
  }
  if (!json_object_is_type(root, json_type_object) ||
      (!json_object_object_get_ex(root, "instances", &v) &&
       !json_object_object_get_ex(root, "inputs", &v))) {
    ks_response_error(resp, 400, "Expected \"instances\" or \"inputs\" in the request");
  } else {
    ks_stats_record(NULL);
    if (ks_buf_printf(&resp->body, "{\"predictions\":%s}",
                      json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN)) < 0)
      ks_response_error(resp, 500, "out of memory");
  }
  json_object_put(root);
}

static void run_model(const ks_model *m, model_op op, const ks_request *req, ks_response *resp)
{
  bool want_post = op == OP_INFER || op == OP_PREDICT || op == OP_EXPLAIN;
  if (want_post ? !is_post(req) : !is_get(req)) {
    ks_response_error(resp, 405, "Method Not Allowed");
    return;
  }
  switch (op) {
  case OP_METADATA:
    if (ks_model_metadata(m, &resp->body) < 0)
      ks_response_error(resp, 500, "out of memory");
    return;
  case OP_READY:
    reply_model_ready(resp, m);
    return;
  default:
    break;
  }
  if (!ks_model_ready(m))
    reply_not_ready(resp, m);
  else if (inject_status(resp))
    return;
  else if (op == OP_INFER)
    run_v2_infer(m, req, resp);
  else
    run_v1(m, req, resp);
}

/* Splits "/v2/models/NAME[/versions/V][SUFFIX]" into name and op. */
static int parse_v2_model_path(const char *rest, char *name, size_t cap, model_op *op)
{
  size_t n = strcspn(rest, "/");
  if (n == 0 || n >= cap)
    return -1;
  memcpy(name, rest, n);
  name[n] = '\0';
  rest += n;
  if (starts_with(rest, "/versions/")) {
    rest += strlen("/versions/");
    size_t v = strcspn(rest, "/");
    if (v == 0)
      return -1;
    rest += v;
  }
  if (*rest == '\0')
    *op = OP_METADATA;
  else if (strcmp(rest, "/ready") == 0)
    *op = OP_READY;
  else if (strcmp(rest, "/infer") == 0)
    *op = OP_INFER;
  else
    return -1;
  return 0;
}

/* Splits "/v1/models/NAME[:predict|:explain]" into name and op. */
static int parse_v1_model_path(const char *rest, char *name, size_t cap, model_op *op)
{
  size_t n = strcspn(rest, ":/");
  if (n == 0 || n >= cap)
    return -1;
  memcpy(name, rest, n);
  name[n] = '\0';
  rest += n;
  if (*rest == '\0')
    *op = OP_READY;
  else if (strcmp(rest, ":predict") == 0)
    *op = OP_PREDICT;
  else if (strcmp(rest, ":explain") == 0)
    *op = OP_EXPLAIN;
  else
    return -1;
  return 0;
}

static void route_model(const ks_request *req, ks_response *resp, bool v2)
{
  char name[256];
  model_op op;
  int rc = v2 ? parse_v2_model_path(req->path + strlen("/v2/models/"), name, sizeof name, &op)
              : parse_v1_model_path(req->path + strlen("/v1/models/"), name, sizeof name, &op);
  if (rc < 0) {
    ks_response_error(resp, 404, "Not Found");
    return;
  }
  const ks_model *m = ks_model_find(name);
  if (!m)
    reply_not_found_model(resp, name);
  else
    run_model(m, op, req, resp);
}

static void route_fixed(const ks_request *req, ks_response *resp)
{
  const char *p = req->path;
  if (strcmp(p, "/v2/health/live") == 0)
    reply_json(resp, "{\"live\":true}");
  else if (strcmp(p, "/v2/health/ready") == 0)
    reply_json(resp, "{\"ready\":true}");
  else if (strcmp(p, "/v2") == 0)
    reply_json(resp, "{\"name\":\"" KS_NAME "\",\"version\":\"" KS_VERSION "\","
                     "\"extensions\":[\"binary_tensor_data\"]}");
  else if (strcmp(p, "/") == 0)
    reply_json(resp, "{\"status\":\"alive\"}");
  else if (strcmp(p, "/v1/models") == 0) {
    int rc = ks_buf_puts(&resp->body, "{\"models\":");
    rc |= ks_model_list(&resp->body);
    if ((rc | ks_buf_puts(&resp->body, "}")) != 0)
      ks_response_error(resp, 500, "out of memory");
  } else if (strcmp(p, "/_executions") == 0) {
    uint64_t e, d;
    ks_stats_get(&e, &d);
    if (ks_buf_printf(&resp->body, "{\"executions\":%" PRIu64 ",\"duplicates\":%" PRIu64 "}",
                      e, d) < 0)
      ks_response_error(resp, 500, "out of memory");
  } else
    ks_response_error(resp, 404, "Not Found");
}

bool ks_is_execution(const ks_request *req)
{
  if (!is_post(req))
    return false;
  if (starts_with(req->path, "/v2/models/")) {
    size_t n = strlen(req->path);
    return n > 6 && strcmp(req->path + n - 6, "/infer") == 0;
  }
  return starts_with(req->path, "/v1/models/") &&
         (strstr(req->path, ":predict") || strstr(req->path, ":explain"));
}

void ks_handle(const ks_request *req, ks_response *resp)
{
  if (starts_with(req->path, "/v2/models/")) {
    route_model(req, resp, true);
    return;
  }
  if (starts_with(req->path, "/v1/models/")) {
    route_model(req, resp, false);
    return;
  }
  if (!is_get(req)) {
    /* Fixed endpoints are all GET; unknown paths stay 404 for any method. */
    static const char *const fixed[] = {"/v2/health/live", "/v2/health/ready", "/v2", "/",
                                        "/v1/models", "/_executions"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
      if (strcmp(req->path, fixed[i]) == 0) {
        ks_response_error(resp, 405, "Method Not Allowed");
        return;
      }
    }
    ks_response_error(resp, 404, "Not Found");
    return;
  }
  route_fixed(req, resp);
}
