// Command infer calls kinfer-server's add_sub model from many goroutines
// sharing one client, then checks the server's health.
//
//	kinfer-server --listen 127.0.0.1:8000 &
//	go run ./examples/infer -url http://127.0.0.1:8000
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"sync"
	"time"

	kinfer "github.com/kinfer/kinfer/bindings/go"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:8000", "the server's base URL")
	calls := flag.Int("calls", 100, "calls to make, one goroutine each")
	h2 := flag.Bool("http2", true, "use HTTP/2 (h2c over http://)")
	flag.Parse()

	client, err := kinfer.NewClient(kinfer.Config{Protocol: "v2", HTTP2: *h2})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if ready, err := client.IsServerReady(ctx, *url); err != nil || !ready {
		log.Fatalf("server not ready: %v %v", ready, err)
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	wrong := 0
	for i := 0; i < *calls; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			req := &kinfer.Request{
				ID: fmt.Sprint(i),
				Inputs: []kinfer.Input{
					kinfer.NewInput("INPUT0", []float32{float32(i), 1}),
					{Name: "INPUT1", Data: []float32{0.5, 1}, Binary: true},
				},
			}
			resp, err := client.Infer(ctx, *url, "add_sub", req)
			var httpErr *kinfer.HTTPError
			switch {
			case errors.As(err, &httpErr):
				log.Printf("call %d: server answered %d: %s", i, httpErr.StatusCode, httpErr.Message)
			case errors.Is(err, kinfer.ErrNotRun):
				log.Printf("call %d was not run, it may be sent again: %v", i, err)
			case err != nil:
				log.Printf("call %d: %v", i, err)
			}
			if err != nil || resp.Output("OUTPUT0").Float32s()[0] != float32(i)+0.5 {
				mu.Lock()
				wrong++
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	s := client.Stats()
	fmt.Printf("%d of %d calls answered correctly over %d connection(s), kinfer %s\n",
		*calls-wrong, *calls, s.ConnectionsOpened, kinfer.Version())
	if wrong > 0 {
		os.Exit(1)
	}
}
