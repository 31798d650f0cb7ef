package kinfer

// #include <stdlib.h>
// #include "helpers.h"
import "C"

import (
	"context"
	"net/http"
	"runtime"
	"runtime/cgo"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// batchSize is how many completions the poller takes per crossing.
const batchSize = 64

// Client is a KServe REST client (KServe InferenceRESTClient).  It is safe
// for use by any number of goroutines at once, and should be shared: it
// keeps its connections, and one client multiplexes any number of calls in
// flight.  Close releases it.
//
// Infer calls do not block an OS thread each: they are submitted to the C
// library's completion queue, and one poller goroutine per client takes the
// results, many per cgo crossing, and hands each to its caller.  The C
// library never calls into Go.
type Client struct {
	c       *C.kinfer_client
	cq      *C.kinfer_cq
	batch   *C.kinfer_completion // poller's C array of batchSize
	replay  *C.gok_replay        // a test transport, freed after the client
	timeout time.Duration        // the configured overall timeout; NoTimeout for none
	proto   string               // the configured protocol, for messages

	mu     sync.RWMutex // held shared while a C call on c runs or is submitted
	closed bool

	stopping   atomic.Bool
	pollerDone chan struct{}
	discarded  atomic.Int64 // completions whose caller had gone
}

// NewClient makes a client from cfg (the zero Config: all defaults).  The
// configuration is copied.  The C library starts its I/O thread, and the
// client its poller goroutine.
func NewClient(cfg Config) (*Client, error) {
	return newClient(&cfg, nil)
}

func newClient(cfg *Config, replay *C.gok_replay) (*Client, error) {
	cc, err := newCConfig(cfg)
	if err != nil {
		return nil, err
	}
	defer C.kinfer_config_free(cc)
	if replay != nil {
		if rc := C.gok_config_set_replay(cc, replay); rc != 0 {
			return nil, newError(Code(rc), 0, 0, "transport: "+Code(rc).String())
		}
	}
	var cerr C.kinfer_error
	c := C.kinfer_client_new(cc, &cerr)
	if c == nil {
		return nil, cError(&cerr)
	}
	cl := &Client{
		c:          c,
		cq:         C.kinfer_cq_new(),
		batch:      (*C.kinfer_completion)(C.calloc(batchSize, C.size_t(unsafe.Sizeof(C.kinfer_completion{})))),
		replay:     replay,
		timeout:    60 * time.Second,
		proto:      cfg.Protocol,
		pollerDone: make(chan struct{}),
	}
	switch {
	case cfg.Timeout != 0:
		cl.timeout = cfg.Timeout
	case cfg.ConnectTimeout != 0 || cfg.ReadTimeout != 0 || cfg.WriteTimeout != 0 || cfg.PoolTimeout != 0:
		cl.timeout = NoTimeout
	}
	if cl.cq == nil || cl.batch == nil {
		C.kinfer_client_close(c)
		C.kinfer_cq_free(cl.cq)
		C.free(unsafe.Pointer(cl.batch))
		return nil, &Error{Code: CodeNoMemory, Message: "out of memory"}
	}
	go cl.poll()
	return cl, nil
}

// Close fails the calls still in flight with an error matching
// ErrCancelled, waits for the health and explain calls running, closes every
// connection and frees the client.  Calls made after Close fail with
// ErrClosed.  Close is idempotent.
func (cl *Client) Close() error {
	cl.mu.Lock()
	if cl.closed {
		cl.mu.Unlock()
		return nil
	}
	cl.closed = true
	cl.mu.Unlock()
	// No C call on the client runs now, and none starts: the C library
	// requires that of kinfer_client_close.  It delivers every call in
	// flight to the queue (with KINFER_ECANCELLED) before it returns.
	C.kinfer_client_close(cl.c)
	cl.stopping.Store(true)
	C.kinfer_cq_wakeup(cl.cq)
	<-cl.pollerDone
	C.kinfer_cq_free(cl.cq)
	C.free(unsafe.Pointer(cl.batch))
	C.gok_replay_free(cl.replay)
	return nil
}

// The states of a call in flight.
const (
	callWaiting int32 = iota
	callDelivered
	callAbandoned
)

// call is one Infer in flight; its cgo.Handle is the C tag.
type call struct {
	state  atomic.Int32
	done   chan struct{} // closed once status, resp and err are set
	status C.int
	resp   *C.kinfer_response
	err    error
}

// pollSpins is how many times the poller looks at an empty queue without
// blocking, yielding in between, before it blocks in kinfer_cq_next.
const pollSpins = 8

// poll drains the completion queue until Close.  While completions keep
// coming it polls without blocking and yields to the goroutines it woke;
// once the queue stays empty it blocks in kinfer_cq_next, which holds this
// goroutine's OS thread only: it is the one blocking crossing.
func (cl *Client) poll() {
	defer close(cl.pollerDone)
	batch := unsafe.Slice(cl.batch, batchSize)
	empty := 0
	for {
		timeout := C.double(0)
		stopping := cl.stopping.Load()
		if !stopping && empty >= pollSpins {
			timeout = C.KINFER_TIMEOUT_NONE
		}
		n := int(C.kinfer_cq_next(cl.cq, cl.batch, batchSize, timeout))
		for i := 0; i < n; i++ {
			cl.deliver(&batch[i])
		}
		switch {
		case n > 0:
			empty = 0
		case stopping:
			return // the client is closed and everything was taken
		default:
			empty++
			runtime.Gosched()
		}
	}
}

func (cl *Client) deliver(comp *C.kinfer_completion) {
	h := cgo.Handle(comp.tag)
	k := h.Value().(*call)
	h.Delete()
	if !k.state.CompareAndSwap(callWaiting, callDelivered) {
		// The caller's context ended first: nobody wants the answer.
		C.kinfer_response_free(comp.resp)
		cl.discarded.Add(1)
		return
	}
	k.status, k.resp = comp.status, comp.resp
	if comp.status != 0 {
		k.err = cError(&comp.err)
	}
	close(k.done)
}

// cError converts a filled kinfer_error.
func cError(e *C.kinfer_error) error {
	code := Code(e.code)
	if code == 0 {
		code = CodeInvalid
	}
	return newError(code, int(e.http_status), int(e.attempts), C.GoString(&e.message[0]))
}

// CallOption changes one call.
type CallOption func(*callOptions)

type callOptions struct {
	headers     http.Header
	respHeaders http.Header
	graph       bool
}

// WithHeaders sends h with the call.  Names are sent in sorted order.
func WithHeaders(h http.Header) CallOption {
	return func(o *callOptions) { o.headers = h }
}

// WithResponseHeaders clears h (which must not be nil) and fills it with the
// answer's headers when the call succeeds.  The completion queue does not
// carry headers, so such an Infer runs as one blocking cgo call on a
// goroutine of its own: use it where the headers are needed, not by
// default.
func WithResponseHeaders(h http.Header) CallOption {
	return func(o *callOptions) { o.respHeaders = h }
}

// WithGraphEndpoint posts the request to the base URL itself (an
// InferenceGraph), whatever the protocol; the model name may be empty.
func WithGraphEndpoint() CallOption {
	return func(o *callOptions) { o.graph = true }
}

// cHeaders builds a C header list (nil for none); the caller frees it.
func cHeaders(h http.Header) (*C.kinfer_headers, error) {
	if len(h) == 0 {
		return nil, nil
	}
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	var buf []byte
	n := 0
	for _, k := range names {
		for _, v := range h[k] {
			if strings.IndexByte(k, 0) >= 0 || strings.IndexByte(v, 0) >= 0 {
				return nil, invalid("header %q contains a NUL byte", k)
			}
			buf = append(append(append(append(buf, k...), 0), v...), 0)
			n++
		}
	}
	if n == 0 {
		return nil, nil
	}
	var rc C.int
	ch := C.gok_headers((*C.char)(unsafe.Pointer(&buf[0])), C.size_t(n), &rc)
	if ch == nil {
		return nil, &Error{Code: Code(rc), Message: "headers: " + Code(rc).String()}
	}
	return ch, nil
}

// callTimeout is the C timeout for a call under ctx: the context's
// remaining time when it ends before the client's own timeout, else the
// client's.  byContext reports the former.
func (cl *Client) callTimeout(ctx context.Context) (t C.double, byContext bool, err error) {
	dl, ok := ctx.Deadline()
	if !ok {
		return C.KINFER_TIMEOUT_DEFAULT, false, nil
	}
	left := time.Until(dl)
	if left <= 0 {
		return 0, false, contextError(context.DeadlineExceeded)
	}
	if cl.timeout != NoTimeout && cl.timeout < left {
		return C.KINFER_TIMEOUT_DEFAULT, false, nil
	}
	return C.double(left.Seconds()), true, nil
}

// withContext marks a C timeout that was the context's deadline.
func withContext(err error, byContext bool) error {
	if e, ok := err.(*Error); ok && byContext && e.Code == CodeTimeout {
		e.cause = context.DeadlineExceeded
	}
	return err
}

// call prologue shared by every call: the C timeout and headers.
type prepared struct {
	timeout   C.double
	byContext bool
	headers   *C.kinfer_headers
	opts      callOptions
}

func (cl *Client) prepare(ctx context.Context, opts []CallOption) (*prepared, error) {
	if err := ctx.Err(); err != nil {
		return nil, contextError(err)
	}
	p := &prepared{}
	for _, o := range opts {
		o(&p.opts)
	}
	var err error
	if p.timeout, p.byContext, err = cl.callTimeout(ctx); err != nil {
		return nil, err
	}
	if p.headers, err = cHeaders(p.opts.headers); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *prepared) free() { C.kinfer_headers_free(p.headers) }

func closedError() error {
	return &Error{Code: CodeCancelled, Message: "the client is closed", cause: ErrClosed}
}

// optional returns a C string for s, or nil for "".
func optional(s string) []byte {
	if s == "" {
		return nil
	}
	return cstr(s)
}

// Infer runs an inference: v1 POST {baseURL}/v1/models/{model}:predict, v2
// POST {baseURL}/v2/models/{model}/infer, or with WithGraphEndpoint POST
// {baseURL}.  ctx's deadline bounds the call (in C as well), and when ctx
// ends first Infer returns at once with an error matching ctx.Err() and
// ErrCancelled (cancellation) or ErrTimeout (deadline); the server may
// still run the request, and its answer is dropped.
//
// A non-2xx answer is an *HTTPError.  The request's data is copied before
// the call is submitted.
func (cl *Client) Infer(ctx context.Context, baseURL, model string, req *Request, opts ...CallOption) (*Response, error) {
	if err := checkString("base URL", baseURL); err != nil {
		return nil, err
	}
	if err := checkString("model name", model); err != nil {
		return nil, err
	}
	p, err := cl.prepare(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer p.free()
	creq, err := newCRequest(req)
	if err != nil {
		return nil, err
	}
	if p.opts.respHeaders != nil {
		return cl.inferSync(ctx, baseURL, model, creq, p)
	}
	url, name := cstr(baseURL), optional(model)
	k := &call{done: make(chan struct{})}
	h := cgo.NewHandle(k)
	cl.mu.RLock()
	var rc C.int
	if cl.closed {
		rc = C.KINFER_ECANCELLED
	} else {
		rc = C.kinfer_infer_cq(cl.c, cptr(url), creq, cptr(name), p.headers,
			C.bool(p.opts.graph), p.timeout, cl.cq, C.uintptr_t(h))
	}
	closed := cl.closed
	cl.mu.RUnlock()
	C.kinfer_request_free(creq) // the call copied what it needs
	if rc != 0 {
		h.Delete()
		if closed {
			return nil, closedError()
		}
		return nil, cl.submitError(Code(rc), model, p.opts.graph)
	}
	select {
	case <-k.done:
	case <-ctx.Done():
		if k.state.CompareAndSwap(callWaiting, callAbandoned) {
			return nil, contextError(ctx.Err())
		}
		<-k.done // delivered meanwhile: use the answer
	}
	if k.err != nil {
		return nil, withContext(k.err, p.byContext)
	}
	defer C.kinfer_response_free(k.resp)
	return goResponse(k.resp), nil
}

// submitError describes a call the C library refused to start.
// kinfer_infer_cq returns a bare code, so the messages the synchronous
// calls give are reproduced here for the codes that have one.
func (cl *Client) submitError(code Code, model string, graph bool) error {
	msg := code.String()
	switch code {
	case CodeInvalid:
		if model == "" && !graph {
			msg = "model_name should not be 'None'"
		}
	case CodeURL:
		msg = "Base url should have 'http://' or 'https://' protocol"
	case CodeUnsupported:
		msg = "Unsupported protocol " + cl.proto + "."
	case CodeInput:
		msg = "the request cannot be encoded"
	}
	return newError(code, 0, 0, msg)
}

// inferSync runs kinfer_infer, which fills response headers, on a goroutine
// of its own so that ctx can still end the wait.  It frees creq.
func (cl *Client) inferSync(ctx context.Context, baseURL, model string, creq *C.kinfer_request, p *prepared) (*Response, error) {
	type result struct {
		resp *Response
		hdr  http.Header
		err  error
	}
	done := make(chan result, 1)
	// The headers outlive this function when ctx ends first: the goroutine
	// builds its own copy.
	hdrs, err := cHeaders(p.opts.headers)
	if err != nil {
		C.kinfer_request_free(creq)
		return nil, err
	}
	timeout, graph := p.timeout, p.opts.graph
	go func() {
		defer C.kinfer_request_free(creq)
		defer C.kinfer_headers_free(hdrs)
		rh := C.kinfer_headers_new()
		defer C.kinfer_headers_free(rh)
		url, name := cstr(baseURL), optional(model)
		var out *C.kinfer_response
		var cerr C.kinfer_error
		cl.mu.RLock()
		if cl.closed {
			cl.mu.RUnlock()
			done <- result{err: closedError()}
			return
		}
		rc := C.kinfer_infer(cl.c, cptr(url), creq, cptr(name), hdrs, rh,
			C.bool(graph), timeout, &out, &cerr)
		cl.mu.RUnlock()
		if rc != 0 {
			done <- result{err: cError(&cerr)}
			return
		}
		r := goResponse(out)
		C.kinfer_response_free(out)
		done <- result{resp: r, hdr: goHeaders(rh)}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, withContext(r.err, p.byContext)
		}
		for k := range p.opts.respHeaders {
			delete(p.opts.respHeaders, k)
		}
		for k, v := range r.hdr {
			p.opts.respHeaders[k] = v
		}
		return r.resp, nil
	case <-ctx.Done():
		return nil, contextError(ctx.Err())
	}
}

func goHeaders(h *C.kinfer_headers) http.Header {
	n := int(C.kinfer_headers_count(h))
	out := make(http.Header, n)
	for i := 0; i < n; i++ {
		out.Add(C.GoString(C.kinfer_headers_name(h, C.size_t(i))),
			C.GoString(C.kinfer_headers_value(h, C.size_t(i))))
	}
	return out
}

// Explain asks a V1 model for an explanation: POST
// {baseURL}/v1/models/{model}:explain; the answer is in Response.JSON.  V2
// clients get CodeUnsupported.
//
// Explain is a synchronous call in the C library: it blocks the calling
// goroutine's OS thread for the duration of the call.  ctx's deadline is
// the call's timeout; cancelling ctx does not interrupt it.
func (cl *Client) Explain(ctx context.Context, baseURL, model string, req *Request, opts ...CallOption) (*Response, error) {
	if err := checkString("base URL", baseURL); err != nil {
		return nil, err
	}
	if err := checkString("model name", model); err != nil {
		return nil, err
	}
	p, err := cl.prepare(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer p.free()
	creq, err := newCRequest(req)
	if err != nil {
		return nil, err
	}
	defer C.kinfer_request_free(creq)
	url, name := cstr(baseURL), optional(model)
	var out *C.kinfer_response
	var cerr C.kinfer_error
	cl.mu.RLock()
	if cl.closed {
		cl.mu.RUnlock()
		return nil, closedError()
	}
	rc := C.kinfer_explain(cl.c, cptr(url), cptr(name), creq, p.headers, p.timeout, &out, &cerr)
	cl.mu.RUnlock()
	if rc != 0 {
		return nil, withContext(cError(&cerr), p.byContext)
	}
	defer C.kinfer_response_free(out)
	return goResponse(out), nil
}

// The health checks.
const (
	healthServerReady = iota
	healthServerLive
	healthModelReady
)

func (cl *Client) health(ctx context.Context, kind int, baseURL, model string, opts []CallOption) (bool, error) {
	if err := checkString("base URL", baseURL); err != nil {
		return false, err
	}
	if err := checkString("model name", model); err != nil {
		return false, err
	}
	p, err := cl.prepare(ctx, opts)
	if err != nil {
		return false, err
	}
	defer p.free()
	url, name := cstr(baseURL), optional(model)
	var ok C.bool
	var cerr C.kinfer_error
	var rc C.int
	cl.mu.RLock()
	if cl.closed {
		cl.mu.RUnlock()
		return false, closedError()
	}
	switch kind {
	case healthServerReady:
		rc = C.kinfer_is_server_ready(cl.c, cptr(url), p.headers, p.timeout, &ok, &cerr)
	case healthServerLive:
		rc = C.kinfer_is_server_live(cl.c, cptr(url), p.headers, p.timeout, &ok, &cerr)
	default:
		rc = C.kinfer_is_model_ready(cl.c, cptr(url), cptr(name), p.headers, p.timeout, &ok, &cerr)
	}
	cl.mu.RUnlock()
	if rc != 0 {
		return false, withContext(cError(&cerr), p.byContext)
	}
	return bool(ok), nil
}

// IsServerReady asks whether the server is ready (v2: GET
// {baseURL}/v2/health/ready; v1: CodeUnsupported).  Like Explain it is a
// blocking cgo call bounded by ctx's deadline.
func (cl *Client) IsServerReady(ctx context.Context, baseURL string, opts ...CallOption) (bool, error) {
	return cl.health(ctx, healthServerReady, baseURL, "", opts)
}

// IsServerLive asks whether the server is live (v1: GET {baseURL}/; v2:
// GET {baseURL}/v2/health/live).  Like Explain it is a blocking cgo call
// bounded by ctx's deadline.
func (cl *Client) IsServerLive(ctx context.Context, baseURL string, opts ...CallOption) (bool, error) {
	return cl.health(ctx, healthServerLive, baseURL, "", opts)
}

// IsModelReady asks whether a model is ready (v1: GET
// {baseURL}/v1/models/{model}; v2: GET {baseURL}/v2/models/{model}/ready).
// Like Explain it is a blocking cgo call bounded by ctx's deadline.
func (cl *Client) IsModelReady(ctx context.Context, baseURL, model string, opts ...CallOption) (bool, error) {
	return cl.health(ctx, healthModelReady, baseURL, model, opts)
}

// Stats are a client's counters since it was made.
type Stats struct {
	Requests, Successes, Failures, Retries uint64
	ConnectionsOpened, ConnectionsOpen     uint64
	StreamsInFlight, RequestsQueued        uint64
	BytesSent, BytesReceived               uint64
	H2Requests, H1Requests                 uint64
}

// Stats returns a snapshot of the client's counters (zero after Close).
func (cl *Client) Stats() Stats {
	cl.mu.RLock()
	defer cl.mu.RUnlock()
	if cl.closed {
		return Stats{}
	}
	var s C.kinfer_stats
	C.kinfer_client_stats(cl.c, &s)
	return Stats{
		Requests: uint64(s.requests), Successes: uint64(s.successes), Failures: uint64(s.failures),
		Retries: uint64(s.retries), ConnectionsOpened: uint64(s.connections_opened),
		ConnectionsOpen: uint64(s.connections_open), StreamsInFlight: uint64(s.streams_in_flight),
		RequestsQueued: uint64(s.requests_queued), BytesSent: uint64(s.bytes_sent),
		BytesReceived: uint64(s.bytes_received), H2Requests: uint64(s.h2_requests),
		H1Requests: uint64(s.h1_requests),
	}
}

// Version returns the version of the C library in use, e.g. "0.1.0".
func Version() string { return C.GoString(C.kinfer_version()) }
