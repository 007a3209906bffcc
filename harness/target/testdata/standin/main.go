// Command standin plays the exporter for this package's tests: it takes the exporter's
// target-owned flags and environment defaults, serves /healthz and /readyz, and offers
// endpoints that make it use memory or exit, so the target's outside observations can be
// checked against something known. It is not an exporter.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	env := func(k, def string) string {
		if v := os.Getenv(k); v != "" {
			return v
		}
		return def
	}
	listen := flag.String("listen", env("EXPORTER_LISTEN", "127.0.0.1:8080"), "")
	dataDir := flag.String("data-dir", env("EXPORTER_DATA_DIR", "./data"), "")
	tokensFile := flag.String("tokens-file", env("EXPORTER_TOKENS_FILE", ""), "")
	exitCode := flag.Int("exit-on-term", 0, "exit code after SIGTERM")
	flag.Parse()

	fmt.Println("standin: stdout line")
	log.SetFlags(0)
	if err := run(*listen, *dataDir, *tokensFile, *exitCode); err != nil {
		log.Printf("standin: %v", err)
		os.Exit(1)
	}
}

// run checks what the exporter checks at start (a writable data directory, a token unless it
// listens on loopback), then serves until SIGTERM.
func run(listen, dataDir, tokensFile string, exitCode int) error {
	if err := os.WriteFile(filepath.Join(dataDir, "standin.txt"), []byte("ok\n"), 0o644); err != nil {
		return fmt.Errorf("data dir not writable: %w", err)
	}
	token, err := readToken(tokensFile)
	if err != nil {
		return err
	}
	host, _, _ := net.SplitHostPort(listen)
	if token == "" && !net.ParseIP(host).IsLoopback() {
		return errors.New("non-loopback listen address needs --tokens-file")
	}
	return serve(listen, newMux(dataDir, token), exitCode)
}

// readToken is the last token of the tokens file, "" without one: the target writes a single
// token, and the stand-in only needs to tell it from a wrong one.
func readToken(tokensFile string) (string, error) {
	var token string
	if tokensFile != "" {
		b, err := os.ReadFile(tokensFile)
		if err != nil {
			return "", err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) == 2 && !strings.HasPrefix(f[0], "#") {
				token = f[0]
			}
		}
	}
	return token, nil
}

// newMux serves the probes openly, as the exporter does, and the endpoints that move memory or
// end the process only to token.
func newMux(dataDir, token string) *http.ServeMux {
	authed := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if token != "" && r.Header.Get("Authorization") != "Bearer "+token {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			h(w, r)
		}
	}
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") }
	mux.HandleFunc("/healthz", ok)
	mux.HandleFunc("/readyz", ok)
	// /alloc?mb=N&hold=D touches N MiB, holds them for D, then returns them to the OS.
	mux.HandleFunc("/alloc", authed(func(w http.ResponseWriter, r *http.Request) {
		mb, _ := strconv.Atoi(r.URL.Query().Get("mb"))
		hold, _ := time.ParseDuration(r.URL.Query().Get("hold"))
		b := make([]byte, mb<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		time.Sleep(hold)
		runtime.KeepAlive(b)
		b = nil
		debug.FreeOSMemory()
		fmt.Fprintln(w, "freed")
	}))
	// /map?mb=N&hold=D writes an N MiB file to the data directory, maps it and reads every
	// page, holds the mapping for D, then unmaps and removes the file: file pages, not
	// anonymous memory.
	mux.HandleFunc("/map", authed(func(w http.ResponseWriter, r *http.Request) {
		mb, _ := strconv.Atoi(r.URL.Query().Get("mb"))
		hold, _ := time.ParseDuration(r.URL.Query().Get("hold"))
		if err := mapFile(filepath.Join(dataDir, "mapped.bin"), mb<<20, hold); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "unmapped")
	}))
	// /exit?code=N exits at once, as a crash would.
	mux.HandleFunc("/exit", authed(func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		log.Printf("standin: exiting with %d on request", code)
		os.Exit(code)
	}))
	return mux
}

// serve serves h on listen until SIGTERM or an interrupt, then shuts down gracefully and exits
// with exitCode, so that the target's check of the exit code after Stop has something to see.
func serve(listen string, h http.Handler, exitCode int) error {
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	log.Printf("standin: listening on %s", l.Addr())
	srv := &http.Server{Handler: h}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		log.Printf("standin: shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Printf("standin: stopped")
	if exitCode != 0 {
		os.Exit(exitCode)
	}
	return nil
}

// mapFile writes size bytes to path, maps them read-only and touches every page, holds them
// for hold, then unmaps and removes the file.
func mapFile(path string, size int, hold time.Duration) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer os.Remove(path)
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = 1
	}
	for n := 0; n < size; n += len(chunk) {
		if _, err := f.Write(chunk[:min(len(chunk), size-n)]); err != nil {
			return err
		}
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return err
	}
	defer syscall.Munmap(b)
	sum := 0
	for i := 0; i < len(b); i += 4096 {
		sum += int(b[i])
	}
	if sum != (size+4095)/4096 {
		return fmt.Errorf("read %d pages of %d", sum, (size+4095)/4096)
	}
	time.Sleep(hold)
	return nil
}
