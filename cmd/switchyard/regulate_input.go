package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/switchyard/switchyard/router/plan"
	"github.com/switchyard/switchyard/router/regulations"
)

// maxUsersFileBytes bounds a --file: 5,000 users with long ids and
// emails fit well within it.
const maxUsersFileBytes = 8 << 20

// readUsersFile reads the users of --file: one per line, a bare userId or
// a JSON object with userId, anonymousId and email; # comments and blank
// lines are skipped. Every bad line is reported, with its number.
func readUsersFile(path string) ([]plan.User, error) {
	var r io.Reader
	if path == "-" {
		r = os.Stdin
	} else {
		f, err := os.Open(path) //nolint:gosec // G304: the file the operator named with --file
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	sc := bufio.NewScanner(io.LimitReader(r, maxUsersFileBytes+1))
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	var (
		out   []plan.User
		probs []string
		n     int
		read  int
	)
	for sc.Scan() {
		n++
		read += len(sc.Bytes()) + 1
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if len(out) == regulations.MaxUsers {
			return nil, fmt.Errorf("%s:%d: more than %d users: split the file (Segment takes at most %d ids a call)", path, n, regulations.MaxUsers, regulations.MaxUsers)
		}
		if !strings.HasPrefix(line, "{") {
			out = append(out, plan.User{UserID: line})
			continue
		}
		var u plan.User
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&u); err != nil {
			probs = append(probs, fmt.Sprintf("%s:%d: %v (want a userId, or {\"userId\": ..., \"anonymousId\": ..., \"email\": ...})", path, n, err))
			continue
		}
		out = append(out, u)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%s:%d: a line over 64 KiB", path, n+1)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if read > maxUsersFileBytes {
		return nil, fmt.Errorf("%s: over %d bytes: split the file", path, maxUsersFileBytes)
	}
	if len(probs) > 0 {
		return nil, errors.New(strings.Join(probs, "\n"))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no user in the file", path)
	}
	return out, nil
}

// printReport prints a regulation and its status per destination.
func printReport(w io.Writer, rep regulations.Report, head bool) {
	if head {
		fmt.Fprintf(w, "%s  %s  %s\n", rep.ID, rep.Type, rep.Status)
		fmt.Fprintf(w, "  %s %s, asked %s by %s\n", users(len(rep.Users)), scopeWords(rep.Destinations), rep.CreatedAt.Format("2006-01-02 15:04:05Z07:00"), rep.RequestedBy)
		if rep.Reason != "" {
			fmt.Fprintf(w, "  reason: %s\n", rep.Reason)
		}
		if rep.Type.Suppresses() {
			if rep.Applied != nil {
				fmt.Fprintf(w, "  suppressions recorded %s\n", rep.Applied.Format("2006-01-02 15:04:05Z07:00"))
			} else {
				fmt.Fprintln(w, "  suppressions not all recorded: submit the regulation again")
			}
		}
	}
	if !rep.Type.Deletes() {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  DESTINATION\tSTATE\tATTEMPTS\tANSWER\tDETAIL")
	for _, d := range rep.Deletions {
		answer := ""
		if d.Status != 0 {
			answer = fmt.Sprintf("HTTP %d %s", d.Status, oneLine(d.Answer, 80))
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\n", d.Destination, d.State, d.Attempts, answer, oneLine(d.Detail, 160))
	}
	_ = tw.Flush()
}

func printList(w io.Writer, reps []regulations.Report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTYPE\tSTATUS\tUSERS\tSCOPE\tCREATED\tBY")
	for _, r := range reps {
		scope := "all"
		if len(r.Destinations) > 0 {
			scope = strings.Join(r.Destinations, ",")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", r.ID, r.Type, r.Status, len(r.Users), scope, r.CreatedAt.Format("2006-01-02 15:04:05Z07:00"), r.RequestedBy)
	}
	_ = tw.Flush()
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
