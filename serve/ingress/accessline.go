package ingress

import (
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// The access log's line formats. slog's handlers cost about a microsecond a
// line (a Record, attribute values, the handler's lock); at tens of
// thousands of requests a second that is a measurable share of the
// gateway's CPU, so access lines are appended straight into a byte slice in
// the same two formats slog writes, text (key=value) and JSON.
// TestAccessLineMatchesSlog holds the two to the same output.

// accessField is one key and its value, already a string or an integer.
type accessField struct {
	key   string
	str   string
	num   int64
	float float64
	kind  byte // 's', 'i' or 'f'
}

// appendAccessLine appends one line (with its newline) for the record at t
// with message msg and fields, as slog's JSON handler writes it when json is
// set, else as its text handler does.
func appendAccessLine(b []byte, json bool, t time.Time, msg string, fields []accessField) []byte {
	if json {
		b = append(b, `{"time":"`...)
		b = t.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","level":"INFO","msg":`...)
		b = appendJSONString(b, msg)
		for _, f := range fields {
			b = append(b, ',')
			b = appendJSONString(b, f.key)
			b = append(b, ':')
			switch f.kind {
			case 's':
				b = appendJSONString(b, f.str)
			case 'i':
				b = strconv.AppendInt(b, f.num, 10)
			case 'f':
				b = strconv.AppendFloat(b, f.float, 'g', -1, 64)
			}
		}
		return append(b, "}\n"...)
	}
	b = append(b, "time="...)
	b = t.AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, " level=INFO msg="...)
	b = appendTextValue(b, msg)
	for _, f := range fields {
		b = append(b, ' ')
		b = append(b, f.key...)
		b = append(b, '=')
		switch f.kind {
		case 's':
			b = appendTextValue(b, f.str)
		case 'i':
			b = strconv.AppendInt(b, f.num, 10)
		case 'f':
			b = strconv.AppendFloat(b, f.float, 'g', -1, 64)
		}
	}
	return append(b, '\n')
}

// appendTextValue writes s bare, or quoted (Go syntax) when it is empty or
// holds a space, '=', '"', a control or unprintable character, or invalid
// UTF-8, as slog's text handler does.
func appendTextValue(b []byte, s string) []byte {
	if s == "" {
		return append(b, `""`...)
	}
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c <= ' ' || c == '=' || c == '"' {
				return strconv.AppendQuote(b, s)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return strconv.AppendQuote(b, s)
		}
		i += size
	}
	return append(b, s...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string as slog's JSON handler does:
// invalid UTF-8 becomes U+FFFD, U+2028 and U+2029 are escaped, HTML is not.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= ' ' && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029': // line separators break JavaScript readers
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
