package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/router/plan"
	"github.com/switchyard/switchyard/router/regulations"
)

func newRegulateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "regulate",
		Short: "Suppress, unsuppress or delete a user's data, and follow the regulations",
		Long: `A regulation asks switchyard to stop sending a person's data (suppress), to
send it again (unsuppress), or to ask every tool that holds it to erase it
(delete, suppress-delete). Regulations are kept in JetStream (the REGULATIONS
key-value bucket): every router of a cluster sees them within seconds, and a
restart keeps them. A suppressed user's events are counted filtered (reason
suppressed) at the destinations in scope; they stay in EVENTS until its max
age. What each tool's deletion erases, and what it does not: docs/privacy.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprint(cmd.ErrOrStderr(), cmd.UsageString())
			return exitCode(exitUsage)
		},
	}
	for _, k := range []struct {
		verb  string
		typ   regulations.Type
		short string
	}{
		{"suppress", regulations.Suppress, "Stop delivering a user's events (to every destination, or those named)"},
		{"unsuppress", regulations.Unsuppress, "Deliver a suppressed user's events again"},
		{"delete", regulations.Delete, "Ask each destination's tool to erase a user (their events still flow)"},
		{"suppress-delete", regulations.SuppressWithDelete, "Suppress a user, and ask each destination's tool to erase them"},
	} {
		cmd.AddCommand(newRegulateSubmitCmd(k.verb, k.typ, k.short))
	}
	cmd.AddCommand(newRegulateListCmd(), newRegulateStatusCmd())
	return cmd
}

type submitOptions struct {
	dir, user, anon, email, file, reason string
	dests                                []string
	asJSON                               bool
}

func newRegulateSubmitCmd(verb string, typ regulations.Type, short string) *cobra.Command {
	var o submitOptions
	cmd := &cobra.Command{
		Use:   verb + " (--user ID | --file FILE) [--destination NAME ...]",
		Short: short,
		Long: short + `.

