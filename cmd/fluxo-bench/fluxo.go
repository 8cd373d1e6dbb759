package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/fluxo-cdc/fluxo/cdc/mysql"
	"github.com/fluxo-cdc/fluxo/checkpoint"
	"github.com/fluxo-cdc/fluxo/internal/command"
	"github.com/fluxo-cdc/fluxo/internal/config"
)

// stack is where a fluxo pass reads from and writes to.
type stack struct {
	DB       dbServer
	Brokers  []string
	Registry string
	Dir      string // config and checkpoint files
	Pids     []int  // this process, broker, mariadbd
}

// passSpec is what any fluxo pass needs, whatever the source.
type passSpec struct {
	Name       string // config name, topic prefix and checkpoint name
	Records    int64  // Kafka records expected (tombstones included)
	CPUProfile string
	MemProfile string
	Trace      string
	// Transactions runs the pass with kafka.transactions and the kafka
	// checkpoint store.
	Transactions bool
}

// fluxoPass is one run of `fluxo stream` over part of the binlog backlog.
type fluxoPass struct {
	passSpec
	ServerID uint32
	Start    binlogPos
}

// fluxoResult is what one pass measured.
type fluxoResult struct {
	Records int64
	Elapsed time.Duration
	RSS     rssStats
	CPU     []time.Duration
}

// runFluxo streams from p.Start with app.Stream until Kafka holds
// p.Records records on the pass's topic, then stops the stream.
func runFluxo(ctx context.Context, st stack, p fluxoPass, log *slog.Logger) (fluxoResult, error) {
	cfg, err := passConfig(ctx, st, p)
	if err != nil {
		return fluxoResult{}, err
	}
	return measureStream(ctx, cfg, st.Brokers, p.Name+"."+benchDB+"."+benchTable, p.passSpec, st.Pids, log)
}

// measureStream runs app.Stream(cfg) until the topic's high watermarks add
// up to p.Records, measuring this process and pids meanwhile, then stops
// the stream.
func measureStream(ctx context.Context, cfg *config.Config, brokers []string, topic string, p passSpec, pids []int, log *slog.Logger) (fluxoResult, error) {
	var res fluxoResult
	wm, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return res, err
	}
	defer wm.Close()
	m, err := startMeters(p, pids)
	if err != nil {
		return res, err
	}
	s := startStream(ctx, cfg, log)
	res.Records, err = waitRecords(ctx, wm, topic, p.Records, s.stopped)
	m.stop(&res)
	if err == nil {
		err = writeHeapProfile(p.MemProfile, "")
	}
	return res, errors.Join(err, s.stop())
}

// meters measure one pass: elapsed time, CPU, RSS and the optional
// profiles.
type meters struct {
	t0          time.Time
	rss         *rssSampler
	cpu         *cpuMeter
	stopProfile func()
}

// startMeters writes the base heap profile, starts the CPU profile and
// trace if asked, and starts the clocks.
func startMeters(p passSpec, pids []int) (*meters, error) {
	if err := writeHeapProfile(p.MemProfile, ".before"); err != nil {
		return nil, err
	}
	stop, err := startProfiles(p.CPUProfile, p.Trace)
	if err != nil {
		return nil, err
	}
	return &meters{rss: startRSS(100 * time.Millisecond), cpu: startCPU(pids...), stopProfile: stop, t0: time.Now()}, nil
}

// stop stops measuring and records the results in res.
func (m *meters) stop(res *fluxoResult) {
	res.Elapsed, res.CPU = time.Since(m.t0), m.cpu.Used()
	m.stopProfile()
	res.RSS = m.rss.Stop()
}

// stream is a running app.Stream.
type stream struct {
	cancel  context.CancelFunc
	stopped chan struct{} // closed when Stream returned
	err     error         // Stream's error, once stopped is closed
	addr    chan string   // the HTTP listener's address, once (with http.listen)
}

// startStream runs app.Stream(cfg) in a goroutine.
func startStream(ctx context.Context, cfg *config.Config, log *slog.Logger) *stream {
	sctx, cancel := context.WithCancel(ctx)
	s := &stream{cancel: cancel, stopped: make(chan struct{}), addr: make(chan string, 1)}
	opts := command.StreamOptions{Listening: func(a string) { s.addr <- a }}
	go func() { s.err = command.Stream(sctx, cfg, opts, log); close(s.stopped) }()
	return s
}

// stop stops the stream as SIGTERM does and returns its error.
func (s *stream) stop() error {
	s.cancel()
	<-s.stopped
	return s.err
}

