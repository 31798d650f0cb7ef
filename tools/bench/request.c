/*
 * Building kinfer-bench's request once, from a V2 request JSON file: sent
 * as given, or with --binary as typed input tensors (binary extension)
 * whose data the request borrows.
 */
#include "bench.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The buffers a binary request borrows. */
struct kb_keep {
  void **bufs;
  size_t n;
};

void kb_request_data_free(void *keep) {
  struct kb_keep *k = keep;
  if (!k) return;
  for (size_t i = 0; i < k->n; i++) free(k->bufs[i]);
  free(k->bufs);
  free(k);
}

static void *keep_alloc(struct kb_keep *k, size_t n) {
  void **nb = realloc(k->bufs, (k->n + 1) * sizeof *nb);
  if (!nb) return NULL;
  k->bufs = nb;
  void *p = calloc(1, n ? n : 1);
  if (!p) return NULL;
  k->bufs[k->n++] = p;
  return p;
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "kinfer-bench: %s: %s\n", path, strerror(errno));
    return NULL;
  }
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  while (buf) {
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (n < cap) break;
    char *nb = realloc(buf, cap * 2);
    if (!nb) {
      free(buf);
      buf = NULL;
      break;
    }
    buf = nb;
    cap *= 2;
  }
  int rerr = ferror(f);
  if (f != stdin) fclose(f);
  if (!buf || rerr) {
    fprintf(stderr, "kinfer-bench: %s: %s\n", path,
            buf ? "read error" : "out of memory");
    free(buf);
    return NULL;
  }
  buf[n] = '\0'; /* the loop ends with n < cap */
  *len = n;
  return buf;
}

static uint16_t fp32_to_fp16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u;
  int32_t exp = (int32_t)((x >> 23) & 0xffu) - 127 + 15;
  uint32_t man = x & 0x7fffffu;
  if (((x >> 23) & 0xffu) == 0xffu) /* inf, nan */
    return (uint16_t)(sign | 0x7c00u | (man ? 0x200u : 0));
  if (exp >= 31) return (uint16_t)(sign | 0x7c00u);
  if (exp <= 0) {
    if (exp < -10) return (uint16_t)sign;
    man |= 0x800000u;
    uint32_t shift = (uint32_t)(14 - exp);
    uint32_t h = man >> shift;
    uint32_t rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1))) h++;
    return (uint16_t)(sign | h);
  }
  uint32_t h = ((uint32_t)exp << 10) | (man >> 13);
  uint32_t rem = man & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++; /* may carry to inf */
  return (uint16_t)(sign | h);
}

static uint16_t fp32_to_bf16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u);
  x += 0x7fffu + ((x >> 16) & 1u);
  return (uint16_t)(x >> 16);
}

/* Appends the elements of |v| (a number, bool, string or nested array) to
 * |out| as |dt|.  Returns 0 or -1 (wrong type or too many elements). */
struct flat {
  kinfer_datatype dt;
  unsigned char *buf; /* elements of fixed size */
  const char **strs;  /* BYTES */
  size_t *lens;
  size_t n, cap;
};

static int put(struct flat *f, json_object *v) {
  if (json_object_is_type(v, json_type_array)) {
    size_t n = json_object_array_length(v);
    for (size_t i = 0; i < n; i++)
      if (put(f, json_object_array_get_idx(v, i)) < 0) return -1;
    return 0;
  }
  if (f->n >= f->cap) return -1;
  size_t i = f->n++;
  enum json_type jt = json_object_get_type(v);
  if (f->dt == KINFER_BYTES) {
    if (jt != json_type_string) return -1;
    f->strs[i] = json_object_get_string(v);
    f->lens[i] = (size_t)json_object_get_string_len(v);
    return 0;
  }
  if (jt != json_type_int && jt != json_type_double && jt != json_type_boolean)
    return -1;
  double d = json_object_get_double(v);
  int64_t s = json_object_get_int64(v);
  unsigned char *p = f->buf + i * kinfer_datatype_size(f->dt);
  switch (f->dt) {
  case KINFER_BOOL: *p = d != 0; break;
  case KINFER_UINT8: *p = (uint8_t)s; break;
  case KINFER_INT8: *(int8_t *)p = (int8_t)s; break;
  case KINFER_UINT16: { uint16_t x = (uint16_t)s; memcpy(p, &x, 2); } break;
  case KINFER_INT16: { int16_t x = (int16_t)s; memcpy(p, &x, 2); } break;
  case KINFER_UINT32: { uint32_t x = (uint32_t)s; memcpy(p, &x, 4); } break;
  case KINFER_INT32: { int32_t x = (int32_t)s; memcpy(p, &x, 4); } break;
  case KINFER_UINT64: {
    uint64_t x = json_object_get_uint64(v);
    memcpy(p, &x, 8);
  } break;
  case KINFER_INT64: memcpy(p, &s, 8); break;
  case KINFER_FP16: { uint16_t x = fp32_to_fp16((float)d); memcpy(p, &x, 2); } break;
  case KINFER_BF16: { uint16_t x = fp32_to_bf16((float)d); memcpy(p, &x, 2); } break;
  case KINFER_FP32: { float x = (float)d; memcpy(p, &x, 4); } break;
  case KINFER_FP64: memcpy(p, &d, 8); break;
  default: return -1;
  }
  return 0;
}

