package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// node is a JSON value that, unlike map-based decoding, keeps member order and duplicate keys:
// the lint must see what encoding/json silently collapses.
type node struct {
	kind    nodeKind
	members []member        // object members in document order, duplicates kept
	items   []*node         // array elements
	scalar  json.RawMessage // re-encoded string, number, bool or null
	offset  int64           // byte offset where the value starts
}

type member struct {
	key   string
	value *node
}

type nodeKind int

const (
	kindNull nodeKind = iota
	kindBool
	kindNumber
	kindString
	kindObject
	kindArray
)

func (k nodeKind) String() string {
	return [...]string{"null", "a boolean", "a number", "a string", "an object", "an array"}[k]
}

// syntaxError carries where in the document a syntax problem starts.
type syntaxError struct {
	offset int64
	msg    string
}

func (e *syntaxError) Error() string { return e.msg }

// parseTree decodes doc into a node tree with the same syntax rules as json.Unmarshal, including
// its refusal of anything after the top-level value.
func parseTree(doc []byte) (*node, error) {
	// encoding/json's own syntax check gives Velero's exact message and position.
	var syn *json.SyntaxError
	if err := json.Unmarshal(doc, new(any)); errors.As(err, &syn) {
		return nil, &syntaxError{offset: max(syn.Offset-1, 0), msg: syn.Error()}
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	root, err := readValue(dec)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &syntaxError{offset: dec.InputOffset(), msg: "unexpected end of JSON input"}
		}
		return nil, &syntaxError{offset: dec.InputOffset(), msg: err.Error()}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &syntaxError{offset: dec.InputOffset(), msg: "unexpected data after the top-level JSON value"}
	}
	return root, nil
}

func readValue(dec *json.Decoder) (*node, error) {
	offset := dec.InputOffset()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	n := &node{offset: offset}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n.kind = kindObject
			for dec.More() {
				keyTok, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, ok := keyTok.(string)
				if !ok {
					return nil, fmt.Errorf("object key is not a string")
				}
				v, err := readValue(dec)
				if err != nil {
					return nil, err
				}
				n.members = append(n.members, member{key: key, value: v})
			}
		case '[':
			n.kind = kindArray
			for dec.More() {
				v, err := readValue(dec)
				if err != nil {
					return nil, err
				}
				n.items = append(n.items, v)
			}
		default:
			return nil, fmt.Errorf("unexpected %q", t)
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, err
		}
		return n, nil
	case nil:
		n.kind = kindNull
	case bool:
		n.kind = kindBool
	case json.Number:
		n.kind = kindNumber
	case string:
		n.kind = kindString
	}
	n.scalar, err = json.Marshal(tok)
	return n, err
}

// encode turns a node back into JSON (last duplicate key last, as encoding/json would apply it).
func (n *node) encode() []byte {
	switch n.kind {
	case kindObject:
		var b bytes.Buffer
		b.WriteByte('{')
		for i, m := range n.members {
			if i > 0 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(m.key)
			b.Write(k)
			b.WriteByte(':')
			b.Write(m.value.encode())
		}
		b.WriteByte('}')
		return b.Bytes()
	case kindArray:
		var b bytes.Buffer
		b.WriteByte('[')
		for i, it := range n.items {
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(it.encode())
		}
		b.WriteByte(']')
		return b.Bytes()
	default:
		return n.scalar
	}
}

// lineCol turns a byte offset into a 1-based line and column.
func lineCol(doc []byte, offset int64) (int, int) {
	if offset > int64(len(doc)) {
		offset = int64(len(doc))
	}
	before := doc[:offset]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(offset) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}
