package command

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"crypto/tls"
	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/internal/config"
	"github.com/fluxo-cdc/fluxo/internal/kafkasink"
	"github.com/fluxo-cdc/fluxo/internal/lake/bronze"
	"github.com/fluxo-cdc/fluxo/internal/schemaregistry"
)

// checkSource runs the source's preflight and sends the captured tables
// (nil when unknown) on tables.
func checkSource(ctx context.Context, cfg *config.Config, connectTimeout time.Duration, tables chan<- []cdc.TableID) []cdc.Check {
	var ids []cdc.TableID
	defer func() { tables <- ids }()
	filter, err := cfg.Source.TableFilter()
	if err != nil {
		return []cdc.Check{{Name: "source.connect", Status: cdc.CheckSkip, Detail: "needs a valid config: " + err.Error()}}
	}
	kind, err := kindOf(cfg)
	if err != nil {
		return []cdc.Check{{Name: "source.connect", Status: cdc.CheckSkip, Detail: "needs a mysql:// or postgres:// source.dsn"}}
	}
	a := checkArgs{filter: filter, connectTimeout: connectTimeout}
	if _, cp, err := loadCheckpoint(ctx, cfg); err == nil && cp != nil && cp.Connector == kind.connector {
		a.position = cp.Position
	}
	var lines []cdc.Check
	lines, ids = kind.check(ctx, cfg, a)
	return append(lines, namedTables(cfg, filter, ids)...)
}