// passConfig writes the pass's checkpoint (the start position, no saved
// table schemas) and returns its stream config.
func passConfig(ctx context.Context, st stack, p fluxoPass) (*config.Config, error) {
	pos := &mysql.Position{Flavor: "mariadb", ServerID: st.DB.Identity, GTIDSet: p.Start.GTID,
		File: p.Start.File, Offset: p.Start.Pos, SnapshotDone: true}
	data, err := pos.MarshalBinary()
	if err != nil {
		return nil, err
	}
	cpPath := filepath.Join(st.Dir, p.Name+".checkpoint")
	cp := &checkpoint.Checkpoint{Name: p.Name, Connector: "mysql", Position: data, Describe: pos.String(), SavedAt: time.Now().UTC()}
	var store checkpoint.Store = checkpoint.NewFile(cpPath, p.Name)
	extra := ""
	if p.Transactions {
		k := checkpoint.NewKafka([]kgo.Opt{kgo.SeedBrokers(st.Brokers...)}, checkpoint.DefaultTopic, p.Name)
		defer k.Close()
		store, extra = k, "  store: kafka\n"
	}
	if err := store.Save(ctx, cp); err != nil {
		return nil, err
	}
	yaml := fmt.Sprintf(`name: %s
source:
  dsn: mysql://root@%s:%d/%s
  tables: [%s.%s]
  server_id: %d
kafka:
  brokers: [%s]
  transactions: %v
schema_registry:
  url: %s
checkpoint:
%s  path: %s
snapshot:
  mode: never
`, p.Name, st.DB.Host, st.DB.Port, benchDB, benchDB, benchTable, p.ServerID,
		strings.Join(st.Brokers, ", "), p.Transactions, st.Registry, extra, cpPath)
	return config.Parse(p.Name+".yaml", []byte(yaml), func(string) (string, bool) { return "", false })
}

// waitRecords polls the topic's high watermarks every 10 ms until they add
// up to want, ctx is done, or the stream stops early.
func waitRecords(ctx context.Context, cl *kgo.Client, topic string, want int64, stopped <-chan struct{}) (int64, error) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		n, err := highWatermarks(ctx, cl, topic)
		if err != nil || n >= want {
			return n, err
		}
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-stopped:
			return n, fmt.Errorf("stream stopped after %d of %d records", n, want)
		case <-t.C:
		}
	}
}

// highWatermarks returns the sum of the topic's partition end offsets; 0
// while the topic does not exist.
func highWatermarks(ctx context.Context, cl *kgo.Client, topic string) (int64, error) {
	parts, err := partitions(ctx, cl, topic)
	if err != nil || parts == 0 {
		return 0, err
	}
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for i := range parts {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = i, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, err
	}
	var sum int64
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return 0, fmt.Errorf("list offsets %s/%d: %w", topic, p.Partition, err)
			}
			sum += p.Offset
		}
	}
	return sum, nil
}

// partitions returns the topic's partition count, 0 if it does not exist.
func partitions(ctx context.Context, cl *kgo.Client, topic string) (int32, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = false
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, err
	}
	if len(resp.Topics) != 1 {
		return 0, fmt.Errorf("metadata for %s: %d topics", topic, len(resp.Topics))
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		if errors.Is(err, kerr.UnknownTopicOrPartition) {
			return 0, nil
		}
		return 0, err
	}
	return int32(len(resp.Topics[0].Partitions)), nil
}

// startProfiles starts a CPU profile into cpuPath and an execution trace
// into tracePath (each only when its path is set) and returns the function
// that stops both.
func startProfiles(cpuPath, tracePath string) (func(), error) {
	stopCPU, err := startTo(cpuPath, pprof.StartCPUProfile, pprof.StopCPUProfile)
	if err != nil {
		return nil, err
	}
	stopTrace, err := startTo(tracePath, trace.Start, trace.Stop)
	if err != nil {
		stopCPU()
		return nil, err
	}
	return func() { stopTrace(); stopCPU() }, nil
}

// startTo creates path and calls start with it; the returned function
// calls stop and closes the file. An empty path does nothing.
func startTo(path string, start func(io.Writer) error, stop func()) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := start(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { stop(); f.Close() }, nil
}

// writeHeapProfile writes a heap profile into path+suffix (nothing when
// path is empty). The profile written before a pass serves as the base of
// the one written after it: go tool pprof -sample_index=alloc_space
// -diff_base path.before path.
func writeHeapProfile(path, suffix string) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path + suffix)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup("heap").WriteTo(f, 0)
}
