// Package kinfer is the Go binding of kinfer, a C client for inference
// servers that speak the KServe V1 and V2 (Open Inference Protocol) REST
// protocols.  It offers the calls of KServe's Python InferenceRESTClient —
// Infer, Explain, IsServerReady, IsServerLive, IsModelReady — with
// context.Context, typed slices and errors that errors.Is and errors.As
// understand.
//
//	cl, err := kinfer.NewClient(kinfer.Config{Protocol: "v2", HTTP2: true})
//	if err != nil { ... }
//	defer cl.Close()
//	req := &kinfer.Request{Inputs: []kinfer.Input{
//		kinfer.NewInput("INPUT0", []float32{1, 2}),
//		kinfer.NewInput("INPUT1", []float32{3, 4}),
//	}}
//	resp, err := cl.Infer(ctx, "http://127.0.0.1:8000", "add_sub", req)
//	if err != nil { ... }
//	sum := resp.Output("OUTPUT0").Float32s()
//
// # Concurrency and the cgo boundary
//
// A Client is safe for concurrent use and is meant to be shared.  Infer does
// not make one blocking cgo call per request: it submits the call to a C
// completion queue with a cgo.Handle as its tag and waits on a channel.  One
// poller goroutine per client takes up to 64 completions per kinfer_cq_next
// crossing and hands each to its caller.  While completions keep coming it
// polls without waiting, yielding to the goroutines it woke in between;
// when the queue stays empty it blocks in kinfer_cq_next, the only blocking
// crossing, which holds one OS thread per client.  C never calls into Go, and keeps
// no Go pointer after a call returns: input data is copied into C memory
// when the call is submitted (kinfer_input_set_data; nothing is pinned), and
// every output is copied into Go memory and the C response freed before
// Infer returns.
//
// Explain and the health checks are synchronous in the C library: each
// runs as one blocking cgo call on the calling goroutine, which holds an OS
// thread for the call's duration.  Infer with WithResponseHeaders does the
// same on a goroutine of its own, since the completion queue does not carry
// response headers.
//
// # Contexts and errors
//
// A context deadline becomes the call's timeout in the C library (when it
// is sooner than the client's own).  When the context ends first, Infer
// returns at once with an *Error matching both ctx.Err() and ErrCancelled
// (or ErrTimeout, for a deadline); the C call still completes and the
// poller frees its answer.  The C library has no per-call cancellation, so
// the server may still run such a request.
//
// Failed calls return an *Error (or an *HTTPError for a non-2xx answer,
// which wraps one) whose class is one of ErrNotRun, ErrUnknownOutcome,
// ErrTimeout, ErrTLS, ErrBadResponse, ErrLimit, ErrCancelled and ErrHTTP.
//
// # Building
//
// The package uses cgo and finds the C library with pkg-config (package
// kinfer): set PKG_CONFIG_PATH to an installed kinfer's lib/pkgconfig, and
// LD_LIBRARY_PATH when that is not a system directory.  With the build tag
// kinfer_no_pkgconfig, CGO_CFLAGS and CGO_LDFLAGS give the flags instead.
// Elements are exchanged in the host's byte order, which must be
// little-endian (as on amd64 and arm64).
package kinfer
