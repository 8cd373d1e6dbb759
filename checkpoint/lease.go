package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Exclusive is a Store that lets one process of a stream write at a time:
// a second process takes over, and the first stops.
type Exclusive interface {
	// Acquire makes the caller, described by holder (process and host),
	// the stream's only writer. When another process holds the stream,
	// Acquire asks it to stop and waits until it has stopped and let go,
	// or until ctx ends; waiting is called once with the holder's
	// description when it starts to wait.
	Acquire(ctx context.Context, holder string, waiting func(current string)) (Lease, error)
}

// Lease is a process's hold on its stream.
type Lease interface {
	// Lost is closed once the lease is lost. When another process asked to
	// take over (Err wraps ErrTakenOver), the holder stops writing: it
	// flushes and saves its checkpoint, as at a clean stop, then calls
	// Release. When the lease expired (Err wraps ErrLeaseExpired), the
	// holder stops at once, without writing anything more.
	Lost() <-chan struct{}
	// Err says why the lease was lost, naming the process that took over
	// (nil while it is held).
	Err() error
	// Release lets the stream go.
	Release()
}

// ErrTakenOver is returned by a stream that stopped because another
// process of the same stream took over.
var ErrTakenOver = errors.New("another fluxo process of this stream took over")

// takeoverPoll is how often a holder looks for a takeover request, and a
// waiting process tries the lock again.
const takeoverPoll = 100 * time.Millisecond

// Acquire implements Exclusive with an exclusive lock (flock) on
// <path>.lock, which the kernel drops when the process dies: a process that
// finds it held writes its takeover request to <path>.takeover, which the
// holder watches for.
func (f *File) Acquire(ctx context.Context, holder string, waiting func(current string)) (Lease, error) {
	lockPath, wantPath := f.path+".lock", f.path+".takeover"
	if err := os.MkdirAll(dirOf(f.path), 0o755); err != nil {
		return nil, fmt.Errorf("lock checkpoint %s: %w", f.path, err)
	}
	fd, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock checkpoint %s: %w", f.path, err)
	}
	asked := false
	for {
		err := syscall.Flock(int(fd.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			fd.Close()
			return nil, fmt.Errorf("lock checkpoint %s: %w", lockPath, err)
		}
		// The request is (re)written while it is missing: a process that
		// took the lock meanwhile removed the requests made before.
		if b, err := os.ReadFile(wantPath); err != nil || string(b) != holder {
			if err := writeAtomic(wantPath, []byte(holder)); err != nil {
				fd.Close()
				return nil, fmt.Errorf("ask the current process of the stream to stop: %w", err)
			}
		}
		if !asked {
			current, _ := os.ReadFile(lockPath)
			asked = true
			waiting(strings.TrimSpace(string(current)))
		}
		select {
		case <-ctx.Done():
			fd.Close()
			current, _ := os.ReadFile(lockPath)
			return nil, fmt.Errorf("the stream's checkpoint %s is held by %s, which did not stop (%w): stop it, or remove %s to let it go on",
				f.path, strings.TrimSpace(string(current)), ctx.Err(), wantPath)
		case <-time.After(takeoverPoll):
		}
	}
	// Requests made so far were addressed to earlier holders, now gone
	// (ours among them); one made from now on is for us.
	os.Remove(wantPath)
	if err := fd.Truncate(0); err == nil {
		fd.WriteAt([]byte(holder+"\n"), 0)
	}
	l := &fileLease{fd: fd, want: wantPath, holder: holder, lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go l.watch()
	return l, nil
}

func dirOf(path string) string {
	if i := strings.LastIndexByte(path, '/'); i > 0 {
		return path[:i]
	}
	return "."
}

// fileLease holds the lock of a file store.
type fileLease struct {
	fd         *os.File
	want       string
	holder     string
	lost, stop chan struct{}
	done       chan struct{}
	by         string
	once       sync.Once
}

// watch closes lost once another process asked to take over.
func (l *fileLease) watch() {
	defer close(l.done)
	t := time.NewTicker(takeoverPoll)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			b, err := os.ReadFile(l.want)
			if err == nil && len(b) > 0 && string(b) != l.holder {
				l.by = strings.TrimSpace(string(b))
				close(l.lost)
				return
			}
		}
	}
}

func (l *fileLease) Lost() <-chan struct{} { return l.lost }

func (l *fileLease) Err() error {
	select {
	case <-l.lost:
		return fmt.Errorf("%w (%s)", ErrTakenOver, l.by)
	default:
		return nil
	}
}

func (l *fileLease) Release() {
	l.once.Do(func() {
		close(l.stop)
		<-l.done
		syscall.Flock(int(l.fd.Fd()), syscall.LOCK_UN)
		l.fd.Close()
	})
}
