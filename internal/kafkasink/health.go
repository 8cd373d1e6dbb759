package kafkasink

import (
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// healthHook reports the brokers' reachability to a cdc.Health: Kafka is
// down while every broker the client talks to fails (dial, write or read
// errors), and up again on the first request that succeeds.
type healthHook struct {
	h cdc.Health

	mu   sync.Mutex
	errs map[int32]error // by broker node id; nil value: last request succeeded
}

func newHealthHook(h cdc.Health) *healthHook {
	return &healthHook{h: h, errs: map[int32]error{}}
}

// OnBrokerConnect implements kgo.HookBrokerConnect.
func (k *healthHook) OnBrokerConnect(meta kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err != nil {
		k.report(meta.NodeID, err)
	}
}

// OnBrokerE2E implements kgo.HookBrokerE2E.
func (k *healthHook) OnBrokerE2E(meta kgo.BrokerMetadata, _ int16, e2e kgo.BrokerE2E) {
	k.report(meta.NodeID, e2e.Err())
}

func (k *healthHook) report(node int32, err error) {
	k.mu.Lock()
	k.errs[node] = err
	var last error
	down := err != nil
	for _, e := range k.errs {
		if e == nil {
			down = false
			break
		}
		last = e
	}
	k.mu.Unlock()
	if down {
		k.h.Down(cdc.ComponentKafka, last)
	} else if err == nil {
		k.h.Up(cdc.ComponentKafka)
	}
}

var (
	_ kgo.HookBrokerConnect = (*healthHook)(nil)
	_ kgo.HookBrokerE2E     = (*healthHook)(nil)
)
