package sqlstore

import (
	"crypto/sha256"
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/s3fed/s3fed/internal/store"
)

// How values are kept, the same on every engine (see the package doc of
// store for the contract):
//
//   - Every string column is a byte column (BLOB, BYTEA) and every string
//     parameter is passed as []byte: PostgreSQL text cannot hold NUL and
//     sorts by collation, a byte column holds anything and sorts by bytes
//     on both engines. Strings inside a JSON body are escaped by
//     encoding/json, so body columns stay text.
//   - Times are int64 nanoseconds since 1970, with math.MinInt64 for the
//     zero time (so that 0, the instant of 1970-01-01, is a time like any
//     other, and the zero time sorts before every other).
//   - A replay key is kept as its SHA-256: fixed length, any bytes in.

// noTime is the column value of the zero time.
const noTime int64 = math.MinInt64

// bs is s as a byte-column parameter; never nil, which a driver could send
// as NULL.
func bs(s string) []byte {
	if s == "" {
		return []byte{}
	}
	return []byte(s)
}

// doc is a document as a byte-column parameter, nil and empty alike.
func doc(d []byte) []byte {
	if d == nil {
		return []byte{}
	}
	return d
}

// tm is t as a column value; t must have passed checkTime.
func tm(t time.Time) int64 {
	if t.IsZero() {
		return noTime
	}
	return t.UnixNano()
}

// fromTM is the inverse of tm, in UTC.
func fromTM(v int64) time.Time {
	if v == noTime {
		return time.Time{}
	}
	return time.Unix(0, v).UTC()
}

// utc is t in UTC, keeping the zero time zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

// checkTime refuses a non-zero time the column cannot hold.
func checkTime(what string, t time.Time) error {
	if t.IsZero() || (!t.Before(store.MinTime) && !t.After(store.MaxTime)) {
		return nil
	}
	return fmt.Errorf("%s %s is outside %s .. %s: %w", what, t.Format(time.RFC3339Nano),
		store.MinTime.Format(time.RFC3339), store.MaxTime.Format(time.RFC3339), store.ErrInvalid)
}

var timeType = reflect.TypeOf(time.Time{})

// check refuses a record (a struct) holding a string, string slice, map or
// document that is not valid UTF-8, or a time out of range. It walks every
// field, so a field added to a store type is checked without a change here.
func check(what string, rec any) error {
	return checkValue(what, reflect.ValueOf(rec))
}

func checkValue(path string, v reflect.Value) error {
	switch {
	case v.Type() == timeType:
		return checkTime(path, v.Interface().(time.Time))
	case v.Kind() == reflect.String:
		if !utf8.ValidString(v.String()) {
			return invalidText(path, v.String())
		}
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8:
		if !utf8.Valid(v.Bytes()) {
			return invalidText(path, string(v.Bytes()))
		}
	case v.Kind() == reflect.Slice:
		for i := range v.Len() {
			if err := checkValue(fmt.Sprintf("%s[%d]", path, i), v.Index(i)); err != nil {
				return err
			}
		}
	case v.Kind() == reflect.Map:
		for it := v.MapRange(); it.Next(); {
			if err := checkValue(path+" key", it.Key()); err != nil {
				return err
			}
			if err := checkValue(path+" value", it.Value()); err != nil {
				return err
			}
		}
	case v.Kind() == reflect.Struct:
		for i := range v.NumField() {
			if err := checkValue(path+"."+v.Type().Field(i).Name, v.Field(i)); err != nil {
				return err
			}
		}
	}
	return nil
}

func invalidText(path, s string) error {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			break
		}
		i += n
	}
	return fmt.Errorf("%s is not valid UTF-8 (byte %d): %w", path, i, store.ErrInvalid)
}

// cleanText replaces each byte of s that is not part of valid UTF-8 with
// U+FFFD, exactly as encoding/json writes it, so that a filter column and
// the JSON body of one event agree.
func cleanText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// replayKey is the stored form of a replay key.
func replayKey(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}
