/*
 * Tensor datatypes: protocol names and element sizes.
 */
#include <string.h>

#include "proto_int.h"

static const struct {
  const char *name;
  size_t size;
} datatypes[] = {
    [KINFER_BOOL] = {"BOOL", 1},   [KINFER_UINT8] = {"UINT8", 1},
    [KINFER_UINT16] = {"UINT16", 2}, [KINFER_UINT32] = {"UINT32", 4},
    [KINFER_UINT64] = {"UINT64", 8}, [KINFER_INT8] = {"INT8", 1},
    [KINFER_INT16] = {"INT16", 2}, [KINFER_INT32] = {"INT32", 4},
    [KINFER_INT64] = {"INT64", 8}, [KINFER_FP16] = {"FP16", 2},
    [KINFER_FP32] = {"FP32", 4},   [KINFER_FP64] = {"FP64", 8},
    [KINFER_BYTES] = {"BYTES", 0}, [KINFER_BF16] = {"BF16", 2},
};

#define NDATATYPES (sizeof datatypes / sizeof datatypes[0])

static bool valid(kinfer_datatype t) {
  return (unsigned)t < NDATATYPES;
}

const char *kinfer_datatype_name(kinfer_datatype t) {
  return valid(t) ? datatypes[t].name : NULL;
}

size_t kinfer_datatype_size(kinfer_datatype t) {
  return valid(t) ? datatypes[t].size : 0;
}

int kinfer_datatype_from_name(const char *name, kinfer_datatype *out) {
  if (!name || !out) return KINFER_EINVAL;
  for (size_t i = 0; i < NDATATYPES; i++) {
    if (strcmp(name, datatypes[i].name) == 0) {
      *out = (kinfer_datatype)i;
      return KINFER_OK;
    }
  }
  return KINFER_EINVAL;
}
