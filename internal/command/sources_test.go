package command

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/internal/config"
)

// TestSourceKinds: every connector has one complete entry, found by its
// DSN's scheme and by the name its checkpoints carry.
func TestSourceKinds(t *testing.T) {
	tests := []struct {
		dsn  string
		want cdc.Connector
	}{
		{"mysql://u@127.0.0.1:3306/shop", cdc.ConnectorMySQL},
		{"postgres://u@127.0.0.1/shop", cdc.ConnectorPostgres},
		{"postgresql://u@127.0.0.1/shop", cdc.ConnectorPostgres},
		{"oracle://u@127.0.0.1/shop", ""},
	}
	for _, tc := range tests {
		k, err := kindOf(&config.Config{Source: config.Source{DSN: tc.dsn}})
		if tc.want == "" {
			if !errors.Is(err, errNoKind) {
				t.Errorf("%s: got %v, want errNoKind", tc.dsn, err)
			}
			continue
		}
		if err != nil || k.connector != tc.want || kindNamed(tc.want) != k {
			t.Fatalf("%s: got %v, %v; want the %s entry", tc.dsn, k, err, tc.want)
		}
		if k.open == nil || k.dumper == nil || k.check == nil || k.lag == nil || k.tables == nil {
			t.Errorf("%s: incomplete entry %+v", tc.want, *k)
		}
	}
	seen := map[cdc.Connector]bool{}
	for _, k := range sourceKinds {
		if seen[k.connector] {
			t.Errorf("%s listed twice", k.connector)
		}
		seen[k.connector] = true
	}
}

func TestKafkaConnectFix(t *testing.T) {
	plain := &config.Config{}
	sasl := &config.Config{Kafka: config.Kafka{SASL: &config.SASL{Mechanism: "PLAIN", Username: "u"}}}
	tests := []struct {
		name string
		cfg  *config.Config
		err  error
		want string
	}{
		{"untrusted certificate", plain, fmt.Errorf("dial: %w", x509.UnknownAuthorityError{}), "check kafka.tls"},
		{"plaintext listener", plain, fmt.Errorf("handshake: %w", tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}), "check kafka.tls"},
		{"alert", plain, fmt.Errorf("handshake: %w", tls.AlertError(42)), "check kafka.tls"},
		{"closed without sasl", plain, io.EOF, "does its listener need TLS"},
		{"closed with sasl", sasl, io.EOF, "check kafka.sasl"},
		{"text only", plain, errors.New("tls: made up, not a TLS error type"), "check kafka.brokers"},
	}
	for _, tc := range tests {
		if got := kafkaConnectFix(tc.cfg, tc.err); !strings.Contains(got, tc.want) {
			t.Errorf("%s: got %q, want it to contain %q", tc.name, got, tc.want)
		}
	}
}
