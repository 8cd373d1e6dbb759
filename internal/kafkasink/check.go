package kafkasink

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// NewChecker returns a Sink for `fluxo check`: the stream's client
// settings, with dials bounded by dialTimeout and no request retried, so
// that an unreachable broker is reported with its own error at once.
func NewChecker(opts Options, dialTimeout time.Duration) (*Sink, error) {
	if len(opts.Brokers) == 0 {
		return nil, errors.New("kafka: no brokers configured (set kafka.brokers)")
	}
	kopts, err := clientOptions(opts)
	if err != nil {
		return nil, err
	}
	kopts = append(kopts, kgo.DialTimeout(dialTimeout), kgo.RequestTimeoutOverhead(dialTimeout), kgo.RequestRetries(0))
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	return &Sink{cl: cl}, nil
}

// Cluster is what a metadata request tells of the cluster and some topics.
type Cluster struct {
	// ID is the cluster id ("" when the broker does not tell).
	ID string
	// Brokers is the number of live brokers.
	Brokers int
	// Topics holds each topic asked for that exists.
	Topics map[string]Topic
}

// Topic is what the metadata says of one topic.
type Topic struct {
	Partitions int
	// Writable is false when the brokers report that this client may not
	// write to the topic (the Write ACL), true otherwise, also when the
	// brokers do not report authorised operations.
	Writable bool
}

// aclWrite is the bit of kmsg.ACLOperationWrite in authorised operations;
// authorizedUnknown means the broker did not report them.
const (
	aclWrite          = 1 << int32(kmsg.ACLOperationWrite)
	authorizedUnknown = -2147483648
)

// Describe sends one metadata request for topics (none when empty): it
// proves a broker answers (with authentication and TLS), and tells which
// topics exist. A topic the client may not describe is an error.
func (s *Sink) Describe(ctx context.Context, topics []string) (Cluster, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{} // not nil: nil asks for every topic
	req.IncludeTopicAuthorizedOperations = true
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, s.cl)
	if err != nil {
		return Cluster{}, fmt.Errorf("kafka metadata: %w", err)
	}
	c := Cluster{Brokers: len(resp.Brokers), Topics: map[string]Topic{}}
	if resp.ClusterID != nil {
		c.ID = *resp.ClusterID
	}
	for _, t := range resp.Topics {
		if t.Topic == nil {
			continue
		}
		err := kerr.ErrorForCode(t.ErrorCode)
		switch {
		case errors.Is(err, kerr.UnknownTopicOrPartition):
			continue
		case err != nil:
			return c, fmt.Errorf("kafka metadata for %q: %w", *t.Topic, err)
		}
		ops := t.AuthorizedOperations
		c.Topics[*t.Topic] = Topic{Partitions: len(t.Partitions), Writable: ops == authorizedUnknown || ops&aclWrite != 0}
	}
	return c, nil
}

// ValidateCreate asks the controller whether topics could be created with
// the brokers' defaults, as Partitions creates them, without creating them
// (CreateTopics with ValidateOnly). It returns each refused topic's error.
func (s *Sink) ValidateCreate(ctx context.Context, topics []string) (map[string]error, error) {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.ValidateOnly = true
	req.TimeoutMillis = 10_000
	for _, t := range topics {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic = t
		rt.NumPartitions = -1
		rt.ReplicationFactor = -1
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, s.cl)
	if err != nil {
		return nil, fmt.Errorf("kafka: validate topic creation: %w", err)
	}
	refused := map[string]error{}
	for _, t := range resp.Topics {
		err := kerr.ErrorForCode(t.ErrorCode)
		if err == nil || errors.Is(err, kerr.TopicAlreadyExists) {
			continue
		}
		if t.ErrorMessage != nil && *t.ErrorMessage != "" {
			err = fmt.Errorf("%w: %s", err, *t.ErrorMessage)
		}
		refused[t.Topic] = err
	}
	return refused, nil
}

// Group fetches the offsets a consumer group committed (fluxo sink's),
// which needs DESCRIBE on the group, and returns how many partitions have
// one (none for a group no sink has joined yet). A refusal is
// kerr.GroupAuthorizationFailed.
func (s *Sink) Group(ctx context.Context, group string) (int, error) {
	offsets, err := kadm.NewClient(s.cl).FetchOffsets(ctx, group)
	if err == nil {
		err = offsets.Error()
	}
	if errors.Is(err, kerr.GroupIDNotFound) {
		return 0, nil // not created yet: the first fluxo sink does
	}
	if err != nil {
		return 0, fmt.Errorf("kafka: fetch the offsets of group %s: %w", group, err)
	}
	n := 0
	offsets.Each(func(o kadm.OffsetResponse) {
		if o.At >= 0 {
			n++
		}
	})
	return n, nil
}
