package main_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The CLI as a newcomer meets it (issue 15's stumbles): help everywhere,
// flags anywhere, --config's default, --version, catalog, exit codes.

var quickstartDir = filepath.Join("..", "..", "examples", "quickstart")

// runSplit runs the binary with env added, in dir when not empty. The race
// runtime's one-second pause at a clean exit (atexit_sleep_ms) is skipped:
// these commands are short, and there are many.
func runSplit(t *testing.T, dir string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "GORACE=atexit_sleep_ms=0"), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	_ = cmd.Run()
	return o.String(), e.String(), cmd.ProcessState.ExitCode()
}

var commandLine = regexp.MustCompile(`^  ([a-z][a-z-]*)\s{2,}\S`)

// subcommandsOf reads the "Available Commands" of a command's help.
func subcommandsOf(t *testing.T, path []string) []string {
	t.Helper()
	out, _, code := runSplit(t, "", nil, append(path, "--help")...)
	if code != 0 {
		t.Fatalf("%v --help: exit %d", path, code)
	}
	var subs []string
	in := false
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "Available Commands:"):
			in = true
		case in && line == "":
			in = false
		case in:
			if m := commandLine.FindStringSubmatch(line); m != nil {
				subs = append(subs, m[1])
			}
		}
	}
	return subs
}

// Every command and subcommand, found from the help itself (so a new one
// is covered too), answers -h, --help and `help CMD` on stdout with exit 0.
func TestHelpOnEveryCommandExitsZero(t *testing.T) {
	var all [][]string
	var walk func(path []string)
	walk = func(path []string) {
		all = append(all, path)
		for _, s := range subcommandsOf(t, path) {
			walk(append(append([]string{}, path...), s))
		}
	}
	walk(nil)
	if len(all) < 14 { // root, 10 commands, dlq's 3, completion's 4, help
		t.Fatalf("found only %d commands: %v", len(all), all)
	}
	for _, path := range all {
		forms := [][]string{append(append([]string{}, path...), "-h"), append(append([]string{}, path...), "--help")}
		if len(path) > 0 {
			forms = append(forms, append([]string{"help"}, path...))
		}
		for _, args := range forms {
			out, errOut, code := runSplit(t, "", nil, args...)
			if code != 0 || !strings.Contains(out, "Usage:") || errOut != "" {
				t.Errorf("switchyard %s: exit %d, stderr %q, stdout:\n%s", strings.Join(args, " "), code, errOut, out)
			}
		}
	}
}

// `preview FILE --config DIR` used to ignore the flag (Go's flag package
// stops at the first argument) and say `no destination "crm" (have: )`.
func TestFlagsAfterPositionalArguments(t *testing.T) {
	events := filepath.Join(quickstartDir, "events.ndjson")
	out, code := runCLI(t, "preview", events, "--config", quickstartDir, "--destination", "crm")
	if code != 0 || !strings.Contains(out, "event #1 qs-identify-1\n  ✓ profile") {
		t.Errorf("preview FILE --config DIR: exit %d:\n%s", code, out)
	}
	out, code = runCLI(t, "catalog", "braze", "--help")
	if code != 0 || !strings.Contains(out, "Usage:") {
		t.Errorf("catalog braze --help: exit %d:\n%s", code, out)
	}
}

