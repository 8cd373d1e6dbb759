package checkpoint

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// A position grows with the tables a stream captures (MySQL keeps every
// table's schema in it, both sources the captured list and the snapshot
// queue), while a checkpoint is saved every second. Stores therefore keep
// it as a small head, written at every save, and immutable parts named by
// the SHA-256 of their content, each written once: split replaces every
// JSON object or array longer than partBytes below the top by a reference
// to a part, and pages arrays of more than pageLen elements, so that a
// change to one element rewrites one page and the short path of pages
// above it. What a save writes is then bounded by the change, not by the
// table count. split and join work on the bytes (one pass, no decoding
// into maps), so a save costs about one hash of the position.
const (
	partBytes = 1024
	pageLen   = 64
	// {"$fluxo_part":"<digest>"} stands for the part's content.
	partPrefix = `{"$fluxo_part":"`
	// {"$fluxo_pages":[p, ...]} stands for the concatenation of the arrays
	// p (each a page, or pages of pages).
	pagesPrefix = `{"$fluxo_pages":`
)

var errSyntax = errors.New("malformed JSON")

// split cuts a JSON position into a head and the parts it references, by
// digest.
func split(position []byte) (head []byte, parts map[string][]byte, err error) {
	s := splitter{parts: map[string][]byte{}}
	b := bytes.TrimSpace(position)
	head, end, err := s.value(b, 0, 0)
	if err == nil && end != len(b) {
		err = errSyntax
	}
	if err != nil {
		return nil, nil, fmt.Errorf("split position: %w", err)
	}
	return head, s.parts, nil
}

// splitJSON is split for a position that is a JSON object, as both
// sources' are; ok is false for one to keep whole. (Only split checks the
// syntax: a json.Valid first was a third of a save's CPU.)
func splitJSON(position []byte) (head []byte, parts map[string][]byte, ok bool) {
	if b := bytes.TrimSpace(position); len(b) == 0 || b[0] != '{' {
		return nil, nil, false
	}
	head, parts, err := split(position)
	return head, parts, err == nil
}

type splitter struct {
	parts map[string][]byte
}

// value rewrites the JSON value at b[i:] and returns where it ends, in
// one pass. A value with nothing to rewrite is returned as the input's
// own bytes, without a copy.
func (s *splitter) value(b []byte, i, depth int) (out []byte, end int, err error) {
	if i >= len(b) {
		return nil, 0, errSyntax
	}
	switch b[i] {
	case '{':
		out, end, err = s.object(b, i, depth)
	case '[':
		out, end, err = s.array(b, i, depth)
	default:
		end, err = skipValue(b, i)
		return b[i:end], end, err
	}
	if err != nil || depth == 0 || len(out) <= partBytes {
		return out, end, err
	}
	return s.store(out), end, nil
}

// rewrite builds a value's output: its input's bytes until a child
// differs, then a copy with the children's outputs.
type rewrite struct {
	in    []byte // the whole input
	start int    // where the value starts in in
	out   []byte // nil while nothing differs
	at    int    // input copied to out up to here
}

// child records the output v of the child at in[i:end].
func (r *rewrite) child(v []byte, i, end int) {
	if r.out == nil {
		if len(v) == end-i && (len(v) == 0 || &v[0] == &r.in[i]) {
			return // unchanged
		}
		r.out = append(make([]byte, 0, end-r.start), r.in[r.start:i]...)
	} else {
		r.out = append(r.out, r.in[r.at:i]...)
	}
	r.out = append(r.out, v...)
	r.at = end
}

// result is the value's output, which ends at in[end].
func (r *rewrite) result(end int) []byte {
	if r.out == nil {
		return r.in[r.start:end]
	}
	return append(r.out, r.in[r.at:end]...)
}

// object rewrites the object at b[i:].
func (s *splitter) object(b []byte, i, depth int) ([]byte, int, error) {
	r := rewrite{in: b, start: i}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return r.result(i + 1), i + 1, nil
	}
	for {
		kEnd, err := skipString(b, i)
		if err != nil {
			return nil, 0, err
		}
		if i = skipSpace(b, kEnd); i >= len(b) || b[i] != ':' {
			return nil, 0, errSyntax
		}
		i = skipSpace(b, i+1)
		v, end, err := s.value(b, i, depth+1)
		if err != nil {
			return nil, 0, err
		}
		r.child(v, i, end)
		if i = skipSpace(b, end); i >= len(b) {
			return nil, 0, errSyntax
		}
		switch b[i] {
		case '}':
			return r.result(i + 1), i + 1, nil
		case ',':
			i = skipSpace(b, i+1)
		default:
			return nil, 0, errSyntax
		}
	}
}

// array rewrites the array at b[i:], paging a long one.
func (s *splitter) array(b []byte, i, depth int) ([]byte, int, error) {
	r := rewrite{in: b, start: i}
	var elems [][]byte
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return r.result(i + 1), i + 1, nil
	}
	for {
		v, end, err := s.value(b, i, depth+1)
		if err != nil {
			return nil, 0, err
		}
		r.child(v, i, end)
		elems = append(elems, v)
		if i = skipSpace(b, end); i >= len(b) {
			return nil, 0, errSyntax
		}
		switch b[i] {
		case ']':
			if len(elems) <= pageLen {
				return r.result(i + 1), i + 1, nil
			}
			return s.pages(elems), i + 1, nil
		case ',':
			i = skipSpace(b, i+1)
		default:
			return nil, 0, errSyntax
		}
	}
}

