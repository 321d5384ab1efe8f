package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Severity says what Velero would do with a finding's input.
type Severity string

const (
	// SeverityError: Velero's node-agent rejects the config and exits.
	SeverityError Severity = "error"
	// SeverityWarning: Velero accepts the config, but almost surely not as the user meant it.
	SeverityWarning Severity = "warning"
)

// Finding is one lint result. Path is a JSONPath into the document ("$" is the root).
type Finding struct {
	Path     string   `json:"path"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
}

func (f Finding) String() string { return fmt.Sprintf("%s %s: %s", f.Severity, f.Path, f.Message) }

// HasErrors reports whether any finding is one Velero would reject the config for.
func HasErrors(findings []Finding) bool {
	for _, f := range findings {
		if f.Severity == SeverityError {
			return true
		}
	}
	return false
}

var configType = reflect.TypeFor[NodeAgentConfigs]()

// Lint checks a node-agent config document strictly. Its errors are exactly the documents Parse
// (and so Velero) rejects; its warnings are what Velero accepts silently: unknown or misspelled
// fields, keys matching only case-insensitively, duplicate keys, spcNoRelabeling without readOnly,
// entries that change nothing.
func Lint(doc []byte) []Finding {
	root, err := parseTree(doc)
	if err != nil {
		se := err.(*syntaxError)
		line, col := lineCol(doc, se.offset)
		return []Finding{{Path: "$", Severity: SeverityError,
			Message: fmt.Sprintf("invalid JSON at line %d column %d: %s", line, col, se.msg)}}
	}
	l := &linter{}
	l.walk(root, "$", configType)
	if !HasErrors(l.findings) {
		if cfg, err := Parse(doc); err == nil {
			l.semantics(cfg)
		}
	}
	return l.findings
}

// LintConfigMap lints a node-agent ConfigMap: the data-key rules of spec A4, then the document.
// Paths of document findings are prefixed with the data key.
func LintConfigMap(cm *corev1.ConfigMap) []Finding {
	switch {
	case len(cm.Data) == 0 && len(cm.BinaryData) > 0:
		return []Finding{{Path: "binaryData", Severity: SeverityError, Message: "Velero reads only data; move the JSON document under data"}}
	case len(cm.Data) == 0:
		return []Finding{{Path: "data", Severity: SeverityError, Message: "no data: Velero needs exactly one data key holding the JSON document"}}
	case len(cm.Data) > 1:
		return []Finding{{Path: "data", Severity: SeverityError, Message: fmt.Sprintf(
			"%d keys %v: Velero's node-agent accepts exactly one (velero install does not check this)", len(cm.Data), slices.Sorted(maps.Keys(cm.Data)))}}
	}
	var out []Finding
	for key, doc := range cm.Data {
		for _, f := range Lint([]byte(doc)) {
			f.Path = fmt.Sprintf("data[%q]%s", key, strings.TrimPrefix(f.Path, "$"))
			out = append(out, f)
		}
	}
	if len(cm.BinaryData) > 0 {
		out = append(out, Finding{Path: "binaryData", Severity: SeverityWarning, Message: "ignored by Velero"})
	}
	return out
}

type linter struct{ findings []Finding }

func (l *linter) add(path string, sev Severity, format string, args ...any) {
	l.findings = append(l.findings, Finding{Path: path, Severity: sev, Message: fmt.Sprintf(format, args...)})
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// walk checks n against the Go type Velero decodes it into, following encoding/json's rules.
func (l *linter) walk(n *node, path string, t reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.kind == kindNull {
		return // encoding/json leaves the field alone
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) || !isComposite(t) {
		l.leaf(n, path, t)
		return
	}
	want := kindObject
	if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
		want = kindArray
	}
	if n.kind != want {
		l.add(path, SeverityError, "expected %s, found %s", want, n.kind)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		l.object(n, path, t)
	case reflect.Map:
		seen := map[string]bool{}
		for _, m := range n.members {
			p := childPath(path, m.key)
			if seen[m.key] {
				l.add(p, SeverityWarning, "duplicate key %q: Velero silently uses the last one", m.key)
			}
			seen[m.key] = true
			l.walk(m.value, p, t.Elem())
		}
	default:
		for i, it := range n.items {
			l.walk(it, fmt.Sprintf("%s[%d]", path, i), t.Elem())
		}
	}
}

func isComposite(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Struct, reflect.Map, reflect.Array:
		return true
	case reflect.Slice:
		return t.Elem().Kind() != reflect.Uint8 // []byte is a base64 string
	}
	return false
}

// leaf checks a value by letting encoding/json decode it into the field's type: the lint then
// refuses exactly what Velero refuses.
func (l *linter) leaf(n *node, path string, t reflect.Type) {
	if t.Kind() == reflect.Interface {
		return
	}
	if err := json.Unmarshal(n.encode(), reflect.New(t).Interface()); err != nil {
		l.add(path, SeverityError, "%s", leafMessage(path, n, t))
	}
}

func leafMessage(path string, n *node, t reflect.Type) string {
	want := t.Kind().String()
	switch t.Kind() {
	case reflect.Bool:
		if n.kind == kindString {
			return fmt.Sprintf("expected a JSON boolean, found the string %s: write %s without quotes (Velero's node-agent refuses the whole config)", n.scalar, strings.Trim(string(n.scalar), `"`))
		}
		want = "a boolean (true or false)"
	case reflect.String:
		want = "a string"
		if strings.Contains(path, ".annotations") {
			return fmt.Sprintf("annotation values must be strings, found %s %s: quote it (the Velero documentation's own sample has this mistake, and Velero's node-agent refuses the whole config)", n.kind, n.encode())
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		want = "an integer in range for " + t.Kind().String()
	}
	return fmt.Sprintf("expected %s, found %s %s", want, n.kind, truncate(string(n.encode()), 40))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// object checks struct members: encoding/json matches a key to a field exactly first, then