// --config defaults to $SWITCHYARD_CONFIG, else the current directory; a
// directory with no config at all is an error, not "ok: 0 destination(s)".
func TestConfigDefaultsAndAFolderWithoutConfigIsAnError(t *testing.T) {
	empty := t.TempDir()
	out, errOut, code := runSplit(t, empty, nil, "validate")
	if code != 1 || !strings.Contains(out, "no config here") || !strings.Contains(out, "switchyard.yaml") || strings.Contains(errOut, "ok:") {
		t.Errorf("validate in an empty folder: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	// The same folder with only a destinations/ folder holding nothing.
	if err := os.MkdirAll(filepath.Join(empty, "destinations"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, _, code := runSplit(t, "", nil, "validate", "--config", empty); code != 1 {
		t.Errorf("validate --config with an empty destinations/: exit %d, want 1", code)
	}
	abs, _ := filepath.Abs(quickstartDir)
	_, errOut, code = runSplit(t, empty, []string{"SWITCHYARD_CONFIG=" + abs}, "validate")
	if code != 0 || !strings.Contains(errOut, "ok: 3 destination(s)") {
		t.Errorf("validate with $SWITCHYARD_CONFIG: exit %d: %s", code, errOut)
	}
	_, errOut, code = runSplit(t, abs, nil, "validate")
	if code != 0 || !strings.Contains(errOut, "ok: 3 destination(s)") {
		t.Errorf("validate in the config folder: exit %d: %s", code, errOut)
	}
	// The flag wins over the environment.
	_, _, code = runSplit(t, "", []string{"SWITCHYARD_CONFIG=" + abs}, "validate", "--config", empty)
	if code != 1 {
		t.Errorf("--config should win over $SWITCHYARD_CONFIG: exit %d", code)
	}
	// Commands that need a config say the same.
	out, errOut, code = runSplit(t, empty, nil, "publish", "--source", "web", os.DevNull)
	if code != 1 || !strings.Contains(out+errOut, "no config here") {
		t.Errorf("publish in an empty folder: exit %d: %s%s", code, out, errOut)
	}
}

func TestVersionPrintsVersionAndCommit(t *testing.T) {
	if testCommit == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true: git rev-parse HEAD gave no commit, so the binary carries none to check (CI runs in a clone)")
		}
		t.Skip("no git: the binary carries no commit to check")
	}
	want := "switchyard " + testVersion + " (commit " + testCommit + ","
	for _, args := range [][]string{{"--version"}, {"version"}} {
		out, errOut, code := runSplit(t, "", nil, args...)
		if code != 0 || !strings.HasPrefix(out, want) || errOut != "" {
			t.Errorf("switchyard %s: exit %d: %q (want it to start with %q), stderr %q", args[0], code, out, want, errOut)
		}
	}
}

// Every type `catalog` lists can be described, webhook and http included,
// several at once; an unknown one among them is reported, the others still
// printed, and the exit is 1.
func TestCatalogDescribesEveryTypeItLists(t *testing.T) {
	list, code := runCLI(t, "catalog")
	if code != 0 {
		t.Fatalf("catalog: exit %d", code)
	}
	var types []string
	for _, line := range strings.Split(list, "\n")[1:] {
		f := strings.Fields(line)
		if len(f) == 0 {
			break
		}
		types = append(types, f[0])
	}
	if len(types) < 15 || types[0] != "webhook" || types[1] != "http" {
		t.Fatalf("catalog lists %v", types)
	}
	out, errOut, code := runSplit(t, "", nil, append([]string{"catalog"}, types...)...)
	if code != 0 || errOut != "" {
		t.Fatalf("catalog %s: exit %d: %s", strings.Join(types, " "), code, errOut)
	}
	for _, ty := range types {
		if !strings.Contains(out, "(`type: "+ty+"`") {
			t.Errorf("catalog with every type does not describe %s", ty)
		}
	}
	out, _ = runCLI(t, "catalog", "webhook")
	for _, want := range []string{"## Webhook (`type: webhook`, built in)", "### Settings", "| `url` | yes | url |", "| `secret` |", "webhook-signature", "```yaml\ntype: webhook"} {
		if !strings.Contains(out, want) {
			t.Errorf("catalog webhook lacks %q:\n%s", want, out)
		}
	}
	out, _ = runCLI(t, "catalog", "http")
	if !strings.Contains(out, "## HTTP (`type: http`, built in)") || !strings.Contains(out, "settings.<key>") {
		t.Errorf("catalog http:\n%s", out)
	}
	out, code = runCLI(t, "catalog", "braze", "amplitude")
	if code != 0 || !strings.Contains(out, "## Braze (`type: braze`)") || !strings.Contains(out, "## Amplitude (`type: amplitude`)") {
		t.Errorf("catalog braze amplitude: exit %d:\n%s", code, out)
	}
	out, errOut, code = runSplit(t, "", nil, "catalog", "braze", "nosuchtool", "amplitude")
	if code != 1 || !strings.Contains(errOut, `unknown tool "nosuchtool"`) || !strings.Contains(out, "## Braze") || !strings.Contains(out, "## Amplitude") {
		t.Errorf("catalog with an unknown name: exit %d: %s\n%s", code, errOut, out)
	}
}

// Exit codes (docs/cli.md): 2 for a command line that is wrong, with the
// reason and a pointer to the help on stderr.
func TestUsageErrorsExitTwo(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "Usage:"},
		{[]string{"nosuch"}, `unknown command "nosuch"`},
		{[]string{"serve", "--nosuch"}, "unknown flag: --nosuch"},
		{[]string{"preview", "--config", quickstartDir}, `required flag(s) "destination" not set`},
		{[]string{"preview", "--destination", "crm", "a", "b"}, "one input file at most"},
		{[]string{"validate", "examples/quickstart"}, "a config directory goes in --config examples/quickstart"},
		{[]string{"publish", "--config", quickstartDir}, `required flag(s) "source" not set`},
		{[]string{"replay", "--config", quickstartDir, "--destination", "crm"}, "at least one of the flags in the group [since from-time from-seq] is required"},
		{[]string{"replay", "--config", quickstartDir, "--destination", "crm", "--since", "1h", "--from-seq", "3"}, "none of the others can be"},
		{[]string{"dlq"}, "Usage:"},
		{[]string{"dlq", "nosuch"}, `unknown command "nosuch"`},
		{[]string{"dlq", "list", "--config", quickstartDir, "--destination", "Not A Name"}, "want lowercase letters"},
		{[]string{"sink", "--status", "abc"}, `invalid argument "abc"`},
	} {
		out, errOut, code := runSplit(t, "", nil, c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) || out != "" {
			t.Errorf("switchyard %s: exit %d, want 2 with %q on stderr\nstdout: %s\nstderr: %s", strings.Join(c.args, " "), code, c.want, out, errOut)
		}
	}
}

