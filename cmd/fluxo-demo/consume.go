package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// printRecords prints the registry's subjects and every record of the
// shop topics, decoded.
func printRecords(ctx context.Context, srv *servers, out io.Writer) error {
	changes, err := consume(ctx, srv.brokers, srv.registryURL, shopTopics())
	if err != nil {
		return err
	}
	subs, err := subjects(ctx, srv.registryURL)
	if err != nil {
		return fmt.Errorf("list the registry's subjects: %w", err)
	}
	fmt.Fprintf(out, "    registry subjects: %s\n\n", strings.Join(subs, ", "))
	printChanges(out, changes)
	fmt.Fprintln(out, "    (op: r = snapshot read, c = create, u = update, d = delete; records are in order within a partition)")
	return nil
}

// partition names one partition of a topic.
type partition struct {
	topic string
	id    int32
}

// consume reads topics from the start up to the end offsets they have when
// it begins, and decodes every record through the registry. The result is
// sorted by topic, partition and offset: Kafka orders records within a
// partition, and all the records of one key go to the same partition.
func consume(ctx context.Context, brokers []string, registryURL string, topics []string) ([]change, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	dec, err := newDecoder(registryURL)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	pending, err := endOffsets(ctx, cl, topics)
	if err != nil {
		return nil, fmt.Errorf("read end offsets: %w", err)
	}
	var out []change
	for len(pending) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("consume %s: %d records so far: %w", strings.Join(topics, ", "), len(out), err)
		}
		for _, fe := range fs.Errors() {
			return nil, fmt.Errorf("consume %s/%d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		for _, r := range fs.Records() {
			c, err := dec.change(ctx, r)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
			p := partition{r.Topic, r.Partition}
			if end, ok := pending[p]; ok && r.Offset+1 >= end {
				delete(pending, p)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Topic != b.Topic {
			return a.Topic < b.Topic
		}
		if a.Partition != b.Partition {
			return a.Partition < b.Partition
		}
		return a.Offset < b.Offset
	})
	return out, nil
}

// endOffsets returns the end offset (the next offset to be written) of
// every non-empty partition of topics.
func endOffsets(ctx context.Context, cl *kgo.Client, topics []string) (map[partition]int64, error) {
	meta := kmsg.NewPtrMetadataRequest()
	for _, t := range topics {
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = kmsg.StringPtr(t)
		meta.Topics = append(meta.Topics, mt)
	}
	mresp, err := meta.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	req := kmsg.NewPtrListOffsetsRequest()
	for _, t := range mresp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return nil, fmt.Errorf("topic %s: %w", *t.Topic, err)
		}
		lt := kmsg.NewListOffsetsRequestTopic()
		lt.Topic = *t.Topic
		for _, p := range t.Partitions {
			lp := kmsg.NewListOffsetsRequestTopicPartition()
			lp.Partition, lp.Timestamp = p.Partition, -1 // -1: the latest offset
			lt.Partitions = append(lt.Partitions, lp)
		}
		req.Topics = append(req.Topics, lt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	ends := map[partition]int64{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("%s/%d: %w", t.Topic, p.Partition, err)
			}
			if p.Offset > 0 {
				ends[partition{t.Topic, p.Partition}] = p.Offset
			}
		}
	}
	return ends, nil
}

// printChanges prints one aligned line per record: topic, partition/offset,
// op, key, and before -> after (or "tombstone").
func printChanges(w io.Writer, changes []change) {
	topicW, keyW := len("TOPIC"), len("KEY")
	for _, c := range changes {
		topicW, keyW = max(topicW, len(c.Topic)), max(keyW, len(c.Key))
	}
	line := func(topic, at, op, key, data string) {
		fmt.Fprintf(w, "    %-*s  %-9s  %-2s  %-*s  %s\n", topicW, topic, at, op, keyW, key, data)
	}
	line("TOPIC", "PART/OFFS", "OP", "KEY", "BEFORE -> AFTER")
	for _, c := range changes {
		at := fmt.Sprintf("%d/%d", c.Partition, c.Offset)
		if c.Op == "" {
			line(c.Topic, at, "", c.Key, "tombstone")
			continue
		}
		line(c.Topic, at, c.Op, c.Key, c.Before+" -> "+c.After)
	}
}
