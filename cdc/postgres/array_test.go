package postgres

import (
	"errors"
	"github.com/fluxo-cdc/fluxo/cdc"
	"reflect"
	"strings"
	"testing"
)

// TestArrayDecoder covers quoting, escapes, NULLs and lower bounds.
func TestArrayDecoder(t *testing.T) {
	tests := []struct {
		in    string
		delim byte
		want  []any
	}{
		{`{}`, ',', []any{}},
		{`{ }`, ',', []any{}},
		{`{1,2,NULL,"a,b"}`, ',', []any{"1", "2", nil, "a,b"}},
		{`{"NULL",null,NuLl,"null"}`, ',', []any{"NULL", nil, nil, "null"}},
		{`{"x\"y\\z","  sp ","","{}"}`, ',', []any{`x"y\z`, "  sp ", "", "{}"}},
		{`{"{{1}}"}`, ',', []any{"{{1}}"}},
		{`{ 1 , 2 }`, ',', []any{"1", "2"}},
		{`{a b,c\,d,e\ }`, ',', []any{"a b", "c,d", "e "}},
		{`{"\\x00ff",NULL}`, ',', []any{`\x00ff`, nil}},
		{`{"😀 é"}`, ',', []any{"😀 é"}},
		{`[0:1]={7,8}`, ',', []any{"7", "8"}},
		{`{(1,1),(0,0);(2,2),(1,1)}`, ';', []any{"(1,1),(0,0)", "(2,2),(1,1)"}},
		{`{"(1,\"a b\")"}`, ',', []any{`(1,"a b")`}},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := arrayDecoder(decodeText, tc.delim, "v", "text[]")([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

// TestArrayDecoderDimensions checks that a multi-dimensional value is an
// error that stops the stream and names the column, its type and the
// number of dimensions.
func TestArrayDecoderDimensions(t *testing.T) {
	tests := []struct {
		in   string
		dims int
	}{
		{`{{1,2},{3,4}}`, 2},
		{`{{1},2x}`, 2},
		{`{ {1}}`, 2},
		{`{{{1}}}`, 3},
		{`{{{{{{1}}}}}}`, 6},
		{`{{{{{{{1}}}}}}}`, 7},
		{`[1:2][0:0]={{7},{8}}`, 2},
		{`{{NULL,"a"},{"{",b}}`, 2},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := arrayDecoder(decodeInt, ',', "grid", "integer[]")([]byte(tc.in))
			var pe *cdc.PermanentError
			var de *dimsError
			if !errors.As(err, &pe) || !errors.As(err, &de) {
				t.Fatalf("got %#v, %v; want a permanent dimsError", got, err)
			}
			if de.dims != tc.dims {
				t.Errorf("dims = %d, want %d", de.dims, tc.dims)
			}
			msg := err.Error()
			for _, want := range []string{"column grid", "integer[]", "dimensional", "source.exclude_columns"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not mention %q", msg, want)
				}
			}
		})
	}
}

// TestArrayDecoderErrors covers malformed array text.
func TestArrayDecoderErrors(t *testing.T) {
	tests := []string{
		``, `1,2`, `{1,2`, `{1,,2}`, `{1,}`, `{,1}`, `{"abc}`, `{1}x`, `{1}}`,
		`{1"a"}`, `[0:1]`, `{1,{2}}`, `{1,2}{3}`, `{`,
	}
	for _, in := range tests {
		t.Run(in, func(t *testing.T) {
			got, err := arrayDecoder(decodeText, ',', "v", "text[]")([]byte(in))
			if !errors.Is(err, errSyntax) || !cdc.Permanent(err) {
				t.Fatalf("got %#v, %v; want a permanent errSyntax", got, err)
			}
		})
	}
}

// TestArrayDecoderElements checks element decoding and its errors.
func TestArrayDecoderElements(t *testing.T) {
	dec := arrayDecoder(decodeInt, ',', "v", "bigint[]")
	got, err := dec([]byte(`{1,-2,NULL,9223372036854775807}`))
	want := []any{int64(1), int64(-2), nil, int64(9223372036854775807)}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v, %v; want %#v", got, err, want)
	}
	if _, err := dec([]byte(`{1,x}`)); !errors.Is(err, errSyntax) {
		t.Fatalf("element error = %v, want errSyntax", err)
	}
}

// TestArrayDecoderDoesNotKeepInput checks that the input may be reused.
func TestArrayDecoderDoesNotKeepInput(t *testing.T) {
	in := []byte(`{abc,"d\"e"}`)
	got, err := arrayDecoder(decodeText, ',', "v", "text[]")(in)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		in[i] = 'X'
	}
	if want := []any{"abc", `d"e`}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after reusing the input: got %#v, want %#v", got, want)
	}
}
