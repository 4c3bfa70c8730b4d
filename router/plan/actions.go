package plan

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/destinations"
	"github.com/switchyard/switchyard/mappings"
)

// webhookActions: without actions the event is forwarded as is; with
// actions each matching action's fields tree is the body, posted to the
// action's url or the webhook's.
func (pb *planBuilder) webhookActions() {
	events := 0
	for _, a := range pb.d.Actions {
		if a.Kind != "delete" {
			events++
		}
	}
	if events == 0 {
		pb.p.forward = true
		pb.p.itemErrs, _ = destinations.ItemErrorsMatcher("standard")
		if b := pb.batchFor(nil, nil); b != nil {
			pb.p.Actions = nil
			pb.p.forwardBatch = b
		}
		return
	}
	pb.customActions(&destinations.RequestDef{URL: pb.p.webhook.url, Headers: pb.p.webhook.headers})
}

// customActions compiles the actions of an http or webhook destination.
func (pb *planBuilder) customActions(base *destinations.RequestDef) {
	pb.p.itemErrs, _ = destinations.ItemErrorsMatcher("standard")
	for _, name := range slices.Sorted(maps.Keys(pb.d.Actions)) {
		a := pb.d.Actions[name]
		if (a.Enabled != nil && !*a.Enabled) || a.Kind == "delete" {
			continue // delete actions are compiled by deleteActions
		}
		prefix := "actions." + name + "."
		if a.Extends != "" {
			pb.errAt(prefix+"extends", "extends needs a catalog tool; %s has no presets", pb.d.Type)
		}
		pb.eventOnly(prefix, a)
		spec := mappings.ActionSpec{Name: name, Trigger: a.Trigger, ForEach: a.ForEach, Method: a.Method, URL: a.URL, Headers: a.Headers, Fields: a.Fields}
		if base != nil {
			if spec.URL == "" {
				spec.URL = base.URL
			}
			spec.Headers = mergeHeaders(base.Headers, a.Headers)
		}
		if spec.URL == "" {
			pb.errAt(prefix+"url", "action %s needs a url", name)
			continue
		}
		if spec.Fields == nil && spec.Method != "GET" && spec.Method != "DELETE" {
			pb.errAt("actions."+name, "action %s needs fields (the request body)", name)
			continue
		}
		pb.addAction(prefix, spec, "", pb.batchFor(nil, a.Batch), emptyRule("", a.ForEachEmpty))
	}
}

// eventOnly refuses what only a delete action takes on an event action.
func (pb *planBuilder) eventOnly(prefix string, a config.Action) {
	if a.UsersPerRequest > 0 {
		pb.errAt(prefix+"users_per_request", "users_per_request applies to delete actions (kind: delete) only")
	}
}

// catalogActions resolves presets and overrides for a catalog tool.
func (pb *planBuilder) catalogActions() {
	def, d := pb.p.Def, pb.d
	pb.p.itemErrs, _ = destinations.ItemErrorsMatcher(def.ItemErrors)
	enabled := map[string]bool{}
	if len(d.Presets) == 0 {
		for _, p := range def.Presets {
			if p.Default {
				enabled[p.Name] = true
			}
		}
	}
	for i, name := range d.Presets {
		if _, ok := def.Preset(name); !ok {
			pb.errAt(fmt.Sprintf("presets[%d]", i), "unknown preset %q for %s (known: %s)", name, def.Name, presetNames(def))
			continue
		}
		enabled[name] = true
	}
	for name, a := range d.Actions {
		if _, isPreset := def.Preset(name); isPreset {
			enabled[name] = a.Enabled == nil || *a.Enabled
		}
	}
	pb.insteadOf(enabled)
	for _, p := range def.Presets {
		if !enabled[p.Name] {
			continue
		}
		spec := presetSpec(def, &p)
		over, has := d.Actions[p.Name]
		prefix := "actions." + p.Name + "."
		var batchOverride *config.Batch
		if has {
			applyOverride(&spec, over)
			batchOverride = over.Batch
		}
		pb.addAction(prefix, spec, p.Name, pb.batchFor(effectiveBatch(def, &p), batchOverride), emptyRule(p.ForEachEmpty, over.ForEachEmpty))
	}
	for _, name := range slices.Sorted(maps.Keys(d.Actions)) {
		if _, isPreset := def.Preset(name); isPreset {
			continue
		}
		a := d.Actions[name]
		if a.Enabled != nil && !*a.Enabled {
			continue
		}
		if _, isDelete := def.DeleteAction(name); isDelete || a.Kind == "delete" {
			continue // delete actions are compiled by deleteActions
		}
		prefix := "actions." + name + "."
		pb.eventOnly(prefix, a)
		var spec mappings.ActionSpec
		var bdef *destinations.BatchDef
		preset, presetEmpty := "", ""
		if a.Extends != "" {
			p, ok := def.Preset(a.Extends)
			if !ok {
				pb.errAt(prefix+"extends", "unknown preset %q for %s (known: %s)", a.Extends, def.Name, presetNames(def))
				continue
			}
			spec, bdef, preset, presetEmpty = presetSpec(def, p), effectiveBatch(def, p), p.Name, p.ForEachEmpty
		} else {
			spec = mappings.ActionSpec{Method: def.Request.Method, URL: def.Request.URL, Headers: def.Request.Headers}
			if a.URL == "" && def.Request.URL == "" {
				pb.errAt("actions."+name, "action %s needs a url (or extends: a preset)", name)
				continue
			}
		}
		spec.Name = name
		applyOverride(&spec, a)
		if spec.Fields == nil {
			pb.errAt("actions."+name, "action %s needs fields (or extends: a preset)", name)
			continue
		}
		pb.addAction(prefix, spec, preset, pb.batchFor(bdef, a.Batch), emptyRule(presetEmpty, a.ForEachEmpty))
	}
}

