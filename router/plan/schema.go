package plan

import (
	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/destinations"
)

// ToolSchemas converts the catalog into what config's JSON Schema
// generator takes (config imports nothing internal): each tool's settings,
// with settings.endpoint where the router derives it from a region, and
// its preset names.
func ToolSchemas() ([]config.ToolSchema, error) {
	cat, err := destinations.Catalog()
	if err != nil {
		return nil, err
	}
	var out []config.ToolSchema
	for _, name := range destinations.Tools() {
		d := cat[name]
		ts := config.ToolSchema{Name: d.Name, Title: d.Title, Description: d.Description}
		for _, s := range d.Settings {
			f := s.FormatOf()
			ts.Settings = append(ts.Settings, config.ToolSetting{Name: s.Name, Description: s.Description, Type: f.JSONType, Format: f.JSONFormat,
				Required: s.Required, Secret: s.Secret, Enum: s.Enum, Default: s.Default})
		}
		if d.Endpoints != nil {
			if _, ok := d.Setting("endpoint"); !ok {
				ts.Settings = append(ts.Settings, config.ToolSetting{Name: "endpoint", Type: "string", Format: "uri",
					Description: "Base URL, overriding the one " + d.Endpoints.Setting + " selects."})
			}
		}
		for _, p := range d.Presets {
			ts.Presets = append(ts.Presets, p.Name)
		}
		out = append(out, ts)
	}
	return out, nil
}