// Shell completion: a script per shell, and completion of destination
// names from the --config given so far.
func TestShellCompletion(t *testing.T) {
	for shell, marker := range map[string]string{"bash": "__start_switchyard", "zsh": "#compdef switchyard", "fish": "complete -c switchyard"} {
		out, code := runCLI(t, "completion", shell)
		if code != 0 || !strings.Contains(out, marker) {
			t.Errorf("completion %s: exit %d, no %q", shell, code, marker)
		}
	}
	out, code := runCLI(t, "__complete", "preview", "--config", quickstartDir, "--destination", "")
	if code != 0 || !strings.Contains(out, "amplitude\ncrm\nraw-webhook\n") {
		t.Errorf("completing --destination: exit %d:\n%s", code, out)
	}
	out, _ = runCLI(t, "__complete", "catalog", "bra")
	if !strings.Contains(out, "braze\n") {
		t.Errorf("completing catalog's argument:\n%s", out)
	}
}

var flagLine = regexp.MustCompile(`^\s+(?:-[a-z], )?(--[a-z-]+)`)

// docs/cli.md documents every command (a section per command) and, in that
// section, every flag the command's help lists.
func TestCLIDocCoversEveryCommandAndFlag(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "cli.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	sections := map[string]string{}
	parts := strings.Split(doc, "\n## `switchyard ")
	for _, p := range parts[1:] {
		name, body, _ := strings.Cut(p, "`\n")
		sections[name] = body
	}
	var walk func(path []string)
	walk = func(path []string) {
		subs := subcommandsOf(t, path)
		name := strings.Join(path, " ")
		if len(path) > 0 && path[0] != "help" && path[0] != "completion" && len(subs) == 0 {
			body, ok := sections[name]
			if !ok {
				t.Errorf("docs/cli.md has no section \"## `switchyard %s`\"", name)
			}
			out, _, _ := runSplit(t, "", nil, append(path, "--help")...)
			for _, line := range strings.Split(out[strings.Index(out, "Flags:"):], "\n") {
				if m := flagLine.FindStringSubmatch(line); m != nil && m[1] != "--help" && !strings.Contains(body, "`"+m[1]) {
					t.Errorf("docs/cli.md's section on %s does not document %s", name, m[1])
				}
			}
		}
		for _, s := range subs {
			walk(append(append([]string{}, path...), s))
		}
	}
	walk(nil)
	if _, ok := sections["completion"]; !ok {
		t.Error("docs/cli.md has no section on completion")
	}
	for _, code := range []string{"| 0 |", "| 1 |", "| 2 |", "| 130 |"} {
		if !strings.Contains(doc, code) {
			t.Errorf("docs/cli.md's exit status table lacks %s", code)
		}
	}
}
