package kinfer

// #include <stdlib.h>
// #include "helpers.h"
import "C"

import (
	"fmt"
	"math"
	"strings"
	"unsafe"
)

// Request is an inference request (KServe InferRequest), built from typed
// Go slices.  A Request is only read by the calls it is passed to: it may be
// reused, and shared by goroutines that do not change it.
//
// The data is copied into C memory when the call is submitted, so the
// caller may change or reuse the slices as soon as Infer returns (even when
// it returns early because its context ended).
type Request struct {
	// ID is the request "id" (V2); sent only when not empty.
	ID string
	// Inputs are the input tensors, in order.
	Inputs []Input
	// Outputs names the outputs to return (V2 "outputs"); empty means all.
	Outputs []RequestedOutput
	// Parameters are the request-level parameters.
	Parameters Parameters
	// BinaryOutputs asks for every output in binary form
	// ("binary_data_output").
	BinaryOutputs bool
	// JSON, when not nil, is the whole request body (KServe's "dict" form,
	// V1 instances/inputs or V2 JSON): it must be one JSON object and is sent
	// as given; every other field but Idempotent is then ignored.
	JSON []byte
	// Idempotent declares this request safe to send again after its
	// connection was lost before an answer (as Config.Idempotent does for
	// every request), instead of failing with ErrUnknownOutcome.
	Idempotent bool
}

// Input is one input tensor.
type Input struct {
	// Name is the tensor's name.
	Name string
	// Datatype may be left empty: it is then inferred from Data.  FP16 and
	// BF16 must be named (their Data is []uint16).
	Datatype Datatype
	// Shape is the tensor's shape; nil means one dimension of len(Data).
	Shape []int64
	// Data holds the elements in row-major order as a typed slice: []bool,
	// []uint8, []uint16, []uint32, []uint64, []int8, []int16, []int32,
	// []int64, []float32, []float64, or [][]byte / []string for BYTES.
	Data any
	// Binary sends the tensor with the binary tensor extension (V2).
	Binary bool
	// Parameters are the tensor's parameters.
	Parameters Parameters
}

// RequestedOutput names an output to return.
type RequestedOutput struct {
	// Name is the output's name.
	Name string
	// Binary asks for this output in binary form.
	Binary bool
	// Parameters are the output's parameters.
	Parameters Parameters
}

// NewInput returns an input whose datatype is inferred from data and whose
// shape is shape, or one dimension of len(data) when shape is empty.
func NewInput(name string, data any, shape ...int64) Input {
	return Input{Name: name, Data: data, Shape: shape}
}

// AddInput appends an input and returns r, for chaining.
func (r *Request) AddInput(in Input) *Request {
	r.Inputs = append(r.Inputs, in)
	return r
}

func invalid(format string, args ...any) error {
	return &Error{Code: CodeInvalid, Message: fmt.Sprintf(format, args...)}
}

// checkString refuses strings C would cut short.
func checkString(what, s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return invalid("%s contains a NUL byte", what)
	}
	return nil
}

// newCRequest builds the C request; the caller frees it with
// kinfer_request_free.
func newCRequest(r *Request) (*C.kinfer_request, error) {
	if r == nil {
		return nil, invalid("nil request")
	}
	if r.JSON != nil {
		var cerr C.kinfer_error
		var p *C.char
		if len(r.JSON) > 0 {
			p = (*C.char)(unsafe.Pointer(&r.JSON[0]))
		}
		req := C.kinfer_request_from_json(p, C.size_t(len(r.JSON)), &cerr)
		if req == nil {
			return nil, cError(&cerr)
		}
		if r.Idempotent {
			C.kinfer_request_set_idempotent(req, true)
		}
		return req, nil
	}
	req := C.kinfer_request_new()
	if req == nil {
		return nil, &Error{Code: CodeNoMemory, Message: "out of memory"}
	}
	if err := fillCRequest(req, r); err != nil {
		C.kinfer_request_free(req)
		return nil, err
	}
	return req, nil
}

func fillCRequest(req *C.kinfer_request, r *Request) error {
	if r.Idempotent {
		C.kinfer_request_set_idempotent(req, true)
	}
	if r.ID != "" {
		if err := checkString("request id", r.ID); err != nil {
			return err
		}
		id := cstr(r.ID)
		if rc := C.kinfer_request_set_id(req, cptr(id)); rc != 0 {
			return &Error{Code: Code(rc), Message: "request id: " + Code(rc).String()}
		}
	}
	if err := setParams(C.kinfer_request_parameters(req), r.Parameters); err != nil {
		return err
	}
	for i := range r.Inputs {
		if err := addInput(req, &r.Inputs[i]); err != nil {
			return err
		}
	}
	for _, o := range r.Outputs {
		if err := checkString("output name", o.Name); err != nil {
			return err
		}
		name := cstr(o.Name)
		out := C.kinfer_request_add_output(req, cptr(name))
		if out == nil {
			return invalid("output %q cannot be added", o.Name)
		}
		if o.Binary {
			C.kinfer_requested_output_set_binary(out, true)
		}
		if err := setParams(C.kinfer_requested_output_parameters(out), o.Parameters); err != nil {
			return err
		}
	}
	if r.BinaryOutputs {
		C.kinfer_request_set_binary_outputs(req, true)
	}
	return nil
}

