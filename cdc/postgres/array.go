package postgres

import (
	"bytes"
	"fmt"
	"github.com/fluxo-cdc/fluxo/cdc"
)

// arrayDecoder returns the decoder of the arrays of column (of type typ,
// both for errors) whose elements elem decodes and are separated by delim
// (the element type's typdelim: ',' for all but box). An array becomes
// []any, a NULL element nil. Non-default lower bounds ("[0:1]={1,2}") are
// dropped.
//
// A multi-dimensional value is an error that stops the stream (see
// dimsError): the column maps to a one-dimensional Avro array (SPEC §4),
// and PostgreSQL does not tie the number of dimensions to the column type,
// so no schema could describe it.
func arrayDecoder(elem textDecoder, delim byte, column, typ string) textDecoder {
	return func(b []byte) (any, error) {
		p := arrayParser{text: b, elem: elem, delim: delim, column: column, typ: typ}
		v, err := p.parse()
		if err != nil {
			return nil, err
		}
		return v, nil
	}
}

// dimsError reports a multi-dimensional array value.
type dimsError struct {
	column, typ string
	dims        int
}

// Error implements error.
func (e *dimsError) Error() string {
	return fmt.Sprintf("postgres: column %s of type %s holds a %d-dimensional array, which fluxo cannot send: "+
		"PostgreSQL arrays map to one-dimensional Avro arrays (as in Debezium)", e.column, e.typ, e.dims)
}

// dimsFix is what to do about a dimsError.
const dimsFix = "exclude the column (source.exclude_columns: schema.table.column) or keep its values one-dimensional"

// arrayParser parses PostgreSQL's array text output.
type arrayParser struct {
	text        []byte
	pos         int
	elem        textDecoder
	delim       byte
	column, typ string // for errors
}

// parse parses the whole text.
func (p *arrayParser) parse() ([]any, error) {
	if len(p.text) > 0 && p.text[0] == '[' { // dimension decoration
		for p.pos < len(p.text) && p.text[p.pos] != '=' {
			p.pos++
		}
		p.pos++
	}
	v, err := p.list()
	if err == nil && p.pos != len(p.text) {
		err = p.fail()
	}
	return v, err
}

// fail returns the error about malformed array text.
func (p *arrayParser) fail() error { return badText("array", p.text) }

// peek returns the byte at the current position, or 0 at the end.
func (p *arrayParser) peek() byte {
	if p.pos < len(p.text) {
		return p.text[p.pos]
	}
	return 0
}

// skipSpace skips whitespace, which may surround elements.
func (p *arrayParser) skipSpace() {
	for p.pos < len(p.text) && isArraySpace(p.text[p.pos]) {
		p.pos++
	}
}

// isArraySpace reports whether array_in would skip c around an element.
func isArraySpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// list parses "{...}" with one dimension.
func (p *arrayParser) list() ([]any, error) {
	if p.peek() != '{' {
		return nil, p.fail()
	}
	p.pos++
	if p.skipSpace(); p.peek() == '{' {
		return nil, p.dimsError()
	}
	if p.peek() == '}' {
		p.pos++
		return []any{}, nil
	}
	// The delimiters bound the length.
	out := make([]any, 0, bytes.Count(p.text[p.pos:], []byte{p.delim})+1)
	for {
		p.skipSpace()
		v, err := p.item()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		p.skipSpace()
		switch p.peek() {
		case p.delim:
			p.pos++
		case '}':
			p.pos++
			return out, nil
		default:
			return nil, p.fail()
		}
	}
}

// dimsError returns the error about a multi-dimensional array, with its
// number of dimensions: the opening braces that start the text.
func (p *arrayParser) dimsError() error {
	dims := 0
	for _, c := range p.text[bytes.IndexByte(p.text, '{'):] {
		if c == '{' {
			dims++
		} else if !isArraySpace(c) {
			break
		}
	}
	return &cdc.PermanentError{Err: &dimsError{column: p.column, typ: p.typ, dims: dims}, Fix: dimsFix}
}

// item parses one element, at a non-space: a quoted or an unquoted value.
func (p *arrayParser) item() (any, error) {
	if p.peek() == '"' {
		b, err := p.quoted()
		if err != nil {
			return nil, err
		}
		return p.elem(b)
	}
	b, err := p.unquoted()
	if err != nil {
		return nil, err
	}
	if len(b) == 4 && (b[0]|0x20) == 'n' && (b[1]|0x20) == 'u' && (b[2]|0x20) == 'l' && (b[3]|0x20) == 'l' {
		return nil, nil // an unquoted NULL; a quoted "NULL" is the text
	}
	return p.elem(b)
}

// quoted returns the contents of a double-quoted element with its
// backslash escapes resolved; without escapes it is a slice of the text.
func (p *arrayParser) quoted() ([]byte, error) {
	p.pos++ // opening quote
	start := p.pos
	var buf []byte // set at the first escape
	for p.pos < len(p.text) {
		c := p.text[p.pos]
		switch {
		case c == '"':
			p.pos++
			if buf == nil {
				return p.text[start : p.pos-1], nil
			}
			return buf, nil
		case c == '\\' && p.pos+1 < len(p.text):
			if buf == nil {
				buf = append(make([]byte, 0, len(p.text)-start), p.text[start:p.pos]...)
			}
			p.pos++
			buf = append(buf, p.text[p.pos])
		case buf != nil:
			buf = append(buf, c)
		}
		p.pos++
	}
	return nil, p.fail()
}

// unquoted returns an unquoted element, up to the delimiter or the closing
// brace, without trailing whitespace; backslash escapes, which array_out
// never writes unquoted, are resolved all the same.
func (p *arrayParser) unquoted() ([]byte, error) {
	start, end := p.pos, p.pos
	var buf []byte
	for ; p.pos < len(p.text); p.pos++ {
		c := p.text[p.pos]
		if c == p.delim || c == '}' || c == '{' || c == '"' {
			break
		}
		if c == '\\' && p.pos+1 < len(p.text) {
			if buf == nil {
				buf = append([]byte(nil), p.text[start:p.pos]...)
			}
			p.pos++
			buf = append(buf, p.text[p.pos])
			end = len(buf)
			continue
		}
		if buf != nil {
			buf = append(buf, c)
		}
		if !isArraySpace(c) {
			end = p.pos + 1
			if buf != nil {
				end = len(buf)
			}
		}
	}
	if p.pos == start {
		return nil, p.fail()
	}
	if buf != nil {
		return buf[:end], nil
	}
	return p.text[start:end], nil
}
