package avro

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"
	hamba "github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/ocf"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// codecCases are the codecs of NewContainerWriter and the avro.codec each
// writes.
var codecCases = []struct{ codec, avro string }{
	{"snappy", "snappy"},
	{"zstd", "zstandard"},
	{"deflate", "deflate"},
	{"none", "null"},
}

// kindsTable has one column per kindCases entry, named after the case (so
// that most names need sanitising), and rows cycling through every case's
// values and NULL.
func kindsTable(t testing.TB, nrows int) (*cdc.Table, [][]any) {
	t.Helper()
	tbl := &cdc.Table{ID: cdc.TableID{Schema: "shop", Name: "kinds"}}
	var values [][]any
	covered := map[cdc.Kind]bool{}
	for _, kc := range kindCases() {
		kc.col.Name = kc.name
		kc.col.Optional = true
		tbl.Columns = append(tbl.Columns, kc.col)
		values = append(values, append(kc.values, nil))
		for c := &kc.col; c != nil; c = c.Elem {
			covered[c.Kind] = true
		}
	}
	for k := cdc.KindInt32; k <= cdc.KindArray; k++ {
		if !covered[k] {
			t.Fatalf("kindCases do not cover kind %s", k)
		}
	}
	rows := make([][]any, nrows)
	for r := range rows {
		rows[r] = make([]any, len(values))
		for j, vs := range values {
			rows[r][j] = vs[(r+j)%len(vs)]
		}
	}
	return tbl, rows
}

// testMeta is the caller metadata the tests write.
var testMeta = map[string]string{"fluxo.run_id": "run-1", "fluxo.source": "shop 😀"}

// writeFile writes rows with a small block size, so that the file has
// many blocks, checking Rows and Size along the way. Every tenth row a bad
// row is offered first, which must be rejected without harm.
func writeFile(t *testing.T, tbl *cdc.Table, rows [][]any, codec string, blockSize int) []byte {
	t.Helper()
	var buf bytes.Buffer
	cw, err := NewContainerWriter(&buf, tbl, "fx.shop.kinds", codec, testMeta)
	if err != nil {
		t.Fatal(err)
	}
	cw.blockSize = blockSize
	bad := make([]any, len(tbl.Columns))
	bad[3] = "12.5" // decimal(10,2) wants *big.Int
	for i, row := range rows {
		if i%10 == 0 {
			err := cw.Write(bad)
			if want := "kinds.decimal(10,2): want *big.Int for decimal(10,2), got string"; err == nil || err.Error() != want {
				t.Fatalf("bad row: got error %v, want %q", err, want)
			}
		}
		if err := cw.Write(row); err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		if got := cw.Rows(); got != int64(i+1) {
			t.Fatalf("Rows() = %d after %d rows", got, i+1)
		}
	}
	if err := cw.Close(); err != nil {
		t.Fatal(err)
	}
	if cw.Size() != int64(buf.Len()) {
		t.Errorf("Size() after Close = %d, file has %d bytes", cw.Size(), buf.Len())
	}
	if err := cw.Write(rows[0]); err == nil {
		t.Error("Write after Close succeeded")
	}
	if err := cw.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	return buf.Bytes()
}

// ocfFile is an object container file as walkFile parses it.
type ocfFile struct {
	meta   map[string]string
	blocks []int64 // row count of each block
	data   [][]byte
}

// walkFile parses the framing of an object container file strictly: the
// header, then blocks each followed by the sync marker, up to the exact
// end of data.
func walkFile(t *testing.T, data []byte) ocfFile {
	t.Helper()
	f := ocfFile{meta: map[string]string{}}
	if !bytes.HasPrefix(data, []byte("Obj\x01")) {
		t.Fatalf("no magic: % x", data[:min(4, len(data))])
	}
	p := data[4:]
	long := func() int64 {
		v, n := binary.Varint(p) // zigzag, as Avro's long
		if n <= 0 {
			t.Fatalf("bad long at offset %d", len(data)-len(p))
		}
		p = p[n:]
		return v
	}
	bytesOf := func(n int64) []byte {
		if n < 0 || n > int64(len(p)) {
			t.Fatalf("length %d at offset %d runs past the end", n, len(data)-len(p))
		}
		b := p[:n]
		p = p[n:]
		return b
	}
	for {
		n := long()
		if n == 0 {
			break
		}
		if n < 0 {
			n = -n
			long() // byte size of the map block
		}
		for range n {
			k := string(bytesOf(long()))
			f.meta[k] = string(bytesOf(long()))
		}
	}
	sync := bytesOf(16)
	for len(p) > 0 {
		f.blocks = append(f.blocks, long())
		f.data = append(f.data, bytesOf(long()))
		if s := bytesOf(16); !bytes.Equal(s, sync) {
			t.Fatalf("block %d: sync marker % x, want % x", len(f.blocks), s, sync)
		}
	}
	return f
}

