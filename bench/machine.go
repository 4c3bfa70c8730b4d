package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

func profileTop(path string) string {
	var sb strings.Builder
	sb.WriteString("\n### CPU profile (-inprocess: router, nats-server and sink in one process)\n\n")
	for _, args := range [][]string{
		{"tool", "pprof", "-top", "-nodecount=30", path},
		{"tool", "pprof", "-top", "-cum", "-nodecount=40", "-focus=switchyard/(router|mappings|destinations)", path},
	} {
		out, err := exec.Command("go", args...).CombinedOutput()
		fmt.Fprintf(&sb, "`go %s`\n\n```\n%s```\n\n", strings.Join(args, " "), out)
		if err != nil {
			fmt.Fprintf(&sb, "(%v)\n\n", err)
		}
	}
	return sb.String()
}

// describeMachine reads the CPU model, the core count and the memory.
func describeMachine() string {
	model := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "MemTotal:") {
				var kb int64
				_, _ = fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "MemTotal:")), "%d", &kb)
				mem = fmt.Sprintf(", %.1f GiB RAM", float64(kb)/(1<<20))
			}
		}
	}
	return fmt.Sprintf("%s, %d cores (GOMAXPROCS %d)%s, %s %s/%s", model, runtime.NumCPU(), runtime.GOMAXPROCS(0), mem, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
