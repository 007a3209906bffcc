package target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
)

// child is one run of a program the harness started as a process of its own (the exporter of a
// process target, a profile's service): its output goes to a writer, its exit code is recorded,
// and an exit a stop asked for is told from one nobody asked for. It leads a process group of its
// own, so a stop reaches whatever it started too.
type child struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has exited

	mu       sync.Mutex
	stopping bool // terminate or kill signalled it; an exit after that is expected
	exitCode int
}

// startChild starts argv in dir with env, its stdout and stderr going to out.
func startChild(argv []string, dir string, env []string, out io.Writer) (*child, error) {
	if len(argv) == 0 {
		return nil, errors.New("no command")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env, cmd.Dir = env, dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, exited: make(chan struct{})}
	go c.wait()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// wait reaps the child and records its exit code.
func (c *child) wait() {
	err := c.cmd.Wait()
	code := 0
	if err != nil {
		code = -1
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode() // -1 when killed by a signal
		}
	}
	c.mu.Lock()
	c.exitCode = code
	c.mu.Unlock()
	close(c.exited)
}

// exit reports whether the child has exited and, if it has, whether a stop asked for it and its
// exit code.
func (c *child) exit() (exited, asked bool, code int) {
	select {
	case <-c.exited:
	default:
		return false, false, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return true, c.stopping, c.exitCode
}

// runState is the child as a RunState: running, or exited with its code (Exited when no stop
// asked for it). RestartCount is always 0: nothing restarts a child behind the harness's back.
func (c *child) runState() RunState {
	exited, asked, code := c.exit()
	if !exited {
		return RunState{Status: "running"}
	}
	return RunState{Exited: !asked, ExitCode: code, Status: fmt.Sprintf("exited (%d)", code)}
}

func (c *child) markStopping() {
	c.mu.Lock()
	c.stopping = true
	c.mu.Unlock()
}

// terminate stops the child gracefully: SIGTERM to its process group, then a wait for it to exit,
// or SIGKILL when ctx ends first. what names the program in errors. An exit before terminate, a
// kill, and a non-zero exit code after SIGTERM are errors.
func (c *child) terminate(ctx context.Context, what string) error {
	if exited, _, code := c.exit(); exited {
		return fmt.Errorf("%s had already exited with code %d", what, code)
	}
	c.markStopping()
	if err := signalGroup(c.cmd.Process, syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("SIGTERM: %w", err)
	}
	select {
	case <-c.exited:
	case <-ctx.Done():
		c.kill()
		return fmt.Errorf("%s did not exit after SIGTERM: %w; killed", what, ctx.Err())
	}
	if _, _, code := c.exit(); code != 0 {
		return fmt.Errorf("%s exited with code %d after SIGTERM", what, code)
	}
	return nil
}

// kill SIGKILLs the child's process group, as a crash would, and waits for the child to exit. The
// exit is expected: it is not reported as one nobody asked for.
func (c *child) kill() {
	c.markStopping()
	select {
	case <-c.exited:
		return
	default:
	}
	if err := signalGroup(c.cmd.Process, syscall.SIGKILL); err != nil {
		c.cmd.Process.Kill()
	}
	<-c.exited
}
