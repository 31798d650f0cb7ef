package kinfer

// #include "helpers.h"
import "C"

import (
	"fmt"
	"sort"
	"unsafe"
)

// Parameters is a V2 "parameters" map.  Values are string, bool, int64 (or
// any Go integer type, when sent) and float64 (or float32, when sent).
// Keys are sent in sorted order.
type Parameters map[string]any

// setParams copies p into the C map dst.
func setParams(dst *C.kinfer_params, p Parameters) error {
	if len(p) == 0 {
		return nil
	}
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var (
			kind C.int
			s    []byte
			i    int64
			b    C.int
			d    float64
		)
		switch v := p[k].(type) {
		case string:
			kind, s = C.GOK_PARAM_STRING, cstr(v)
		case bool:
			kind = C.GOK_PARAM_BOOL
			if v {
				b = 1
			}
		case int:
			kind, i = C.GOK_PARAM_INT, int64(v)
		case int8:
			kind, i = C.GOK_PARAM_INT, int64(v)
		case int16:
			kind, i = C.GOK_PARAM_INT, int64(v)
		case int32:
			kind, i = C.GOK_PARAM_INT, int64(v)
		case int64:
			kind, i = C.GOK_PARAM_INT, v
		case uint8:
			kind, i = C.GOK_PARAM_INT, int64(v)
		case uint16:
			kind, i = C.GOK_PARAM_INT, int64(v)
		case uint32:
			kind, i = C.GOK_PARAM_INT, int64(v)
		case float32:
			kind, d = C.GOK_PARAM_DOUBLE, float64(v)
		case float64:
			kind, d = C.GOK_PARAM_DOUBLE, v
		default:
			return &Error{Code: CodeInvalid, Message: fmt.Sprintf("parameter %q: unsupported value type %T", k, v)}
		}
		key := cstr(k)
		var sp *C.char
		if s != nil {
			sp = (*C.char)(unsafe.Pointer(&s[0]))
		}
		if rc := C.gok_params_set(dst, (*C.char)(unsafe.Pointer(&key[0])), kind, sp,
			C.int64_t(i), b, C.double(d)); rc != 0 {
			return &Error{Code: Code(rc), Message: fmt.Sprintf("parameter %q: %s", k, Code(rc))}
		}
	}
	return nil
}

// getParams copies the first n parameters of a C map into Go.
func getParams(p *C.kinfer_params, n C.size_t) Parameters {
	if n == 0 || p == nil {
		return nil
	}
	buf := make([]C.gok_param, int(n))
	C.gok_params(p, &buf[0], n)
	out := make(Parameters, len(buf))
	for _, e := range buf {
		if e.key == nil {
			continue
		}
		k := C.GoString(e.key)
		switch e.kind {
		case C.GOK_PARAM_STRING:
			out[k] = C.GoString(e.s)
		case C.GOK_PARAM_INT:
			out[k] = int64(e.i)
		case C.GOK_PARAM_BOOL:
			out[k] = e.b != 0
		case C.GOK_PARAM_DOUBLE:
			out[k] = float64(e.d)
		}
	}
	return out
}

// cstr returns s as NUL-terminated bytes in Go memory, for C calls that copy
// the string before they return.
func cstr(s string) []byte {
	b := make([]byte, len(s)+1)
	copy(b, s)
	return b
}

// cptr returns the C view of a cstr result (nil for nil).
func cptr(b []byte) *C.char {
	if b == nil {
		return nil
	}
	return (*C.char)(unsafe.Pointer(&b[0]))
}