// TestContainerRoundTrip writes a file covering every kind with each codec
// and reads it back with hamba's reader and with the Apache Avro Python
// library.
func TestContainerRoundTrip(t *testing.T) {
	tbl, rows := kindsTable(t, 300)
	schema, err := RowSchema(tbl, "fx.shop.kinds")
	if err != nil {
		t.Fatal(err)
	}
	for _, cc := range codecCases {
		t.Run(cc.codec, func(t *testing.T) {
			data := writeFile(t, tbl, rows, cc.codec, 4096)

			f := walkFile(t, data)
			wantMeta := map[string]string{"avro.schema": schema, "avro.codec": cc.avro}
			for k, v := range testMeta {
				wantMeta[k] = v
			}
			if fmt.Sprint(f.meta) != fmt.Sprint(wantMeta) {
				t.Errorf("metadata:\n got %v\nwant %v", f.meta, wantMeta)
			}
			var total int64
			for i, n := range f.blocks {
				if n <= 0 {
					t.Errorf("block %d has %d rows", i, n)
				}
				total += n
			}
			if total != int64(len(rows)) || len(f.blocks) < 10 {
				t.Errorf("%d blocks of %d rows in all, want at least 10 blocks of %d rows", len(f.blocks), total, len(rows))
			}
			if cc.codec == "snappy" {
				checkSnappyCRC(t, f)
			}

			t.Run("hamba", func(t *testing.T) { checkWithHamba(t, data, tbl, rows) })
			t.Run("python", func(t *testing.T) { checkWithPython(t, data, tbl, rows, cc.avro, len(f.blocks)) })
		})
	}
}

// checkSnappyCRC checks that each snappy block ends with the big-endian
// CRC-32 (IEEE) of its uncompressed data, as the Avro specification says.
func checkSnappyCRC(t *testing.T, f ocfFile) {
	t.Helper()
	for i, b := range f.data {
		raw, err := snappy.Decode(nil, b[:len(b)-4])
		if err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		if got, want := binary.BigEndian.Uint32(b[len(b)-4:]), crc32.ChecksumIEEE(raw); got != want {
			t.Fatalf("block %d: crc %08x, want %08x", i, got, want)
		}
	}
}

// checkWithHamba decodes the file with hamba's object container reader and
// compares every value with the input.
func checkWithHamba(t *testing.T, data []byte, tbl *cdc.Table, rows [][]any) {
	dec, err := ocf.NewDecoder(bytes.NewReader(data), ocf.WithDecoderSchemaCache(&hamba.SchemaCache{}))
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	fields, _ := columnFields(tbl, nil)
	r := 0
	for ; dec.HasNext(); r++ {
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("row %d: %v", r, err)
		}
		if r >= len(rows) {
			continue
		}
		rec := unwrapOCF(dec.Schema(), v).(map[string]any)
		for j, f := range fields {
			got := rec[f.name]
			if tm, ok := got.(time.Time); ok && f.col.Kind == cdc.KindLocalTimestampMicros {
				// ocf.Decoder gives the wall clock in time.Local.
				got = time.Date(tm.Year(), tm.Month(), tm.Day(), tm.Hour(), tm.Minute(), tm.Second(),
					tm.Nanosecond(), time.UTC).UnixMicro()
			}
			got = native(t, f.col, got)
			if want := canonical(f.col, rows[r][j]); !same(want, got) {
				t.Errorf("row %d %s: got %#v, want %#v", r, f.name, got, want)
			}
		}
	}
	if err := dec.Error(); err != nil {
		t.Fatal(err)
	}
	if r != len(rows) {
		t.Errorf("hamba read %d rows, want %d", r, len(rows))
	}
}

