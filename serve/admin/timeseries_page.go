package admin

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// GET /api/gantry/timeseries answers in pages, so no request makes the
// gateway build an answer whose size grows with the number of deployments
// (1,000 applications once made a 133 MB answer): at most Limit series a
// page, at most SeriesPoints points a series, and at most
// MaxTimeseriesBytes a page, whichever comes first; next_page_token says
// where the next page starts.

const (
	// DefaultSeriesPerPage is ?limit='s default.
	DefaultSeriesPerPage = 50
	// MaxSeriesPerPage is the largest ?limit= accepted.
	MaxSeriesPerPage = 200
	// MaxTimeseriesBytes bounds one answer's body. A whole series is at
	// most about 250 KB, so a page always holds at least one.
	MaxTimeseriesBytes = 4 << 20
)

// TimeseriesQuery selects a page of series.
type TimeseriesQuery struct {
	// App and Deployment pick deployments; "" matches any.
	App, Deployment string
	// Last is the newest points a series gives at most; 0: all it keeps.
	Last int
	// Since, when > 0, keeps only the points after it (Unix seconds).
	Since float64
	// Limit is the most series a page holds; 0: DefaultSeriesPerPage.
	Limit int
	// PageToken is the next_page_token of the previous page; "": the first.
	PageToken string
}

// timeseriesParams are the query parameters the endpoint accepts.
var timeseriesParams = []string{"app", "deployment", "last", "since", "limit", "page_token"}

// ParseTimeseriesQuery reads the endpoint's query parameters; its errors
// name the parameter and what it accepts.
func ParseTimeseriesQuery(v url.Values) (TimeseriesQuery, error) {
	for k := range v {
		if !containsString(timeseriesParams, k) {
			return TimeseriesQuery{}, fmt.Errorf("%s: unknown parameter; the parameters are %s", k, strings.Join(timeseriesParams, ", "))
		}
	}
	q := TimeseriesQuery{App: v.Get("app"), Deployment: v.Get("deployment"), PageToken: v.Get("page_token")}
	var err error
	if q.Last, err = intParam(v, "last", 0, SeriesPoints, "a number of points"); err != nil {
		return q, err
	}
	if q.Limit, err = intParam(v, "limit", 1, MaxSeriesPerPage, "a number of series"); err != nil {
		return q, err
	}
	if s := v.Get("since"); s != "" {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f < 0 || math.IsInf(f, 0) {
			return q, fmt.Errorf("since: want Unix seconds >= 0, got %q", s)
		}
		q.Since = f
	}
	if q.PageToken != "" {
		if _, err := decodePageToken(q.PageToken); err != nil {
			return q, err
		}
	}
	return q, nil
}

func intParam(v url.Values, name string, lo, hi int, what string) (int, error) {
	s := v.Get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s: want %s from %d to %d, got %q", name, what, lo, hi, s)
	}
	return n, nil
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// The page token is the last series a page gave, as base64url JSON
// [application, deployment]: the next page starts after it, so a token
// stays good while deployments come and go.
func pageToken(k seriesKey) string {
	b, _ := json.Marshal([2]string{k.app, k.dep})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodePageToken(tok string) (seriesKey, error) {
	var k [2]string
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err == nil {
		err = json.Unmarshal(b, &k)
	}
	if err != nil {
		return seriesKey{}, errors.New("page_token: not a token this gateway gave; pass the previous answer's next_page_token unchanged, or leave it out for the first page")
	}
	return seriesKey{k[0], k[1]}, nil
}

// Page encodes one page of the series q selects, sorted by application
// then deployment, as the endpoint's JSON body:
//
//	{"series": [Series...], "next_page_token": "..."}
//
// where next_page_token is "" on the last page. The body is at most
// MaxTimeseriesBytes. q must come from ParseTimeseriesQuery (a bad page
// token starts from the first page).
func (s *Sampler) Page(q TimeseriesQuery) []byte {
	after, _ := decodePageToken(q.PageToken)
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultSeriesPerPage
	}
	keys := s.keys(q.App, q.Deployment, after, q.PageToken != "")
	interval := strconv.AppendFloat(nil, s.every().Seconds(), 'f', -1, 64)

	const tail = `],"next_page_token":""}` + "\n"
	body := append(make([]byte, 0, 4096), `{"series":[`...)
	var buf []sample
	var one []byte
	next := ""
	n := 0
	for i, k := range keys {
		if n == limit {
			next = pageToken(keys[i-1])
			break
		}
		s.mu.Lock()
		rg := s.series[k]
		if rg != nil {
			buf = rg.appendSelected(buf[:0], q.Since, q.Last)
		}
		s.mu.Unlock()
		if rg == nil {
			continue // gone since keys was read
		}
		one = appendSeries(one[:0], k, interval, buf)
		// Room for the comma, this series, and the longest tail (a token).
		if n > 0 && len(body)+1+len(one)+len(tail)+tokenRoom > MaxTimeseriesBytes {
			next = pageToken(keys[i-1])
			break
		}
		if n > 0 {
			body = append(body, ',')
		}
		body = append(body, one...)
		n++
	}
	body = append(body, `],"next_page_token":`...)
	body = strconv.AppendQuote(body, next) // base64url: nothing to escape
	return append(body, "}\n"...)
}

