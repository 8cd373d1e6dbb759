package parquet_test

import (
	"fmt"
	"io"
	"math/big"
	"testing"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/internal/lake/parquet"
)

// benchTable is a typical 10-column table.
var benchTable = &cdc.Table{ID: cdc.TableID{Schema: "shop", Name: "orders"}, Key: []int{0}, Columns: []cdc.Column{
	{Name: "id", Kind: cdc.KindInt64, Type: "bigint"},
	{Name: "customer_id", Kind: cdc.KindInt32, Type: "int"},
	{Name: "email", Kind: cdc.KindString, Type: "varchar(255)"},
	{Name: "amount", Kind: cdc.KindDecimal, Type: "decimal(12,2)", Precision: 12, Scale: 2},
	{Name: "weight", Kind: cdc.KindFloat64, Type: "double"},
	{Name: "paid", Kind: cdc.KindBool, Type: "tinyint(1)"},
	{Name: "created_at", Kind: cdc.KindTimestampMicros, Type: "timestamp(6)"},
	{Name: "ship_date", Kind: cdc.KindDate, Type: "date"},
	{Name: "note", Kind: cdc.KindString, Type: "text"},
	{Name: "version", Kind: cdc.KindInt64, Type: "bigint"},
}}

func benchRows(n int) [][]any {
	rows := make([][]any, n)
	for i := range rows {
		var note any
		if i%2 == 0 {
			note = fmt.Sprintf("note %d: handle with care", i)
		}
		rows[i] = []any{int64(i), int64(i % 5000), fmt.Sprintf("user%d@example.com", i), big.NewInt(int64(i*37) % 10000000),
			float64(i) * 0.25, i%3 == 0, int64(1700000000000000 + i*1000), int64(19000 + i%365), note, int64(i % 7)}
	}
	return rows
}

// BenchmarkWrite measures Write for the 10-column table, per codec; rows/s
// is for one core (Write is not concurrent).
func BenchmarkWrite(b *testing.B) {
	rows := benchRows(1 << 16)
	for _, codec := range []string{"none", "snappy", "zstd", "deflate"} {
		b.Run(codec, func(b *testing.B) {
			cw := &countWriter{}
			w, err := parquet.NewWriter(cw, benchTable, codec, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if err := w.Write(rows[i%len(rows)]); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(cw.n)/float64(b.N), "bytes/row")
		})
	}
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

var _ io.Writer = (*countWriter)(nil)