// namedTables warns about tables that source.tables names without a glob
// but that the source does not have (or does not show the user).
func namedTables(cfg *config.Config, filter cdc.Filter, ids []cdc.TableID) []cdc.Check {
	if ids == nil {
		return nil
	}
	have := map[string]bool{}
	for _, id := range ids {
		have[id.Schema+"."+id.Name] = true
	}
	var missing []string
	named := 0
	for _, t := range cfg.Source.Tables {
		schema, table, ok := strings.Cut(t, ".")
		if !ok || strings.ContainsAny(t, `*?[\`) || !filter.Match(schema, table) {
			continue
		}
		named++
		if !have[t] {
			missing = append(missing, t)
		}
	}
	switch {
	case named == 0:
		return nil
	case len(missing) > 0:
		return []cdc.Check{{Name: "source.named_tables", Status: cdc.CheckWarn,
			Detail: "source.tables names " + strings.Join(missing, ", ") + ", which the source does not have or does not show this user: they are not captured",
			Fix:    "create the tables, grant the user SELECT on them, or correct source.tables"}}
	}
	return []cdc.Check{{Name: "source.named_tables", Status: cdc.CheckOK, Detail: fmt.Sprintf("all %d tables named in source.tables exist", named)}}
}

// checkKafka checks that a broker answers, then, once the source listed
// the tables, that their topics exist or may be created.
func checkKafka(ctx context.Context, cfg *config.Config, tables <-chan []cdc.TableID, timeout time.Duration) []cdc.Check {
	conn := cdc.Check{Name: "kafka.connect"}
	topics := cdc.Check{Name: "kafka.topics", Status: cdc.CheckSkip, Detail: "needs kafka.connect"}
	if len(cfg.Kafka.Brokers) == 0 {
		conn.Status, conn.Detail = cdc.CheckSkip, "needs kafka.brokers (see config)"
		return []cdc.Check{conn, topics}
	}
	sink, err := newCheckSink(cfg, timeout/2)
	if err != nil {
		conn.Status, conn.Detail = cdc.CheckFail, err.Error()
		return []cdc.Check{conn, topics}
	}
	defer sink.Close()
	cctx, cancel := context.WithTimeout(ctx, timeout)
	cl, err := sink.Describe(cctx, nil)
	cancel()
	if err != nil {
		conn.Status, conn.Detail, conn.Fix = cdc.CheckFail, fmt.Sprintf("brokers %s: %s%v", strings.Join(cfg.Kafka.Brokers, ","), noAnswer(err, timeout), err), kafkaConnectFix(cfg, err)
		return []cdc.Check{conn, topics}
	}
	conn.Status = cdc.CheckOK
	conn.Detail = fmt.Sprintf("%d broker(s) at %s, cluster %q%s", cl.Brokers, strings.Join(cfg.Kafka.Brokers, ","), cl.ID, saslUser(cfg))
	ids := <-tables
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	topics = checkTopics(tctx, cfg, sink, ids)
	out := []cdc.Check{conn, topics, checkGroup(tctx, cfg, sink)}
	if cfg.Kafka.Transactions {
		out = append(out, checkTransactions(tctx, cfg))
	}
	return out
}

// checkGroup checks that fluxo sink's principal may use its consumer group
// (sink.group): it reads the group's committed offsets.
func checkGroup(ctx context.Context, cfg *config.Config, sink *kafkasink.Sink) cdc.Check {
	line := cdc.Check{Name: "sink.group", Status: cdc.CheckOK}
	n, err := sink.Group(ctx, cfg.Sink.Group)
	if err != nil {
		line.Status, line.Detail = cdc.CheckWarn, err.Error()
		line.Fix = fmt.Sprintf("for fluxo sink, grant %s READ and DESCRIBE on the group %s and READ on the topics: kafka-acls.sh --bootstrap-server %s --add --allow-principal %s --operation Read --operation Describe --group %s",
			principal(cfg), cfg.Sink.Group, cfg.Kafka.Brokers[0], aclPrincipal(cfg), cfg.Sink.Group)
		return line
	}
	line.Detail = fmt.Sprintf("fluxo sink's group %s: %d partition(s) with a committed offset", cfg.Sink.Group, n)
	return line
}

// checkTransactions checks that the brokers run Kafka transactions for
// fluxo's principal, with a probe transactional id beside the stream's
// (using the stream's own would fence a running stream).
func checkTransactions(ctx context.Context, cfg *config.Config) cdc.Check {
	line := cdc.Check{Name: "kafka.transactions", Status: cdc.CheckOK}
	opts, err := sinkOptions(cfg)
	if err == nil {
		err = kafkasink.CheckTransactions(ctx, opts, transactionalID(cfg)+"-check")
	}
	if err != nil {
		line.Status, line.Detail = cdc.CheckFail, err.Error()
		line.Fix = fmt.Sprintf("grant fluxo's principal WRITE and DESCRIBE on transactional ids with the prefix %s, and check that the brokers run transactions (transaction.state.log.*; Kafka 0.11+), or set kafka.transactions: false", transactionalID(cfg))
		return line
	}
	line.Detail = fmt.Sprintf("the brokers run transactions; the stream's transactional id is %s", transactionalID(cfg))
	return line
}

func newCheckSink(cfg *config.Config, dialTimeout time.Duration) (*kafkasink.Sink, error) {
	opts, err := sinkOptions(cfg)
	if err != nil {
		return nil, err
	}
	opts.TransactionalID = "" // a check never takes the stream's transactional id
	return kafkasink.NewChecker(opts, dialTimeout)
}

func saslUser(cfg *config.Config) string {
	if s := cfg.Kafka.SASL; s != nil {
		return ", SASL " + s.String()
	}
	return ""
}

// kafkaConnectFix says what fixes a failed metadata request.
func kafkaConnectFix(cfg *config.Config, err error) string {
	closed := errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
	switch {
	case errors.Is(err, kerr.SaslAuthenticationFailed), errors.Is(err, kerr.IllegalSaslState), errors.Is(err, kerr.UnsupportedSaslMechanism),
		closed && cfg.Kafka.SASL != nil:
		return "check kafka.sasl (mechanism, username, password) against the brokers' SASL users (a broker closes the connection on failed authentication)"
	case closed:
		return "the broker closed the connection: does its listener need TLS (kafka.tls) or SASL (kafka.sasl)?"
	case tlsFailure(err):
		return "check kafka.tls: ca_file must hold the CA that signed the brokers' certificates"
	case errors.Is(err, kerr.ClusterAuthorizationFailed), errors.Is(err, kerr.TopicAuthorizationFailed):
		return "grant the client's principal Describe on the cluster"
	}
	return "check kafka.brokers (host:port), that the brokers run, and that their advertised listeners are reachable from this host"
}

// tlsFailure reports whether err is a failed TLS handshake: a certificate
// the client does not trust, a peer that does not speak TLS, or an alert
// the peer sent.
func tlsFailure(err error) bool {
	var (
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		header   tls.RecordHeaderError
		alert    tls.AlertError
	)
	return errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &hostname) ||
		errors.As(err, &invalid) || errors.As(err, &header) || errors.As(err, &alert)
}

// checkTopics checks that the captured tables' topics exist and are
// writable, or may be created. Without the tables (the source check
// failed), it checks that a topic under the prefix may be created.
func checkTopics(ctx context.Context, cfg *config.Config, sink *kafkasink.Sink, ids []cdc.TableID) cdc.Check {
	line := cdc.Check{Name: "kafka.topics", Status: cdc.CheckOK}
	prefix := cfg.Kafka.TopicPrefix
	var names []string
	for _, id := range ids {
		names = append(names, prefix+"."+id.Schema+"."+id.Name)
	}
	probe := ids == nil
	if probe {
		names = []string{prefix + ".fluxo_check.probe"}
	}
	cl, err := sink.Describe(ctx, names)
	if err != nil {
		line.Status, line.Detail = cdc.CheckFail, err.Error()
		line.Fix = "grant " + principal(cfg) + " Describe and Write on the topics: " + aclCommand(cfg, "--operation Describe --operation Write")
		return line
	}
	var missing, readOnly []string
	for _, n := range names {
		t, ok := cl.Topics[n]
		switch {
		case !ok:
			missing = append(missing, n)
		case !t.Writable:
			readOnly = append(readOnly, n)
		}
	}
	if len(readOnly) > 0 {
		line.Status, line.Detail = cdc.CheckFail, "no Write permission on "+strings.Join(readOnly, ", ")
		line.Fix = "grant it: " + aclCommand(cfg, "--operation Describe --operation Write")
		return line
	}
	refused, err := map[string]error{}, error(nil)
	if len(missing) > 0 {
		refused, err = sink.ValidateCreate(ctx, missing)
	}
	switch {
	case err != nil:
		line.Status, line.Detail = cdc.CheckFail, err.Error()
	case len(refused) > 0:
		line.Status, line.Detail = cdc.CheckFail, "fluxo may not create the topics it needs: "+describeRefusals(refused)
		line.Fix = "grant " + principal(cfg) + " Create: " + aclCommand(cfg, "--operation Create") + "; or create the topics yourself"
	case probe:
		line.Detail = "creating topics under " + prefix + ". is allowed (the tables are unknown: see the source checks)"
	case len(missing) == len(names):
		line.Detail = fmt.Sprintf("none of the %d topic(s) exists yet: fluxo stream creates them with the brokers' defaults (allowed)", len(names))
	case len(missing) > 0:
		line.Detail = fmt.Sprintf("%d topic(s) exist, %d will be created with the brokers' defaults (allowed)", len(names)-len(missing), len(missing))
	default:
		line.Detail = fmt.Sprintf("all %d topic(s) exist and are writable", len(names))
	}
	return line
}

func describeRefusals(refused map[string]error) string {
	var parts []string
	for t, err := range refused {
		parts = append(parts, t+": "+err.Error())
	}
	if len(parts) > 3 {
		parts = append(parts[:3], fmt.Sprintf("and %d more", len(parts)-3))
	}
	return strings.Join(parts, "; ")
}

func principal(cfg *config.Config) string {
	if s := cfg.Kafka.SASL; s != nil {
		return "User:" + s.Username
	}
	return "the client's principal"
}

// aclCommand is the kafka-acls command granting ops on the topic prefix.
func aclCommand(cfg *config.Config, ops string) string {
	return fmt.Sprintf("kafka-acls.sh --bootstrap-server %s --add --allow-principal %s %s --topic %s. --resource-pattern-type prefixed",
		cfg.Kafka.Brokers[0], aclPrincipal(cfg), ops, cfg.Kafka.TopicPrefix)
}

// aclPrincipal is fluxo's principal as kafka-acls names it.
func aclPrincipal(cfg *config.Config) string {
	if s := cfg.Kafka.SASL; s != nil {
		return "User:" + s.Username
	}
	return "User:<principal>"
}

// noAnswer says "no answer within timeout: " when err is a timeout.
func noAnswer(err error, timeout time.Duration) string {
	var ne net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return fmt.Sprintf("no answer within %s: ", timeout)
	}
	return ""
}

// checkRegistry asks the registry for its subjects.
func checkRegistry(ctx context.Context, cfg *config.Config, timeout time.Duration) []cdc.Check {
	line := cdc.Check{Name: "registry.connect"}
	r := cfg.SchemaRegistry
	if r.URL == "" {
		line.Status, line.Detail = cdc.CheckSkip, "needs schema_registry.url (see config)"
		return []cdc.Check{line}
	}
	tc, err := r.TLS.ClientConfig()
	if err != nil {
		line.Status, line.Detail = cdc.CheckFail, "schema_registry."+err.Error()
		return []cdc.Check{line}
	}
	n, err := schemaregistry.Ping(ctx, schemaregistry.Options{URL: r.URL, Username: r.Username, Password: r.Password, TLS: tc})
	var se *schemaregistry.StatusError
	switch {
	case err == nil:
		line.Status, line.Detail = cdc.CheckOK, fmt.Sprintf("%s answers (%d subjects)", r, n)
		return []cdc.Check{line}
	case errors.As(err, &se) && (se.Code == 401 || se.Code == 403):
		line.Fix = "check schema_registry.username and password, and the user's permissions on the subjects"
	case errors.As(err, &se) && se.Code == 404:
		line.Fix = "set schema_registry.url to the registry's base URL (GET <url>/subjects must list the subjects)"
	case errors.As(err, &se):
		line.Fix = "the registry is failing: check its logs (and, for Confluent's, its Kafka _schemas topic)"
	default:
		line.Fix = "check schema_registry.url and that the registry runs and is reachable from this host"
	}
	line.Status, line.Detail = cdc.CheckFail, fmt.Sprintf("%s: %s%v", r, noAnswer(err, timeout), err)
	return []cdc.Check{line}
}

// checkBronze writes a probe object to bronze.url when it is configured.
// Only fluxo fullload writes there, so a failure is a warning.
func checkBronze(ctx context.Context, cfg *config.Config) []cdc.Check {
	line := cdc.Check{Name: "bronze.writable", Status: cdc.CheckWarn}
	if cfg.Bronze.URL == config.DefaultBronzeURL {
		line.Status, line.Detail = cdc.CheckSkip, "bronze.url is not set (only fluxo fullload uses it)"
		return []cdc.Check{line}
	}
	if err := cfg.ValidateFullload(); err != nil {
		line.Detail = "fluxo fullload cannot use it: " + err.Error()
		return []cdc.Check{line}
	}
	store, err := bronze.Open(ctx, cfg.Bronze.URL)
	if err == nil {
		defer store.Close()
		err = store.CheckWritable(ctx)
	}
	if err != nil {
		line.Detail = "fluxo fullload cannot write there: " + err.Error()
		line.Fix = "correct bronze.url or the target's permissions as the message says (only fluxo fullload needs it)"
		return []cdc.Check{line}
	}
	line.Status, line.Detail = cdc.CheckOK, store.String()+" is writable (a probe object was written under "+bronze.ProbeDir+"/)"
	return []cdc.Check{line}
}
