package kinfer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func addSubRequest(a, b any) *Request {
	return &Request{Inputs: []Input{NewInput("INPUT0", a), NewInput("INPUT1", b)}}
}

func TestInferAddSub(t *testing.T) {
	url := plainServer.URL(t)
	tests := []struct {
		name   string
		http2  bool
		binary bool
		a, b   any
		sum    any
		diff   any
	}{
		{"int32 http1", false, false, []int32{1, 2, 3}, []int32{4, 5, 6}, []int32{5, 7, 9}, []int32{-3, -3, -3}},
		{"int32 h2c", true, false, []int32{1, 2, 3}, []int32{4, 5, 6}, []int32{5, 7, 9}, []int32{-3, -3, -3}},
		{"fp32 h2c binary", true, true, []float32{0.5, 1}, []float32{0.25, 3}, []float32{0.75, 4}, []float32{0.25, -2}},
		{"fp32 http1 binary", false, true, []float32{1.5}, []float32{1}, []float32{2.5}, []float32{0.5}},
		{"int32 wraps", false, false, []int32{math.MaxInt32}, []int32{1}, []int32{math.MinInt32}, []int32{math.MaxInt32 - 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cl := newTestClient(t, Config{Protocol: "v2", HTTP2: tc.http2})
			req := addSubRequest(tc.a, tc.b)
			for i := range req.Inputs {
				req.Inputs[i].Binary = tc.binary
			}
			req.BinaryOutputs = tc.binary
			resp, err := cl.Infer(context.Background(), url, "add_sub", req)
			if err != nil {
				t.Fatalf("Infer: %v", err)
			}
			if resp.ModelName != "add_sub" || resp.StatusCode != 200 {
				t.Errorf("model %q status %d", resp.ModelName, resp.StatusCode)
			}
			if got := resp.Output("OUTPUT0"); got == nil || !reflect.DeepEqual(got.Data, tc.sum) {
				t.Errorf("OUTPUT0 = %+v, want %v", got, tc.sum)
			}
			if got := resp.Output("OUTPUT1"); got == nil || !reflect.DeepEqual(got.Data, tc.diff) {
				t.Errorf("OUTPUT1 = %+v, want %v", got, tc.diff)
			}
			if len(resp.JSON) == 0 || resp.JSON[0] != '{' {
				t.Errorf("JSON = %q", resp.JSON)
			}
		})
	}
}

// Every datatype goes to the echo model and back, as JSON and binary.
func TestEchoDatatypes(t *testing.T) {
	url := plainServer.URL(t)
	cl := newTestClient(t, Config{Protocol: "v2", HTTP2: true})
	inputs := []Input{
		{Name: "b", Data: []bool{true, false, true}},
		{Name: "u8", Data: []uint8{0, 255}},
		{Name: "u16", Data: []uint16{0, 65535}},
		{Name: "u32", Data: []uint32{0, math.MaxUint32}},
		{Name: "u64", Data: []uint64{0, math.MaxUint64}},
		{Name: "i8", Data: []int8{-128, 127}},
		{Name: "i16", Data: []int16{-32768, 32767}},
		{Name: "i32", Data: []int32{math.MinInt32, math.MaxInt32}},
		{Name: "i64", Data: []int64{math.MinInt64, math.MaxInt64}, Shape: []int64{1, 2}},
		{Name: "f32", Data: []float32{0.1, float32(math.Copysign(0, -1)), 3e38}},
		{Name: "f64", Data: []float64{0.1, -2.5e-300, math.MaxFloat64}},
		{Name: "s", Data: [][]byte{[]byte("hi"), {}, {0xff, 0}}},
		{Name: "str", Data: []string{"tab\there", "ünï"}},
	}
	want := func(in Input) any {
		if s, ok := in.Data.([]string); ok {
			out := make([][]byte, len(s))
			for i := range s {
				out[i] = []byte(s[i])
			}
			return out
		}
		return in.Data
	}
	for _, binary := range []bool{false, true} {
		t.Run(fmt.Sprintf("binary=%v", binary), func(t *testing.T) {
			req := &Request{ID: "req-1", Parameters: Parameters{"p": "v", "n": 7}, BinaryOutputs: binary}
			for _, in := range inputs {
				in.Binary = binary
				if _, ok := in.Data.([][]byte); ok && !binary {
					continue // a 0xff byte cannot be sent as JSON text
				}
				req.AddInput(in)
			}
			if binary {
				req.AddInput(Input{Name: "h", Datatype: FP16, Data: []uint16{0x3c00, 0xc000}, Binary: true})
				req.AddInput(Input{Name: "bf", Datatype: BF16, Data: []uint16{0x3f80}, Binary: true})
			}
			resp, err := cl.Infer(context.Background(), url, "echo", req)
			if err != nil {
				t.Fatalf("Infer: %v", err)
			}
			if resp.ID != "req-1" {
				t.Errorf("ID = %q", resp.ID)
			}
			wantParams := Parameters{"p": "v", "n": int64(7)}
			if binary {
				wantParams["binary_data_output"] = true
			}
			if !reflect.DeepEqual(resp.Parameters, wantParams) {
				t.Errorf("Parameters = %v", resp.Parameters)
			}
			if len(resp.Outputs) != len(req.Inputs) {
				t.Fatalf("%d outputs, want %d", len(resp.Outputs), len(req.Inputs))
			}
			for i, in := range req.Inputs {
				out := resp.Outputs[i]
				wantDT := in.Datatype
				if wantDT == "" {
					wantDT, _ = datatypeOf(in.Data)
				}
				wantShape := in.Shape
				if wantShape == nil {
					wantShape = []int64{int64(elementCount(in.Data))}
				}
				if out.Name != fmt.Sprintf("output-%d", i) || out.Datatype != wantDT ||
					!reflect.DeepEqual(out.Shape, wantShape) || !reflect.DeepEqual(out.Data, want(in)) {
					t.Errorf("input %s came back as %+v", in.Name, out)
				}
			}
		})
	}
}

