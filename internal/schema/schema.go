// Package schema generates the JSON Schema of stack files from the Go types
// in package v1alpha1, so editors (yaml-language-server) can complete and
// check stack files as they are typed.
package schema

//go:generate go run ./gendocs ../../pkg/api/v1alpha1/types.go ../../pkg/api/v1alpha1/docs.go

import (
	"reflect"
	"strings"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
)

// ID is the schema's identifier.
const ID = "https://kindred.dev/schema/v1alpha1/stack.json"

// enums lists the allowed values of fields, by type and JSON name.
var enums = api.Enums

// Stack returns the JSON Schema of a stack file.
func Stack() map[string]any {
	g := &generator{defs: map[string]any{}}
	root := g.object(reflect.TypeFor[api.Stack]())
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["$id"] = ID
	root["title"] = "kindred stack"
	root["$defs"] = g.defs
	return root
}

type generator struct {
	defs map[string]any
}

var durationType = reflect.TypeFor[api.Duration]()

func (g *generator) schema(t reflect.Type) map[string]any {
	if t == durationType {
		return map[string]any{"type": "string", "pattern": `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.schema(t.Elem())
	case reflect.Struct:
		if _, done := g.defs[t.Name()]; !done {
			g.defs[t.Name()] = nil // placeholder against recursion
			g.defs[t.Name()] = g.object(t)
		}
		return map[string]any{"$ref": "#/$defs/" + t.Name()}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		if t.Elem().Kind() == reflect.Interface {
			return map[string]any{"type": "object"}
		}
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Interface:
		return map[string]any{}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Int:
		return map[string]any{"type": "integer"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	}
	panic("schema: unsupported type " + t.String())
}

func (g *generator) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		s := g.schema(f.Type)
		if e, ok := enums[t.Name()+"."+name]; ok {
			s = map[string]any{"type": "string", "enum": e}
		}
		if d, ok := api.FieldDocs[t.Name()+"."+name]; ok {
			described := map[string]any{"description": d}
			for k, v := range s {
				described[k] = v
			}
			s = described
		}
		props[name] = s
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			required = append(required, name)
		}
	}
	out := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}
