package kafkasink

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// committed reads topic with read_committed and returns its values.
func committed(t *testing.T, brokers []string, topic string) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var got []string
	for ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	sort.Strings(got)
	return got
}

// TestTransactions: a transactional sink's records are invisible to
// read_committed readers until Commit, which adds its extra records
// atomically; Abort discards; a second sink with the same transactional id
// fences the first, whose Commit then fails with ErrFenced.
func TestTransactions(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	open := func() *Sink {
		s, err := New(Options{Brokers: brokers, TransactionalID: "fluxo-shop"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	}
	produce := func(s *Sink, vals ...string) {
		for _, v := range vals {
			s.Produce(ctx, &cdc.Record{Topic: "data", Key: []byte(v), Value: []byte(v), Partition: -1}, func(error) {})
		}
	}
	a := open()
	produce(a, "1", "2")
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := committed(t, brokers, "data"); len(got) != 0 {
		t.Fatalf("before the commit, read_committed sees %v", got)
	}
	if err := a.Commit(ctx, []*cdc.Record{{Topic: "data", Key: []byte("cp"), Value: []byte("cp"), Partition: -1}}); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(committed(t, brokers, "data")); got != "[1 2 cp]" {
		t.Fatalf("after the commit, read_committed sees %s", got)
	}
	produce(a, "3")
	if err := a.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	produce(a, "4")
	b := open()
	produce(b, "5")
	if err := b.Commit(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.Commit(ctx, nil); !errors.Is(err, ErrFenced) {
		t.Fatalf("the fenced sink's Commit: %v, want ErrFenced", err)
	}
	if got := fmt.Sprint(committed(t, brokers, "data")); got != "[1 2 5 cp]" {
		t.Fatalf("in the end, read_committed sees %s", got)
	}
}

// TestCheckTransactionsRefused: what the brokers refuse at the start of a
// transactional stream is named with its fix: a transaction timeout over
// the brokers' maximum, a principal without WRITE on its transactional id.
func TestCheckTransactionsRefused(t *testing.T) {
	topicACL := kfake.ACL{Resource: kmsg.ACLResourceTypeTopic, Name: "*", Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: kmsg.ACLOperationAll, Allow: true}
	tests := []struct {
		name    string
		cluster []kfake.Opt
		opts    Options
		want    string
	}{
		{"timeout over the brokers' maximum", []kfake.Opt{kfake.BrokerConfigs(map[string]string{"transaction.max.timeout.ms": "5000"})},
			Options{TransactionTimeout: time.Minute}, "kafka.transaction_timeout is longer than the brokers' transaction.max.timeout.ms"},
		{"no ACL on the transactional id", []kfake.Opt{kfake.EnableSASL(), kfake.EnableACLs(), kfake.Superuser("PLAIN", "admin", "admin"),
			kfake.User("PLAIN", "fluxo", "pw", topicACL)},
			Options{SASL: SASL{Mechanism: "plain", Username: "fluxo", Password: "pw"}}, "grant fluxo's principal WRITE and DESCRIBE on its transactional id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, tt.cluster...)...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			opts := tt.opts
			opts.Brokers = c.ListenAddrs()
			err = CheckTransactions(ctx, opts, "fluxo-shop-check")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("CheckTransactions = %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

// TestCheckTransactionsOldBrokers: brokers that predate transactions are
// named as such.
func TestCheckTransactionsOldBrokers(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.MaxVersions(kversion.V0_10_2()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := CheckTransactions(ctx, Options{Brokers: c.ListenAddrs()}, "fluxo-shop-check"); !errors.Is(err, ErrNoTransactions) {
		t.Fatalf("CheckTransactions on brokers without transactions = %v, want ErrNoTransactions", err)
	}
	s, err := New(Options{Brokers: c.ListenAddrs(), TransactionalID: "fluxo-shop"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Fence(ctx); !errors.Is(err, ErrNoTransactions) {
		t.Fatalf("Fence on brokers without transactions = %v, want ErrNoTransactions", err)
	}
}
