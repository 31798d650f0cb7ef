package kinfer

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// The protocol vectors in proto/vectors are decoded (and the request cases
// encoded) through the Go API.  The bodies go through a transport written in
// C (replay.go), so the whole C path runs except the network.

const vectorDir = "../../proto/vectors"

type vectorTensor struct {
	Name            string          `json:"name"`
	Datatype        Datatype        `json:"datatype"`
	Shape           []int64         `json:"shape"`
	Data            []any           `json:"data"`
	DataHex         *string         `json:"data_hex"`
	DataHexElements []string        `json:"data_hex_elements"`
	Binary          bool            `json:"binary"`
	Parameters      json.RawMessage `json:"parameters"`
}

type vectorCase struct {
	Body             string          `json:"body"`
	Mode             string          `json:"mode"`
	Protocol         string          `json:"protocol"`
	HeaderLength     *int            `json:"header_length"`
	ContentType      string          `json:"content_type"`
	Error            string          `json:"error"`
	ModelName        *string         `json:"model_name"`
	ModelVersion     *string         `json:"model_version"`
	ID               *string         `json:"id"`
	Outputs          []vectorTensor  `json:"outputs"`
	Inputs           []vectorTensor  `json:"inputs"`
	Parameters       json.RawMessage `json:"parameters"`
	BinaryDataOutput bool            `json:"binary_data_output"`
}

func loadVectors(t *testing.T, dir string) map[string]*vectorCase {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(vectorDir, dir, "*.expected.json"))
	if len(files) == 0 {
		t.Skipf("no vectors in %s", filepath.Join(vectorDir, dir))
	}
	cases := make(map[string]*vectorCase)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		var c vectorCase
		if err := d.Decode(&c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		cases[strings.TrimSuffix(filepath.Base(f), ".expected.json")] = &c
	}
	return cases
}

