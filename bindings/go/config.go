package kinfer

// #include <stdlib.h>
// #include "helpers.h"
import "C"

import (
	"fmt"
	"time"
	"unsafe"
)

// NoTimeout, as a Config timeout, disables that timeout (KServe: None).
const NoTimeout time.Duration = -1

// NoRetries, as Config.Retries, disables retries (0 means the default, 3).
const NoRetries = -1

// Config is a client's configuration: the fields of KServe's RESTConfig
// and kinfer's limits.  The zero value of every field means the library's
// default, given at each field.
type Config struct {
	// Protocol is "v1" (default) or "v2", case-insensitive.  Any other value
	// makes every call that needs a protocol fail with CodeUnsupported.
	Protocol string
	// Retries is the number of extra attempts for requests that were
	// certainly not run (connection not established, stream refused).
	// 0 means the default, 3; NoRetries means none.
	Retries int
	// HTTP2 uses HTTP/2: ALPN over https://, prior knowledge (h2c) over
	// http://, falling back to HTTP/1.1 when the server does not speak it.
	HTTP2 bool
	// Timeout bounds a whole call, retries included (default 60s;
	// NoTimeout: none).  A context deadline shortens it per call.
	Timeout time.Duration
	// ConnectTimeout, ReadTimeout, WriteTimeout and PoolTimeout, when any is
	// set, replace Timeout with separate timeouts (each default 60s,
	// NoTimeout: none), as httpx.Timeout does; calls then have no overall
	// deadline beyond their context's.  Setting both Timeout and any of
	// these is an error.
	ConnectTimeout time.Duration
	ReadTimeout    time.Duration
	WriteTimeout   time.Duration
	PoolTimeout    time.Duration
	// CertFile, KeyFile and KeyPassword are a TLS client certificate (PEM
	// files) for mutual TLS.
	CertFile    string
	KeyFile     string
	KeyPassword string
	// InsecureSkipVerify turns off verification of the server's
	// certificate and host name (KServe verify=False).
	InsecureSkipVerify bool
	// CAFile (a PEM bundle) or CAPath (an OpenSSL hashed directory) replace
	// the system trust store (KServe verify=<path>).
	CAFile string
	CAPath string
	// SSLContext is an OpenSSL SSL_CTX* to use for https:// connections
	// (KServe verify=ssl.SSLContext).  It is C memory the caller keeps alive
	// and unchanged for the client's lifetime.
	SSLContext unsafe.Pointer
	// BasicAuth or BearerToken set the Authorization header of every call
	// whose headers carry none.  At most one may be set.
	BasicAuth   *BasicAuth
	BearerToken string
	// Verbose logs one line per attempt to the standard error of the
	// process.  (The C library's log hook is not offered: it would call
	// from C into Go.)
	Verbose bool
	// UnixSocket connects to this Unix domain socket instead of the URL's
	// host and port.
	UnixSocket string
	// MaxResponseBytes limits the response body (default 256 MiB).
	MaxResponseBytes int64
	// MaxHeaderBytes limits the response header block (default 64 KiB).
	MaxHeaderBytes int64
	// MaxConnections is the number of HTTP/1.1 keep-alive connections per
	// origin (default 8).
	MaxConnections int
	// MaxConcurrentStreams is the most HTTP/2 streams opened at once on one
	// connection (default 1000).
	MaxConcurrentStreams int
	// MaxH2Connections is the number of HTTP/2 connections per origin
	// (default 1): more open only when every open one is at its stream
	// limit and requests wait.
	MaxH2Connections int
	// MaxQueued bounds the requests waiting per origin for a connection or
	// a stream (default 65536); beyond it a call fails at once with
	// ErrLimit.
	MaxQueued int
	// H2ConnectionWindow and H2StreamWindow are the HTTP/2 receive windows
	// (default 16 MiB each; 65535 .. 2^31-1).
	H2ConnectionWindow uint32
	H2StreamWindow     uint32
	// RetryBudget, when not nil, replaces the default retry budget (0.2
	// tokens per request and 10 a second: every retry takes a token).
	RetryBudget *RetryBudget
	// RetryBackoffBase and RetryBackoffCap shape the exponential backoff
	// between attempts (defaults 50ms and 2s).
	RetryBackoffBase time.Duration
	RetryBackoffCap  time.Duration
	// RetryOnStatus lists HTTP statuses (400..599) whose answers are retried
	// like a refused request, honouring Retry-After.  Default none: the
	// server may have run a request it answered.
	RetryOnStatus []int
	// Idempotent declares every inference request safe to send again after
	// the connection was lost before an answer, instead of failing with
	// ErrUnknownOutcome.
	Idempotent bool
	// KeepaliveInterval and KeepaliveTimeout tune HTTP/2 PINGs: a connection
	// silent for the interval (default 30s) is sent a PING and closed when
	// nothing arrives within the timeout (default 10s).  NoTimeout as the
	// interval turns PINGs off.
	KeepaliveInterval time.Duration
	KeepaliveTimeout  time.Duration
}