// unwrapOCF is unwrap for values hamba's ocf.Decoder decodes, which gives
// the value of a ["null", T] union bare rather than as {"T": value}.
func unwrapOCF(s hamba.Schema, v any) any {
	switch s := s.(type) {
	case *hamba.UnionSchema:
		if v == nil {
			return nil
		}
		for _, ts := range s.Types() {
			if ts.Type() != hamba.Null {
				if m, ok := v.(map[string]any); ok && len(m) == 1 && ts.Type() != hamba.Record {
					for _, x := range m {
						v = x
					}
				}
				return unwrapOCF(ts, v)
			}
		}
	case *hamba.RecordSchema:
		m := v.(map[string]any)
		for _, f := range s.Fields() {
			m[f.Name()] = unwrapOCF(f.Type(), m[f.Name()])
		}
	case *hamba.ArraySchema:
		for i, item := range v.([]any) {
			v.([]any)[i] = unwrapOCF(s.Items(), item)
		}
	}
	return v
}

// pythonOutput is what testdata/read_ocf.py prints.
type pythonOutput struct {
	Meta    map[string]string `json:"meta"`
	Codec   string            `json:"codec"`
	Blocks  []int64           `json:"blocks"`
	Records []map[string]any  `json:"records"`
}

// checkWithPython reads the file with testdata/read_ocf.py and compares
// every value with the input, rendered as the script renders it.
func checkWithPython(t *testing.T, data []byte, tbl *cdc.Table, rows [][]any, avroCodec string, blocks int) {
	out := readWithPython(t, data, avroCodec)
	if out.Codec != avroCodec {
		t.Errorf("python sees codec %q, want %q", out.Codec, avroCodec)
	}
	if len(out.Blocks) != blocks {
		t.Errorf("python sees %d blocks, want %d", len(out.Blocks), blocks)
	}
	for k, v := range testMeta {
		if out.Meta[k] != v {
			t.Errorf("python sees meta %q = %q, want %q", k, out.Meta[k], v)
		}
	}
	if len(out.Records) != len(rows) {
		t.Fatalf("python read %d rows, want %d", len(out.Records), len(rows))
	}
	fields, _ := columnFields(tbl, nil)
	for r, rec := range out.Records {
		if len(rec) != len(fields) {
			t.Errorf("row %d: %d fields, want %d", r, len(rec), len(fields))
		}
		for j, f := range fields {
			want := pyRender(f.col, canonical(f.col, rows[r][j]))
			if got := rec[f.name]; !pyMatch(want, got) {
				t.Errorf("row %d %s (%#v): python gives %s, want %s", r, f.name, rows[r][j], jsonText(got), jsonText(want))
			}
		}
	}
}

// The Python reader: Debian's python3 with python3-avro, never whatever
// python3 is first on PATH.
const systemPython = "/usr/bin/python3"

var pythonProbe = sync.OnceValues(func() (map[string]bool, error) {
	cmd := exec.Command(systemPython, "-c",
		"import json, avro.codecs, avro.datafile; print(json.dumps(sorted(avro.codecs.KNOWN_CODECS)))")
	cmd.Dir = os.TempDir() // never a directory holding a Go package named avro
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%s with the avro module: %v: %s", systemPython, err, bytes.TrimSpace(out))
	}
	var names []string
	if err := json.Unmarshal(out, &names); err != nil {
		return nil, fmt.Errorf("probing %s: %v: %s", systemPython, err, out)
	}
	known := map[string]bool{}
	for _, n := range names {
		known[n] = true
	}
	return known, nil
})

// pythonPackages names the Debian package each Avro codec needs.
var pythonPackages = map[string]string{"snappy": "python3-snappy", "zstandard": "python3-zstandard"}

