package kinfer

// #include "helpers.h"
import "C"

import (
	"unsafe"
)

// Response is an inference answer (KServe InferResponse).  It lives in Go
// memory only: the C response is copied and freed before the call returns.
type Response struct {
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// ModelName, ModelVersion and ID are the V2 fields ("" when absent).
	ModelName    string
	ModelVersion string
	ID           string
	// Parameters are the response-level parameters (nil when absent).
	Parameters Parameters
	// Outputs are the decoded output tensors, in the answer's order.  A V1
	// answer whose "predictions" is a rectangular array of scalars has one
	// output named "predictions".
	Outputs []Tensor
	// JSON is the JSON text: the whole body, or the JSON part of a binary
	// extension body.
	JSON []byte
}

// Tensor is one output tensor.
type Tensor struct {
	// Name is the tensor's name.
	Name string
	// Datatype is the tensor's element type.
	Datatype Datatype
	// Shape is the tensor's shape (empty for a scalar).
	Shape []int64
	// Data holds the elements as the typed slice named at the Datatype
	// constants ([]float32 for FP32, [][]byte for BYTES, []uint16 holding
	// the bits for FP16 and BF16, ...).
	Data any
	// Parameters are the tensor's parameters (nil when absent).
	Parameters Parameters
}

// Output returns the output named name, or nil.
func (r *Response) Output(name string) *Tensor {
	for i := range r.Outputs {
		if r.Outputs[i].Name == name {
			return &r.Outputs[i]
		}
	}
	return nil
}

// Elements returns t's data as []T, and false when t is nil or its data is
// not a []T.
func Elements[T any](t *Tensor) ([]T, bool) {
	if t == nil {
		return nil, false
	}
	d, ok := t.Data.([]T)
	return d, ok
}

// Float32s returns the elements of an FP32 tensor, or nil.
func (t *Tensor) Float32s() []float32 { d, _ := Elements[float32](t); return d }

// Float64s returns the elements of an FP64 tensor, or nil.
func (t *Tensor) Float64s() []float64 { d, _ := Elements[float64](t); return d }

// Int32s returns the elements of an INT32 tensor, or nil.
func (t *Tensor) Int32s() []int32 { d, _ := Elements[int32](t); return d }

// Int64s returns the elements of an INT64 tensor, or nil.
func (t *Tensor) Int64s() []int64 { d, _ := Elements[int64](t); return d }

// Bools returns the elements of a BOOL tensor, or nil.
func (t *Tensor) Bools() []bool { d, _ := Elements[bool](t); return d }

// ByteStrings returns the elements of a BYTES tensor, or nil.
func (t *Tensor) ByteStrings() [][]byte { d, _ := Elements[[]byte](t); return d }

// goResponse copies a C response into Go memory.  The caller still frees
// the C response.
func goResponse(cr *C.kinfer_response) *Response {
	var info C.gok_response
	C.gok_response_info(cr, &info)
	r := &Response{
		StatusCode:   int(info.status),
		ModelName:    goStringOrEmpty(info.model_name),
		ModelVersion: goStringOrEmpty(info.model_version),
		ID:           goStringOrEmpty(info.id),
		Parameters:   getParams(info.params, info.nparams),
	}
	if info.json != nil {
		r.JSON = C.GoBytes(unsafe.Pointer(info.json), C.int(info.json_len))
	}
	if info.noutputs > 0 {
		r.Outputs = make([]Tensor, int(info.noutputs))
		for i := range r.Outputs {
			goTensor(cr, C.size_t(i), &r.Outputs[i])
		}
	}
	return r
}

func goStringOrEmpty(s *C.char) string {
	if s == nil {
		return ""
	}
	return C.GoString(s)
}

func goTensor(cr *C.kinfer_response, i C.size_t, t *Tensor) {
	var info C.gok_tensor
	C.gok_tensor_info(cr, i, &info)
	t.Name = goStringOrEmpty(info.name)
	t.Datatype = datatypeGo[C.kinfer_datatype(info.datatype)]
	t.Shape = make([]int64, int(info.ndim))
	if info.ndim > 0 {
		copy(t.Shape, unsafe.Slice((*int64)(unsafe.Pointer(info.shape)), int(info.ndim)))
	}
	t.Parameters = getParams(info.params, info.nparams)
	n := int(info.count)
	if t.Datatype == Bytes {
		elems := make([][]byte, n)
		if n > 0 {
			buf := make([]byte, int(info.bytes_total))
			lens := make([]C.size_t, n)
			var dst *C.char
			if len(buf) > 0 {
				dst = (*C.char)(unsafe.Pointer(&buf[0]))
			}
			C.gok_tensor_bytes(cr, i, &lens[0], dst, C.size_t(len(buf)))
			off := 0
			for k := range elems {
				l := int(lens[k])
				elems[k] = buf[off : off+l : off+l]
				off += l
			}
		}
		t.Data = elems
		return
	}
	var dst any
	switch t.Datatype {
	case Bool:
		dst = make([]bool, n)
	case Uint8:
		dst = make([]uint8, n)
	case Uint16, FP16, BF16:
		dst = make([]uint16, n)
	case Uint32:
		dst = make([]uint32, n)
	case Uint64:
		dst = make([]uint64, n)
	case Int8:
		dst = make([]int8, n)
	case Int16:
		dst = make([]int16, n)
	case Int32:
		dst = make([]int32, n)
	case Int64:
		dst = make([]int64, n)
	case FP32:
		dst = make([]float32, n)
	case FP64:
		dst = make([]float64, n)
	default:
		return
	}
	p, size := rawBytes(dst)
	if size > 0 && info.data != nil && int(info.nbytes) >= size {
		src := unsafe.Slice((*byte)(info.data), size)
		if b, ok := dst.([]bool); ok {
			// Go requires a bool's byte to be 0 or 1: convert, do not copy.
			for k := range b {
				b[k] = src[k] != 0
			}
		} else {
			// Copied as bytes: binary outputs are views into the body and
			// need not be aligned for their type.
			copy(unsafe.Slice((*byte)(p), size), src)
		}
	}
	t.Data = dst
}
