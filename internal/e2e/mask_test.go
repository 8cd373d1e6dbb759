package e2e

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2/ocf"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The raw personal data of TestMasking: none of it may leave the database.
const (
	rawCPF   = "RAWCPF-123.456.789-00"
	rawEmail = "raw.ana@example.com"
	rawNote  = "RAWNOTE-very-secret"
	maskKey  = "test-mask-key-0123456789"
)

// TestMasking: with source.mask_columns, hashed columns reach Kafka (the
// incremental snapshot and the stream) and the bronze files (full load) as
// the HMAC-SHA-256 hex of their text, equal across tables so that they
// still join, redacted ones as null; the raw values appear nowhere in the
// Kafka topics, the registry, the bronze files, the checkpoint or fluxo's
// logs (at debug level).
func TestMasking(t *testing.T) {
	forEachBackend(t, testMasking)
}

func testMasking(t *testing.T, e *env) {
	t.Setenv("FLUXO_MASK_KEY", maskKey)
	e.logCopy = &lockedBuffer{}
	e.exec("CREATE TABLE customers (id INT PRIMARY KEY, cpf VARCHAR(32), email VARCHAR(64), note TEXT)")
	e.exec("CREATE TABLE orders (id INT PRIMARY KEY, cpf VARCHAR(32), total INT NOT NULL)")
	e.exec(fmt.Sprintf("INSERT INTO customers VALUES (1, '%s', '%s', '%s')", rawCPF, rawEmail, rawNote)) // read by the snapshot
	bronze := filepath.Join(e.dir, "bronze")
	schema := e.dbName
	if e.pg != nil {
		schema = "public"
	}
	cfg := e.configSource(fmt.Sprintf("  mask_columns: {%[1]s.customers.cpf: hash, %[1]s.customers.email: hash, %[1]s.orders.cpf: hash, %[1]s.customers.note: redact}\n", schema),
		"bronze:\n  url: file://"+bronze+"\n")
	s := e.startStream(cfg)
	e.consume(e.topic("customers"), 1, 30*time.Second)
	e.exec(fmt.Sprintf("INSERT INTO orders VALUES (10, '%s', 5)", rawCPF)) // read from the change stream
	e.exec(fmt.Sprintf("UPDATE customers SET note = '%s!' WHERE id = 1", rawNote))
	e.consume(e.topic("orders"), 1, 30*time.Second)
	e.consume(e.topic("customers"), 2, 30*time.Second)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	if err := e.runFullload(cfg, "masked"); err != nil {
		t.Fatal(err)
	}

	cpf, email := hmacText(rawCPF), hmacText(rawEmail)
	cust := pythonDecode(t, e, e.topic("customers"), 2)
	for _, r := range cust {
		after := r.Value["after"].(map[string]any)
		if after["cpf"] != cpf || after["email"] != email || after["note"] != nil {
			t.Fatalf("customers record read by the independent reader: %v; want cpf %s, email %s, note null", after, cpf, email)
		}
	}
	ord := pythonDecode(t, e, e.topic("orders"), 1)
	if got := ord[0].Value["after"].(map[string]any)["cpf"]; got != cpf {
		t.Fatalf("orders.cpf %v, customers.cpf %s: the hashes do not join", got, cpf)
	}
	rows := bronzeRows(t, bronze, "customers")
	if len(rows) != 1 || rows[0]["cpf"] != cpf || rows[0]["note"] != nil {
		t.Fatalf("bronze customers %v, want cpf %s and no note", rows, cpf)
	}

	raw := []string{rawCPF, rawEmail, rawNote}
	where := map[string][]byte{"logs": []byte(e.logCopy.String()), "registry": e.registryDump(t)}
	for topic, b := range e.topicBytes(t) {
		where["topic "+topic] = b
	}
	filepath.WalkDir(e.dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.Contains(p, "/pg") {
			b, _ := os.ReadFile(p)
			where["file "+p] = b
		}
		return nil
	})
	for name, b := range where {
		for _, r := range raw {
			if bytes.Contains(b, []byte(r)) {
				t.Errorf("%s holds the raw value %q", name, r)
			}
		}
	}
	if len(where) < 5 {
		t.Fatalf("scanned only %v", len(where))
	}
}

// hmacText is what the mask hashes text to under the test's key.
func hmacText(s string) string {
	h := hmac.New(sha256.New, []byte(maskKey))
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil))
}

// bronzeRows reads every Avro data file of table under root.
func bronzeRows(t *testing.T, root, table string) []map[string]any {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(root, "t", "*", table, "date=*", "run=*", "part-*.avro"))
	var rows []map[string]any
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec, err := ocf.NewDecoder(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		for dec.HasNext() {
			var r map[string]any
			if err := dec.Decode(&r); err != nil {
				t.Fatal(err)
			}
			for k, v := range r { // ["null", string] unions decode as {"string": v}
				if m, ok := v.(map[string]any); ok && len(m) == 1 {
					r[k] = m["string"]
				}
			}
			rows = append(rows, r)
		}
	}
	if len(files) == 0 {
		t.Fatalf("no bronze files of %s under %s", table, root)
	}
	return rows
}

// topicBytes returns the raw keys and values of every topic of the broker.
func (e *env) topicBytes(t *testing.T) map[string][]byte {
	t.Helper()
	adm, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	topics, err := kadm.NewClient(adm).ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, name := range topics.Names() {
		cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ConsumeTopics(name), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		for pctx.Err() == nil {
			cl.PollFetches(pctx).EachRecord(func(r *kgo.Record) { b.Write(r.Key); b.Write(r.Value) })
		}
		pcancel()
		cl.Close()
		out[name] = b.Bytes()
	}
	return out
}

// registryDump returns every schema of the registry's subjects.
func (e *env) registryDump(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	get := func(path string) []byte {
		resp, err := http.Get(e.regURL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		b.Write(body)
		return body
	}
	var subjects []string
	if err := json.Unmarshal(get("/subjects"), &subjects); err != nil {
		t.Fatal(err)
	}
	for _, subject := range subjects {
		get("/subjects/" + subject + "/versions/latest")
	}
	return b.Bytes()
}
