// Package config reads operator files: switchyard.yaml (global) and
// destinations/*.yaml (one destination per file). It parses strictly, expands
// ${ENV} references, records the file:line:col of every key so that later
// checks (catalog settings, expressions) can point at the exact spot, and
// watches the directory for changes.
//
// It imports nothing else from switchyard. Checks that need the catalog or
// the mapping language are made by the router, which joins the packages.
package config
