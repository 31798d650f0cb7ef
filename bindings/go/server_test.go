package kinfer

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests that need a server start kinfer-server themselves, on a free
// loopback port, from the path in $KINFER_SERVER; without it they are
// skipped.

type server struct {
	url  string
	cmd  *exec.Cmd
	err  error
	once sync.Once
	args []string
}

var (
	plainServer = &server{}
	slowServer  = &server{args: []string{"--delay-ms", "1500"}}
	// refuses every HTTP/2 inference stream before the model runs
	refuseServer = &server{args: []string{"--refuse-every", "1"}}
	// cuts each connection right after its first model run
	dropServer = &server{args: []string{"--drop-after", "1"}}
	servers    = []*server{plainServer, slowServer, refuseServer, dropServer}
)

func (s *server) start() {
	bin := os.Getenv("KINFER_SERVER")
	if bin == "" {
		s.err = fmt.Errorf("KINFER_SERVER is not set")
		return
	}
	dir, err := os.MkdirTemp("", "kinfer-go-test")
	if err != nil {
		s.err = err
		return
	}
	portFile := filepath.Join(dir, "port")
	args := append([]string{"--listen", "127.0.0.1:0", "--port-file", portFile, "--quiet", "--threads", "2"}, s.args...)
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stderr = os.Stderr
	if s.err = s.cmd.Start(); s.err != nil {
		return
	}
	for i := 0; i < 500; i++ {
		if b, err := os.ReadFile(portFile); err == nil && len(b) > 0 {
			s.url = "http://127.0.0.1:" + strings.TrimSpace(string(b))
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.err = fmt.Errorf("kinfer-server did not write its port")
}

// URL returns the server's base URL, starting it on first use.
func (s *server) URL(tb testing.TB) string {
	tb.Helper()
	s.once.Do(s.start)
	if s.err != nil {
		if os.Getenv("KINFER_GO_REQUIRE_SERVER") != "" {
			tb.Fatalf("kinfer-server: %v", s.err)
		}
		tb.Skipf("no kinfer-server: %v", s.err)
	}
	return s.url
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, s := range servers {
		if s.cmd != nil && s.cmd.Process != nil {
			s.cmd.Process.Signal(os.Interrupt)
			s.cmd.Wait()
		}
	}
	os.Exit(code)
}

func newTestClient(tb testing.TB, cfg Config) *Client {
	tb.Helper()
	cl, err := NewClient(cfg)
	if err != nil {
		tb.Fatalf("NewClient: %v", err)
	}
	tb.Cleanup(func() { cl.Close() })
	return cl
}
