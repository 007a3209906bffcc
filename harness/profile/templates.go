package profile

import (
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The placeholders each kind of template may name, which the run fills in: the dataset's name;
// its column declarations and, inside dataset.column, one column's name and type; the records
// ingested; an export's options.
var (
	datasetPlaceholders = []string{"dataset"}
	createPlaceholders  = []string{"dataset", "columns"}
	columnPlaceholders  = []string{"name", "type"}
	ingestPlaceholders  = []string{"dataset", "records"}
	exportPlaceholders  = []string{"dataset", "columns", "after", "limit", "bom"}
	// A process service's directory and ports, which its target fills in, and the declared limits.
	processPlaceholders = append([]string{"dir", "port", "port2"}, limitPlaceholders...)
	// An image's listen address, data directory and tokens file, which its target fills in, and
	// the declared limits.
	imagePlaceholders = append([]string{"listen", "data_dir", "tokens_file"}, limitPlaceholders...)
)

// placeholder is {name} in a template string.
var placeholder = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// checkTemplates adds a problem for each placeholder a template names that its kind does not
// fill in, and for each export option whose placeholder the export's request lacks.
func (c *converter) checkTemplates(p *Profile) {
	c.request([]string{"dataset", "create"}, &p.Dataset.Create, createPlaceholders)
	c.body([]string{"dataset", "column"}, p.Dataset.Column, columnPlaceholders)
	if p.Dataset.Remove != nil {
		c.request([]string{"dataset", "remove"}, p.Dataset.Remove, datasetPlaceholders)
	}
	if b := p.Ingest.Batch; b != nil {
		c.request([]string{"ingest", "batch"}, &b.Request, ingestPlaceholders)
	}
	if s := p.Ingest.Single; s != nil {
		c.request([]string{"ingest", "single"}, s, ingestPlaceholders)
	}
	for i, arg := range p.Ingest.Command {
		c.text([]string{"ingest", "command", strconv.Itoa(i)}, arg, datasetPlaceholders)
	}
	if r := p.Integrity.Request; r != nil {
		c.request([]string{"integrity", "request"}, r, exportPlaceholders)
	}
	c.export([]string{"export", "csv"}, &p.Export.CSV.Request, p.Export.CSV.Options)
	if pdf := p.Export.PDF; pdf != nil {
		c.export([]string{"export", "pdf"}, &pdf.Request, pdf.Options)
	}
	switch p.Service.Kind {
	case "process":
		c.service(p, processPlaceholders)
	case "image":
		c.service(p, imagePlaceholders)
	}
	c.limits(p)
}

// service checks the placeholders of a service's command, files and env, that each limit they
// name is declared, and that each file stays inside the service's directory.
func (c *converter) service(p *Profile, allowed []string) {
	s, declared := &p.Service, p.Limits().values()
	check := func(loc []string, text string) {
		for _, name := range c.text(loc, text, allowed) {
			if where, ok := undeclared[name]; ok && declared[name] == "" {
				c.add(loc, fmt.Sprintf("{%s} names a limit the profile does not declare (%s)", name, where))
			}
		}
	}
	for i, arg := range s.Command {
		check([]string{"service", "command", strconv.Itoa(i)}, arg)
	}
	for _, k := range slices.Sorted(maps.Keys(s.Files)) {
		if !filepath.IsLocal(k) || strings.Contains(k, `\`) {
			c.add([]string{"service", "files", k}, "want a path relative to {dir} that stays inside it")
		}
		check([]string{"service", "files", k}, s.Files[k])
	}
	for _, k := range slices.Sorted(maps.Keys(s.Env)) {
		check([]string{"service", "env", k}, s.Env[k])
	}
}

// limits checks the limits protection declares that the schema cannot: a cut-off that is a
// duration.
func (c *converter) limits(p *Profile) {
	if p.Protection == nil || p.Protection.StalledReader == nil {
		return
	}
	loc := []string{"protection", "stalled_reader", "cut_after"}
	if d, err := time.ParseDuration(p.Protection.StalledReader.CutAfter); err != nil || d <= 0 {
		c.add(loc, fmt.Sprintf("%q: want a positive duration such as 4s or 1m30s", p.Protection.StalledReader.CutAfter))
	}
}

// export checks an export's request, and that each option it declares has its placeholder there.
func (c *converter) export(loc []string, r *Request, options []string) {
	used := c.request(append(slices.Clone(loc), "request"), r, exportPlaceholders)
	for i, o := range options {
		if !slices.Contains(used, o) {
			c.add(append(slices.Clone(loc), "options", strconv.Itoa(i)),
				fmt.Sprintf("option %s, but the request has no {%s}", o, o))
		}
	}
}

// request checks the strings of r against allowed and returns the placeholders it names.
func (c *converter) request(loc []string, r *Request, allowed []string) []string {
	at := func(field ...string) []string { return append(slices.Clone(loc), field...) }
	used := c.text(at("path"), r.Path, allowed)
	for _, k := range slices.Sorted(maps.Keys(r.Query)) {
		used = append(used, c.text(at("query", k), r.Query[k], allowed)...)
	}
	for _, k := range slices.Sorted(maps.Keys(r.Headers)) {
		used = append(used, c.text(at("headers", k), r.Headers[k], allowed)...)
	}
	return append(used, c.body(at("body"), r.Body, allowed)...)
}

// body checks every string of a body template, keys included.
func (c *converter) body(loc []string, v any, allowed []string) []string {
	var used []string
	switch v := v.(type) {
	case string:
		used = c.text(loc, v, allowed)
	case []any:
		for i, item := range v {
			used = append(used, c.body(append(slices.Clone(loc), strconv.Itoa(i)), item, allowed)...)
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			sub := append(slices.Clone(loc), k)
			used = append(used, c.text(sub, k, allowed)...)
			used = append(used, c.body(sub, v[k], allowed)...)
		}
	}
	return used
}

// text checks the placeholders of one template string and returns those it names.
func (c *converter) text(loc []string, s string, allowed []string) []string {
	var used []string
	for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
		if !slices.Contains(allowed, m[1]) {
			c.add(loc, fmt.Sprintf("unknown placeholder %s (want one of {%s})", m[0], strings.Join(allowed, "}, {")))
			continue
		}
		used = append(used, m[1])
	}
	return used
}