// tokenRoom is more than any page token's length: names are at most 255
// bytes (deploy/config), JSON may escape each byte to 6, base64 adds a third.
const tokenRoom = 2 * (255*6 + 8) * 4 / 3

// keys lists the series matching app and dep (""; any), after the key
// after if hasAfter, sorted.
func (s *Sampler) keys(app, dep string, after seriesKey, hasAfter bool) []seriesKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]seriesKey, 0, len(s.series))
	for k := range s.series {
		if (app != "" && k.app != app) || (dep != "" && k.dep != dep) || (hasAfter && !after.less(k)) {
			continue
		}
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].less(keys[j]) })
	return keys
}

// appendSeries appends the JSON of one Series.
func appendSeries(b []byte, k seriesKey, interval []byte, pts []sample) []byte {
	b = append(b, `{"application":`...)
	b = appendJSONString(b, k.app)
	b = append(b, `,"deployment":`...)
	b = appendJSONString(b, k.dep)
	b = append(b, `,"interval_s":`...)
	b = append(b, interval...)
	b = append(b, `,"points":[`...)
	for i, p := range pts {
		if i > 0 {
			b = append(b, ',')
		}
		b = p.appendJSON(b)
	}
	return append(b, "]}"...)
}

func appendJSONString(b []byte, s string) []byte {
	j, _ := json.Marshal(s)
	return append(b, j...)
}

// appendJSON appends the JSON of p as a Point, without allocating.
func (p sample) appendJSON(b []byte) []byte {
	b = append(b, `{"t":`...)
	b = strconv.AppendFloat(b, p.time(), 'f', -1, 64)
	b = appendNum(append(b, `,"rps":`...), p.rps)
	b = appendNum(append(b, `,"errors_ps":`...), p.errorsPS)
	b = appendNum(append(b, `,"p50_ms":`...), p.p50)
	b = appendNum(append(b, `,"p90_ms":`...), p.p90)
	b = appendNum(append(b, `,"p99_ms":`...), p.p99)
	b = strconv.AppendInt(append(b, `,"queued":`...), int64(p.queued), 10)
	b = strconv.AppendInt(append(b, `,"inflight":`...), int64(p.inflight), 10)
	b = strconv.AppendUint(append(b, `,"running":`...), uint64(p.running), 10)
	b = strconv.AppendUint(append(b, `,"replicas":`...), uint64(p.replicas), 10)
	b = strconv.AppendUint(append(b, `,"target":`...), uint64(p.tgt), 10)
	return append(b, '}')
}

// appendNum appends v rounded to 3 decimals, or null for NaN.
func appendNum(b []byte, v float32) []byte {
	f := float64(v)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, round3(f), 'f', -1, 64)
}