The user is named by --user (their userId) and optionally --anonymous-id; an
event matches when its userId or its anonymousId is one named. --email gives
the address tools that key people by email need for a deletion (Mailchimp,
SendGrid, HubSpot, Klaviyo without an external id). --file names many users
at once: one per line, a bare userId or a JSON object {"userId", "anonymousId",
"email"}; blank lines and lines starting with # are skipped; at most 5,000
users (Segment's bound per call). Without --destination the regulation covers
every destination; --destination may be repeated.

Exit status: 0 once recorded; 1 when refused (the reason is printed) or NATS is
unreachable; 2 on a bad flag.`,
		Example: fmt.Sprintf(`  switchyard regulate %s --config examples/quickstart --user u-123 --reason "ticket 4521"
  switchyard regulate %s --config examples/quickstart --file users.txt --destination braze --destination amplitude`, verb, verb),
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.user == "" && o.file == "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "regulate %s: give --user ID or --file FILE\n", verb)
				return exitCode(exitUsage)
			}
			return exitWith(runSubmit(typ, o, cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
	f := cmd.Flags()
	addConfigFlag(cmd, &o.dir, "switchyard.yaml and destinations/*.yaml (the scope), and where NATS is")
	f.StringVar(&o.user, "user", "", "the user's userId")
	f.StringVar(&o.anon, "anonymous-id", "", "the user's anonymousId, too (with --user), or alone")
	f.StringVar(&o.email, "email", "", "the user's email, for the tools that delete by email")
	f.StringVar(&o.file, "file", "", "a file naming up to 5,000 users, one per line (a userId, or a JSON object); - for stdin")
	f.StringSliceVar(&o.dests, "destination", nil, "a destination in scope (repeat, or separate with commas); default: every destination")
	f.StringVar(&o.reason, "reason", "", "why (recorded with the regulation)")
	f.BoolVar(&o.asJSON, "json", false, "print the regulation and its status as JSON")
	_ = cmd.RegisterFlagCompletionFunc("destination", completeDestinations)
	return cmd
}

func runSubmit(typ regulations.Type, o submitOptions, stdout, stderr io.Writer) int {
	name := "regulate " + verbOf(typ)
	reg := &regulations.Regulation{Type: typ, Destinations: o.dests, Reason: o.reason, RequestedBy: requester()}
	if o.user != "" || o.anon != "" || o.email != "" {
		reg.Users = append(reg.Users, plan.User{UserID: o.user, AnonymousID: o.anon, Email: o.email})
	}
	if o.file != "" {
		users, err := readUsersFile(o.file)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return exitFailure
		}
		reg.Users = append(reg.Users, users...)
	}
	if err := reg.Check(); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return exitFailure
	}
	cfg, plans, diags := loadAndBuild(o.dir)
	if diags.Err() != nil {
		for _, d := range diags.Errors() {
			fmt.Fprintln(stderr, d.String())
		}
		return exitFailure
	}
	scope, err := regulations.ScopeOf(reg, plans)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return exitFailure
	}
	nc, store, err := openRegulations(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return exitFailure
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := store.Submit(ctx, reg, scope); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		if reg.ID != "" && !errors.Is(err, regulations.ErrRefused) {
			fmt.Fprintf(stderr, "%s: regulation %s is partly recorded: submit it again (see switchyard regulate status %s)\n", name, reg.ID, reg.ID)
		}
		return exitFailure
	}
	rep, err := store.Report(ctx, reg.ID)
	if err != nil {
		fmt.Fprintf(stderr, "%s: recorded as %s, but reading it back failed: %v\n", name, reg.ID, err)
		return exitFailure
	}
	if o.asJSON {
		return printJSON(stdout, rep)
	}
	fmt.Fprintf(stdout, "regulation %s recorded: %s of %s %s\n", rep.ID, rep.Type, users(len(rep.Users)), scopeWords(rep.Destinations))
	if typ.Suppresses() {
		fmt.Fprintln(stdout, "every router applies it within seconds; events already in EVENTS stay there until streams.max_age")
	}
	printReport(stdout, rep, false)
	if typ.Deletes() {
		fmt.Fprintf(stdout, "follow the deletion with: switchyard regulate status %s --config %s\n", rep.ID, o.dir)
	}
	return exitOK
}

func verbOf(t regulations.Type) string {
	if t == regulations.SuppressWithDelete {
		return "suppress-delete"
	}
	return string(t)
}

// requester says who asked: the operating system's user, on this host.
func requester() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s@%s (CLI)", name, host)
}

// openRegulations joins the NATS of a config and opens the regulations.
func openRegulations(cfg *config.Config) (*nats.Conn, *regulations.Store, error) {
	nc, js, err := connectFor(cfg)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, err := regulations.Open(ctx, js, regulations.Options{Replicas: cfg.Global.Streams.Replicas})
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, store, nil
}

// readSuppressions reads the suppressions in force, for a replay.
func readSuppressions(ctx context.Context, cfg *config.Config, js jetstream.JetStream) (plan.Regulations, error) {
	store, err := regulations.Open(ctx, js, regulations.Options{Replicas: cfg.Global.Streams.Replicas})
	if err != nil {
		return nil, fmt.Errorf("reading the regulations (a replay never sends a suppressed user's events): %w", err)
	}
	lctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	ix, err := regulations.Load(lctx, store.KV())
	if err != nil {
		return nil, fmt.Errorf("reading the regulations (a replay never sends a suppressed user's events): %w", err)
	}
	return ix, nil
}

func newRegulateListCmd() *cobra.Command {
	var (
		dir    string
		limit  int
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the regulations, newest first, with their status",
		Long: `list prints one line per regulation: its id, type, overall status (pending,
running, finished, partial or failed), users, scope, time and who asked.

Exit status: 0; 1 when NATS is unreachable.`,
		Example: "  switchyard regulate list --config examples/quickstart --limit 20",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return exitWith(runRegulateList(dir, limit, asJSON, cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
	addConfigFlag(cmd, &dir, "switchyard.yaml, for where NATS is")
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many regulations (0: all)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per regulation, with its status per destination")
	return cmd
}

func runRegulateList(dir string, limit int, asJSON bool, stdout, stderr io.Writer) int {
	cfg, ok := loadConfigOnly(dir, stderr)
	if !ok {
		return exitFailure
	}
	nc, store, err := openRegulations(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "regulate list:", err)
		return exitFailure
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	reps, err := store.List(ctx, limit)
	if err != nil {
		fmt.Fprintln(stderr, "regulate list:", err)
		return exitFailure
	}
	if asJSON {
		for _, r := range reps {
			b, _ := json.Marshal(r)
			fmt.Fprintln(stdout, string(b))
		}
		return exitOK
	}
	printList(stdout, reps)
	return exitOK
}

func newRegulateStatusCmd() *cobra.Command {
	var (
		dir    string
		wait   time.Duration
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "status [ID]",
		Short: "Show a regulation's status per destination (the latest one without ID)",
		Long: `status shows a regulation and, for a deletion, its status at each destination:
pending, running, finished, failed (with the tool's answer) or not_supported
(with why). The overall status is finished, partial or failed once every
destination is done. --wait waits, up to the duration given, for it to be done.

Exit status: 0 when finished, pending or running; 1 when partial or failed, when
--wait ran out, when there is no such regulation, or NATS is unreachable.`,
		Example: "  switchyard regulate status rg-0lq2x3k9a-3f9a0b1c --config examples/quickstart --wait 5m",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := ""
			if len(args) == 1 {
				id = args[0]
			}
			return exitWith(runRegulateStatus(dir, id, wait, asJSON, cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
	addConfigFlag(cmd, &dir, "switchyard.yaml, for where NATS is")
	cmd.Flags().DurationVar(&wait, "wait", 0, "wait up to this long for the regulation to be done (e.g. 10m)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the regulation and its status as JSON")
	return cmd
}

func runRegulateStatus(dir, id string, wait time.Duration, asJSON bool, stdout, stderr io.Writer) int {
	cfg, ok := loadConfigOnly(dir, stderr)
	if !ok {
		return exitFailure
	}
	nc, store, err := openRegulations(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "regulate status:", err)
		return exitFailure
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), wait+time.Minute)
	defer cancel()
	if id == "" {
		reps, err := store.List(ctx, 1)
		if err != nil {
			fmt.Fprintln(stderr, "regulate status:", err)
			return exitFailure
		}
		if len(reps) == 0 {
			fmt.Fprintln(stderr, "regulate status: no regulation yet")
			return exitFailure
		}
		id = reps[0].ID
	}
	deadline := time.Now().Add(wait)
	for {
		rep, err := store.Report(ctx, id)
		if err != nil {
			fmt.Fprintln(stderr, "regulate status:", err)
			return exitFailure
		}
		done := rep.Status != regulations.Pending && rep.Status != regulations.Running
		if done || wait == 0 || time.Now().After(deadline) {
			if asJSON {
				printJSON(stdout, rep)
			} else {
				printReport(stdout, rep, true)
			}
			switch {
			case rep.Status == regulations.Partial || rep.Status == regulations.Failed:
				return exitFailure
			case !done && wait > 0:
				fmt.Fprintf(stderr, "regulate status: %s is still %s after %s\n", id, rep.Status, wait)
				return exitFailure
			}
			return exitOK
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func printJSON(w io.Writer, v any) int {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
	return exitOK
}

func users(n int) string {
	if n == 1 {
		return "1 user"
	}
	return fmt.Sprintf("%d users", n)
}

func scopeWords(dests []string) string {
	if len(dests) == 0 {
		return "at every destination"
	}
	return "at " + strings.Join(dests, ", ")
}