// case-insensitively, and ignores unknown keys.
func (l *linter) object(n *node, path string, t reflect.Type) {
	fields := jsonFields(t)
	seen := map[string]string{}
	for _, m := range n.members {
		p := childPath(path, m.key)
		name, field, exact := resolveField(fields, m.key)
		if field == nil {
			msg := fmt.Sprintf("unknown field %q: Velero ignores it", m.key)
			if s := suggest(m.key, fields); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			l.add(p, SeverityWarning, "%s", msg)
			continue
		}
		if !exact {
			l.add(p, SeverityWarning, "key %q matches field %q only case-insensitively: Velero accepts it, but write %q", m.key, name, name)
		}
		if prev, dup := seen[name]; dup {
			l.add(p, SeverityWarning, "duplicate of %q (field %q): Velero silently uses the last one", prev, name)
		}
		seen[name] = m.key
		l.walk(m.value, p, field.Type)
	}
}

type jsonField struct {
	name string
	reflect.StructField
}

func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, jsonField{name: name, StructField: f})
	}
	return out
}

func resolveField(fields []jsonField, key string) (string, *jsonField, bool) {
	for i := range fields {
		if fields[i].name == key {
			return fields[i].name, &fields[i], true
		}
	}
	for i := range fields {
		if strings.EqualFold(fields[i].name, key) {
			return fields[i].name, &fields[i], false
		}
	}
	return "", nil, false
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func childPath(parent, key string) string {
	if identifier.MatchString(key) {
		return parent + "." + key
	}
	return fmt.Sprintf("%s[%q]", parent, key)
}

// semantics reports what decodes fine but does not do what the user most likely meant.
func (l *linter) semantics(cfg *NodeAgentConfigs) {
	for _, class := range slices.Sorted(maps.Keys(cfg.BackupPVCConfig)) {
		e := cfg.BackupPVCConfig[class]
		p := childPath("$.backupPVC", class)
		if class == "" {
			l.add(p, SeverityWarning, "empty source storage class name: no PVC's class matches it (the lookup is an exact match, no wildcard)")
		}
		if e.SPCNoRelabeling && !e.ReadOnly {
			l.add(p+".spcNoRelabeling", SeverityWarning, "takes effect only with readOnly: true; Velero ignores it here (with a warning in its log)")
		}
		if reflect.DeepEqual(e, BackupPVC{}) {
			l.add(p, SeverityWarning, "entry changes nothing: the backupPVC uses the source class and ReadWriteOnce, as with no entry")
		}
		for i, name := range e.SecretNames {
			if name == "" {
				l.add(fmt.Sprintf("%s.secretNames[%d]", p, i), SeverityWarning, "empty secret name: the copy will fail and the expose with it")
			}
		}
		for i, name := range e.ConfigMapNames {
			if name == "" {
				l.add(fmt.Sprintf("%s.configMapNames[%d]", p, i), SeverityWarning, "empty configmap name: the copy will fail and the expose with it")
			}
		}
	}
}
