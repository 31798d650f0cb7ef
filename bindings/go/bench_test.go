package kinfer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// The benchmarks run the same V2 call, add_sub with two FP32 [1,16] inputs
// as JSON, from 100 goroutines at once: through one kinfer Client, and
// through Go's own net/http with encoding/json, over HTTP/1.1 and h2c.  One
// op is one call; req/s is the throughput.  testdata/bench_request.json is
// the same body, for kinfer-bench --data.

const benchGoroutines = 100

var benchA, benchB = benchInputs()

func benchInputs() ([]float32, []float32) {
	a, b := make([]float32, 16), make([]float32, 16)
	for i := range a {
		a[i], b[i] = float32(i)*0.5, 1.25
	}
	return a, b
}

// cpuTime is the CPU time this process has used, all threads (the C
// library's included).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runParallel runs body from benchGoroutines goroutines and reports req/s
// and the client's CPU time per call (the server runs in another process),
// which a loaded machine disturbs less than the throughput.
func runParallel(b *testing.B, body func() error) {
	b.SetParallelism((benchGoroutines + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ReportAllocs()
	cpu0 := cpuTime()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := body(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-us/op")
}

func BenchmarkInfer(b *testing.B) {
	url := plainServer.URL(b)
	jsonBody, err := os.ReadFile(benchRequestFile)
	if err != nil {
		b.Fatal(err)
	}
	// typed: typed slices, which the C library encodes as JSON; body: the
	// JSON body as given (kinfer-bench --data); binary: typed slices sent
	// with the binary tensor extension, JSON answer (kinfer-bench --binary);
	// binary-io: binary both ways.
	requests := []struct {
		name string
		req  *Request
	}{
		{"typed", &Request{Inputs: []Input{
			NewInput("INPUT0", benchA, 1, 16), NewInput("INPUT1", benchB, 1, 16)}}},
		{"body", &Request{JSON: jsonBody}},
		{"binary", &Request{Inputs: []Input{
			{Name: "INPUT0", Data: benchA, Shape: []int64{1, 16}, Binary: true},
			{Name: "INPUT1", Data: benchB, Shape: []int64{1, 16}, Binary: true}}}},
		{"binary-io", &Request{BinaryOutputs: true, Inputs: []Input{
			{Name: "INPUT0", Data: benchA, Shape: []int64{1, 16}, Binary: true},
			{Name: "INPUT1", Data: benchB, Shape: []int64{1, 16}, Binary: true}}}},
	}
	for _, h2 := range []bool{false, true} {
		for _, r := range requests {
			name := "kinfer/http1/" + r.name
			if h2 {
				name = "kinfer/h2c/" + r.name
			}
			b.Run(name, func(b *testing.B) {
				cl := newTestClient(b, Config{Protocol: "v2", HTTP2: h2})
				ctx := context.Background()
				runParallel(b, func() error {
					resp, err := cl.Infer(ctx, url, "add_sub", r.req)
					if err != nil {
						return err
					}
					if s := resp.Output("OUTPUT0").Float32s(); len(s) != 16 || s[2] != 2.25 {
						return fmt.Errorf("wrong answer %v", s)
					}
					return nil
				})
			})
		}
	}
	for _, h2 := range []bool{false, true} {
		name := "nethttp/http1"
		if h2 {
			name = "nethttp/h2c"
		}
		b.Run(name, func(b *testing.B) {
			tr := &http.Transport{MaxIdleConnsPerHost: benchGoroutines, MaxConnsPerHost: benchGoroutines}
			if h2 {
				tr.Protocols = new(http.Protocols)
				tr.Protocols.SetUnencryptedHTTP2(true)
			}
			defer tr.CloseIdleConnections()
			hc := &http.Client{Transport: tr, Timeout: 60 * time.Second}
			endpoint := url + "/v2/models/add_sub/infer"
			runParallel(b, func() error { return netHTTPInfer(hc, endpoint, h2) })
		})
	}
}

type v2Tensor struct {
	Name     string    `json:"name"`
	Shape    []int64   `json:"shape"`
	Datatype string    `json:"datatype"`
	Data     []float32 `json:"data"`
}

type v2Request struct {
	Inputs []v2Tensor `json:"inputs"`
}

type v2Response struct {
	ModelName string     `json:"model_name"`
	ID        string     `json:"id"`
	Outputs   []v2Tensor `json:"outputs"`
}

func benchBody() v2Request {
	return v2Request{Inputs: []v2Tensor{
		{Name: "INPUT0", Shape: []int64{1, 16}, Datatype: "FP32", Data: benchA},
		{Name: "INPUT1", Shape: []int64{1, 16}, Datatype: "FP32", Data: benchB},
	}}
}

// netHTTPInfer is the same V2 call done with the standard library only.
func netHTTPInfer(hc *http.Client, endpoint string, h2 bool) error {
	body, err := json.Marshal(benchBody())
	if err != nil {
		return err
	}
	resp, err := hc.Post(endpoint, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if h2 && resp.ProtoMajor != 2 {
		return fmt.Errorf("not HTTP/2: %s", resp.Proto)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	var out v2Response
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return err
	}
	if len(out.Outputs) == 0 || len(out.Outputs[0].Data) != 16 || out.Outputs[0].Data[2] != 2.25 {
		return fmt.Errorf("wrong answer %+v", out)
	}
	return nil
}

// benchRequestFile is the benchmark's request body, which kinfer-bench
// sends too (bench.sh).
const benchRequestFile = "testdata/bench_request.json"

// The file and the typed request the benchmarks build are the same call.
func TestBenchRequestFile(t *testing.T) {
	want, err := json.Marshal(benchBody())
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(benchRequestFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(got), want) {
		t.Errorf("%s is\n%s\nwant\n%s", benchRequestFile, got, want)
	}
}
