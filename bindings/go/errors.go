package kinfer

import (
	"context"
	"errors"
	"fmt"
)

// Code is a kinfer error code, the value of the C library's KINFER_E*
// constants.  Codes are never renumbered.
type Code int

// The error codes of the C library.
const (
	CodeInvalid        Code = -1  // bad argument (KServe: ValueError)
	CodeUnsupported    Code = -2  // protocol not supported for this call
	CodeURL            Code = -3  // base URL is not http:// or https://
	CodeHTTP           Code = -4  // the server answered non-2xx
	CodeConnect        Code = -5  // could not connect; the request was not sent
	CodeTLS            Code = -6  // TLS handshake or certificate verification
	CodeTimeout        Code = -7  // the deadline passed
	CodeBadResponse    Code = -8  // malformed response
	CodeNoMemory       Code = -9  // out of memory
	CodeUnknownOutcome Code = -10 // connection lost after the request was sent
	CodeCancelled      Code = -11 // the call was cancelled or the client closed
	CodeInput          Code = -12 // the request cannot be encoded
	CodeLimit          Code = -13 // a configured limit was exceeded
	CodeRefused        Code = -14 // the server refused the stream; not run
)

var codeNames = map[Code]string{
	CodeInvalid:        "invalid argument",
	CodeUnsupported:    "unsupported protocol",
	CodeURL:            "bad URL",
	CodeHTTP:           "HTTP error status",
	CodeConnect:        "could not connect",
	CodeTLS:            "TLS failure",
	CodeTimeout:        "timed out",
	CodeBadResponse:    "bad response",
	CodeNoMemory:       "out of memory",
	CodeUnknownOutcome: "outcome unknown",
	CodeCancelled:      "cancelled",
	CodeInput:          "invalid input",
	CodeLimit:          "limit exceeded",
	CodeRefused:        "stream refused",
}

// String returns a short English description of the code.
func (c Code) String() string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return fmt.Sprintf("kinfer error %d", int(c))
}

// Sentinel errors for the classes of failure.  Every error returned by this
// package for a failed call matches exactly one class (or none, for codes
// without a class such as CodeInvalid) with errors.Is.
var (
	// ErrNotRun: the request was certainly not run by the server
	// (CodeConnect, CodeRefused); it is safe to send it again.
	ErrNotRun = errors.New("kinfer: request not run")
	// ErrUnknownOutcome: the connection was lost after the request was
	// sent; the server may or may not have run it.
	ErrUnknownOutcome = errors.New("kinfer: outcome unknown")
	// ErrTimeout: the call's deadline passed (CodeTimeout, or the context's
	// deadline).
	ErrTimeout = errors.New("kinfer: timed out")
	// ErrTLS: TLS handshake or certificate verification failed.
	ErrTLS = errors.New("kinfer: TLS failure")
	// ErrBadResponse: the response could not be decoded.
	ErrBadResponse = errors.New("kinfer: bad response")
	// ErrLimit: a configured limit was exceeded.
	ErrLimit = errors.New("kinfer: limit exceeded")
	// ErrCancelled: the context was cancelled, or the client was closed
	// under the call.
	ErrCancelled = errors.New("kinfer: cancelled")
	// ErrHTTP: the server answered with a non-2xx status; the error is also
	// an *HTTPError.
	ErrHTTP = errors.New("kinfer: HTTP error status")
	// ErrClosed: the client was closed before the call.  Matches
	// ErrCancelled as well.
	ErrClosed = errors.New("kinfer: client closed")
)

func classOf(c Code) error {
	switch c {
	case CodeConnect, CodeRefused:
		return ErrNotRun
	case CodeUnknownOutcome:
		return ErrUnknownOutcome
	case CodeTimeout:
		return ErrTimeout
	case CodeTLS:
		return ErrTLS
	case CodeBadResponse:
		return ErrBadResponse
	case CodeLimit:
		return ErrLimit
	case CodeCancelled:
		return ErrCancelled
	case CodeHTTP:
		return ErrHTTP
	}
	return nil
}

// Error is a failed call.  Use errors.Is with the Err* sentinels to test
// its class, or errors.As to read its fields.  When the call ended because
// of its context, errors.Is also matches context.Canceled or
// context.DeadlineExceeded.
type Error struct {
	Code     Code   // the C library's code
	Attempts int    // attempts made, retries included
	Message  string // the library's human readable detail
	cause    error  // the context's error, or ErrClosed
}

// Error returns "kinfer: " followed by the detail message.
func (e *Error) Error() string {
	if e.Message == "" {
		return "kinfer: " + e.Code.String()
	}
	return "kinfer: " + e.Message
}

// Unwrap returns the error's class sentinel and, when there is one, the
// context error that ended the call.
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, 2)
	if c := classOf(e.Code); c != nil {
		errs = append(errs, c)
	}
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	return errs
}

// Timeout reports whether the call's deadline passed, as net.Error does.
func (e *Error) Timeout() bool { return e.Code == CodeTimeout }

// Retriable reports whether the request was certainly not run by the
// server, so that it may be sent again (CodeConnect, CodeRefused).
func (e *Error) Retriable() bool { return e.Code == CodeConnect || e.Code == CodeRefused }

// HTTPError is a non-2xx answer to a call.  It wraps an *Error with
// CodeHTTP, so errors.Is(err, ErrHTTP) holds and errors.As finds either.
type HTTPError struct {
	StatusCode int    // the HTTP status
	Message    string // KServe form: "<error>, '<code> <reason>' for url '<url>'"
	Err        *Error // the underlying error (Code is CodeHTTP)
}

// Error returns the KServe-style message.
func (e *HTTPError) Error() string { return "kinfer: " + e.Message }

// Unwrap returns the underlying *Error.
func (e *HTTPError) Unwrap() error { return e.Err }

// newError makes the Go error for a C code and its details.
func newError(code Code, status, attempts int, msg string) error {
	e := &Error{Code: code, Attempts: attempts, Message: msg}
	if code == CodeHTTP {
		return &HTTPError{StatusCode: status, Message: msg, Err: e}
	}
	return e
}

// contextError is the error of a call its context ended.
func contextError(ctxErr error) error {
	code := CodeCancelled
	if errors.Is(ctxErr, context.DeadlineExceeded) {
		code = CodeTimeout
	}
	return &Error{Code: code, Message: ctxErr.Error(), cause: ctxErr}
}
