package kinfer_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"time"

	kinfer "github.com/kinfer/kinfer/bindings/go"
)

func ExampleClient_Infer() {
	client, err := kinfer.NewClient(kinfer.Config{Protocol: "v2", HTTP2: true})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := &kinfer.Request{Inputs: []kinfer.Input{
		kinfer.NewInput("INPUT0", []int32{1, 2, 3}),
		kinfer.NewInput("INPUT1", []int32{4, 5, 6}),
	}}
	resp, err := client.Infer(ctx, "http://127.0.0.1:8000", "add_sub", req,
		kinfer.WithHeaders(http.Header{"X-Request-Source": {"example"}}))
	var httpErr *kinfer.HTTPError
	switch {
	case errors.As(err, &httpErr):
		log.Fatalf("HTTP %d: %s", httpErr.StatusCode, httpErr.Message)
	case errors.Is(err, context.DeadlineExceeded):
		log.Fatal("too slow")
	case err != nil:
		log.Fatal(err)
	}
	fmt.Println(resp.Output("OUTPUT0").Int32s())
}

func ExampleElements() {
	t := &kinfer.Tensor{Name: "x", Datatype: kinfer.FP64, Shape: []int64{2}, Data: []float64{0.5, 1}}
	if xs, ok := kinfer.Elements[float64](t); ok {
		fmt.Println(xs)
	}
	// Output: [0.5 1]
}
