package kinfer

// #include <kinfer/kinfer.h>
import "C"

import "fmt"

// Datatype is a tensor element type, named as the protocol names it.
type Datatype string

// The protocol's datatypes and the Go slice type that holds each one's
// elements in an Input's Data or a Tensor's Data.
const (
	Bool   Datatype = "BOOL"   // []bool
	Uint8  Datatype = "UINT8"  // []uint8
	Uint16 Datatype = "UINT16" // []uint16
	Uint32 Datatype = "UINT32" // []uint32
	Uint64 Datatype = "UINT64" // []uint64
	Int8   Datatype = "INT8"   // []int8
	Int16  Datatype = "INT16"  // []int16
	Int32  Datatype = "INT32"  // []int32
	Int64  Datatype = "INT64"  // []int64
	FP16   Datatype = "FP16"   // []uint16, the IEEE half-precision bits
	FP32   Datatype = "FP32"   // []float32
	FP64   Datatype = "FP64"   // []float64
	Bytes  Datatype = "BYTES"  // [][]byte
	BF16   Datatype = "BF16"   // []uint16, the bfloat16 bits
)

var datatypeC = map[Datatype]C.kinfer_datatype{
	Bool: C.KINFER_BOOL, Uint8: C.KINFER_UINT8, Uint16: C.KINFER_UINT16,
	Uint32: C.KINFER_UINT32, Uint64: C.KINFER_UINT64, Int8: C.KINFER_INT8,
	Int16: C.KINFER_INT16, Int32: C.KINFER_INT32, Int64: C.KINFER_INT64,
	FP16: C.KINFER_FP16, FP32: C.KINFER_FP32, FP64: C.KINFER_FP64,
	Bytes: C.KINFER_BYTES, BF16: C.KINFER_BF16,
}

var datatypeGo = func() map[C.kinfer_datatype]Datatype {
	m := make(map[C.kinfer_datatype]Datatype, len(datatypeC))
	for g, c := range datatypeC {
		m[c] = g
	}
	return m
}()

// Size returns the bytes per element, or 0 for BYTES and unknown types.
func (d Datatype) Size() int {
	switch d {
	case Bool, Uint8, Int8:
		return 1
	case Uint16, Int16, FP16, BF16:
		return 2
	case Uint32, Int32, FP32:
		return 4
	case Uint64, Int64, FP64:
		return 8
	}
	return 0
}

// datatypeOf infers the datatype of a typed slice; FP16 and BF16 data
// ([]uint16) must name their datatype.
func datatypeOf(data any) (Datatype, error) {
	switch data.(type) {
	case []bool:
		return Bool, nil
	case []uint8:
		return Uint8, nil
	case []uint16:
		return Uint16, nil
	case []uint32:
		return Uint32, nil
	case []uint64:
		return Uint64, nil
	case []int8:
		return Int8, nil
	case []int16:
		return Int16, nil
	case []int32:
		return Int32, nil
	case []int64:
		return Int64, nil
	case []float32:
		return FP32, nil
	case []float64:
		return FP64, nil
	case [][]byte, []string:
		return Bytes, nil
	}
	return "", fmt.Errorf("kinfer: unsupported tensor data type %T", data)
}

// compatible reports whether data is the Go slice type for d.
func compatible(d Datatype, data any) bool {
	got, err := datatypeOf(data)
	if err != nil {
		return false
	}
	if d == FP16 || d == BF16 {
		return got == Uint16
	}
	return got == d
}