// addInput copies one Go input into the C request.  Go memory is passed to
// C only for the duration of each call (C copies it), as cgo's pointer
// rules allow; nothing is pinned.
func addInput(req *C.kinfer_request, in *Input) error {
	if err := checkString("input name", in.Name); err != nil {
		return err
	}
	dt := in.Datatype
	if dt == "" {
		var err error
		if dt, err = datatypeOf(in.Data); err != nil {
			return &Error{Code: CodeInput, Message: fmt.Sprintf("input %q: %v", in.Name, err)}
		}
	} else if !compatible(dt, in.Data) {
		return &Error{Code: CodeInput, Message: fmt.Sprintf("input %q: %T does not hold %s elements", in.Name, in.Data, dt)}
	}
	cdt, ok := datatypeC[dt]
	if !ok {
		return &Error{Code: CodeInput, Message: fmt.Sprintf("input %q: unknown datatype %q", in.Name, dt)}
	}
	shape := in.Shape
	if shape == nil {
		shape = []int64{int64(elementCount(in.Data))}
	}
	if err := checkShape(in.Name, shape, elementCount(in.Data)); err != nil {
		return err
	}
	if (dt == FP16 || dt == BF16) && !in.Binary {
		return &Error{Code: CodeInput, Message: fmt.Sprintf("input '%s': %s data can only be sent binary", in.Name, dt)}
	}
	var shapePtr *C.int64_t
	if len(shape) > 0 {
		shapePtr = (*C.int64_t)(unsafe.Pointer(&shape[0]))
	}
	name := cstr(in.Name)
	var binary C.int
	if in.Binary {
		binary = 1
	}
	var rc C.int
	var cin *C.kinfer_input
	if dt == Bytes {
		buf, lens := packBytes(in.Data)
		var bp *C.char
		var lp *C.size_t
		if len(buf) > 0 {
			bp = (*C.char)(unsafe.Pointer(&buf[0]))
		}
		if len(lens) > 0 {
			lp = &lens[0]
		}
		cin = C.gok_add_bytes_input(req, cptr(name), shapePtr, C.size_t(len(shape)),
			bp, lp, C.size_t(len(lens)), binary, &rc)
	} else {
		p, n := rawBytes(in.Data)
		cin = C.gok_add_input(req, cptr(name), C.int(cdt), shapePtr, C.size_t(len(shape)),
			p, C.size_t(n), binary, &rc)
	}
	if cin == nil {
		return &Error{Code: Code(rc), Message: fmt.Sprintf("input %q: %s", in.Name, Code(rc))}
	}
	return setParams(C.kinfer_input_parameters(cin), in.Parameters)
}

func elementCount(data any) int {
	switch d := data.(type) {
	case []bool:
		return len(d)
	case []uint8:
		return len(d)
	case []uint16:
		return len(d)
	case []uint32:
		return len(d)
	case []uint64:
		return len(d)
	case []int8:
		return len(d)
	case []int16:
		return len(d)
	case []int32:
		return len(d)
	case []int64:
		return len(d)
	case []float32:
		return len(d)
	case []float64:
		return len(d)
	case [][]byte:
		return len(d)
	case []string:
		return len(d)
	}
	return 0
}

// sliceBytes views a typed slice as its bytes (nil for an empty slice).
func sliceBytes[T any](s []T) (unsafe.Pointer, int) {
	if len(s) == 0 {
		return nil, 0
	}
	return unsafe.Pointer(&s[0]), len(s) * int(unsafe.Sizeof(s[0]))
}

// rawBytes returns the elements' memory: little-endian on the hosts Go
// runs kinfer on, and one byte per bool (Go stores bools as 0 or 1).
func rawBytes(data any) (unsafe.Pointer, int) {
	switch d := data.(type) {
	case []bool:
		return sliceBytes(d)
	case []uint8:
		return sliceBytes(d)
	case []uint16:
		return sliceBytes(d)
	case []uint32:
		return sliceBytes(d)
	case []uint64:
		return sliceBytes(d)
	case []int8:
		return sliceBytes(d)
	case []int16:
		return sliceBytes(d)
	case []int32:
		return sliceBytes(d)
	case []int64:
		return sliceBytes(d)
	case []float32:
		return sliceBytes(d)
	case []float64:
		return sliceBytes(d)
	}
	return nil, 0
}

// packBytes lays BYTES elements back to back, with their lengths.
func packBytes(data any) ([]byte, []C.size_t) {
	var total int
	switch d := data.(type) {
	case [][]byte:
		for _, e := range d {
			total += len(e)
		}
		buf := make([]byte, 0, total)
		lens := make([]C.size_t, len(d))
		for i, e := range d {
			buf = append(buf, e...)
			lens[i] = C.size_t(len(e))
		}
		return buf, lens
	case []string:
		for _, e := range d {
			total += len(e)
		}
		buf := make([]byte, 0, total)
		lens := make([]C.size_t, len(d))
		for i, e := range d {
			buf = append(buf, e...)
			lens[i] = C.size_t(len(e))
		}
		return buf, lens
	}
	return nil, nil
}

// checkShape checks that shape holds n elements, so that the C library's
// encoding errors (which kinfer_infer_cq reports as a bare code) are caught
// here with a message.
func checkShape(name string, shape []int64, n int) error {
	count := int64(1)
	for _, d := range shape {
		if d < 0 {
			return &Error{Code: CodeInput, Message: fmt.Sprintf("input '%s': negative dimension in shape %v", name, shape)}
		}
		if d != 0 && count > math.MaxInt64/d {
			return &Error{Code: CodeInput, Message: fmt.Sprintf("input '%s': shape %v is too large", name, shape)}
		}
		count *= d
	}
	if count != int64(n) {
		return &Error{Code: CodeInput, Message: fmt.Sprintf("input '%s': shape %v needs %d elements, data has %d", name, shape, count, n)}
	}
	return nil
}