func TestHealth(t *testing.T) {
	url := plainServer.URL(t)
	v1 := newTestClient(t, Config{Protocol: "v1"})
	v2 := newTestClient(t, Config{Protocol: "v2", HTTP2: true})
	ctx := context.Background()
	tests := []struct {
		name    string
		call    func() (bool, error)
		want    bool
		wantErr Code
	}{
		{"v2 server ready", func() (bool, error) { return v2.IsServerReady(ctx, url) }, true, 0},
		{"v2 server live", func() (bool, error) { return v2.IsServerLive(ctx, url) }, true, 0},
		{"v2 model ready", func() (bool, error) { return v2.IsModelReady(ctx, url, "echo") }, true, 0},
		{"v2 model not ready", func() (bool, error) { return v2.IsModelReady(ctx, url, "not_ready") }, false, 0},
		{"v2 unknown model", func() (bool, error) { return v2.IsModelReady(ctx, url, "nope") }, false, 0},
		{"v1 server live", func() (bool, error) { return v1.IsServerLive(ctx, url) }, true, 0},
		{"v1 model ready", func() (bool, error) { return v1.IsModelReady(ctx, url, "add_sub") }, true, 0},
		{"v1 model not ready", func() (bool, error) { return v1.IsModelReady(ctx, url, "not_ready") }, false, 0},
		{"v1 server ready unsupported", func() (bool, error) { return v1.IsServerReady(ctx, url) }, false, CodeUnsupported},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.call()
			if tc.wantErr != 0 {
				var e *Error
				if !errors.As(err, &e) || e.Code != tc.wantErr {
					t.Fatalf("err = %v, want code %v", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("= %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	url := plainServer.URL(t)
	v2 := newTestClient(t, Config{Protocol: "v2"})
	ctx := context.Background()
	good := addSubRequest([]int32{1}, []int32{2})
	closed := closedPort(t)
	tests := []struct {
		name     string
		client   *Client
		url      string
		model    string
		req      *Request
		class    error // a sentinel errors.Is must match, or nil
		code     Code
		status   int    // for an *HTTPError
		contains string // in the message
	}{
		{"unknown model", v2, url, "nope", good, ErrHTTP, CodeHTTP, 404, "Model with name nope does not exist."},
		{"bad input", v2, url, "add_sub", addSubRequest([]int32{1}, []float32{2}), ErrHTTP, CodeHTTP, 400, ""},
		{"bad url", v2, "ftp://x", "add_sub", good, nil, CodeURL, 0, "Base url should have"},
		{"no model", v2, url, "", good, nil, CodeInvalid, 0, "model_name should not be 'None'"},
		{"refused", v2, closed, "add_sub", good, ErrNotRun, CodeConnect, 0, ""},
		{"fp16 as json", v2, url, "echo", &Request{Inputs: []Input{{Name: "h", Datatype: FP16, Data: []uint16{1}}}}, nil, CodeInput, 0, ""},
		{"wrong slice", v2, url, "echo", &Request{Inputs: []Input{{Name: "x", Datatype: FP32, Data: []int32{1}}}}, nil, CodeInput, 0, ""},
		{"shape mismatch", v2, url, "echo", &Request{Inputs: []Input{{Name: "x", Shape: []int64{3}, Data: []int32{1}}}}, nil, CodeInput, 0, ""},
		{"bad json body", v2, url, "echo", &Request{JSON: []byte("[1]")}, nil, CodeInvalid, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := tc.client.Infer(ctx, tc.url, tc.model, tc.req)
			if err == nil {
				t.Fatalf("no error, response %+v", resp)
			}
			if tc.class != nil && !errors.Is(err, tc.class) {
				t.Errorf("%v is not %v", err, tc.class)
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != tc.code {
				t.Errorf("err = %#v, want code %v", err, tc.code)
			}
			var he *HTTPError
			if got := errors.As(err, &he); got != (tc.status != 0) || (got && he.StatusCode != tc.status) {
				t.Errorf("HTTPError %v = %+v, want status %d", got, he, tc.status)
			}
			if !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("message %q does not contain %q", err, tc.contains)
			}
			for _, other := range []error{ErrTimeout, ErrCancelled, ErrTLS, ErrLimit, ErrUnknownOutcome, ErrBadResponse} {
				if errors.Is(err, other) {
					t.Errorf("%v also matches %v", err, other)
				}
			}
		})
	}
}

func TestLimit(t *testing.T) {
	url := plainServer.URL(t)
	cl := newTestClient(t, Config{Protocol: "v2", MaxResponseBytes: 64})
	_, err := cl.Infer(context.Background(), url, "echo",
		&Request{Inputs: []Input{NewInput("x", make([]float64, 100))}})
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("err = %v, want ErrLimit", err)
	}
}

// 200 goroutines share one client, over HTTP/1.1 and h2c.
func TestConcurrentSharedClient(t *testing.T) {
	url := plainServer.URL(t)
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("http2=%v", h2), func(t *testing.T) {
			cl := newTestClient(t, Config{Protocol: "v2", HTTP2: h2, MaxConnections: 16})
			const goroutines, calls = 200, 10
			var wg sync.WaitGroup
			errs := make(chan error, goroutines)
			for g := 0; g < goroutines; g++ {
				wg.Add(1)
				go func(g int) {
					defer wg.Done()
					for i := 0; i < calls; i++ {
						a, b := int32(g), int32(i)
						req := addSubRequest([]int32{a, 1}, []int32{b, 1})
						req.ID = fmt.Sprintf("%d-%d", g, i)
						req.Inputs[0].Binary = i%2 == 0
						resp, err := cl.Infer(context.Background(), url, "add_sub", req)
						if err != nil {
							errs <- err
							return
						}
						if resp.ID != req.ID || !reflect.DeepEqual(resp.Output("OUTPUT0").Int32s(), []int32{a + b, 2}) {
							errs <- fmt.Errorf("call %s: wrong answer %+v", req.ID, resp)
							return
						}
					}
				}(g)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if s := cl.Stats(); s.Successes != goroutines*calls {
				t.Errorf("stats: %+v", s)
			}
		})
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// A cancelled context returns at once; the late answer is dropped by the
// poller.
func TestCancelMidCall(t *testing.T) {
	url := slowServer.URL(t)
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("http2=%v", h2), func(t *testing.T) {
			cl := newTestClient(t, Config{Protocol: "v2", HTTP2: h2})
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			start := time.Now()
			_, err := cl.Infer(ctx, url, "add_sub", addSubRequest([]int32{1}, []int32{2}))
			if took := time.Since(start); took > 700*time.Millisecond {
				t.Errorf("returned after %v", took)
			}
			if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrCancelled) {
				t.Fatalf("err = %v, want context.Canceled and ErrCancelled", err)
			}
			waitFor(t, "the late completion", func() bool { return cl.discarded.Load() == 1 })
			// The client still works.
			ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel2()
			if _, err := cl.Infer(ctx2, url, "add_sub", addSubRequest([]int32{1}, []int32{2})); err != nil {
				t.Fatalf("after cancel: %v", err)
			}
		})
	}
}

func TestContextDeadline(t *testing.T) {
	url := slowServer.URL(t)
	cl := newTestClient(t, Config{Protocol: "v2"})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := cl.Infer(ctx, url, "add_sub", addSubRequest([]int32{1}, []int32{2}))
	if took := time.Since(start); took > time.Second {
		t.Errorf("returned after %v", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want DeadlineExceeded and ErrTimeout", err)
	}
	// Health calls take the deadline as their timeout too.
	if _, err := cl.IsModelReady(ctx, url, "echo"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("after the deadline: %v", err)
	}
}

// The client's own timeout fails the call in C, without a context deadline.
func TestConfigTimeout(t *testing.T) {
	url := slowServer.URL(t)
	cl := newTestClient(t, Config{Protocol: "v2", Timeout: 200 * time.Millisecond})
	_, err := cl.Infer(context.Background(), url, "add_sub", addSubRequest([]int32{1}, []int32{2}))
	var e *Error
	if !errors.Is(err, ErrTimeout) || !errors.As(err, &e) || !e.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrTimeout only", err)
	}
}

func TestCloseWithCallsInFlight(t *testing.T) {
	url := slowServer.URL(t)
	cl, err := NewClient(Config{Protocol: "v2", HTTP2: true})
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			_, err := cl.Infer(context.Background(), url, "add_sub", addSubRequest([]int32{1}, []int32{2}))
			errs <- err
		}()
	}
	time.Sleep(300 * time.Millisecond) // the server answers after 1.5 s
	cl.Close()
	for i := 0; i < n; i++ {
		if err := <-errs; !errors.Is(err, ErrCancelled) {
			t.Errorf("call %d: %v, want ErrCancelled", i, err)
		}
	}
	_, err = cl.Infer(context.Background(), url, "add_sub", addSubRequest([]int32{1}, []int32{2}))
	if !errors.Is(err, ErrClosed) || !errors.Is(err, ErrCancelled) {
		t.Errorf("after Close: %v", err)
	}
	if _, err := cl.IsServerLive(context.Background(), url); !errors.Is(err, ErrClosed) {
		t.Errorf("health after Close: %v", err)
	}
	cl.Close() // idempotent
}