func (pb *planBuilder) addAction(prefix string, spec mappings.ActionSpec, preset string, batch *destinations.BatchSpec, empty ForEachEmpty) {
	a, err := pb.b.Compiler.Action(spec)
	if err != nil {
		pb.exprErr(prefix, err)
		return
	}
	pa := &PlannedAction{Action: a, Batch: batch, Preset: preset, ForEachEmpty: empty, falseTrigger: "trigger is false: " + a.TriggerSource()}
	if def := pb.p.Def; def != nil {
		enc := def.Request.Encoding
		if preset != "" {
			enc = def.BodyEncoding(preset)
		}
		pa.Form = enc == destinations.EncodingForm
	}
	if pa.Form && batch != nil {
		// A batch body is a JSON array or envelope: form fields cannot join one.
		pb.errAt(strings.TrimSuffix(prefix, "."), "action %s sends a form-encoded body, which cannot be batched: set batch.disabled", spec.Name)
		return
	}
	pb.p.Actions = append(pb.p.Actions, pa)
}

// insteadOf refuses a destination that enables a preset together with one
// it replaces (destinations.Preset.InsteadOf): both send the same calls, so
// each event would reach the tool twice. An operator who rewrites the
// trigger of either (actions.<name>.trigger) has split the calls between
// them and is taken at their word.
func (pb *planBuilder) insteadOf(enabled map[string]bool) {
	def, d := pb.p.Def, pb.d
	where := func(name string) string {
		if i := slices.Index(d.Presets, name); i >= 0 {
			return fmt.Sprintf("presets[%d]", i)
		}
		if _, ok := d.Actions[name]; ok {
			return "actions." + name
		}
		return "type" // enabled by default
	}
	for _, p := range def.Presets {
		if !enabled[p.Name] || d.Actions[p.Name].Trigger != "" {
			continue
		}
		for _, q := range p.InsteadOf {
			if !enabled[q] || d.Actions[q].Trigger != "" {
				continue
			}
			pb.errAt(where(q), "presets %s and %s send the same calls (%s replaces %s), so each event would be sent twice: enable one of them, or give one a trigger (actions.%s.trigger) that leaves the other's calls out",
				p.Name, q, p.Name, strings.Join(p.InsteadOf, ", "), q)
		}
	}
}

// emptyRule is the operator's foreach_empty over the preset's, fail when
// neither says.
func emptyRule(preset, operator string) ForEachEmpty {
	switch {
	case operator != "":
		return ForEachEmpty(operator)
	case preset != "":
		return ForEachEmpty(preset)
	}
	return ForEachEmptyFail
}

func presetSpec(def *destinations.Definition, p *destinations.Preset) mappings.ActionSpec {
	s := mappings.ActionSpec{
		Name: p.Name, Trigger: p.Trigger, ForEach: p.ForEach,
		Method: p.Request.Method, URL: p.Request.URL,
		Headers: mergeHeaders(def.Request.Headers, p.Request.Headers),
		Fields:  p.Fields,
	}
	if s.Method == "" {
		s.Method = def.Request.Method
	}
	if s.URL == "" {
		s.URL = def.Request.URL
	}
	return s
}

func effectiveBatch(def *destinations.Definition, p *destinations.Preset) *destinations.BatchDef {
	if p.Batch != nil {
		return p.Batch
	}
	return def.Batch
}

// applyOverride lays an operator's action over a preset: trigger, foreach,
// method and url replace; headers and fields merge, a null field removing
// the preset's.
func applyOverride(s *mappings.ActionSpec, a config.Action) {
	if a.Trigger != "" {
		s.Trigger = a.Trigger
	}
	if a.ForEach != "" {
		s.ForEach = a.ForEach
	}
	if a.Method != "" {
		s.Method = a.Method
	}
	if a.URL != "" {
		s.URL = a.URL
	}
	s.Headers = mergeHeaders(s.Headers, a.Headers)
	if a.Fields != nil {
		s.Fields = mergeFields(s.Fields, a.Fields)
	}
}

func mergeHeaders(base, over map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		for bk := range out {
			if strings.EqualFold(bk, k) {
				delete(out, bk)
			}
		}
		if v != "" {
			out[k] = v
		}
	}
	return out
}

// mergeFields deep-merges an override tree over a preset tree.
func mergeFields(base, over any) any {
	bm, ok1 := base.(map[string]any)
	om, ok2 := over.(map[string]any)
	if !ok1 || !ok2 {
		return over
	}
	out := make(map[string]any, len(bm)+len(om))
	for k, v := range bm {
		out[k] = v
	}
	for k, v := range om {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = mergeFields(out[k], v)
	}
	return out
}

func presetNames(def *destinations.Definition) string {
	var n []string
	for _, p := range def.Presets {
		n = append(n, p.Name)
	}
	return strings.Join(n, ", ")
}
