package profile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"go.yaml.in/yaml/v3"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/exportatscale/exportatscale/profiles"
)

// Problem is one thing wrong with a profile file: where (the file, the line, the path of the
// field, dotted) and what.
type Problem struct {
	File string
	Line int    // 0 when the problem is the file's as a whole
	Path string // "" for the document itself
	Msg  string
}

// String is the problem as one line: FILE:LINE: PATH: problem.
func (p Problem) String() string {
	s := p.File
	if p.Line > 0 {
		s += ":" + strconv.Itoa(p.Line)
	}
	if p.Path != "" {
		s += ": " + p.Path
	}
	return s + ": " + p.Msg
}

// Problems are every problem of a profile file, in the order of the file: Load's error.
type Problems []Problem

// Error is the problems, one line each.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Load reads the profile at path and validates it against the published schema and the rules
// the schema cannot say (the placeholders of each template). Its error is Problems: all of them,
// not the first.
func Load(path string) (*Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the problem names the file already
		}
		return nil, Problems{{File: path, Msg: err.Error()}}
	}
	return parse(path, data)
}

// maxNodes and maxDepth bound the values a profile may expand to through aliases, and its
// nesting: a real profile has a few hundred values, a few levels deep.
const (
	maxNodes = 10_000
	maxDepth = 50
)

// printer words the schema's messages that Load does not word itself.
var printer = message.NewPrinter(language.English)

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Parse is Load of data, read from the file named name (for a profile that is not a file, such
// as the embedded profiles.V1).
func Parse(name string, data []byte) (*Profile, error) { return parse(name, data) }

// parse is Load of data, read from the file named name.
func parse(name string, data []byte) (*Profile, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Problems{yamlProblem(name, err)}
	}
	if len(bytes.TrimSpace(data)) == 0 || root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return nil, Problems{{File: name, Msg: "empty, want a profile (a YAML mapping)"}}
	}
	c := converter{file: name, lines: map[string]int{"": root.Content[0].Line}, budget: maxNodes}
	doc := c.value(root.Content[0], nil, 0)
	if len(c.problems) > 0 {
		return nil, c.sorted()
	}
	if err := schema().Validate(doc); err != nil {
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) {
			return nil, Problems{{File: name, Msg: err.Error()}}
		}
		c.schemaProblems(ve)
		return nil, c.sorted()
	}
	var p Profile
	if err := root.Content[0].Decode(&p); err != nil {
		return nil, Problems{{File: name, Line: root.Content[0].Line, Msg: err.Error()}}
	}
	c.checkTemplates(&p)
	c.checkTypes(p.Types)
	if k := p.Integrity.Kind; k == "closing_marker" {
		c.add([]string{"integrity", "kind"}, k+" is not yet judged by this harness (trailers, row_count_header, content_length, count_request or none are)")
	}
	if len(c.problems) > 0 {
		return nil, c.sorted()
	}
	return &p, nil
}

// yamlProblem is the problem of a file yaml cannot parse, on its line when yaml names one.
func yamlProblem(name string, err error) Problem {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Problem{File: name, Line: line, Msg: "invalid YAML: " + m[2]}
	}
	return Problem{File: name, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

var (
	compileOnce sync.Once
	compiled    *jsonschema.Schema
)

// schema is the published schema, compiled once. It is embedded: a schema that does not compile
// is a broken build, which the package's tests catch.
func schema() *jsonschema.Schema {
	compileOnce.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(profiles.Schema))
		if err != nil {
			panic("profiles/profile.schema.json: " + err.Error())
		}
		c := jsonschema.NewCompiler()
		const url = "https://exportatscale.dev/profiles/profile.schema.json" // its $id
		if err := c.AddResource(url, doc); err != nil {
			panic("profiles/profile.schema.json: " + err.Error())
		}
		compiled = c.MustCompile(url)
	})
	return compiled
}

// converter turns a YAML node into the plain values a JSON Schema validates (maps, slices,
// strings, numbers, booleans, nil), remembering the line of every path on the way, and collects
// the problems found.
type converter struct {
	file     string
	lines    map[string]int // dotted path → line
	budget   int            // nodes left to visit
	exceeded bool           // the budget or the depth ran out: the problem is reported once
	problems Problems
}

func (c *converter) add(loc []string, msg string) {
	c.problems = append(c.problems, Problem{File: c.file, Line: c.line(loc), Path: dotted(loc), Msg: msg})
}

// line is the line of loc, or of its nearest ancestor the file has.
func (c *converter) line(loc []string) int {
	for i := len(loc); i >= 0; i-- {
		if l, ok := c.lines[dotted(loc[:i])]; ok {
			return l
		}
	}
	return 0
}

func dotted(loc []string) string { return strings.Join(loc, ".") }

func (c *converter) sorted() Problems {
	slices.SortStableFunc(c.problems, func(a, b Problem) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return strings.Compare(a.Path, b.Path)
	})
	return slices.CompactFunc(c.problems, func(a, b Problem) bool { return a == b })
}

