package config

import (
	"bytes"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// yamlErrorRE matches the YAML library's syntax errors: "yaml: line N:
// problem", or "yaml: problem" when it gives no line.
var yamlErrorRE = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// parserProblems are the problems the YAML library's parser reports, as
// opposed to its scanner. go.yaml.in/yaml/v2 (under sigs.k8s.io/yaml)
// numbers the scanner's lines from 1 but the parser's from 0, and names no
// line at all for a problem on the first line (parser.fail in decode.go):
// a misindented line 3 is reported as "line 2". The testdata's syntax_*
// files pin this down.
var parserProblems = []string{
	"did not find expected <stream-start>",
	"did not find expected <document start>",
	"did not find expected node content",
	"did not find expected key",
	"did not find expected '-' indicator",
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"found duplicate %YAML directive",
	"found duplicate %TAG directive",
	"found incompatible YAML document",
	"found undefined tag handle",
}

// problemHints say what usually causes a problem.
var problemHints = map[string]string{
	"did not find expected key":                              "is it indented like the lines around it?",
	"did not find expected '-' indicator":                    "is it indented like the lines around it?",
	"block sequence entries are not allowed in this context": "is it indented like the lines around it?",
	"found a tab character that violates indentation":        "indent with spaces, not tabs",
	"found character that cannot start any token":            "indent with spaces, not tabs, and quote values that start with @ or `",
	"mapping values are not allowed in this context":         `quote a value that contains ": ", or check the line's indentation`,
}

// syntaxError reports a document that is not YAML or JSON, on one line,
// naming the line of the problem as the file numbers it (the library's
// column is not in its message, so there is none) and quoting that line.
func syntaxError(err error, data []byte) *Error {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	if dup, ok := strings.CutPrefix(msg, "yaml: unmarshal errors: "); ok {
		// Decoding errors (a duplicate key) number their lines from 1.
		msg = dup
	} else if m := yamlErrorRE.FindStringSubmatch(msg); m != nil {
		problem := m[2]
		line, _ := strconv.Atoi(m[1]) // 0 when no line was given
		if slices.Contains(parserProblems, problem) || line == 0 {
			line++
		}
		msg = "line " + strconv.Itoa(line) + ": " + problem
		if line > lineCount(data) {
			msg = "at the end of the document: " + problem
		}
		if text, ok := lineOf(data, line); ok && strings.TrimSpace(text) != "" {
			msg += " (line " + strconv.Itoa(line) + " reads " + strconv.Quote(truncateMsg(text, 60))
			if hint := problemHints[problem]; hint != "" {
				msg += "; " + hint
			}
			msg += ")"
		} else if problem == "found unexpected end of stream" {
			msg += " (the document ends inside a quoted string or a bracket opened earlier)"
		}
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	return &Error{Problems: []Problem{{Message: "not valid YAML or JSON: " + msg}}}
}

// lineCount is the number of lines of data; a final line break ends the
// last line rather than starting another.
func lineCount(data []byte) int {
	n := bytes.Count(data, []byte("\n"))
	if len(data) > 0 && data[len(data)-1] != '\n' {
		n++
	}
	return n
}

// lineOf returns line n (from 1) of data, without its line break.
func lineOf(data []byte, n int) (string, bool) {
	if !utf8.Valid(data) {
		return "", false
	}
	lines := strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
	if n < 1 || n > len(lines) {
		return "", false
	}
	return lines[n-1], true
}
