package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// ErrInvalidJSON marks input that is not well-formed JSON (or not one JSON
// value), as opposed to well-formed JSON that breaks the policy rules (a
// [*ValidationError]). The admin API maps the first to invalid_json and the
// second to invalid_argument.
var ErrInvalidJSON = errors.New("invalid JSON")

// jsonField is one member of a JSON object, in document order.
type jsonField struct {
	Key   string
	Value json.RawMessage
}

// checkSingleValue refuses malformed JSON and anything after the first value,
// so that "{...}{...}" or "{...} garbage" is never half-read, and text that
// is not UTF-8: json.Valid accepts a raw 0xFF inside a string and
// encoding/json reads it as U+FFFD, so the document checked would not be the
// document stored.
func checkSingleValue(data []byte) error {
	if !utf8.Valid(data) {
		i := 0
		for i < len(data) {
			r, n := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			i += n
		}
		return fmt.Errorf("%w: not valid UTF-8 at byte %d (JSON text must be UTF-8)", ErrInvalidJSON, i)
	}
	if !json.Valid(data) {
		// json.Valid does not say where; decode to get a positioned message.
		var v any
		err := json.Unmarshal(data, &v)
		if err == nil {
			err = errors.New("malformed input")
		}
		return fmt.Errorf("%w: %v", ErrInvalidJSON, err)
	}
	return nil
}

// objectFields splits a JSON object into its members, keeping exact key
// spelling and order, and refusing duplicate keys: encoding/json would
// silently keep the last duplicate and match keys case-insensitively, which is
// how a reviewer and the engine end up reading different documents.
// ok is false (with a reason) when raw is not an object.
func objectFields(raw json.RawMessage) (fields []jsonField, dup string, reason string) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, "", "must be a JSON object"
	}
	if d, isDelim := tok.(json.Delim); !isDelim || d != '{' {
		return nil, "", "must be a JSON object, got " + jsonKind(raw)
	}
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, "", "malformed object"
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, "", "malformed object"
		}
		if seen[key] && dup == "" {
			dup = key
		}
		seen[key] = true
		fields = append(fields, jsonField{Key: key, Value: v})
	}
	if _, err := dec.Token(); err != nil && !errors.Is(err, io.EOF) {
		return nil, "", "malformed object"
	}
	return fields, dup, ""
}

// jsonKind names the JSON type of raw for error messages.
func jsonKind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// jsonString decodes raw as a JSON string.
func jsonString(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// jsonArray decodes raw as a JSON array, keeping the elements raw. null is
// reported as not an array so that "actions": null reads as a mistake.
func jsonArray(raw json.RawMessage) ([]json.RawMessage, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '[' {
		return nil, false
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, false
	}
	return elems, true
}