static void copy_params(kinfer_params *dst, json_object *src) {
  if (!dst || !json_object_is_type(src, json_type_object)) return;
  json_object_object_foreach(src, key, val) {
    switch (json_object_get_type(val)) {
    case json_type_string:
      kinfer_params_set_string(dst, key, json_object_get_string(val));
      break;
    case json_type_int:
      kinfer_params_set_int(dst, key, json_object_get_int64(val));
      break;
    case json_type_boolean:
      kinfer_params_set_bool(dst, key, json_object_get_boolean(val));
      break;
    case json_type_double:
      kinfer_params_set_double(dst, key, json_object_get_double(val));
      break;
    default: break;
    }
  }
}

static int add_input(kinfer_request *req, struct kb_keep *keep, json_object *in,
                     size_t idx) {
  json_object *jname, *jdt, *jshape, *jdata, *jparams;
  if (!json_object_object_get_ex(in, "name", &jname) ||
      !json_object_object_get_ex(in, "datatype", &jdt) ||
      !json_object_object_get_ex(in, "shape", &jshape) ||
      !json_object_object_get_ex(in, "data", &jdata) ||
      !json_object_is_type(jshape, json_type_array)) {
    fprintf(stderr, "kinfer-bench: input %zu needs name, datatype, shape and "
                    "data\n", idx);
    return -1;
  }
  const char *name = json_object_get_string(jname);
  kinfer_datatype dt;
  if (kinfer_datatype_from_name(json_object_get_string(jdt), &dt) != KINFER_OK) {
    fprintf(stderr, "kinfer-bench: input %s: unknown datatype %s\n", name,
            json_object_get_string(jdt));
    return -1;
  }
  size_t ndim = json_object_array_length(jshape);
  int64_t shape[16];
  if (ndim > 16) {
    fprintf(stderr, "kinfer-bench: input %s: too many dimensions\n", name);
    return -1;
  }
  size_t count = 1;
  for (size_t d = 0; d < ndim; d++) {
    shape[d] = json_object_get_int64(json_object_array_get_idx(jshape, d));
    if (shape[d] < 0 || (shape[d] && count > SIZE_MAX / 16 / (size_t)shape[d])) {
      fprintf(stderr, "kinfer-bench: input %s: bad shape\n", name);
      return -1;
    }
    count *= (size_t)shape[d];
  }
  kinfer_input *ki = kinfer_request_add_input(req, name, dt, shape, ndim);
  if (!ki) {
    fprintf(stderr, "kinfer-bench: input %s: cannot add it\n", name);
    return -1;
  }
  if (json_object_object_get_ex(in, "parameters", &jparams)) {
    /* The library sets binary_data_size itself. */
    json_object *copy = NULL;
    json_object_deep_copy(jparams, &copy, NULL);
    if (copy) {
      json_object_object_del(copy, "binary_data_size");
      copy_params(kinfer_input_parameters(ki), copy);
      json_object_put(copy);
    }
  }
  struct flat f = {.dt = dt, .cap = count};
  size_t esize = kinfer_datatype_size(dt);
  int rc;
  if (dt == KINFER_BYTES) {
    f.strs = calloc(count ? count : 1, sizeof *f.strs);
    f.lens = calloc(count ? count : 1, sizeof *f.lens);
    rc = f.strs && f.lens ? put(&f, jdata) : -1;
    if (rc == 0 && f.n == count)
      rc = kinfer_input_set_bytes(ki, f.strs, f.lens, count) == KINFER_OK ? 0 : -1;
    free(f.strs);
    free(f.lens);
  } else {
    f.buf = keep_alloc(keep, count * esize);
    rc = f.buf ? put(&f, jdata) : -1;
    if (rc == 0 && f.n == count)
      rc = kinfer_input_borrow_data(ki, f.buf, count * esize) == KINFER_OK ? 0 : -1;
  }
  if (rc < 0 || f.n != count) {
    fprintf(stderr, "kinfer-bench: input %s: data does not match its shape "
                    "and datatype %s\n", name, kinfer_datatype_name(dt));
    return -1;
  }
  kinfer_input_set_binary(ki, true);
  return 0;
}

