package postgres

import (
	"errors"
	"reflect"
	"testing"
)

// TestArrayDecoder covers quoting, escapes, NULLs and dimensions.
func TestArrayDecoder(t *testing.T) {
	tests := []struct {
		in    string
		delim byte
		want  []any
	}{
		{`{}`, ',', []any{}},
		{`{1,2,NULL,"a,b"}`, ',', []any{"1", "2", nil, "a,b"}},
		{`{"NULL",null,NuLl,"null"}`, ',', []any{"NULL", nil, nil, "null"}},
		{`{"x\"y\\z","  sp ","","{}"}`, ',', []any{`x"y\z`, "  sp ", "", "{}"}},
		{`{ 1 , 2 }`, ',', []any{"1", "2"}},
		{`{a b,c\,d,e\ }`, ',', []any{"a b", "c,d", "e "}},
		{`{"\\x00ff",NULL}`, ',', []any{`\x00ff`, nil}},
		{`{"😀 é"}`, ',', []any{"😀 é"}},
		{`{{1,2},{3,4}}`, ',', []any{[]any{"1", "2"}, []any{"3", "4"}}},
		{`{{{1}}}`, ',', []any{[]any{[]any{"1"}}}},
		{`{{},{}}`, ',', []any{[]any{}, []any{}}},
		{`[0:1]={7,8}`, ',', []any{"7", "8"}},
		{`[1:2][0:0]={{7},{8}}`, ',', []any{[]any{"7"}, []any{"8"}}},
		{`{(1,1),(0,0);(2,2),(1,1)}`, ';', []any{"(1,1),(0,0)", "(2,2),(1,1)"}},
		{`{"(1,\"a b\")"}`, ',', []any{`(1,"a b")`}},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := arrayDecoder(decodeText, tc.delim)([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

// TestArrayDecoderErrors covers malformed array text.
func TestArrayDecoderErrors(t *testing.T) {
	tests := []string{
		``, `1,2`, `{1,2`, `{1,,2}`, `{1,}`, `{,1}`, `{"abc}`, `{1}x`, `{1}}`,
		`{{{{{{{1}}}}}}}`, `{1"a"}`, `[0:1]`, `{{1},2x}`,
	}
	for _, in := range tests {
		t.Run(in, func(t *testing.T) {
			got, err := arrayDecoder(decodeText, ',')([]byte(in))
			if !errors.Is(err, errSyntax) {
				t.Fatalf("got %#v, %v; want errSyntax", got, err)
			}
		})
	}
}

// TestArrayDecoderElements checks element decoding and its errors.
func TestArrayDecoderElements(t *testing.T) {
	dec := arrayDecoder(decodeInt, ',')
	got, err := dec([]byte(`{{1,-2},{NULL,9223372036854775807}}`))
	want := []any{[]any{int64(1), int64(-2)}, []any{nil, int64(9223372036854775807)}}
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
	got, err := arrayDecoder(decodeText, ',')(in)
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
