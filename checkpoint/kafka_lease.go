package checkpoint

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The Kafka store's lease keeps one process per stream without Kafka
// transactions (with them, the brokers fence an earlier producer). It is
// three records in the checkpoint topic, whose one partition orders them:
//
//   - <name>/owner/ask: a process wants the stream. The newest ask wins:
//     a holder that reads an ask made after its own stops (as on SIGTERM),
//     and so does a process still waiting.
//   - <name>/owner/hold: the holder took the stream, and renews its hold
//     every fifth of LeaseTimeout until it lets go.
//   - <name>/owner/release: the holder let go, after its last checkpoint.
//
// A process that asked takes the stream once the holder released it, or
// once it has read no hold for LeaseTimeout (a holder that died; at once
// when the holder ran on this host and its pid is gone). A holder that
// could not renew its hold for four fifths of LeaseTimeout stops at once
// without flushing (ErrLeaseExpired): another process may take over after
// LeaseTimeout. Compaction keeps the newest record of each key, which is
// all the protocol reads.
const (
	askSuffix     = "/owner/ask"
	holdSuffix    = "/owner/hold"
	releaseSuffix = "/owner/release"
)

// DefaultLeaseTimeout is the Kafka store's default LeaseTimeout.
const DefaultLeaseTimeout = 15 * time.Second

// ErrLeaseExpired is the failure of a holder that could not renew its hold
// on the stream in time: it stops without writing anything more.
var ErrLeaseExpired = errors.New("this process could not renew its hold on the stream in the checkpoint topic in time, so another process may take over")

// owner is the value of a lease record.
type owner struct {
	ID     string `json:"id"`
	Holder string `json:"holder"`
	Host   string `json:"host"`
	PID    int    `json:"pid"`
}

// gone reports whether o is a process of this host that no longer runs.
func (o owner) gone() bool {
	host, _ := os.Hostname()
	if o.Host != host || o.PID <= 0 || o.PID == os.Getpid() {
		return false
	}
	err := syscall.Kill(o.PID, 0)
	return errors.Is(err, syscall.ESRCH)
}

// ownerView is what a process read of the lease records so far.
type ownerView struct {
	me                owner
	myAsk             int64 // offset of this process's ask
	next              int64 // the next offset to read
	hold, release     owner
	holdAt, releaseAt int64
	holdSeen          time.Time // when the newest hold was read
	laterAsk          *owner    // an ask after this process's, by another
}

// add applies the record r of the topic.
func (v *ownerView) add(k *Kafka, r *kgo.Record) {
	v.next = r.Offset + 1
	var o owner
	key := string(r.Key)
	if r.Value == nil || json.Unmarshal(r.Value, &o) != nil {
		return
	}
	switch key {
	case k.name + askSuffix:
		if r.Offset > v.myAsk && o.ID != v.me.ID {
			v.laterAsk = &o
		}
	case k.name + holdSuffix:
		v.hold, v.holdAt, v.holdSeen = o, r.Offset, time.Now()
	case k.name + releaseSuffix:
		v.release, v.releaseAt = o, r.Offset
	}
}

// holder returns the process that holds the stream, if any.
func (v *ownerView) holder() (owner, bool) {
	if v.hold.ID == "" || v.hold.ID == v.release.ID && v.releaseAt > v.holdAt {
		return owner{}, false
	}
	return v.hold, true
}

