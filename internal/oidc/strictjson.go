package oidc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf8"
)

// maxJSONDepth bounds object/array nesting in a JOSE header, a claims set
// or a JWK Set. Real ID tokens nest two or three levels (Kubernetes:
// kubernetes.io.pod.name); the bound keeps the recursive decoder and every
// consumer of the claims (CEL, audit) far from deep-recursion costs.
const maxJSONDepth = 32

// decodeStrictObject decodes one JSON object, refusing what encoding/json
// would silently accept and a JOSE verifier must not:
//
//   - a duplicate member name anywhere in the document (RFC 7515 §5.2 and
//     RFC 7519 §4: "MUST either reject ... or use a JSON parser that returns
//     only the lexically last duplicate member name" — s3fed rejects, so two
//     parsers can never see two different "sub" values in one signed token);
//   - invalid UTF-8 (encoding/json would replace it with U+FFFD, aliasing
//     distinct byte strings);
//   - anything after the object (trailing garbage);
//   - nesting deeper than maxJSONDepth;
//   - a number that does not fit a float64 (JSON numbers are read as
//     float64, like CEL's JSON values).
//
// Member names are compared after unescaping, so "s\u0075b" and "sub" are
// duplicates too. The result holds only string, float64, bool, nil,
// []any and map[string]any values, and member names are kept exactly
// (never matched case-insensitively the way encoding/json fills structs).
func decodeStrictObject(data []byte) (map[string]any, error) {
	if !utf8.Valid(data) {
		return nil, errors.New("not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	obj, err := decodeObjectBody(dec, 1)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON object")
	}
	return obj, nil
}

func decodeObjectBody(dec *json.Decoder, depth int) (map[string]any, error) {
	if depth > maxJSONDepth {
		return nil, fmt.Errorf("JSON nested deeper than %d levels", maxJSONDepth)
	}
	obj := map[string]any{}
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("not JSON: %w", err)
		}
		if d, ok := tok.(json.Delim); ok && d == '}' {
			return obj, nil
		}
		name, ok := tok.(string)
		if !ok {
			return nil, errors.New("not JSON: object member name is not a string")
		}
		if _, dup := obj[name]; dup {
			return nil, fmt.Errorf("duplicate JSON member %s", quote(name))
		}
		v, err := decodeValue(dec, depth)
		if err != nil {
			return nil, err
		}
		obj[name] = v
	}
}

func decodeValue(dec *json.Decoder, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			return decodeObjectBody(dec, depth+1)
		case '[':
			if depth+1 > maxJSONDepth {
				return nil, fmt.Errorf("JSON nested deeper than %d levels", maxJSONDepth)
			}
			list := []any{}
			for dec.More() {
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			if _, err := dec.Token(); err != nil { // the closing ']'
				return nil, fmt.Errorf("not JSON: %w", err)
			}
			return list, nil
		}
		return nil, fmt.Errorf("not JSON: unexpected %v", t)
	case json.Number:
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("JSON number %s out of range", quote(string(t)))
		}
		return f, nil
	case string, bool, nil:
		return t, nil
	}
	return nil, fmt.Errorf("not JSON: unexpected token %T", tok)
}