func TestHeadersAndGraph(t *testing.T) {
	url := plainServer.URL(t)
	cl := newTestClient(t, Config{Protocol: "v2", HTTP2: true})
	hdr := http.Header{"Stale": {"x"}}
	resp, err := cl.Infer(context.Background(), url, "add_sub", addSubRequest([]int32{1}, []int32{2}),
		WithHeaders(http.Header{"X-Trace": {"abc"}}), WithResponseHeaders(hdr))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Output("OUTPUT0").Int32s()[0] != 3 {
		t.Errorf("answer %+v", resp)
	}
	if hdr.Get("Content-Type") == "" || hdr.Get("Stale") != "" {
		t.Errorf("response headers %v", hdr)
	}
	// A graph endpoint is the base URL itself.
	resp, err = cl.Infer(context.Background(), url+"/v2/models/add_sub/infer", "",
		addSubRequest([]int32{5}, []int32{2}), WithGraphEndpoint())
	if err != nil || resp.Output("OUTPUT1").Int32s()[0] != 3 {
		t.Fatalf("graph: %+v, %v", resp, err)
	}
	if _, err := cl.Infer(context.Background(), url, "add_sub", addSubRequest([]int32{1}, []int32{2}),
		WithHeaders(http.Header{"Bad": {"a\r\nb"}})); err == nil {
		t.Errorf("a header with CR LF was accepted")
	}
}

