package peercorpus_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/switchyard/switchyard/destinations"
	"github.com/switchyard/switchyard/internal/contracts"
	"github.com/switchyard/switchyard/internal/peercorpus"
	"github.com/switchyard/switchyard/router/plan"
)

// goldenP8 is a throwaway P-256 key made for tests only (not a credential).
const goldenP8 = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgJWkmkvOY2ZwX72/x\n3dkPhhnlANgtQ3WFECZYajeGjFqhRANCAATGuvkOr80PR75T+u+ZpYA74YNLSssm\nDrIajPIjj/LqMX1rUPHNJc8ZJLe17lCjITNCyNXwTdjC6ltPl1Ll0oEP\n-----END PRIVATE KEY-----\n"

// secondWaveTools are the settings each catalog tool of the second wave is
// rendered with over the corpus, whatever tool an input was written for:
// every preset enabled, and settings that let the corpus's events reach
// the presets (every track event listed, a consent trait named).
var secondWaveTools = []struct {
	name     string
	settings map[string]any
	// actions overrides presets for the run (Twilio without its consent
	// check, so that its fields meet the corpus too).
	actions map[string]any
	// quiet: the corpus cannot reach the tool (no Expo push tokens, no
	// consent traits), so rendering nothing is right.
	quiet bool
}{
	{name: "hubspot", settings: map[string]any{"access_token": "pat-test", "portal_id": "1234567", "events": "*"}},
	{name: "intercom", settings: map[string]any{"access_token": "tok-test"}},
	{name: "posthog", settings: map[string]any{"api_key": "phc_test"}},
	{name: "brevo", settings: map[string]any{"api_key": "xkeysib-test", "list_ids": "2"}},
	{name: "twilio", settings: map[string]any{"account_sid": "AC00000000000000000000000000000000", "auth_token": "tok", "from": "+15017122661", "events": "*", "consent_trait": "sms_opt_in"}, quiet: true},
	{name: "twilio", settings: map[string]any{"account_sid": "AC00000000000000000000000000000000", "auth_token": "tok", "from": "+15017122661", "events": "*", "consent_trait": "sms_opt_in", "channel": "whatsapp"},
		actions: map[string]any{"send_message": map[string]any{"trigger": "type == \"track\"", "fields": map[string]any{"Body": "\"Event: \" + str(event)"}}}},
	{name: "expo", settings: map[string]any{"events": "*", "token_trait": "expo_push_token"}, quiet: true},
	{name: "apns", settings: map[string]any{"key": goldenP8, "key_id": "ABC123DEFG", "team_id": "DEF123GHIJ", "topic": "com.example.app", "events": "*", "token_trait": "apns_tokens"}},
	{name: "segment", settings: map[string]any{"write_key": "wk-test"}},
}

// TestSecondWaveToolsOverThePeerCorpus renders every input of the peer
// corpus, whichever tool it was written for, through every preset of each
// second-wave tool: no input may crash a preset, and every request rendered
// must pass its preset's contract (published OpenAPI document or the tool's
// JSON Schema). The figures go to the log.
func TestSecondWaveToolsOverThePeerCorpus(t *testing.T) {
	cases, err := peercorpus.Load(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 100 {
		t.Fatalf("the corpus has %d inputs; expected the full peer corpus", len(cases))
	}
	h := &harness{t: t, plans: map[string]planOrErr{}}
	for _, tool := range secondWaveTools {
		def, ok := destinations.Lookup(tool.name)
		if !ok {
			t.Fatalf("%s is not in the catalog", tool.name)
		}
		pl, perr := h.planWithActions(def, tool.settings, tool.actions)
		if perr != "" {
			t.Fatalf("%s: %s", tool.name, perr)
		}
		label := tool.name
		if tool.actions != nil {
			label += " (trigger override)"
		}
		rendered, requests := 0, 0
		reasons := map[string]int{}
		for i := range cases {
			got, crash := renderOnce(pl, &cases[i])
			if crash != "" {
				t.Errorf("%s: CRASH on %s: %s", label, cases[i].Source, crash)
				continue
			}
			if len(got.Requests) == 0 {
				reasons[firstReason(got)]++
				continue
			}
			rendered++
			for _, r := range got.Requests {
				requests++
				pr, ok := def.Preset(presetOf(pl, r.Action))
				if !ok {
					t.Errorf("%s: action %s is no preset", label, r.Action)
					continue
				}
				body, _ := json.Marshal(r.Body)
				if err := contracts.Validate(filepath.Join(catalogDir, def.Name), pr.Contract, body); err != nil {
					t.Errorf("%s: %s action %s: contract: %v\nbody: %s", label, cases[i].Source, r.Action, err, body)
				}
			}
		}
		t.Logf("%s: %d inputs, %d rendered (%d requests); not rendered: %s", label, len(cases), rendered, requests, tally(reasons))
		if rendered == 0 && !tool.quiet {
			t.Errorf("%s rendered none of the corpus: the run proves nothing", label)
		}
	}
}

// planWithActions builds, as harness.plan does, a destination with every
// preset of the tool enabled and its secrets as ${ENV} references, plus
// action overrides.
func (h *harness) planWithActions(def *destinations.Definition, settings map[string]any, actions map[string]any) (*plan.Plan, string) {
	if actions == nil {
		return h.plan(def, settings)
	}
	env := map[string]string{}
	s := map[string]any{}
	for k, v := range settings {
		if set, ok := def.Setting(k); ok && set.Secret {
			name := "PEER_" + strings.ToUpper(k)
			env[name] = fmt.Sprint(v)
			v = "${" + name + "}"
		}
		s[k] = v
	}
	presets := def.PresetsTogether()
	text, err := yaml.Marshal(map[string]any{"name": "peer", "type": def.Name, "settings": s, "presets": presets, "actions": actions})
	if err != nil {
		return nil, err.Error()
	}
	p := h.build(text, env)
	return p.plan, p.err
}

func renderOnce(pl *plan.Plan, c *peercorpus.Case) (got plan.PreviewEvent, crash string) {
	defer func() {
		if r := recover(); r != nil {
			crash = fmt.Sprintf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	ev := map[string]any{}
	for k, v := range c.Event {
		ev[k] = v
	}
	if ev["messageId"] == nil {
		ev["messageId"] = "peer-" + strings.NewReplacer(".json#", "-", "/", "-", "_", "-").Replace(c.Source)
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		return got, ""
	}
	return pl.Preview(raw, plan.PreviewOptions{Reveal: true, Now: receipt(ev)}), ""
}

func firstReason(p plan.PreviewEvent) string {
	switch {
	case p.Invalid != "":
		return "invalid event"
	case len(p.Failures) > 0:
		return "refused: " + p.Failures[0].Error
	}
	return p.Outcome
}

func tally(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || (m[keys[i]] == m[keys[j]] && keys[i] < keys[j]) })
	var parts []string
	for i, k := range keys {
		if i == 12 {
			parts = append(parts, fmt.Sprintf("... %d more reasons", len(keys)-12))
			break
		}
		parts = append(parts, fmt.Sprintf("%d %s", m[k], k))
	}
	return strings.Join(parts, "; ")
}
