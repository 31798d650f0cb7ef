package kinfer

// #include <stdlib.h>
// #include "helpers.h"
import "C"

import "unsafe"

// replay is a transport written in C that answers every call with a fixed
// body: the protocol vectors are decoded through it without a server and
// without calls from C into Go.  The tests use it.
type replay struct{ r *C.gok_replay }

// newReplayClient makes a client whose calls all go to a replay transport.
func newReplayClient(cfg Config) (*Client, replay, error) {
	r := C.gok_replay_new()
	if r == nil {
		return nil, replay{}, &Error{Code: CodeNoMemory, Message: "out of memory"}
	}
	cl, err := newClient(&cfg, r)
	if err != nil {
		C.gok_replay_free(r)
		return nil, replay{}, err
	}
	return cl, replay{r}, nil
}

// set fixes the answer.  Only call it while no call is in flight.
func (rp replay) set(status int, contentType, headerLength string, body []byte) {
	var p unsafe.Pointer
	if len(body) > 0 {
		p = unsafe.Pointer(&body[0])
	}
	C.gok_replay_set(rp.r, C.int(status), cptr(cstr(contentType)), cptr(cstr(headerLength)), p, C.size_t(len(body)))
}

// last returns what the last request sent.
func (rp replay) last() (body []byte, contentType, headerLength, url string) {
	r := rp.r
	body = C.GoBytes(unsafe.Pointer(r.req_body), C.int(r.req_body_len))
	return body, C.GoString(&r.req_content_type[0]), C.GoString(&r.req_header_length[0]), C.GoString(&r.req_url[0])
}