static kinfer_request *build_binary(json_object *root, struct kb_keep *keep) {
  json_object *inputs, *v;
  if (!json_object_object_get_ex(root, "inputs", &inputs) ||
      !json_object_is_type(inputs, json_type_array)) {
    fprintf(stderr, "kinfer-bench: --binary needs a V2 request with an "
                    "\"inputs\" array\n");
    return NULL;
  }
  kinfer_request *req = kinfer_request_new();
  if (!req) return NULL;
  if (json_object_object_get_ex(root, "id", &v))
    kinfer_request_set_id(req, json_object_get_string(v));
  size_t n = json_object_array_length(inputs);
  for (size_t i = 0; i < n; i++) {
    if (add_input(req, keep, json_object_array_get_idx(inputs, i), i) < 0) {
      kinfer_request_free(req);
      return NULL;
    }
  }
  json_object *outputs;
  if (json_object_object_get_ex(root, "outputs", &outputs) &&
      json_object_is_type(outputs, json_type_array)) {
    for (size_t i = 0; i < json_object_array_length(outputs); i++) {
      json_object *o = json_object_array_get_idx(outputs, i), *jn, *jp, *jb;
      if (!json_object_object_get_ex(o, "name", &jn)) continue;
      kinfer_requested_output *ro =
          kinfer_request_add_output(req, json_object_get_string(jn));
      if (ro && json_object_object_get_ex(o, "parameters", &jp) &&
          json_object_object_get_ex(jp, "binary_data", &jb))
        kinfer_requested_output_set_binary(ro, json_object_get_boolean(jb));
    }
  }
  if (json_object_object_get_ex(root, "parameters", &v)) {
    json_object *jb;
    if (json_object_object_get_ex(v, "binary_data_output", &jb))
      kinfer_request_set_binary_outputs(req, json_object_get_boolean(jb));
    json_object *copy = NULL;
    json_object_deep_copy(v, &copy, NULL);
    if (copy) {
      json_object_object_del(copy, "binary_data_output");
      copy_params(kinfer_request_parameters(req), copy);
      json_object_put(copy);
    }
  }
  return req;
}

kinfer_request *kb_request_load(const char *path, bool binary, void **keep) {
  *keep = NULL;
  size_t len;
  char *text = read_file(path, &len);
  if (!text) return NULL;
  kinfer_request *req = NULL;
  if (!binary) {
    kinfer_error err;
    req = kinfer_request_from_json(text, len, &err);
    if (!req) fprintf(stderr, "kinfer-bench: %s: %s\n", path, err.message);
    free(text);
    return req;
  }
  json_tokener *tok = json_tokener_new_ex(64);
  json_object *root = tok ? json_tokener_parse_ex(tok, text, (int)len) : NULL;
  if (!root || json_tokener_get_error(tok) != json_tokener_success ||
      !json_object_is_type(root, json_type_object)) {
    fprintf(stderr, "kinfer-bench: %s: not a JSON object\n", path);
  } else {
    struct kb_keep *k = calloc(1, sizeof *k);
    if (k) req = build_binary(root, k);
    if (req)
      *keep = k;
    else
      kb_request_data_free(k);
  }
  json_object_put(root);
  if (tok) json_tokener_free(tok);
  free(text);
  return req;
}