// Acquire implements Exclusive with the lease records (see askSuffix).
func (k *Kafka) Acquire(ctx context.Context, holder string, waiting func(current string)) (Lease, error) {
	if err := k.Ensure(ctx); err != nil {
		return nil, err
	}
	// Partition 0 orders the lease records even in a topic made with more
	// partitions than fluxo creates.
	cl, err := kgo.NewClient(append(append([]kgo.Opt{}, k.opts...), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{k.topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchMaxWait(100*time.Millisecond))...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	host, _ := os.Hostname()
	v := &ownerView{me: owner{ID: newOwnerID(), Holder: holder, Host: host, PID: os.Getpid()}, holdAt: -1, releaseAt: -1}
	if v.myAsk, err = k.put(ctx, cl, askSuffix, v.me); err != nil {
		cl.Close()
		return nil, err
	}
	if err := k.waitTurn(ctx, cl, v, waiting); err != nil {
		cl.Close()
		return nil, err
	}
	if _, err := k.put(ctx, cl, holdSuffix, v.me); err != nil {
		cl.Close()
		return nil, err
	}
	l := &kafkaLease{k: k, cl: cl, view: v, lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	l.acked.Store(time.Now().UnixNano())
	go l.run()
	return l, nil
}

// waitTurn reads the lease records until this process may take the
// stream: it asked last, and no other process holds the stream.
func (k *Kafka) waitTurn(ctx context.Context, cl *kgo.Client, v *ownerView, waiting func(string)) error {
	since, told := time.Now(), false
	for {
		if err := k.poll(ctx, cl, v); err != nil {
			if ctx.Err() != nil {
				cur, _ := v.holder()
				return fmt.Errorf("the stream %s is held by %s, which did not stop (%w): stop it", k.name, cur.Holder, ctx.Err())
			}
			return err
		}
		if v.next <= v.myAsk {
			continue
		}
		if v.laterAsk != nil {
			return fmt.Errorf("%w (%s asked for it after this one)", ErrTakenOver, v.laterAsk.Holder)
		}
		cur, held := v.holder()
		if !held || cur.ID == v.me.ID || cur.gone() || time.Since(later(since, v.holdSeen)) >= k.leaseTimeout() {
			return nil
		}
		if !told {
			told = true
			waiting(cur.Holder)
		}
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// poll reads what the topic has (waiting up to 100 ms) into v.
func (k *Kafka) poll(ctx context.Context, cl *kgo.Client, v *ownerView) error {
	pctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	fs := cl.PollFetches(pctx)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ferr error
	fs.EachError(func(_ string, _ int32, err error) {
		if !errors.Is(err, context.DeadlineExceeded) {
			ferr = err
		}
	})
	if ferr != nil {
		return explainTopicError(k.topic, "read", ferr)
	}
	fs.EachRecord(func(r *kgo.Record) { v.add(k, r) })
	return nil
}

// put writes a lease record and returns its offset.
func (k *Kafka) put(ctx context.Context, cl *kgo.Client, suffix string, o owner) (int64, error) {
	b, err := json.Marshal(o)
	if err != nil {
		return 0, err
	}
	r := &kgo.Record{Topic: k.topic, Partition: 0, Key: []byte(k.name + suffix), Value: b}
	if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
		return 0, explainTopicError(k.topic, "write", err)
	}
	return r.Offset, nil
}

func (k *Kafka) leaseTimeout() time.Duration {
	if k.LeaseTimeout > 0 {
		return k.LeaseTimeout
	}
	return DefaultLeaseTimeout
}

func newOwnerID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// kafkaLease is a process's hold on its stream in the checkpoint topic.
type kafkaLease struct {
	k          *Kafka
	cl         *kgo.Client
	view       *ownerView
	acked      atomic.Int64 // when the newest hold was acknowledged (unix ns)
	lost, stop chan struct{}
	done       chan struct{}
	mu         sync.Mutex
	err        error
	once       sync.Once
}

// run renews the hold and watches for a later ask until Release; it keeps
// renewing after a takeover was asked for, while the holder stops.
func (l *kafkaLease) run() {
	defer close(l.done)
	timeout := l.k.leaseTimeout()
	renew := time.NewTicker(timeout / 5)
	defer renew.Stop()
	b, _ := json.Marshal(l.view.me)
	for {
		select {
		case <-l.stop:
			return
		case <-renew.C:
			r := &kgo.Record{Topic: l.k.topic, Partition: 0, Key: []byte(l.k.name + holdSuffix), Value: b}
			l.cl.Produce(context.Background(), r, func(_ *kgo.Record, err error) {
				if err == nil {
					l.acked.Store(time.Now().UnixNano())
				}
			})
		default:
		}
		if err := l.k.poll(context.Background(), l.cl, l.view); err == nil && l.view.laterAsk != nil {
			l.lose(fmt.Errorf("%w (%s)", ErrTakenOver, l.view.laterAsk.Holder))
		}
		if time.Since(time.Unix(0, l.acked.Load())) > timeout*4/5 {
			l.lose(fmt.Errorf("%w: no hold was acknowledged by the brokers for %v (checkpoint.lease_timeout %v)", ErrLeaseExpired, timeout*4/5, timeout))
		}
	}
}

// lose closes lost, once, with why.
func (l *kafkaLease) lose(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		l.err = err
		close(l.lost)
	}
}

func (l *kafkaLease) Lost() <-chan struct{} { return l.lost }

func (l *kafkaLease) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Release writes the release record (unless the hold expired: another
// process may hold the stream by now) and closes the client.
func (l *kafkaLease) Release() {
	l.once.Do(func() {
		close(l.stop)
		<-l.done
		if !errors.Is(l.Err(), ErrLeaseExpired) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			l.k.put(ctx, l.cl, releaseSuffix, l.view.me)
			cancel()
		}
		l.cl.Close()
	})
}
