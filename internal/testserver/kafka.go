package testserver

import (
	"fmt"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// kafkaDefaults come before the caller's options, which may override them.
func kafkaDefaults() []kfake.Opt {
	return []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.DefaultNumPartitions(3),
		kfake.AllowAutoTopicCreation(),
	}
}

// StartKafka starts an in-process fake Kafka cluster (kfake) with one broker
// on a free port of 127.0.0.1; topics are auto-created with 3 partitions
// (clients must ask for auto-creation, e.g. kgo.AllowAutoTopicCreation()).
// opts are applied after these defaults. It returns the cluster and its seed
// addresses ("127.0.0.1:port"). Stop it with c.Close() or StopKafka.
func StartKafka(opts ...kfake.Opt) (*kfake.Cluster, []string, error) {
	c, err := kfake.NewCluster(append(kafkaDefaults(), opts...)...)
	if err != nil {
		return nil, nil, fmt.Errorf("testserver: start kfake: %w", err)
	}
	return c, c.ListenAddrs(), nil
}

// StopKafka closes c and returns the addresses it listened on, for
// RestartKafka. c must still be running: kfake's ListenAddrs blocks forever
// on a closed cluster.
func StopKafka(c *kfake.Cluster) []string {
	addrs := c.ListenAddrs()
	c.Close()
	return addrs
}

// RestartKafka starts a new cluster on the addresses returned by StopKafka
// (or StartKafka), so clients can reconnect to the same seeds. The new
// cluster only has the old data if both were started with the same
// kfake.DataDir option (kfake writes its state there on Close).
func RestartKafka(addrs []string, opts ...kfake.Opt) (*kfake.Cluster, error) {
	ports := make([]int, 0, len(addrs))
	for _, a := range addrs {
		host, port, err := net.SplitHostPort(a)
		if err != nil || host != loopback {
			return nil, fmt.Errorf("testserver: restart kfake: %q is not a 127.0.0.1 address", a)
		}
		n, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("testserver: restart kfake: bad port in %q", a)
		}
		ports = append(ports, n)
	}
	all := append(kafkaDefaults(), opts...)
	c, err := kfake.NewCluster(append(all, kfake.Ports(ports...))...)
	if err != nil {
		return nil, fmt.Errorf("testserver: restart kfake: %w", err)
	}
	return c, nil
}

// StartRegistry starts an in-memory fake Confluent Schema Registry (srfake)
// on a free port of 127.0.0.1 and returns it with its base URL
// ("http://127.0.0.1:port"). Stop it with reg.Close().
func StartRegistry(opts ...srfake.Option) (reg *srfake.Registry, url string, err error) {
	defer func() {
		// httptest.NewServer, used by srfake.New, panics if it cannot listen.
		if r := recover(); r != nil {
			reg, url, err = nil, "", fmt.Errorf("testserver: start srfake: %v", r)
		}
	}()
	reg = srfake.New(opts...)
	return reg, reg.URL(), nil
}
