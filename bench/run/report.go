package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// row is the reported result of one (target, connection count): the median
// round by req/s, how many rounds there were and their req/s range.
type row struct {
	measurement
	rounds         int
	minRPS, maxRPS float64
}

// medians groups measurements by (connection count, target) and keeps the
// median round of each, ordered by connection count as measured, then target.
func medians(ms []measurement) []row {
	type key struct {
		conns  int
		target string
	}
	groups := map[key][]measurement{}
	var conns []int
	for _, m := range ms {
		k := key{m.conns, m.target}
		groups[k] = append(groups[k], m)
		if !slices.Contains(conns, m.conns) {
			conns = append(conns, m.conns)
		}
	}
	var rows []row
	for _, c := range conns {
		for _, t := range allTargets {
			g := groups[key{c, t}]
			if len(g) == 0 {
				continue
			}
			slices.SortFunc(g, func(a, b measurement) int {
				return cmp.Compare(a.res.ReqPerSec, b.res.ReqPerSec)
			})
			rows = append(rows, row{
				measurement: g[(len(g)-1)/2],
				rounds:      len(g),
				minRPS:      g[0].res.ReqPerSec,
				maxRPS:      g[len(g)-1].res.ReqPerSec,
			})
		}
	}
	return rows
}

// printResults prints one line per target and connection count.
func printResults(w io.Writer, rows []row, markdown bool) {
	header := []string{"target", "conns", "req/s", "p50 (ms)", "p99 (ms)", "errors", "note"}
	var cells [][]string
	for _, r := range rows {
		cells = append(cells, []string{
			r.target, strconv.Itoa(r.conns), fmt.Sprintf("%.0f", r.res.ReqPerSec),
			msNum(r.res.P50), msNum(r.res.P99), strconv.FormatInt(r.res.Errors(), 10), note(r),
		})
	}
	printTable(w, header, cells, markdown)
}

// note flags rows that need care when read.
func note(r row) string {
	var notes []string
	if r.rounds > 1 {
		notes = append(notes, fmt.Sprintf("median of %d, req/s %.0f–%.0f", r.rounds, r.minRPS, r.maxRPS))
	}
	if r.profiled {
		notes = append(notes, "profiled")
	}
	if r.res.Errors() > 0 {
		notes = append(notes, fmt.Sprintf("%d non-2xx, %d socket errors", r.res.Non2xx, r.res.SocketErrors))
	}
	return strings.Join(notes, "; ")
}

// printComparison prints the throughput ratios at each connection count and
// the latency nginx and gantry add over direct at one connection.
func printComparison(w io.Writer, rows []row, conns []int, markdown bool) {
	find := func(target string, c int) *wrkResult {
		for i := range rows {
			if rows[i].target == target && rows[i].conns == c {
				return &rows[i].res
			}
		}
		return nil
	}
	fmt.Fprintln(w, "\nthroughput ratios (req/s):")
	var cells [][]string
	for _, c := range conns {
		d, n, g := find(targetDirect, c), find(targetNginx, c), find(targetGantry, c)
		cells = append(cells, []string{strconv.Itoa(c), ratio(g, d), ratio(g, n), ratio(n, d)})
	}
	printTable(w, []string{"conns", "gantry/direct", "gantry/nginx", "nginx/direct"}, cells, markdown)

	fmt.Fprintln(w, "\nadded latency over direct at 1 connection (the cost of one hop):")
	d := find(targetDirect, 1)
	if d == nil {
		fmt.Fprintln(w, "n/a: needs direct measured at 1 connection (--conns with 1, --only with direct)")
		return
	}
	cells = nil
	for _, t := range []string{targetNginx, targetGantry} {
		cells = append(cells, []string{t, added(find(t, 1), d, p50), added(find(t, 1), d, p99)})
	}
	printTable(w, []string{"target", "added p50 (ms)", "added p99 (ms)"}, cells, markdown)
}

func p50(r *wrkResult) time.Duration { return r.P50 }
func p99(r *wrkResult) time.Duration { return r.P99 }

// ratio is a's req/s over b's, or n/a.
func ratio(a, b *wrkResult) string {
	if a == nil || b == nil || b.ReqPerSec == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", a.ReqPerSec/b.ReqPerSec)
}

// added is how much longer pick(r) is than pick(base), in ms, or n/a.
func added(r, base *wrkResult, pick func(*wrkResult) time.Duration) string {
	if r == nil {
		return "n/a"
	}
	return fmt.Sprintf("%+.3f", float64(pick(r)-pick(base))/float64(time.Millisecond))
}

// msNum is a duration in milliseconds, without the unit.
func msNum(d time.Duration) string {
	return fmt.Sprintf("%.3f", float64(d)/float64(time.Millisecond))
}

// printTable prints an aligned text table, or a Markdown one.
func printTable(w io.Writer, header []string, cells [][]string, markdown bool) {
	if markdown {
		fmt.Fprintf(w, "\n| %s |\n", strings.Join(header, " | "))
		fmt.Fprintf(w, "|%s\n", strings.Repeat("---|", len(header)))
		for _, c := range cells {
			fmt.Fprintf(w, "| %s |\n", strings.Join(c, " | "))
		}
		return
	}
	// The first column (names) and the note column are text, the rest numbers.
	widths, left := make([]int, len(header)), make([]bool, len(header))
	for i, h := range header {
		left[i] = i == 0 || h == "note"
	}
	for _, line := range append([][]string{header}, cells...) {
		for i, cell := range line {
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	for _, line := range append([][]string{header}, cells...) {
		fmt.Fprintln(w, strings.TrimRight(alignRow(line, widths, left), " "))
	}
}

// alignRow pads a row's cells to widths, left-aligned where left says so and
// right-aligned (numbers) elsewhere.
func alignRow(line []string, widths []int, left []bool) string {
	var sb strings.Builder
	for i, cell := range line {
		pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell))
		if left[i] {
			sb.WriteString(cell + pad)
		} else {
			sb.WriteString(pad + cell)
		}
		sb.WriteString("  ")
	}
	return sb.String()
}

// printProfile prints pprof's top entries, fenced as code for Markdown.
func printProfile(w io.Writer, top string, markdown bool) {
	fmt.Fprintln(w, "\ngantry CPU profile (go tool pprof -top -nodecount=25):")
	if markdown {
		fmt.Fprintf(w, "\n```\n%s\n```\n", strings.TrimRight(top, "\n"))
		return
	}
	fmt.Fprintln(w, strings.TrimRight(top, "\n"))
}