// requirePython skips (fails when CI=true) unless the system Python reads
// avroCodec.
func requirePython(t *testing.T, avroCodec string) {
	t.Helper()
	known, err := pythonProbe()
	if err == nil && !known[avroCodec] {
		err = fmt.Errorf("python3-avro cannot read codec %s: apt-get install %s", avroCodec, pythonPackages[avroCodec])
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v (CI needs: apt-get install python3-avro python3-snappy python3-zstandard)", err)
		}
		t.Skip(err)
	}
}

// readWithPython runs testdata/read_ocf.py on data.
func readWithPython(t *testing.T, data []byte, avroCodec string) pythonOutput {
	t.Helper()
	requirePython(t, avroCodec)
	script, err := filepath.Abs(filepath.Join("testdata", "read_ocf.py"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "part-00000.avro")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(systemPython, script, path)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("read_ocf.py: %v\n%s", err, stderr.Bytes())
	}
	var out pythonOutput
	d := json.NewDecoder(bytes.NewReader(stdout))
	d.UseNumber()
	if err := d.Decode(&out); err != nil {
		t.Fatalf("read_ocf.py output: %v\n%s", err, stdout)
	}
	return out
}

// pyFloat is an expected float, which read_ocf.py prints as {"f": repr}.
type pyFloat float64

// pyOneOf matches any of its values (behaviour that differs between
// versions of python3-avro).
type pyOneOf []any

// pyRender renders a canonical value of column c as read_ocf.py prints
// what the Apache Avro Python library decodes from it.
func pyRender(c *cdc.Column, v any) any {
	if v == nil {
		return nil
	}
	num := func(n int64) json.Number { return json.Number(strconv.FormatInt(n, 10)) }
	switch c.Kind {
	case cdc.KindInt32, cdc.KindInt64, cdc.KindDurationMicros:
		return num(v.(int64))
	case cdc.KindUint64, cdc.KindDecimal:
		return map[string]any{"dec": fixedPoint(v.(*big.Int), c.Scale)}
	case cdc.KindFloat32:
		return pyFloat(v.(float32))
	case cdc.KindFloat64:
		return pyFloat(v.(float64))
	case cdc.KindBytes:
		return map[string]any{"hex": hex.EncodeToString(v.([]byte))}
	case cdc.KindDate:
		return map[string]any{"date": num(v.(int64))}
	case cdc.KindTimeMicros:
		return map[string]any{"time": num(v.(int64))}
	case cdc.KindTimestampMicros:
		return map[string]any{"ts": num(v.(int64)), "utcoffset": pyFloat(0)}
	case cdc.KindLocalTimestampMicros:
		// python3-avro 1.11 ignores local-timestamp-micros (a plain
		// long); later versions give a naive datetime.
		return pyOneOf{num(v.(int64)), map[string]any{"ts": num(v.(int64)), "utcoffset": nil}}
	case cdc.KindArray:
		items := v.([]any)
		out := make([]any, len(items))
		for i, item := range items {
			out[i] = pyRender(c.Elem, item)
		}
		return out
	}
	return v // string, uuid (a str in python3-avro), decimal text, bool
}

// fixedPoint renders unscaled * 10^-scale with exactly scale decimals, as
// Python's format(Decimal, "f") does.
func fixedPoint(unscaled *big.Int, scale int) string {
	digits := new(big.Int).Abs(unscaled).String()
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	s := digits
	if scale > 0 {
		s = digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	}
	if unscaled.Sign() < 0 {
		s = "-" + s
	}
	return s
}

// pyMatch compares a pyRender value with decoded read_ocf.py output.
func pyMatch(want, got any) bool {
	switch w := want.(type) {
	case pyOneOf:
		for _, alt := range w {
			if pyMatch(alt, got) {
				return true
			}
		}
		return false
	case pyFloat:
		var g float64
		switch x := got.(type) {
		case json.Number: // utcoffset
			f, err := x.Float64()
			if err != nil {
				return false
			}
			g = f
		case map[string]any:
			s, ok := x["f"].(string)
			if !ok || len(x) != 1 {
				return false
			}
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return false
			}
			g = f
		default:
			return false
		}
		if math.IsNaN(float64(w)) {
			return math.IsNaN(g)
		}
		return math.Float64bits(float64(w)) == math.Float64bits(g)
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for k := range w {
			if gv, ok := g[k]; !ok || !pyMatch(w[k], gv) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !pyMatch(w[i], g[i]) {
				return false
			}
		}
		return true
	}
	return want == got
}

