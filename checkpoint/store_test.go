package checkpoint

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// storeCase is one case of the contract every Store keeps.
type storeCase struct {
	name string
	run  func(t *testing.T, open func(name string) Store)
}

// storeCases are the Store contract: run by every implementation's test
// with a function opening the store of a stream name, as a new process
// would (all opened stores of one test share the same storage).
var storeCases = []storeCase{
	{"missing", testStoreMissing},
	{"opaque position round trip and replace", testStoreOpaque},
	{"large positions in parts, replaced and reopened", testStoreLarge},
	{"another stream's checkpoint is never returned", testStoreOtherStream},
}

// runStoreContract runs the contract as subtests of t; fresh returns the
// opener of an empty storage for each case.
func runStoreContract(t *testing.T, fresh func(t *testing.T) func(name string) Store) {
	for _, c := range storeCases {
		t.Run(c.name, func(t *testing.T) { c.run(t, fresh(t)) })
	}
}

func testStoreMissing(t *testing.T, open func(string) Store) {
	cp, err := open("shop").Load(context.Background())
	if err != nil || cp != nil {
		t.Fatalf("Load of nothing saved = %v, %v; want nil, nil", cp, err)
	}
}

func testStoreOpaque(t *testing.T, open func(string) Store) {
	ctx := context.Background()
	s := open("shop")
	for i, pos := range []string{"first", "second"} {
		want := &Checkpoint{Name: "shop", Connector: "mysql", Position: []byte(pos), Describe: pos, SavedAt: time.Unix(int64(i), 0).UTC()}
		if err := s.Save(ctx, want); err != nil {
			t.Fatal(err)
		}
		got, err := open("shop").Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Position, want.Position) || got.Name != "shop" || got.Describe != pos || !got.SavedAt.Equal(want.SavedAt) {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	}
}

// testStoreLarge: positions of 500 tables come back byte for byte, from
// the store that saved them and from a new one, across saves that change
// a little (the transaction position, a cursor) and a lot (the tables).
func testStoreLarge(t *testing.T, open func(string) Store) {
	ctx := context.Background()
	s := open("shop")
	for i, pos := range [][]byte{positionLike(500, "0-1-1", 1), positionLike(500, "0-1-2", 2), positionLike(70, "0-1-3", 3), positionLike(500, "0-1-4", 4)} {
		if err := s.Save(ctx, &Checkpoint{Name: "shop", Connector: "mysql", Position: pos, SavedAt: time.Unix(int64(i), 0).UTC()}); err != nil {
			t.Fatal(err)
		}
		for _, r := range []Store{s, open("shop")} {
			got, err := r.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Position, pos) {
				t.Fatalf("save %d: Load returned another position (%d bytes, want %d)", i, len(got.Position), len(pos))
			}
		}
	}
}

func testStoreOtherStream(t *testing.T, open func(string) Store) {
	ctx := context.Background()
	if err := open("shop").Save(ctx, &Checkpoint{Name: "shop", Position: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	cp, err := open("other").Load(ctx)
	if cp != nil || err != nil && !strings.Contains(err.Error(), `"shop"`) {
		t.Fatalf("Load by stream other = %+v, %v; want none, or an error naming stream shop", cp, err)
	}
}