func TestV1AndExplain(t *testing.T) {
	url := plainServer.URL(t)
	cl := newTestClient(t, Config{Protocol: "v1"})
	req := &Request{Inputs: []Input{NewInput("x", []int64{1, 2, 3, 4}, 2, 2)}}
	resp, err := cl.Infer(context.Background(), url, "echo", req)
	if err != nil {
		t.Fatal(err)
	}
	if p := resp.Output("predictions"); p == nil || !reflect.DeepEqual(p.Int64s(), []int64{1, 2, 3, 4}) ||
		!reflect.DeepEqual(p.Shape, []int64{2, 2}) {
		t.Errorf("predictions %+v", p)
	}
	resp, err = cl.Explain(context.Background(), url, "echo", &Request{JSON: []byte(`{"instances":[[1.5]]}`)})
	if err != nil || !strings.Contains(string(resp.JSON), "1.5") {
		t.Fatalf("Explain: %v %s", err, resp.JSON)
	}
	v2 := newTestClient(t, Config{Protocol: "v2"})
	if _, err := v2.Explain(context.Background(), url, "echo", req); err == nil {
		t.Errorf("v2 Explain succeeded")
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"retries", Config{Retries: 1000}},
		{"timeout", Config{Timeout: -5}},
		{"split and whole", Config{Timeout: time.Second, ReadTimeout: time.Second}},
		{"both auths", Config{BasicAuth: &BasicAuth{"u", "p"}, BearerToken: "t"}},
		{"nul", Config{Protocol: "v2\x00"}},
		{"retry status", Config{RetryOnStatus: []int{200}}},
		{"keepalive", Config{KeepaliveTimeout: -3 * time.Second}},
		{"h2 connections", Config{MaxH2Connections: 5000}},
		{"h2 window", Config{H2StreamWindow: 100}},
		{"retry budget", Config{RetryBudget: &RetryBudget{Ratio: 0.1, PerSecond: -1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cl, err := NewClient(tc.cfg)
			if err == nil {
				cl.Close()
				t.Fatal("accepted")
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeInvalid {
				t.Errorf("err = %v", err)
			}
		})
	}
	cl, err := NewClient(Config{Protocol: "v3", Retries: NoRetries, ConnectTimeout: time.Second,
		BearerToken: "secret", MaxConnections: 2, RetryBackoffBase: time.Millisecond,
		RetryOnStatus: []int{503}, Idempotent: true, KeepaliveInterval: NoTimeout})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	_, err = cl.Infer(context.Background(), closedPort(t), "m", addSubRequest([]int32{1}, []int32{1}))
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeUnsupported || !strings.Contains(e.Message, "Unsupported protocol v3.") {
		t.Errorf("v3: %v", err)
	}
}

// closedPort returns the URL of a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close()
	return url
}

