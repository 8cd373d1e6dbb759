package bronze

import (
	"testing"
	"time"
)

func TestLayout(t *testing.T) {
	day := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 5*3600))
	tests := []struct {
		name, got, want string
	}{
		{"part", PartPath("shop", "shop", "orders", day, "20260101T000000Z", 7, "avro"),
			"shop/shop/orders/date=2026-01-01/run=20260101T000000Z/part-00007.avro"},
		{"part parquet", PartPath("n", "public", "t", day, "r", 12345, "parquet"),
			"n/public/t/date=2026-01-01/run=r/part-12345.parquet"},
		{"run dir", RunDir("n", "s", "t", day, "r"), "n/s/t/date=2026-01-01/run=r"},
		{"manifest", ManifestPath("n", "s", "t", day, "r"), "n/s/t/date=2026-01-01/run=r/_manifest.json"},
		{"success", SuccessPath("n", "s", "t", day, "r"), "n/s/t/date=2026-01-01/run=r/_SUCCESS"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %s, want %s", tc.got, tc.want)
			}
		})
	}
}

func TestDeniedHint(t *testing.T) {
	loc := location{scheme: "s3", bucket: "b", prefix: "p"}
	tests := []struct{ action, want string }{
		{"write", "the bucket is not writable with these credentials: grant s3:PutObject on arn:aws:s3:::b/p/*"},
		{"read", "the bucket is not readable with these credentials: grant s3:GetObject on arn:aws:s3:::b/p/*"},
		{"list", "the bucket is not listable with these credentials: grant s3:ListBucket on arn:aws:s3:::b"},
	}
	for _, tc := range tests {
		t.Run(tc.action, func(t *testing.T) {
			if got := loc.deniedHint(tc.action, "k"); got != tc.want {
				t.Errorf("got %s", got)
			}
		})
	}
}
