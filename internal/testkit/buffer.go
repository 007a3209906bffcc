package testkit

import "github.com/exportatscale/exportatscale/internal/syncbuf"

// Buffer collects what a process or a goroutine writes while a test reads it: its methods are
// safe to call concurrently. It is the one the harness's process target keeps a child's output in.
type Buffer = syncbuf.Buffer