// pages is {"$fluxo_pages": refs}, refs being the references to the pages
// of elems, themselves paged when there are many.
func (s *splitter) pages(elems [][]byte) []byte {
	var refs [][]byte
	for i := 0; i < len(elems); i += pageLen {
		refs = append(refs, s.store(joinArray(elems[i:min(i+pageLen, len(elems))])))
	}
	inner := joinArray(refs)
	if len(refs) > pageLen { // pages of pages
		inner = s.pages(refs)
	}
	return append(append([]byte(pagesPrefix), inner...), '}')
}

// store keeps b as a part and returns the reference to it.
func (s *splitter) store(b []byte) []byte {
	sum := sha256.Sum256(b)
	d := hex.EncodeToString(sum[:])
	s.parts[d] = b
	return append(append([]byte(partPrefix), d...), '"', '}')
}

func joinArray(elems [][]byte) []byte {
	return append(append([]byte{'['}, bytes.Join(elems, []byte{','})...), ']')
}

// join rebuilds the position whose head is head, reading parts with get.
func join(head []byte, get func(digest string) ([]byte, error)) ([]byte, error) {
	out, err := joiner{get}.value(bytes.TrimSpace(head))
	if err != nil {
		return nil, fmt.Errorf("join position: %w", err)
	}
	return out, nil
}

type joiner struct {
	get func(digest string) ([]byte, error)
}

// value returns v with its references replaced by what they reference.
func (j joiner) value(v []byte) ([]byte, error) {
	switch {
	case bytes.HasPrefix(v, []byte(partPrefix)):
		return j.load(v)
	case bytes.HasPrefix(v, []byte(pagesPrefix)):
		return j.concat(v[len(pagesPrefix) : len(v)-1])
	case v[0] == '{':
		out := []byte{'{'}
		err := members(v, func(key, val []byte) error {
			if len(out) > 1 {
				out = append(out, ',')
			}
			r, err := j.value(val)
			out = append(append(append(out, key...), ':'), r...)
			return err
		})
		return append(out, '}'), err
	case v[0] == '[':
		var elems [][]byte
		err := elements(v, func(e []byte) error {
			r, err := j.value(e)
			elems = append(elems, r)
			return err
		})
		return joinArray(elems), err
	}
	return v, nil
}

// load reads the part ref references and joins what it references.
func (j joiner) load(ref []byte) ([]byte, error) {
	d := string(ref[len(partPrefix) : len(ref)-2])
	b, err := j.get(d)
	if err != nil {
		return nil, fmt.Errorf("part %s: %w", d, err)
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != d {
		return nil, fmt.Errorf("part %s is corrupt (its content does not match its digest)", d)
	}
	return j.value(b)
}

// concat joins the pages inner references into one array.
func (j joiner) concat(inner []byte) ([]byte, error) {
	pages, err := j.value(inner)
	if err != nil {
		return nil, err
	}
	if len(pages) == 0 || pages[0] != '[' {
		return nil, fmt.Errorf("the pages of an array are not an array")
	}
	var elems [][]byte
	err = elements(pages, func(page []byte) error {
		if page[0] != '[' {
			return fmt.Errorf("a page is not an array")
		}
		return elements(page, func(e []byte) error {
			elems = append(elems, e)
			return nil
		})
	})
	return joinArray(elems), err
}

// members calls fn with the raw key (quoted) and value of each member of
// object v.
func members(v []byte, fn func(key, val []byte) error) error {
	i := skipSpace(v, 1)
	if i < len(v) && v[i] == '}' {
		return nil
	}
	for {
		kEnd, err := skipString(v, i)
		if err != nil {
			return err
		}
		key := v[i:kEnd]
		i = skipSpace(v, kEnd)
		if i >= len(v) || v[i] != ':' {
			return errSyntax
		}
		i = skipSpace(v, i+1)
		vEnd, err := skipValue(v, i)
		if err != nil {
			return err
		}
		if err := fn(key, v[i:vEnd]); err != nil {
			return err
		}
		if i = skipSpace(v, vEnd); i >= len(v) {
			return errSyntax
		}
		switch v[i] {
		case '}':
			return nil
		case ',':
			i = skipSpace(v, i+1)
		default:
			return errSyntax
		}
	}
}

// elements calls fn with each raw element of array v.
func elements(v []byte, fn func(e []byte) error) error {
	i := skipSpace(v, 1)
	if i < len(v) && v[i] == ']' {
		return nil
	}
	for {
		end, err := skipValue(v, i)
		if err != nil {
			return err
		}
		if err := fn(v[i:end]); err != nil {
			return err
		}
		if i = skipSpace(v, end); i >= len(v) {
			return errSyntax
		}
		switch v[i] {
		case ']':
			return nil
		case ',':
			i = skipSpace(v, i+1)
		default:
			return errSyntax
		}
	}
}

// skipValue returns the end of the JSON value starting at b[i].
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errSyntax
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, err := skipString(b, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errSyntax
	}
	j := i
	for j < len(b) && !isDelimiter(b[j]) {
		j++
	}
	if j == i {
		return 0, errSyntax
	}
	return j, nil
}

// skipString returns the end of the JSON string starting at b[i].
func skipString(b []byte, i int) (int, error) {
	if i >= len(b) || b[i] != '"' {
		return 0, errSyntax
	}
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, errSyntax
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// isDelimiter reports whether c ends a number or a literal.
func isDelimiter(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\t', '\r', '\n':
		return true
	}
	return false
}
