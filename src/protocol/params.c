/*
 * Parameter maps: a small vector of key/value pairs in insertion order.
 * Maps are short (a handful of keys), so lookups are linear.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "numtext.h"
#include "proto_int.h"

kinfer_params *ki_params_new(void) { return calloc(1, sizeof(kinfer_params)); }

static void param_free_value(ki_param *it) {
  if (it->type == KI_PARAM_STRING) free(it->v.s);
  it->v.s = NULL;
}

void ki_params_clear(kinfer_params *p) {
  if (!p) return;
  for (size_t i = 0; i < p->count; i++) {
    param_free_value(&p->items[i]);
    free(p->items[i].key);
  }
  free(p->items);
  p->items = NULL;
  p->count = p->cap = 0;
}

void ki_params_free(kinfer_params *p) {
  ki_params_clear(p);
  free(p);
}

const ki_param *ki_params_find(const kinfer_params *p, const char *key) {
  if (!p || !key) return NULL;
  for (size_t i = 0; i < p->count; i++)
    if (strcmp(p->items[i].key, key) == 0) return &p->items[i];
  return NULL;
}

/* The slot for |key|: the existing one (value freed) or a new one. */
static ki_param *slot(kinfer_params *p, const char *key) {
  ki_param *it = (ki_param *)ki_params_find(p, key);
  if (it) {
    param_free_value(it);
    return it;
  }
  if (p->count == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 4;
    ki_param *items = realloc(p->items, cap * sizeof *items);
    if (!items) return NULL;
    p->items = items;
    p->cap = cap;
  }
  char *k = strdup(key);
  if (!k) return NULL;
  it = &p->items[p->count++];
  it->key = k;
  it->type = KI_PARAM_INT;
  it->v.i = 0;
  return it;
}

int kinfer_params_set_string(kinfer_params *p, const char *key,
                             const char *v) {
  if (!p || !key || !v) return KINFER_EINVAL;
  char *s = strdup(v);
  if (!s) return KINFER_ENOMEM;
  ki_param *it = slot(p, key);
  if (!it) {
    free(s);
    return KINFER_ENOMEM;
  }
  it->type = KI_PARAM_STRING;
  it->v.s = s;
  return KINFER_OK;
}

int kinfer_params_set_int(kinfer_params *p, const char *key, int64_t v) {
  if (!p || !key) return KINFER_EINVAL;
  ki_param *it = slot(p, key);
  if (!it) return KINFER_ENOMEM;
  it->type = KI_PARAM_INT;
  it->v.i = v;
  return KINFER_OK;
}

int kinfer_params_set_bool(kinfer_params *p, const char *key, bool v) {
  if (!p || !key) return KINFER_EINVAL;
  ki_param *it = slot(p, key);
  if (!it) return KINFER_ENOMEM;
  it->type = KI_PARAM_BOOL;
  it->v.b = v;
  return KINFER_OK;
}

int kinfer_params_set_double(kinfer_params *p, const char *key, double v) {
  /* JSON has no NaN or infinity, so such a value could never be sent. */
  if (!p || !key || !isfinite(v)) return KINFER_EINVAL;
  ki_param *it = slot(p, key);
  if (!it) return KINFER_ENOMEM;
  it->type = KI_PARAM_DOUBLE;
  it->v.d = v;
  return KINFER_OK;
}

static const ki_param *find_typed(const kinfer_params *p, const char *key,
                                  enum ki_param_type type, const void *out) {
  const ki_param *it = out ? ki_params_find(p, key) : NULL;
  return (it && it->type == type) ? it : NULL;
}

int kinfer_params_get_string(const kinfer_params *p, const char *key,
                             const char **v) {
  const ki_param *it = find_typed(p, key, KI_PARAM_STRING, v);
  if (!it) return KINFER_EINVAL;
  *v = it->v.s;
  return KINFER_OK;
}

int kinfer_params_get_int(const kinfer_params *p, const char *key,
                          int64_t *v) {
  const ki_param *it = find_typed(p, key, KI_PARAM_INT, v);
  if (!it) return KINFER_EINVAL;
  *v = it->v.i;
  return KINFER_OK;
}

int kinfer_params_get_bool(const kinfer_params *p, const char *key, bool *v) {
  const ki_param *it = find_typed(p, key, KI_PARAM_BOOL, v);
  if (!it) return KINFER_EINVAL;
  *v = it->v.b;
  return KINFER_OK;
}

int kinfer_params_get_double(const kinfer_params *p, const char *key,
                             double *v) {
  const ki_param *it = find_typed(p, key, KI_PARAM_DOUBLE, v);
  if (!it) return KINFER_EINVAL;
  *v = it->v.d;
  return KINFER_OK;
}

size_t kinfer_params_count(const kinfer_params *p) { return p ? p->count : 0; }

const char *kinfer_params_key(const kinfer_params *p, size_t i) {
  return (p && i < p->count) ? p->items[i].key : NULL;
}

/* ---- JSON --------------------------------------------------------------- */

static int write_value(ki_buf *b, const ki_param *it, kinfer_error *err) {
  char num[KI_NUM_BUFSIZE];
  switch (it->type) {
  case KI_PARAM_STRING:
    return ki_json_write_string(b, it->v.s, strlen(it->v.s));
  case KI_PARAM_INT:
    return ki_buf_append(b, num, ki_num_fmt_i64(num, it->v.i));
  case KI_PARAM_BOOL:
    return it->v.b ? ki_buf_append(b, "true", 4) : ki_buf_append(b, "false", 5);
  case KI_PARAM_DOUBLE:
    if (!isfinite(it->v.d))
      return ki_error_set(err, KINFER_EINPUT,
                          "parameter '%s' is not a finite number", it->key);
    return ki_buf_append(b, num, ki_num_fmt_f64(num, it->v.d));
  }
  return KINFER_EINVAL;
}

int ki_params_write_members(ki_buf *b, const kinfer_params *p,
                            const char *skip, bool *first, kinfer_error *err) {
  for (size_t i = 0; p && i < p->count; i++) {
    const ki_param *it = &p->items[i];
    if (skip && strcmp(it->key, skip) == 0) continue;
    int rc = *first ? KINFER_OK : ki_buf_append(b, ",", 1);
    *first = false;
    if (!rc) rc = ki_json_write_string(b, it->key, strlen(it->key));
    if (!rc) rc = ki_buf_append(b, ":", 1);
    if (!rc) rc = write_value(b, it, err);
    if (rc == KINFER_ENOMEM)
      return ki_error_set(err, KINFER_ENOMEM, "out of memory");
    if (rc) return rc;
  }
  return KINFER_OK;
}

static int add_json_member(kinfer_params *p, const char *key, json_object *v) {
  switch (json_object_get_type(v)) {
  case json_type_string:
    return kinfer_params_set_string(p, key, json_object_get_string(v));
  case json_type_int:
    return kinfer_params_set_int(p, key, json_object_get_int64(v));
  case json_type_boolean:
    return kinfer_params_set_bool(p, key, json_object_get_boolean(v));
  case json_type_double:
    return kinfer_params_set_double(p, key, json_object_get_double(v));
  default:
    return KINFER_OK; /* nested values have no place in the map */
  }
}

int ki_params_from_json(kinfer_params *p, json_object *obj) {
  if (!json_object_is_type(obj, json_type_object)) return KINFER_OK;
  json_object_object_foreach(obj, key, v) {
    int rc = add_json_member(p, key, v);
    if (rc) return rc;
  }
  return KINFER_OK;
}
