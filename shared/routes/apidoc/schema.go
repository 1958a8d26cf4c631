package apidoc

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// obj is a JSON object of the document.
type obj = map[string]any

// reflector turns Go types into JSON Schema 2020-12 the way encoding/json
// writes and reads them: json tags, omitempty (not required), embedded
// structs (promoted fields; the shallower one wins), pointers (nullable),
// json.RawMessage and interfaces (any JSON value). Every named struct
// becomes a component under #/components/schemas.
type reflector struct {
	// names gives a component name to a type whose Go name is not a good
	// one (aliases of unexported types, generic instances, clashes).
	names map[reflect.Type]string
	// enums lists the values of string types that are enumerations.
	enums map[reflect.Type][]string
	// closed is false for request types decoded without
	// DisallowUnknownFields: unknown properties are ignored, not refused.
	open map[reflect.Type]bool
	// descriptions describe components.
	descriptions map[reflect.Type]string
	// properties replaces the schema of one property of a component
	// ("Attempt.trigger").
	properties map[string]obj
	// required lists the properties a request type must have: a request
	// type's omitempty says nothing about that.
	required map[reflect.Type][]string

	comps map[string]obj
	owner map[string]reflect.Type
	mode  map[string]bool // component → made for a request
	used  map[string]bool // properties applied
	// req is true while reflecting a request body; inOpen while inside an
	// open request type.
	req, inOpen bool
}

// request reflects t as a request body.
func (g *reflector) request(t reflect.Type) obj {
	g.req = true
	defer func() { g.req, g.inOpen = false, false }()
	return g.schema(t)
}

var rawMessage = reflect.TypeFor[json.RawMessage]()

func (g *reflector) name(t reflect.Type) string {
	if n, ok := g.names[t]; ok {
		return n
	}
	n := t.Name()
	if n == "" || strings.ContainsAny(n, "[]") || !isExported(n) {
		panic(fmt.Sprintf("apidoc: type %v needs a component name in names", t))
	}
	return n
}

func isExported(s string) bool { return s != "" && strings.ToUpper(s[:1]) == s[:1] }

// schema returns the schema of t, registering components for named structs.
func (g *reflector) schema(t reflect.Type) obj {
	if t == rawMessage {
		return obj{"description": "Any JSON value."}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return nullable(g.schema(t.Elem()))
	case reflect.Interface:
		return obj{}
	case reflect.String:
		s := obj{"type": "string"}
		if vs, ok := g.enums[t]; ok {
			s["enum"] = vs
		}
		return s
	case reflect.Bool:
		return obj{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return obj{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return obj{"type": "number"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return obj{"type": "string", "contentEncoding": "base64"}
		}
		return obj{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return obj{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Struct:
		if t.Name() == "" {
			return g.structSchema(t)
		}
		name := g.name(t)
		if prev, ok := g.owner[name]; ok && prev != t {
			panic(fmt.Sprintf("apidoc: component %s is both %v and %v", name, prev, t))
		}
		if m, ok := g.mode[name]; ok && m != g.req {
			panic(fmt.Sprintf("apidoc: %v is both a request and an answer type", t))
		}
		if _, ok := g.comps[name]; !ok {
			g.owner[name] = t
			g.mode[name] = g.req
			g.comps[name] = nil // placeholder: recursive types end here
			s := g.structSchema(t)
			if d, ok := g.descriptions[t]; ok {
				s["description"] = d
			}
			g.comps[name] = s
		}
		return ref(name)
	}
	panic(fmt.Sprintf("apidoc: no schema for %v", t))
}

func ref(name string) obj { return obj{"$ref": "#/components/schemas/" + name} }

// nullable lets s also be null.
func nullable(s obj) obj {
	if typ, ok := s["type"].(string); ok && s["enum"] == nil {
		out := obj{}
		for k, v := range s {
			out[k] = v
		}
		out["type"] = []string{typ, "null"}
		return out
	}
	if len(s) == 0 || (len(s) == 1 && s["description"] != nil) {
		return s // any value already
	}
	return obj{"anyOf": []obj{s, {"type": "null"}}}
}

type field struct {
	name     string
	depth    int
	typ      reflect.Type
	required bool
}

// fields lists t's JSON properties as encoding/json sees them.
func fields(t reflect.Type, depth int) []field {
	var out []field
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			et := ft
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				out = append(out, fields(et, depth+1)...)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, field{name: name, depth: depth, typ: ft, required: !strings.Contains(","+opts+",", ",omitempty,")})
	}
	return out
}

func (g *reflector) structSchema(t reflect.Type) obj {
	best := map[string]field{}
	for _, f := range fields(t, 0) {
		if b, ok := best[f.name]; !ok || f.depth < b.depth {
			best[f.name] = f
		}
	}
	names := make([]string, 0, len(best))
	for n := range best {
		names = append(names, n)
	}
	sort.Strings(names)
	open := g.open[t] || (g.req && t.Name() == "" && g.inOpen)
	wasOpen := g.inOpen
	g.inOpen = open
	defer func() { g.inOpen = wasOpen }()
	props := obj{}
	required := []string{}
	for _, n := range names {
		f := best[n]
		props[n] = g.schema(f.typ)
		if t.Name() != "" {
			comp := t.Name()
			if c, ok := g.names[t]; ok {
				comp = c
			}
			if s, ok := g.properties[comp+"."+n]; ok {
				props[n] = s
				g.used[comp+"."+n] = true
			}
		}
		if f.required && !g.req {
			required = append(required, n)
		}
	}
	if g.req {
		for _, n := range g.required[t] {
			if _, ok := props[n]; !ok {
				panic(fmt.Sprintf("apidoc: %v has no property %s", t, n))
			}
			required = append(required, n)
		}
	}
	s := obj{"type": "object", "properties": props}
	if len(required) > 0 {
		s["required"] = required
	}
	if !open {
		s["additionalProperties"] = false
	}
	return s
}
