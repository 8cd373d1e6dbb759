package main

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat CPU times (100 on
// every Linux architecture Go supports).
const clockTicks = 100

// rssStats summarises the resident set size samples of one pass, in bytes.
type rssStats struct {
	Peak, Median, HWM int64 // HWM: kernel high-water mark (0 if unknown)
	Samples           int
}

// rssSampler samples this process's RSS at a fixed interval.
type rssSampler struct {
	stop chan struct{}
	done chan []int64
}

// startRSS resets the kernel's RSS high-water mark and starts sampling
// /proc/self/statm every interval.
func startRSS(interval time.Duration) *rssSampler {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // resets VmHWM; best effort
	s := &rssSampler{stop: make(chan struct{}), done: make(chan []int64, 1)}
	go s.loop(interval)
	return s
}

func (s *rssSampler) loop(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var samples []int64
	for {
		if v, err := selfRSS(); err == nil {
			samples = append(samples, v)
		}
		select {
		case <-s.stop:
			s.done <- samples
			return
		case <-t.C:
		}
	}
}

// Stop ends sampling and summarises the samples.
func (s *rssSampler) Stop() rssStats {
	close(s.stop)
	samples := <-s.done
	st := rssStats{Samples: len(samples)}
	if len(samples) > 0 {
		slices.Sort(samples)
		st.Peak, st.Median = samples[len(samples)-1], samples[len(samples)/2]
	}
	st.HWM, _ = statusField(os.Getpid(), "VmHWM")
	return st
}

// selfRSS returns this process's resident set size from /proc/self/statm.
func selfRSS() (int64, error) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, fmt.Errorf("/proc/self/statm: %q", b)
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize()), err
}

// statusField returns a "kB" field of /proc/<pid>/status in bytes.
func statusField(pid int, name string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			f := strings.Fields(v)
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no %s", pid, name)
}

// cpuTime returns the user+system CPU time a process used so far; pid 0
// means this process, a negative pid the process tree of -pid (see
// treeCPU).
func cpuTime(pid int) time.Duration {
	if pid == 0 {
		var ru syscall.Rusage
		if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
			return 0
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if pid < 0 {
		return treeCPU(-pid)
	}
	f := statFields(pid)
	if len(f) < 13 {
		return 0
	}
	return ticks(f[11], f[12])
}

// statFields returns the fields of /proc/<pid>/stat after the
// parenthesised command: state is [0], ppid [1], utime [11], stime [12],
// cutime [13], cstime [14]; nil if the process is gone.
func statFields(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

// ticks adds CPU times in clock ticks.
func ticks(vs ...string) time.Duration {
	var sum int64
	for _, v := range vs {
		n, _ := strconv.ParseInt(v, 10, 64)
		sum += n
	}
	return time.Duration(sum) * time.Second / clockTicks
}

// treeCPU returns the CPU time of a server that forks a process per
// connection (postgres): the parent's own and its reaped children's
// (cutime, cstime), plus that of its live children, so that a backend
// started or ended between two calls is counted. A child reaped during the
// scan would be missed or counted twice, so the scan is repeated until the
// parent's times did not change during it.
func treeCPU(parent int) time.Duration {
	for range 10 {
		before := parentCPU(parent)
		live := childrenCPU(parent)
		if after := parentCPU(parent); after == before {
			return before + live
		}
	}
	return parentCPU(parent) + childrenCPU(parent)
}

// parentCPU returns the CPU time of pid and its reaped children.
func parentCPU(pid int) time.Duration {
	f := statFields(pid)
	if len(f) < 15 {
		return 0
	}
	return ticks(f[11], f[12], f[13], f[14])
}

// childrenCPU returns the CPU time of the live children of parent.
func childrenCPU(parent int) time.Duration {
	var total time.Duration
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == parent {
			continue
		}
		if c := statFields(pid); len(c) >= 13 && c[1] == strconv.Itoa(parent) {
			total += ticks(c[11], c[12])
		}
	}
	return total
}

// hostBusy returns the CPU time all CPUs of the machine spent busy so far
// (the "cpu" line of /proc/stat without idle and iowait).
func hostBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var busy int64
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i >= 8 { // idle, iowait; guest time is already in user
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		busy += n
	}
	return time.Duration(busy) * time.Second / clockTicks
}

// cpuMeter measures the CPU used by a set of processes, and by the whole
// machine, over an interval.
type cpuMeter struct {
	pids  []int
	start []time.Duration
	host  time.Duration
}

// startCPU records the CPU time of pids so far (0 is this process).
func startCPU(pids ...int) *cpuMeter {
	m := &cpuMeter{pids: pids, host: hostBusy()}
	for _, p := range pids {
		m.start = append(m.start, cpuTime(p))
	}
	return m
}

// Used returns the CPU time each process used since startCPU, followed by
// the CPU time every other process of the machine used.
func (m *cpuMeter) Used() []time.Duration {
	out := make([]time.Duration, len(m.pids)+1)
	others := hostBusy() - m.host
	for i, p := range m.pids {
		out[i] = cpuTime(p) - m.start[i]
		others -= out[i]
	}
	out[len(m.pids)] = max(others, 0)
	return out
}