// RetryBudget is the token bucket retries draw from, so a failing server
// meets no retry storm: Ratio tokens per first attempt plus PerSecond
// tokens a second, at most max(10, 10*PerSecond).  A negative Ratio turns
// the budget off.
type RetryBudget struct {
	Ratio     float64
	PerSecond float64
}

// BasicAuth is a user name and password for HTTP Basic authentication.
type BasicAuth struct {
	User     string
	Password string
}

func seconds(d time.Duration) C.double {
	if d == NoTimeout {
		return C.KINFER_TIMEOUT_NONE
	}
	return C.double(d.Seconds())
}

// newCConfig builds the C config; the caller frees it.
func newCConfig(cfg *Config) (*C.kinfer_config, error) {
	cc := C.kinfer_config_new()
	if cc == nil {
		return nil, &Error{Code: CodeNoMemory, Message: "out of memory"}
	}
	if err := fillCConfig(cc, cfg); err != nil {
		C.kinfer_config_free(cc)
		return nil, err
	}
	return cc, nil
}

func fillCConfig(cc *C.kinfer_config, cfg *Config) error {
	check := func(field string, rc C.int) error {
		if rc != 0 {
			return &Error{Code: Code(rc), Message: fmt.Sprintf("Config.%s: %s", field, Code(rc))}
		}
		return nil
	}
	for _, s := range []struct{ field, v string }{
		{"Protocol", cfg.Protocol}, {"CertFile", cfg.CertFile}, {"KeyFile", cfg.KeyFile},
		{"KeyPassword", cfg.KeyPassword}, {"CAFile", cfg.CAFile}, {"CAPath", cfg.CAPath},
		{"BearerToken", cfg.BearerToken}, {"UnixSocket", cfg.UnixSocket},
	} {
		if err := checkString("Config."+s.field, s.v); err != nil {
			return err
		}
	}
	if cfg.Protocol != "" {
		if err := check("Protocol", C.kinfer_config_set_protocol(cc, cptr(cstr(cfg.Protocol)))); err != nil {
			return err
		}
	}
	switch {
	case cfg.Retries == NoRetries:
		if err := check("Retries", C.kinfer_config_set_retries(cc, 0)); err != nil {
			return err
		}
	case cfg.Retries != 0:
		if err := check("Retries", C.kinfer_config_set_retries(cc, C.int(cfg.Retries))); err != nil {
			return err
		}
	}
	if cfg.HTTP2 {
		C.kinfer_config_set_http2(cc, true)
	}
	split := cfg.ConnectTimeout != 0 || cfg.ReadTimeout != 0 || cfg.WriteTimeout != 0 || cfg.PoolTimeout != 0
	if split && cfg.Timeout != 0 {
		return invalid("Config.Timeout and the separate timeouts are exclusive")
	}
	if cfg.Timeout != 0 {
		if err := check("Timeout", C.kinfer_config_set_timeout(cc, seconds(cfg.Timeout))); err != nil {
			return err
		}
	}
	if split {
		or60 := func(d time.Duration) C.double {
			if d == 0 {
				return 60
			}
			return seconds(d)
		}
		if err := check("ConnectTimeout", C.kinfer_config_set_timeouts(cc, or60(cfg.ConnectTimeout),
			or60(cfg.ReadTimeout), or60(cfg.WriteTimeout), or60(cfg.PoolTimeout))); err != nil {
			return err
		}
	}
	if cfg.CertFile != "" {
		var key, pw []byte
		if cfg.KeyFile != "" {
			key = cstr(cfg.KeyFile)
		}
		if cfg.KeyPassword != "" {
			pw = cstr(cfg.KeyPassword)
		}
		if err := check("CertFile", C.kinfer_config_set_cert(cc, cptr(cstr(cfg.CertFile)), cptr(key), cptr(pw))); err != nil {
			return err
		}
	}
	if cfg.InsecureSkipVerify {
		C.kinfer_config_set_verify(cc, false)
	}
	if cfg.CAFile != "" {
		if err := check("CAFile", C.kinfer_config_set_ca_file(cc, cptr(cstr(cfg.CAFile)))); err != nil {
			return err
		}
	}
	if cfg.CAPath != "" {
		if err := check("CAPath", C.kinfer_config_set_ca_path(cc, cptr(cstr(cfg.CAPath)))); err != nil {
			return err
		}
	}
	if cfg.SSLContext != nil {
		if err := check("SSLContext", C.kinfer_config_set_ssl_ctx(cc, cfg.SSLContext)); err != nil {
			return err
		}
	}
	if cfg.BasicAuth != nil && cfg.BearerToken != "" {
		return invalid("Config.BasicAuth and Config.BearerToken are exclusive")
	}
	if a := cfg.BasicAuth; a != nil {
		if err := checkString("Config.BasicAuth", a.User+a.Password); err != nil {
			return err
		}
		if err := check("BasicAuth", C.kinfer_config_set_auth_basic(cc, cptr(cstr(a.User)), cptr(cstr(a.Password)))); err != nil {
			return err
		}
	}
	if cfg.BearerToken != "" {
		if err := check("BearerToken", C.kinfer_config_set_auth_bearer(cc, cptr(cstr(cfg.BearerToken)))); err != nil {
			return err
		}
	}
	if cfg.Verbose {
		C.kinfer_config_set_verbose(cc, true)
	}
	if cfg.UnixSocket != "" {
		if err := check("UnixSocket", C.kinfer_config_set_unix_socket(cc, cptr(cstr(cfg.UnixSocket)))); err != nil {
			return err
		}
	}
	if cfg.MaxResponseBytes < 0 || cfg.MaxHeaderBytes < 0 || cfg.MaxConnections < 0 || cfg.MaxConcurrentStreams < 0 {
		return invalid("Config: negative limit")
	}
	if cfg.MaxResponseBytes > 0 {
		if err := check("MaxResponseBytes", C.kinfer_config_set_max_response_bytes(cc, C.size_t(cfg.MaxResponseBytes))); err != nil {
			return err
		}
	}
	if cfg.MaxHeaderBytes > 0 {
		if err := check("MaxHeaderBytes", C.kinfer_config_set_max_header_bytes(cc, C.size_t(cfg.MaxHeaderBytes))); err != nil {
			return err
		}
	}
	if cfg.MaxConnections > 0 {
		if err := check("MaxConnections", C.kinfer_config_set_max_connections(cc, C.unsigned(cfg.MaxConnections))); err != nil {
			return err
		}
	}
	if cfg.MaxConcurrentStreams > 0 {
		if err := check("MaxConcurrentStreams", C.kinfer_config_set_max_concurrent_streams(cc, C.unsigned(cfg.MaxConcurrentStreams))); err != nil {
			return err
		}
	}
	if cfg.MaxH2Connections > 0 {
		if err := check("MaxH2Connections", C.kinfer_config_set_max_h2_connections(cc, C.unsigned(cfg.MaxH2Connections))); err != nil {
			return err
		}
	}
	if cfg.MaxQueued > 0 {
		if err := check("MaxQueued", C.kinfer_config_set_max_queued(cc, C.size_t(cfg.MaxQueued))); err != nil {
			return err
		}
	}
	if cfg.H2ConnectionWindow != 0 || cfg.H2StreamWindow != 0 {
		conn, stream := cfg.H2ConnectionWindow, cfg.H2StreamWindow
		if conn == 0 {
			conn = 16 << 20
		}
		if stream == 0 {
			stream = 16 << 20
		}
		if err := check("H2ConnectionWindow", C.kinfer_config_set_h2_windows(cc, C.unsigned(conn), C.unsigned(stream))); err != nil {
			return err
		}
	}
	if b := cfg.RetryBudget; b != nil {
		if err := check("RetryBudget", C.kinfer_config_set_retry_budget(cc, C.double(b.Ratio), C.double(b.PerSecond))); err != nil {
			return err
		}
	}
	if cfg.RetryBackoffBase != 0 || cfg.RetryBackoffCap != 0 {
		base, limit := cfg.RetryBackoffBase, cfg.RetryBackoffCap
		if base == 0 {
			base = 50 * time.Millisecond
		}
		if limit == 0 {
			limit = 2 * time.Second
		}
		if err := check("RetryBackoffBase", C.kinfer_config_set_retry_backoff(cc, C.double(base.Seconds()), C.double(limit.Seconds()))); err != nil {
			return err
		}
	}
	if len(cfg.RetryOnStatus) > 0 {
		codes := make([]C.int, len(cfg.RetryOnStatus))
		for i, c := range cfg.RetryOnStatus {
			codes[i] = C.int(c)
		}
		if err := check("RetryOnStatus", C.kinfer_config_set_retry_on_status(cc, &codes[0], C.size_t(len(codes)))); err != nil {
			return err
		}
	}
	if cfg.Idempotent {
		C.kinfer_config_set_idempotent(cc, true)
	}
	if cfg.KeepaliveInterval != 0 || cfg.KeepaliveTimeout != 0 {
		interval, timeout := cfg.KeepaliveInterval, cfg.KeepaliveTimeout
		if interval == 0 {
			interval = 30 * time.Second
		}
		if timeout == 0 {
			timeout = 10 * time.Second
		}
		if err := check("KeepaliveInterval", C.kinfer_config_set_keepalive(cc, seconds(interval), seconds(timeout))); err != nil {
			return err
		}
	}
	return nil
}
