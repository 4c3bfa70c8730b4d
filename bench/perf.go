package main

import (
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// perfTail is perf's IPC columns, empty without hardware counters.
var perfTail = regexp.MustCompile(`\s+(IPC\s+\[IPC Coverage\]|-\s+-)\s*$`)

// perfRecord samples a child's CPU with Linux perf (software cpu-clock
// event: works where hardware counters are not exposed, as in VMs).
type perfRecord struct {
	cmd  *exec.Cmd
	path string
}

func startPerf(pid int, path string) (*perfRecord, error) {
	cmd := exec.Command("perf", "record", "-e", "cpu-clock", "-F", "999", "-g", "-p", fmt.Sprint(pid), "-o", path)
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("perf record (install linux-perf, or drop -perf): %w", err)
	}
	time.Sleep(300 * time.Millisecond) // perf attaches
	return &perfRecord{cmd: cmd, path: path}, nil
}

// stop ends the recording and returns the top of the profile as markdown:
// flat (self) and cumulative (children) by symbol.
func (p *perfRecord) stop(title string) string {
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	_ = p.cmd.Wait()
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n### perf profile of the switchyard child, %s\n\n", title)
	for _, args := range [][]string{
		{"report", "-i", p.path, "--stdio", "--no-children", "--sort", "symbol", "-g", "none", "--percent-limit", "1"},
		{"report", "-i", p.path, "--stdio", "--children", "--sort", "symbol", "-g", "none", "--percent-limit", "5"},
	} {
		out, err := exec.Command("perf", args...).Output()
		if err != nil {
			fmt.Fprintf(&sb, "(perf %s: %v)\n", strings.Join(args, " "), err)
			continue
		}
		var lines []string
		for _, l := range strings.Split(string(out), "\n") {
			if strings.TrimSpace(l) == "" || (strings.HasPrefix(l, "#") && !strings.Contains(l, "Samples") && !strings.Contains(l, "Overhead")) {
				continue
			}
			l = strings.TrimRight(perfTail.ReplaceAllString(l, ""), " ")
			l = strings.ReplaceAll(l, "github.com/switchyard/switchyard/", "")
			lines = append(lines, l)
		}
		fmt.Fprintf(&sb, "`perf report %s`\n\n```\n%s\n```\n\n", strings.Join(args[3:], " "), strings.Join(lines, "\n"))
	}
	return sb.String()
}
