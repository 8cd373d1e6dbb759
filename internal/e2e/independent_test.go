package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pyRecord is one line of testdata/decode_topic.py's output.
type pyRecord struct {
	Partition int32          `json:"partition"`
	Offset    int64          `json:"offset"`
	Key       map[string]any `json:"key"`
	Value     map[string]any `json:"value"`
}

// TestIndependentReader decodes the stream with clients nobody here wrote:
// librdkafka through Debian's python3-confluent-kafka and its legacy Avro
// MessageSerializer, and kcat for the raw framing. It compares what they
// decode with the table.
func TestIndependentReader(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	forEachBackend(t, testIndependentReader)
}

func testIndependentReader(t *testing.T, e *env) {
	connector := "mysql"
	if e.pg != nil {
		connector = "postgresql"
	}
	e.exec("CREATE TABLE acct (id INT PRIMARY KEY, owner VARCHAR(40) NOT NULL, balance DECIMAL(12,2), note TEXT)" + e.unicodeTable())
	e.exec("INSERT INTO acct VALUES (1, 'Zoë 🦊', 10.50, NULL), (2, 'bob', -3.25, 'x')")
	s := e.startStream(e.config(""))
	topic := e.topic("acct")
	e.consume(topic, 2, 30*time.Second)
	e.exec("INSERT INTO acct VALUES (3, 'carol', 99999999.99, 'big')")
	e.exec("UPDATE acct SET balance = balance + 1 WHERE id = 1")
	e.exec("DELETE FROM acct WHERE id = 2")
	e.consume(topic, 6, 30*time.Second) // r r c u d tombstone
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	recs := pythonDecode(t, e, topic, 6)
	state := map[string]map[string]any{}
	ops := []string{}
	for _, r := range recs {
		id := fmt.Sprint(r.Key["id"])
		if r.Value == nil {
			ops = append(ops, "tombstone")
			delete(state, id)
			continue
		}
		ops = append(ops, fmt.Sprint(r.Value["op"]))
		after, _ := r.Value["after"].(map[string]any)
		if after == nil {
			delete(state, id)
		} else {
			state[id] = after
		}
		if src, _ := r.Value["source"].(map[string]any); src["connector"] != connector || src["db"] != e.dbName {
			t.Errorf("source block: %v", src)
		}
	}
	want := map[string]string{"1": "Zoë 🦊 11.50 <nil>", "3": "carol 99999999.99 big"}
	for id, w := range want {
		got := state[id]
		if g := fmt.Sprintf("%v %v %v", got["owner"], got["balance"], got["note"]); g != w {
			t.Errorf("id %s: python decoded %q, table has %q", id, g, w)
		}
	}
	if len(state) != len(want) {
		t.Errorf("python replay has %d rows, want %d: %v", len(state), len(want), state)
	}
	t.Logf("ops seen by python: %v", ops)
	kcatFraming(t, e, topic)
}

func pythonDecode(t *testing.T, e *env, topic string, n int) []pyRecord {
	t.Helper()
	return pythonDecodeDrain(t, e, topic, n, 0)
}

// pythonDecodeDrain is pythonDecode that goes on reading for drain after
// the n records came, returning any more (duplicates) too.
func pythonDecodeDrain(t *testing.T, e *env, topic string, n int, drain time.Duration) []pyRecord {
	t.Helper()
	cmd := exec.Command("/usr/bin/python3", "testdata/decode_topic.py", strings.Join(e.brokers, ","), e.regURL, topic,
		fmt.Sprint(n), fmt.Sprint(drain.Seconds()))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python reader: %v\n%s", err, stderr.String())
	}
	var recs []pyRecord
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r pyRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("python output %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	return recs
}

// kcatFraming checks with librdkafka's kcat that the tombstone is a real
// null value with a key, and every other value is longer than the 5-byte
// Confluent header (python's MessageSerializer already checked the magic
// byte).
func kcatFraming(t *testing.T, e *env, topic string) {
	t.Helper()
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Log("kcat not installed; skipping the raw framing check")
		return
	}
	out, err := exec.Command("kcat", "-b", strings.Join(e.brokers, ","), "-C", "-t", topic, "-e", "-q",
		"-f", "%S %K\n", "-X", "broker.address.family=v4").CombinedOutput()
	if err != nil {
		t.Fatalf("kcat: %v\n%s", err, out)
	}
	nulls, framed := 0, 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			t.Fatalf("kcat line %q", line)
		}
		size, _ := strconv.Atoi(f[0])
		switch {
		case size == -1 && f[1] != "-1":
			nulls++
		case size > 5:
			framed++
		}
	}
	if nulls != 1 || framed != 5 {
		t.Errorf("kcat saw %d null values and %d framed values, want 1 and 5:\n%s", nulls, framed, out)
	}
}
