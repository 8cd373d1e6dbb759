package config

import (
	"fmt"
	"log/slog"

	"gopkg.in/yaml.v3"
)

const hidden = "***"

// Redacted returns a copy of c that is safe to print: the DSN and the
// bronze and registry URLs go through Redact, and the SASL and Schema
// Registry passwords are replaced by ***.
func (c *Config) Redacted() *Config {
	r := *c
	r.Source = c.Source.redacted()
	r.Kafka.TLS = cloneTLS(c.Kafka.TLS)
	if s := c.Kafka.SASL; s != nil {
		sasl := s.redacted()
		r.Kafka.SASL = &sasl
	}
	r.SchemaRegistry = c.SchemaRegistry.redacted()
	r.Bronze.URL = Redact(c.Bronze.URL)
	return &r
}

// String returns the configuration as YAML, with every secret replaced by
// *** (see Redacted).
func (c Config) String() string {
	out, err := yaml.Marshal(c.Redacted())
	if err != nil {
		return fmt.Sprintf("config %q (unprintable: %v)", c.Name, err)
	}
	return string(out)
}

// GoString makes %#v as safe as %v.
func (c Config) GoString() string { return c.String() }

// LogValue logs the main settings without secrets, for log/slog.
func (c Config) LogValue() slog.Value {
	r := c.Redacted()
	return slog.GroupValue(
		slog.String("name", r.Name),
		slog.String("dsn", r.Source.DSN),
		slog.Any("tables", r.Source.Tables),
		slog.Any("brokers", r.Kafka.Brokers),
		slog.String("topic_prefix", r.Kafka.TopicPrefix),
		slog.String("schema_registry", r.SchemaRegistry.URL),
		slog.String("checkpoint", r.Checkpoint.Store+":"+r.Checkpoint.Path),
		slog.String("snapshot", r.Snapshot.Mode),
		slog.String("bronze", r.Bronze.URL),
		slog.String("http", r.HTTP.Listen),
	)
}

func (s Source) redacted() Source {
	s.DSN = Redact(s.DSN)
	return s
}

// String returns the source's flavor and DSN with the password hidden.
func (s Source) String() string {
	return fmt.Sprintf("%s source %s", s.Connector(), Redact(s.DSN))
}

// GoString makes %#v as safe as %v.
func (s Source) GoString() string { return s.String() }

// LogValue logs the source without its password, for log/slog.
func (s Source) LogValue() slog.Value { return slog.StringValue(s.String()) }

func (s SASL) redacted() SASL {
	if s.Password != "" {
		s.Password = hidden
	}
	return s
}

// String returns the mechanism and user, never the password.
func (s SASL) String() string { return s.Mechanism + " as " + s.Username }

// GoString makes %#v as safe as %v.
func (s SASL) GoString() string { return s.String() }

// LogValue logs the mechanism and user, never the password.
func (s SASL) LogValue() slog.Value { return slog.StringValue(s.String()) }

func (r SchemaRegistry) redacted() SchemaRegistry {
	r.URL = Redact(r.URL)
	if r.Password != "" {
		r.Password = hidden
	}
	r.TLS = cloneTLS(r.TLS)
	return r
}

// String returns the registry URL (redacted) and user, never the password.
func (r SchemaRegistry) String() string {
	if r.Username == "" {
		return Redact(r.URL)
	}
	return Redact(r.URL) + " as " + r.Username
}

// GoString makes %#v as safe as %v.
func (r SchemaRegistry) GoString() string { return r.String() }

// LogValue logs the registry without its password, for log/slog.
func (r SchemaRegistry) LogValue() slog.Value { return slog.StringValue(r.String()) }

func cloneTLS(t *TLS) *TLS {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}