func (c *converter) value(n *yaml.Node, loc []string, depth int) any {
	if c.exceeded {
		return nil
	}
	c.budget--
	if c.budget < 0 || depth > maxDepth {
		c.exceeded = true
		// Deep inside an expansion the path and line are an alias's target's: name the top key.
		c.add(loc[:min(1, len(loc))], fmt.Sprintf("too deep or too large: more than %d levels or %d values (aliases included)", maxDepth, maxNodes))
		return nil
	}
	switch n.Kind {
	case yaml.AliasNode:
		return c.value(n.Alias, loc, depth+1)
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				c.add(loc, "a key that is not a scalar")
				continue
			}
			sub := append(slices.Clone(loc), k.Value)
			if _, dup := m[k.Value]; dup {
				c.lines[dotted(sub)] = k.Line
				c.add(sub, "key given twice")
				continue
			}
			c.lines[dotted(sub)] = k.Line
			m[k.Value] = c.value(v, sub, depth+1)
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for i, item := range n.Content {
			sub := append(slices.Clone(loc), strconv.Itoa(i))
			c.lines[dotted(sub)] = item.Line
			s = append(s, c.value(item, sub, depth+1))
		}
		return s
	case yaml.ScalarNode:
		return scalar(n)
	}
	return nil
}

// scalar is the plain value of a scalar node: YAML's own resolution for null, booleans and
// numbers, a string for everything else (a timestamp stays its text).
func scalar(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool", "!!int", "!!float":
		var v any
		if err := n.Decode(&v); err != nil {
			return n.Value
		}
		if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			return n.Value // not a JSON number
		}
		return v
	}
	return n.Value
}

// schemaProblems adds the leaves of a schema validation error, each at the line of its field.
func (c *converter) schemaProblems(e *jsonschema.ValidationError) {
	loc := e.InstanceLocation
	switch k := e.ErrorKind.(type) {
	case *kind.Group, *kind.Schema, *kind.AllOf, *kind.Reference:
		// containers: their causes say what is wrong
	case *kind.AdditionalProperties:
		for _, p := range k.Properties {
			c.add(append(slices.Clone(loc), p), "unknown key")
		}
		return
	case *kind.OneOf:
		if len(e.Causes) == 0 {
			c.add(loc, fmt.Sprintf("give only one of %s", strings.Join(alternatives(e), ", ")))
			return
		}
		if names := missingAlternatives(e); names != nil {
			c.add(loc, "missing one of "+strings.Join(names, ", "))
			return
		}
	case *kind.Required:
		for _, m := range k.Missing {
			c.add(loc, "missing "+m)
		}
		return
	case *kind.DependentRequired:
		c.add(append(slices.Clone(loc), k.Prop), "needs "+strings.Join(k.Missing, ", "))
		return
	case *kind.FalseSchema:
		c.add(loc, "a literal secret is not allowed: name the environment variable that holds it ("+
			loc[len(loc)-1]+"_env)")
		return
	case *kind.Enum:
		c.add(loc, fmt.Sprintf("%s is not one of %s", show(k.Got), shows(k.Want)))
		return
	case *kind.Type:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = article(w)
		}
		c.add(loc, fmt.Sprintf("%s, want %s", article(k.Got), strings.Join(want, " or ")))
		return
	case *kind.Pattern:
		c.add(loc, fmt.Sprintf("%q does not match %s", k.Got, k.Want))
		return
	case *kind.Not:
		c.add(loc, "not allowed here")
		return
	default:
		if len(e.Causes) == 0 {
			c.add(loc, e.ErrorKind.LocalizedString(printer))
			return
		}
	}
	for _, cause := range e.Causes {
		c.schemaProblems(cause)
	}
}

// missingAlternatives are the keys of a oneOf of required keys none of which is given, or nil
// when the oneOf is of something else.
func missingAlternatives(e *jsonschema.ValidationError) []string {
	var names []string
	for _, cause := range e.Causes {
		for cause != nil {
			if r, ok := cause.ErrorKind.(*kind.Required); ok {
				names = append(names, r.Missing...)
				break
			}
			if len(cause.Causes) != 1 {
				return nil
			}
			cause = cause.Causes[0]
		}
	}
	return names
}

// alternatives are the keys required by the alternatives of the oneOf that e reports (its schema
// reached from the root through properties), for a message naming them.
func alternatives(e *jsonschema.ValidationError) []string {
	_, ptr, _ := strings.Cut(e.SchemaURL, "#")
	sch := schema()
	segs := strings.Split(strings.TrimPrefix(ptr, "/"), "/")
	for i := 0; i+1 < len(segs) && sch != nil; i += 2 {
		if segs[i] != "properties" {
			return []string{"its alternatives"}
		}
		sch = sch.Properties[segs[i+1]]
	}
	var keys []string
	if sch != nil {
		for _, alt := range sch.OneOf {
			keys = append(keys, alt.Required...)
		}
	}
	if len(keys) == 0 {
		return []string{"its alternatives"}
	}
	return keys
}

// article is a JSON type's name after "a" or "an".
func article(name string) string {
	if strings.ContainsAny(name[:1], "aeiou") {
		return "an " + name
	}
	return "a " + name
}

// show is a value of the document as the message shows it.
func show(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

func shows(vs []any) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, ", ")
}
