package postgres

import (
	"testing"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// BenchmarkDecoders measures the per-value cost of the hot decoders.
func BenchmarkDecoders(b *testing.B) {
	f := &fallback{log: discardLogger(), column: "c", typ: "t", optional: true}
	benches := []struct {
		name string
		dec  textDecoder
		in   string
	}{
		{"int8", decodeInt, "-1234567890123"},
		{"float8", decodeFloat64, "1.2345678901234567e+300"},
		{"numeric(18,4)", numericColumn(&cdc.Column{}, (18<<16|4)+4, f), "-12345678901234.5678"},
		{"numeric(38,10)", numericColumn(&cdc.Column{}, (38<<16|10)+4, f), "1234567890123456789012345678.0123456789"},
		{"timestamptz", timestampDecoder(f, true), "2024-01-02 03:04:05.123456+00"},
		{"date", dateDecoder(f), "2024-01-02"},
		{"text", decodeText, "some ordinary text value"},
		{"bytea", decodeBytea, `\x000102030405060708090a0b0c0d0e0f`},
		{"int4[]", arrayDecoder(decodeInt, ',', "v", "integer[]"), "{1,2,3,NULL,5,6,7,8}"},
		{"text[]", arrayDecoder(decodeText, ',', "v", "text[]"), `{a,"b c","d\"e",NULL}`},
	}
	for _, bb := range benches {
		in := []byte(bb.in)
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bb.dec(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