// The retry budget bounds retries across calls: with every stream refused
// and no refill, the bucket's 10 tokens are all the retries there are.
func TestRetryBudget(t *testing.T) {
	url := refuseServer.URL(t)
	cl := newTestClient(t, Config{Protocol: "v2", HTTP2: true, Retries: 3,
		RetryBackoffBase: time.Millisecond, RetryBackoffCap: 2 * time.Millisecond,
		RetryBudget: &RetryBudget{Ratio: 0, PerSecond: 0}})
	attempts := 0
	for i := 0; i < 6; i++ {
		_, err := cl.Infer(context.Background(), url, "add_sub", addSubRequest([]int32{1}, []int32{2}))
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeRefused || !errors.Is(err, ErrNotRun) {
			t.Fatalf("call %d: err = %v", i, err)
		}
		attempts += e.Attempts
	}
	if attempts != 6+10 {
		t.Errorf("attempts = %d, want 16 (6 calls, 10 retries)", attempts)
	}
}

// Request.Idempotent lets that one request be resent after its connection
// was lost once it was written; other requests are not.
func TestRequestIdempotent(t *testing.T) {
	url := dropServer.URL(t)
	cl := newTestClient(t, Config{Protocol: "v2", Retries: 2, RetryBackoffBase: time.Millisecond})
	plain := addSubRequest([]int32{1}, []int32{2})
	_, err := cl.Infer(context.Background(), url, "add_sub", plain)
	var e *Error
	if !errors.Is(err, ErrUnknownOutcome) || !errors.As(err, &e) || e.Attempts != 1 {
		t.Fatalf("plain request: err = %v", err)
	}
	idem := addSubRequest([]int32{1}, []int32{2})
	idem.Idempotent = true
	_, err = cl.Infer(context.Background(), url, "add_sub", idem)
	if !errors.Is(err, ErrUnknownOutcome) || !errors.As(err, &e) || e.Attempts != 3 {
		t.Fatalf("idempotent request: err = %v (want every attempt lost, 3 attempts)", err)
	}
}
