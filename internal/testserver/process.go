package testserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is a running server started by startProcess.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // result of Wait, valid once done is closed
}

// startProcess starts cmd in its own process group, with the server's output
// going to the log file at logPath (and to extra when not nil). The server
// gets SIGKILL if our thread dies, so a crashed test leaves nothing behind.
func startProcess(cmd *exec.Cmd, logPath string, extra io.Writer) (*process, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	var w io.Writer = f
	if extra != nil {
		w = io.MultiWriter(f, extra)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// running reports whether the server process has not exited yet.
func (p *process) running() bool {
	if p == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// stop sends sig to the server (not to its children) and waits for it to
// exit. If ctx ends first, the whole process group is killed.
func (p *process) stop(ctx context.Context, sig syscall.Signal) error {
	if !p.running() {
		return nil
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		p.kill()
		return fmt.Errorf("graceful shutdown did not finish: %w (killed)", ctx.Err())
	}
}

// kill kills the server, its children and its process group with SIGKILL
// and waits until the server is gone and (for up to five seconds) the rest
// too. Children are looked up explicitly because PostgreSQL backends leave
// the postmaster's process group; the server is stopped first so that it
// cannot fork while we look.
func (p *process) kill() {
	if p == nil {
		return
	}
	pid := p.cmd.Process.Pid
	_ = syscall.Kill(pid, syscall.SIGSTOP)
	victims := append(descendants(pid), pid)
	for _, v := range victims {
		_ = syscall.Kill(v, syscall.SIGKILL)
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	<-p.done
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && anyAlive(victims) {
		time.Sleep(20 * time.Millisecond)
	}
}

// procStat is the part of /proc/PID/stat we use.
type procStat struct {
	pid, ppid int
	zombie    bool
}

// readProcStat parses /proc/PID/stat: "pid (comm) state ppid ...".
func readProcStat(pid string) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	i := bytes.LastIndexByte(b, ')')
	if err != nil || i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return procStat{}, false
	}
	st := procStat{zombie: f[0] == "Z"}
	st.pid, _ = strconv.Atoi(pid)
	st.ppid, _ = strconv.Atoi(f[1])
	return st, true
}

// descendants returns the pids of all descendants of root.
func descendants(root int) []int {
	children := map[int][]int{}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		if st, ok := readProcStat(filepath.Base(d)); ok {
			children[st.ppid] = append(children[st.ppid], st.pid)
		}
	}
	var out []int
	for queue := children[root]; len(queue) > 0; queue = queue[1:] {
		out = append(out, queue[0])
		queue = append(queue, children[queue[0]]...)
	}
	return out
}

// anyAlive reports whether one of pids still runs. Zombies do not count:
// they hold no resources, and without a reaping init they stay around.
func anyAlive(pids []int) bool {
	for _, pid := range pids {
		if st, ok := readProcStat(strconv.Itoa(pid)); ok && !st.zombie {
			return true
		}
	}
	return false
}

// waitReady calls check every 100 ms until it succeeds, the server exits or
// ctx ends.
func waitReady(ctx context.Context, p *process, check func(context.Context) error) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		last := check(ctx)
		if last == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("server exited during startup: %v", p.err)
		case <-ctx.Done():
			return fmt.Errorf("server not ready: %w (last error: %v)", ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// runLogged runs a short-lived command (initdb, install-db) with its output
// appended to logPath; on failure the error carries the log tail.
func runLogged(cmd *exec.Cmd, logPath string) error {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = f, f
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", cmd.Path, err, logTail(logPath))
	}
	return nil
}

// logTail returns the last lines of the log file at path, for error messages.
func logTail(path string) string {
	const maxBytes, maxLines = 4096, 25
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no server log: %v)", err)
	}
	if len(b) > maxBytes {
		b = b[len(b)-maxBytes:]
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	return "--- tail of " + path + " ---\n" + strings.Join(lines, "\n")
}

// withTimeout derives the startup context from ctx and a timeout (default
// defaultStartTimeout).
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		d = defaultStartTimeout
	}
	return context.WithTimeout(ctx, d)
}