func TestResponseVectors(t *testing.T) {
	for _, dir := range []string{"v2", "v1"} {
		for name, vc := range loadVectors(t, dir) {
			t.Run(dir+"/"+name, func(t *testing.T) {
				body, err := os.ReadFile(filepath.Join(vectorDir, dir, vc.Body))
				if err != nil {
					t.Fatal(err)
				}
				proto := vc.Mode
				var opts []CallOption
				if vc.Mode == "auto" {
					proto = "v2"
					opts = append(opts, WithGraphEndpoint())
				}
				cl, rp, err := newReplayClient(Config{Protocol: proto})
				if err != nil {
					t.Fatal(err)
				}
				defer cl.Close()
				ctype, hlen := "application/json", ""
				if vc.HeaderLength != nil {
					ctype, hlen = "application/octet-stream", strconv.Itoa(*vc.HeaderLength)
				}
				rp.set(200, ctype, hlen, body)
				req := &Request{Inputs: []Input{NewInput("x", []int32{1})}}
				resp, err := cl.Infer(context.Background(), "http://vectors.invalid", "m", req, opts...)
				if vc.Error != "" {
					if !errors.Is(err, ErrBadResponse) {
						t.Fatalf("err = %v, want %s", err, vc.Error)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				checkField := func(what string, want *string, got string) {
					if want != nil && *want != got {
						t.Errorf("%s = %q, want %q", what, got, *want)
					}
				}
				checkField("model_name", vc.ModelName, resp.ModelName)
				checkField("model_version", vc.ModelVersion, resp.ModelVersion)
				checkField("id", vc.ID, resp.ID)
				if len(resp.Outputs) != len(vc.Outputs) {
					t.Fatalf("%d outputs, want %d: %+v", len(resp.Outputs), len(vc.Outputs), resp.Outputs)
				}
				for i, want := range vc.Outputs {
					got := resp.Outputs[i]
					if got.Name != want.Name || got.Datatype != want.Datatype || !reflect.DeepEqual(got.Shape, nonNil(want.Shape)) {
						t.Errorf("output %d: %s %s %v, want %s %s %v", i, got.Name, got.Datatype, got.Shape, want.Name, want.Datatype, want.Shape)
						continue
					}
					wantData, err := want.typed()
					if err != nil {
						t.Fatalf("output %s: %v", want.Name, err)
					}
					if !sameElements(got.Data, wantData) {
						t.Errorf("output %s: data %v, want %v", want.Name, got.Data, wantData)
					}
				}
			})
		}
	}
}

func nonNil(s []int64) []int64 {
	if s == nil {
		return []int64{}
	}
	return s
}

// sameElements compares typed slices, floats bit for bit.
func sameElements(got, want any) bool {
	switch w := want.(type) {
	case []float32:
		g, ok := got.([]float32)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if math.Float32bits(g[i]) != math.Float32bits(w[i]) {
				return false
			}
		}
		return true
	case []float64:
		g, ok := got.([]float64)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if math.Float64bits(g[i]) != math.Float64bits(w[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(got, want)
}

// typed returns a vector tensor's elements as the Go slice for its
// datatype.
func (v *vectorTensor) typed() (any, error) {
	if v.DataHex != nil {
		raw, err := hex.DecodeString(*v.DataHex)
		if err != nil {
			return nil, err
		}
		out := make([]uint16, len(raw)/2)
		for i := range out {
			out[i] = uint16(raw[2*i]) | uint16(raw[2*i+1])<<8
		}
		return out, nil
	}
	if v.DataHexElements != nil {
		out := make([][]byte, len(v.DataHexElements))
		for i, h := range v.DataHexElements {
			b, err := hex.DecodeString(h)
			if err != nil {
				return nil, err
			}
			out[i] = b
		}
		return out, nil
	}
	num := func(i int) string { return string(v.Data[i].(json.Number)) }
	n := len(v.Data)
	var err error
	ints := func(bits int, set func(i int, x int64)) {
		for i := 0; i < n && err == nil; i++ {
			var x int64
			x, err = strconv.ParseInt(num(i), 10, bits)
			set(i, x)
		}
	}
	uints := func(bits int, set func(i int, x uint64)) {
		for i := 0; i < n && err == nil; i++ {
			var x uint64
			x, err = strconv.ParseUint(num(i), 10, bits)
			set(i, x)
		}
	}
	var out any
	switch v.Datatype {
	case Bool:
		d := make([]bool, n)
		for i := range d {
			d[i] = v.Data[i].(bool)
		}
		out = d
	case Bytes:
		d := make([][]byte, n)
		for i := range d {
			d[i] = []byte(v.Data[i].(string))
		}
		out = d
	case Int8:
		d := make([]int8, n)
		ints(8, func(i int, x int64) { d[i] = int8(x) })
		out = d
	case Int16:
		d := make([]int16, n)
		ints(16, func(i int, x int64) { d[i] = int16(x) })
		out = d
	case Int32:
		d := make([]int32, n)
		ints(32, func(i int, x int64) { d[i] = int32(x) })
		out = d
	case Int64:
		d := make([]int64, n)
		ints(64, func(i int, x int64) { d[i] = x })
		out = d
	case Uint8:
		d := make([]uint8, n)
		uints(8, func(i int, x uint64) { d[i] = uint8(x) })
		out = d
	case Uint16:
		d := make([]uint16, n)
		uints(16, func(i int, x uint64) { d[i] = uint16(x) })
		out = d
	case Uint32:
		d := make([]uint32, n)
		uints(32, func(i int, x uint64) { d[i] = uint32(x) })
		out = d
	case Uint64:
		d := make([]uint64, n)
		uints(64, func(i int, x uint64) { d[i] = x })
		out = d
	case FP32:
		d := make([]float32, n)
		for i := 0; i < n && err == nil; i++ {
			var x float64
			x, err = strconv.ParseFloat(num(i), 32)
			d[i] = float32(x)
		}
		out = d
	case FP64:
		d := make([]float64, n)
		for i := 0; i < n && err == nil; i++ {
			d[i], err = strconv.ParseFloat(num(i), 64)
		}
		out = d
	default:
		return nil, fmt.Errorf("datatype %q has no data form", v.Datatype)
	}
	return out, err
}

// vectorParams reads a parameters object: integers as int64, other numbers
// as float64.
func vectorParams(raw json.RawMessage) (Parameters, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	p := make(Parameters, len(m))
	for k, v := range m {
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				p[k] = i
			} else if f, err := n.Float64(); err == nil {
				p[k] = f
			} else {
				return nil, err
			}
			continue
		}
		p[k] = v
	}
	return p, nil
}

func TestRequestVectors(t *testing.T) {
	for name, vc := range loadVectors(t, "requests") {
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join(vectorDir, "requests", vc.Body))
			if err != nil {
				t.Fatal(err)
			}
			req := &Request{BinaryOutputs: vc.BinaryDataOutput}
			if vc.ID != nil {
				req.ID = *vc.ID
			}
			if req.Parameters, err = vectorParams(vc.Parameters); err != nil {
				t.Fatal(err)
			}
			for _, in := range vc.Inputs {
				data, err := in.typed()
				if err != nil {
					t.Fatalf("input %s: %v", in.Name, err)
				}
				params, err := vectorParams(in.Parameters)
				if err != nil {
					t.Fatal(err)
				}
				req.AddInput(Input{Name: in.Name, Datatype: in.Datatype, Shape: nonNil(in.Shape),
					Data: data, Binary: in.Binary, Parameters: params})
			}
			for _, o := range vc.Outputs {
				params, err := vectorParams(o.Parameters)
				if err != nil {
					t.Fatal(err)
				}
				req.Outputs = append(req.Outputs, RequestedOutput{Name: o.Name, Binary: o.Binary, Parameters: params})
			}
			cl, rp, err := newReplayClient(Config{Protocol: vc.Protocol})
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			answer := `{"model_name":"m","outputs":[]}`
			if vc.Protocol == "v1" {
				answer = `{"predictions":[]}`
			}
			rp.set(200, "application/json", "", []byte(answer))
			if _, err := cl.Infer(context.Background(), "http://vectors.invalid", "m", req); err != nil {
				t.Fatalf("Infer: %v", err)
			}
			body, ctype, hlen, _ := rp.last()
			if !bytes.Equal(body, want) {
				t.Errorf("body\n got %q\nwant %q", body, want)
			}
			if vc.ContentType != "" && ctype != vc.ContentType {
				t.Errorf("Content-Type %q, want %q", ctype, vc.ContentType)
			}
			wantLen := ""
			if vc.HeaderLength != nil {
				wantLen = strconv.Itoa(*vc.HeaderLength)
			}
			if hlen != wantLen {
				t.Errorf("Inference-Header-Content-Length %q, want %q", hlen, wantLen)
			}
		})
	}
}