// jsonText renders a value for messages.
func jsonText(v any) string {
	switch x := v.(type) {
	case pyFloat:
		return fmt.Sprintf("{f: %v}", float64(x))
	case pyOneOf:
		parts := make([]string, len(x))
		for i := range x {
			parts[i] = jsonText(x[i])
		}
		return "one of " + strings.Join(parts, " | ")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(b)
}

// TestContainerEmpty checks that a writer without rows leaves a valid
// header-only file.
func TestContainerEmpty(t *testing.T) {
	tbl := ordersTable()
	for _, cc := range codecCases {
		t.Run(cc.codec, func(t *testing.T) {
			var buf bytes.Buffer
			cw, err := NewContainerWriter(&buf, tbl, "shop.shop.orders", cc.codec, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := cw.Close(); err != nil {
				t.Fatal(err)
			}
			if cw.Rows() != 0 || cw.Size() != int64(buf.Len()) {
				t.Errorf("Rows %d, Size %d, file %d bytes", cw.Rows(), cw.Size(), buf.Len())
			}
			if f := walkFile(t, buf.Bytes()); len(f.blocks) != 0 || len(f.meta) != 2 {
				t.Errorf("%d blocks, meta %v", len(f.blocks), f.meta)
			}
			t.Run("python", func(t *testing.T) {
				out := readWithPython(t, buf.Bytes(), cc.avro)
				if len(out.Records) != 0 || len(out.Blocks) != 0 || out.Codec != cc.avro {
					t.Errorf("python: %+v", out)
				}
			})
		})
	}
}

// TestContainerErrors checks the constructor's refusals and that a bad row
// leaves the writer usable.
func TestContainerErrors(t *testing.T) {
	tbl := ordersTable()
	cases := []struct {
		name  string
		tbl   *cdc.Table
		codec string
		meta  map[string]string
		want  string
	}{
		{"unknown codec", tbl, "lz4", nil, `avro: unknown container codec "lz4" (valid: snappy, zstd, deflate, none)`},
		{"avro codec name", tbl, "zstandard", nil, `avro: unknown container codec "zstandard" (valid: snappy, zstd, deflate, none)`},
		{"reserved meta", tbl, "none", map[string]string{"avro.codec": "x"}, `avro: container metadata key "avro.codec": the prefix avro. is reserved`},
		{"bad table", &cdc.Table{ID: tbl.ID, Columns: []cdc.Column{{Name: "a-b", Kind: cdc.KindBool}, {Name: "a_b", Kind: cdc.KindBool}}},
			"none", nil, `avro: table shop.orders: columns "a-b" and "a_b" both map to Avro field "a_b"`},
		{"invalid column", &cdc.Table{ID: tbl.ID, Columns: []cdc.Column{{Name: "d", Kind: cdc.KindDecimal}}},
			"none", nil, `avro: table shop.orders: column "d": invalid decimal(0,0)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			_, err := NewContainerWriter(&buf, c.tbl, "ns", c.codec, c.meta)
			if err == nil || err.Error() != c.want {
				t.Errorf("got %v, want %q", err, c.want)
			}
			if buf.Len() != 0 {
				t.Errorf("wrote %d bytes", buf.Len())
			}
		})
	}

	t.Run("bad rows", func(t *testing.T) {
		var buf bytes.Buffer
		cw, err := NewContainerWriter(&buf, tbl, "shop.shop.orders", "snappy", nil)
		if err != nil {
			t.Fatal(err)
		}
		good := orderRow(1, "ok")
		bad := []struct {
			row  []any
			want string
		}{
			{[]any{int64(1)}, "avro: table shop.orders: row has 1 values for 10 columns"},
			{replace(good, 1, int64(math.MaxInt32+1)), "orders.customer_id: 2147483648 out of int32 range for int"},
			{replace(good, 3, big.NewInt(10_000_000_000)), "orders.amount: 10000000000 has more than 10 digits for decimal(10,2)"},
			{replace(good, 6, 42), "orders.note: want string for text, got int"},
		}
		size := cw.Size()
		for _, b := range bad {
			err := cw.Write(b.row)
			if err == nil || (b.want != "" && err.Error() != b.want) {
				t.Errorf("got %v, want %q", err, b.want)
			}
		}
		if cw.Rows() != 0 || cw.Size() != size {
			t.Errorf("bad rows counted: Rows %d, Size %d (was %d)", cw.Rows(), cw.Size(), size)
		}
		if err := cw.Write(good); err != nil {
			t.Fatal(err)
		}
		if err := cw.Close(); err != nil {
			t.Fatal(err)
		}
		if f := walkFile(t, buf.Bytes()); len(f.blocks) != 1 || f.blocks[0] != 1 {
			t.Errorf("blocks %v, want one of one row", f.blocks)
		}
		checkWithHamba(t, buf.Bytes(), tbl, [][]any{good})
	})
}

// replace returns a copy of row with row[i] = v.
func replace(row []any, i int, v any) []any {
	row = append([]any(nil), row...)
	row[i] = v
	return row
}

// failingWriter accepts ok writes, then fails.
type failingWriter struct {
	ok  int
	err error
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.ok == 0 {
		return 0, w.err
	}
	w.ok--
	return len(p), nil
}

// TestContainerWriteError checks that a failure of the underlying writer,
// met by a background flush, is returned by a later Write, by every Write
// after it and by Close.
func TestContainerWriteError(t *testing.T) {
	for _, codec := range []string{"snappy", "none"} {
		t.Run(codec, func(t *testing.T) {
			boom := errors.New("boom")
			cw, err := NewContainerWriter(&failingWriter{ok: 3, err: boom}, ordersTable(), "", codec, nil)
			if err != nil {
				t.Fatal(err)
			}
			cw.blockSize = 256
			failedAt := -1
			for i := range 1000 {
				if err := cw.Write(orderRow(int64(i), "some text")); err != nil {
					if !errors.Is(err, boom) {
						t.Fatalf("row %d: %v", i, err)
					}
					failedAt = i
					break
				}
			}
			if failedAt < 0 {
				t.Fatal("no Write reported the failure")
			}
			if err := cw.Write(orderRow(1, nil)); !errors.Is(err, boom) {
				t.Errorf("Write after the failure: %v", err)
			}
			if err := cw.Close(); !errors.Is(err, boom) {
				t.Errorf("Close: %v", err)
			}
			if err := cw.Close(); !errors.Is(err, boom) {
				t.Errorf("second Close: %v", err)
			}
		})
	}

	t.Run("header", func(t *testing.T) {
		_, err := NewContainerWriter(&failingWriter{err: io.ErrShortWrite}, ordersTable(), "", "none", nil)
		if !errors.Is(err, io.ErrShortWrite) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("last block", func(t *testing.T) {
		cw, err := NewContainerWriter(&failingWriter{ok: 1, err: io.ErrShortWrite}, ordersTable(), "", "none", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := cw.Write(orderRow(1, nil)); err != nil {
			t.Fatal(err)
		}
		if err := cw.Close(); !errors.Is(err, io.ErrShortWrite) {
			t.Errorf("Close: %v", err)
		}
	})
}

// TestRowSchema checks that RowSchema is the record ValueSchema embeds,
// in the same sanitised namespace.
func TestRowSchema(t *testing.T) {
	tbl := ordersTable()
	for _, ns := range []string{"shop.shop.orders", "1x.sh-op.örders", ""} {
		t.Run(ns, func(t *testing.T) {
			rs, err := RowSchema(tbl, ns)
			if err != nil {
				t.Fatal(err)
			}
			vs, err := ValueSchema(tbl, ns, cdc.ConnectorPostgres)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(vs, `{"name":"before","type":["null",`+rs+`],"default":null}`) {
				t.Errorf("RowSchema is not ValueSchema's Value record:\n%s\n%s", rs, vs)
			}
			s := parse(t, rs).(*hamba.RecordSchema)
			if want := fullName(sanitizeNamespace(ns), "Value"); s.FullName() != want {
				t.Errorf("full name %q, want %q", s.FullName(), want)
			}
		})
	}
	if _, err := RowSchema(&cdc.Table{Columns: []cdc.Column{{Name: "x"}}}, "ns"); err == nil {
		t.Error("invalid column accepted")
	}
}

// TestAppendRow checks that AppendRow writes what AppendValue writes for
// the after image, without allocating, and leaves buf alone on error.
func TestAppendRow(t *testing.T) {
	tbl, rows := kindsTable(t, 40)
	enc, err := NewEncoder(tbl, cdc.ConnectorMySQL)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 1<<16)
	for i, row := range rows {
		got, err := enc.AppendRow([]byte("pre"), row)
		if err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		env, err := enc.AppendValue(nil, &cdc.Event{Op: cdc.OpCreate, After: row}, Header{})
		if err != nil {
			t.Fatal(err)
		}
		// before is 0 (null), after is 2 (the Value branch) then the row.
		if want := append([]byte("pre"), env[2:2+len(got)-3]...); !bytes.Equal(got, want) || env[0] != 0 || env[1] != 2 {
			t.Fatalf("row %d: AppendRow differs from AppendValue's after", i)
		}
		if n := testing.AllocsPerRun(5, func() { _, _ = enc.AppendRow(buf, row) }); n != 0 {
			t.Errorf("row %d: %v allocs", i, n)
		}
	}
	bad := replace(rows[0], 0, "x")
	got, err := enc.AppendRow([]byte("pre"), bad)
	if err == nil || !strings.HasPrefix(err.Error(), "kinds.int32: ") || string(got) != "pre" {
		t.Errorf("bad row: %q, %v", got, err)
	}
	bad = replace(rows[0], len(bad)-1, []any{[]any{int64(1), "x"}})
	got, err = enc.AppendRow([]byte("pre"), bad)
	if err == nil || !strings.HasPrefix(err.Error(), "kinds.nested array: element 0: element 1: ") || string(got) != "pre" {
		t.Errorf("bad nested element: %q, %v", got, err)
	}
}

// TestContainerWriteDoesNotAllocate checks Write in steady state, block
// flushes included.
func TestContainerWriteDoesNotAllocate(t *testing.T) {
	cw, err := NewContainerWriter(io.Discard, ordersTable(), "shop.shop.orders", "snappy", nil)
	if err != nil {
		t.Fatal(err)
	}
	cw.blockSize = 64 << 10
	rows := benchRows(256)
	for i := range 10_000 { // grow both block buffers
		_ = cw.Write(rows[i%len(rows)])
	}
	i := 0
	if n := testing.AllocsPerRun(5000, func() { _ = cw.Write(rows[i%len(rows)]); i++ }); n != 0 {
		t.Errorf("%v allocs per row", n)
	}
	if err := cw.Close(); err != nil {
		t.Fatal(err)
	}
}

// benchRows returns n distinct rows of ordersTable.
func benchRows(n int) [][]any {
	rows := make([][]any, n)
	for i := range rows {
		row := orderRow(int64(1_000_000+i*7919), fmt.Sprintf("note %d for order", i*31))
		row[1] = int64(i % 1000)
		row[3] = big.NewInt(int64(i) * 1234)
		row[4] = int64(1_700_000_000_000_000 + i*1_000_003)
		if i%3 == 0 {
			row[5] = int64(1_700_000_000_000_000 + i*999)
		}
		rows[i] = row
	}
	return rows
}

// BenchmarkContainerWrite measures Write of a 10-column row, compression
// and framing included, for each codec.
func BenchmarkContainerWrite(b *testing.B) {
	rows := benchRows(4096)
	for _, cc := range codecCases {
		b.Run(cc.codec, func(b *testing.B) {
			cw, err := NewContainerWriter(io.Discard, ordersTable(), "shop.shop.orders", cc.codec, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := cw.Write(rows[i%len(rows)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			if err := cw.Close(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(cw.Size())/float64(i), "B/row")
		})
	}
}
