/*
 * The built-in models: echo, add_sub and not_ready.
 */
#include <stdio.h>
#include <string.h>

#include "tensor.h"

#define FAIL(...)                                                             \
  do {                                                                        \
    snprintf(err, errlen, __VA_ARGS__);                                       \
    return -1;                                                                \
  } while (0)

typedef int (*infer_fn)(const ks_infer_request *req, ks_infer_response *res,
                        char *err, size_t errlen);

struct ks_model {
  const char *name;
  bool ready;
  const char *inputs_json;   /* V2 metadata "inputs" and "outputs" */
  const char *outputs_json;
  infer_fn infer;
};

/* echo: every input comes back as output-<i>, parameters included. */
static int echo_infer(const ks_infer_request *req, ks_infer_response *res,
                      char *err, size_t errlen)
{
  for (size_t i = 0; i < req->ninputs; i++) {
    const ks_tensor *in = &req->inputs[i];
    char name[32];
    snprintf(name, sizeof name, "output-%zu", i);
    ks_tensor *out = ks_v2_add_output(res, name, in->dtype, in->shape, in->ndim);
    if (!out || ks_buf_append(&out->data, in->data.data, in->data.len) < 0)
      FAIL("out of memory");
    out->parameters = in->parameters ? json_object_get(in->parameters) : NULL;
  }
  return 0;
}

static const ks_tensor *find_input(const ks_infer_request *req, const char *name)
{
  for (size_t i = 0; i < req->ninputs; i++)
    if (strcmp(req->inputs[i].name, name) == 0)
      return &req->inputs[i];
  return NULL;
}

static void add_sub_i32(const ks_tensor *a, const ks_tensor *b, ks_tensor *sum,
                        ks_tensor *diff)
{
  for (size_t i = 0; i < a->count; i++) {
    uint32_t x, y;
    memcpy(&x, a->data.data + 4 * i, 4);
    memcpy(&y, b->data.data + 4 * i, 4);
    uint32_t s = x + y, d = x - y;  /* wraps like int32 tensors do */
    memcpy(sum->data.data + 4 * i, &s, 4);
    memcpy(diff->data.data + 4 * i, &d, 4);
  }
}

static void add_sub_f32(const ks_tensor *a, const ks_tensor *b, ks_tensor *sum,
                        ks_tensor *diff)
{
  for (size_t i = 0; i < a->count; i++) {
    float x, y;
    memcpy(&x, a->data.data + 4 * i, 4);
    memcpy(&y, b->data.data + 4 * i, 4);
    float s = x + y, d = x - y;
    memcpy(sum->data.data + 4 * i, &s, 4);
    memcpy(diff->data.data + 4 * i, &d, 4);
  }
}

static int same_shape(const ks_tensor *a, const ks_tensor *b)
{
  return a->ndim == b->ndim && memcmp(a->shape, b->shape, a->ndim * sizeof a->shape[0]) == 0;
}

/* add_sub: OUTPUT0 = INPUT0 + INPUT1, OUTPUT1 = INPUT0 - INPUT1. */
static int add_sub_infer(const ks_infer_request *req, ks_infer_response *res,
                         char *err, size_t errlen)
{
  const ks_tensor *a = find_input(req, "INPUT0"), *b = find_input(req, "INPUT1");
  if (!a || !b)
    FAIL("add_sub expects inputs INPUT0 and INPUT1");
  if (a->dtype != b->dtype || (a->dtype != KS_INT32 && a->dtype != KS_FP32))
    FAIL("INPUT0 and INPUT1 must both be INT32 or both FP32");
  if (!same_shape(a, b))
    FAIL("INPUT0 and INPUT1 must have the same shape");
  ks_tensor *sum = ks_v2_add_output(res, "OUTPUT0", a->dtype, a->shape, a->ndim);
  ks_tensor *diff = sum ? ks_v2_add_output(res, "OUTPUT1", a->dtype, a->shape, a->ndim) : NULL;
  size_t bytes = a->count * 4;
  if (!diff || ks_buf_reserve(&sum->data, bytes) < 0 || ks_buf_reserve(&diff->data, bytes) < 0)
    FAIL("out of memory");
  sum->data.len = diff->data.len = bytes;
  if (a->dtype == KS_INT32)
    add_sub_i32(a, b, sum, diff);
  else
    add_sub_f32(a, b, sum, diff);
  return 0;
}

#define ADD_SUB_IO(p, dt)                                                      \
  "[{\"name\":\"" p "0\",\"datatype\":\"" dt "\",\"shape\":[-1]},"             \
  "{\"name\":\"" p "1\",\"datatype\":\"" dt "\",\"shape\":[-1]}]"

static const ks_model models[] = {
  {"echo", true, "[]", "[]", echo_infer},
  {"add_sub", true, ADD_SUB_IO("INPUT", "INT32"), ADD_SUB_IO("OUTPUT", "INT32"), add_sub_infer},
  {"not_ready", false, "[]", "[]", echo_infer},
};

const ks_model *ks_model_find(const char *name)
{
  for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
    if (strcmp(models[i].name, name) == 0)
      return &models[i];
  return NULL;
}

bool ks_model_ready(const ks_model *m)
{
  return m->ready;
}

const char *ks_model_name(const ks_model *m)
{
  return m->name;
}

int ks_model_metadata(const ks_model *m, ks_buf *out)
{
  return ks_buf_printf(out,
                       "{\"name\":\"%s\",\"versions\":[\"1\"],\"platform\":\"%s\","
                       "\"inputs\":%s,\"outputs\":%s}",
                       m->name, KS_NAME, m->inputs_json, m->outputs_json);
}

int ks_model_infer(const ks_model *m, const ks_infer_request *req, ks_infer_response *res,
                   char *err, size_t errlen)
{
  return m->infer(req, res, err, errlen);
}

int ks_model_list(ks_buf *out)
{
  int rc = ks_buf_puts(out, "[");
  for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
    rc |= ks_buf_printf(out, "%s\"%s\"", i ? "," : "", models[i].name);
  return rc | ks_buf_puts(out, "]");
}
