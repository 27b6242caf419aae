package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// wrkResult is what one wrk run reports.
type wrkResult struct {
	ReqPerSec    float64       // "Requests/sec:"
	P50, P99     time.Duration // from "Latency Distribution"
	Requests     int64         // "N requests in …"
	Non2xx       int64         // "Non-2xx or 3xx responses:"
	SocketErrors int64         // sum of "Socket errors:" connect, read, write, timeout
}

// Errors is the number of failed requests: bad statuses plus socket errors.
func (r wrkResult) Errors() int64 {
	return r.Non2xx + r.SocketErrors
}

// runWrk runs `wrk --latency` against url and parses its report.
func runWrk(ctx context.Context, url string, threads, conns int, d time.Duration) (wrkResult, error) {
	secs := max(1, int(math.Ceil(d.Seconds())))
	cmd := exec.CommandContext(ctx, "wrk", "--latency",
		"-t"+strconv.Itoa(threads), "-c"+strconv.Itoa(conns), "-d"+strconv.Itoa(secs)+"s", url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %w\n%s", err, trimOutput(out))
	}
	res, err := parseWrk(string(out))
	if err != nil {
		return wrkResult{}, fmt.Errorf("%w\nwrk printed:\n%s", err, trimOutput(out))
	}
	return res, nil
}

// parseWrk reads the parts of wrk's report that the benchmark uses. Example:
//
//	  Latency Distribution
//	     50%   76.00us
//	     99%  150.00us
//	  123456 requests in 10.00s, 12.34MB read
//	  Non-2xx or 3xx responses: 12
//	  Socket errors: connect 0, read 1, write 0, timeout 0
//	Requests/sec:  12345.67
func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	var haveRPS, haveP50, haveP99 bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		f := strings.Fields(line)
		var err error
		switch {
		case len(f) == 2 && f[0] == "50%":
			r.P50, err = time.ParseDuration(f[1])
			haveP50 = err == nil
		case len(f) == 2 && f[0] == "99%":
			r.P99, err = time.ParseDuration(f[1])
			haveP99 = err == nil
		case len(f) == 2 && f[0] == "Requests/sec:":
			r.ReqPerSec, err = strconv.ParseFloat(f[1], 64)
			haveRPS = err == nil
		case len(f) >= 3 && f[1] == "requests" && f[2] == "in":
			r.Requests, err = strconv.ParseInt(f[0], 10, 64)
		case strings.HasPrefix(line, "Non-2xx or 3xx responses:"):
			r.Non2xx, err = strconv.ParseInt(f[len(f)-1], 10, 64)
		case strings.HasPrefix(line, "Socket errors:"):
			r.SocketErrors, err = sumSocketErrors(strings.TrimPrefix(line, "Socket errors:"))
		}
		if err != nil {
			return r, fmt.Errorf("wrk report line %q: %w", line, err)
		}
	}
	if !haveRPS || !haveP50 || !haveP99 {
		return r, fmt.Errorf("wrk report lacks Requests/sec or the 50%%/99%% latency lines")
	}
	return r, nil
}

// sumSocketErrors adds up "connect 0, read 1, write 0, timeout 0".
func sumSocketErrors(s string) (int64, error) {
	var total int64
	for part := range strings.SplitSeq(s, ",") {
		f := strings.Fields(part)
		if len(f) != 2 {
			return 0, fmt.Errorf("unexpected socket errors %q", s)
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}
