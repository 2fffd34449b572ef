package fhir

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/buger/jsonparser"
	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/gofhir/fhirpath"
	"github.com/gofhir/fhirpath/types"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// FHIRPath Patch (R4 fhirpatch.html): a Parameters resource whose "operation"
// parameters each add, insert, delete, replace or move one element chosen by a
// FHIRPath expression. The gofhir/fhirpath engine evaluates the paths; this file
// finds in the JSON the elements the engine returned and changes them. R4's element
// definitions (google/fhir's protobuf descriptors) tell whether an element repeats and
// which value[x] key a choice element takes.

// fpOperation is one operation of a FHIRPath Patch.
type fpOperation struct {
	Type, Path, Name string
	Value            any    // the decoded value, or a *partValue for nested parts
	ValueType        string // X of value[X]; "" for parts
	HasValue         bool
	Index, Source    int // -1 when absent
	Destination      int
	At               string // Parameters.parameter[i], for errors
}

// partValue is a value given as parts (an element with no data type of its own, such as
// Patient.contact): its children in order, each a value[x] or parts again.
type partValue struct{ fields []partField }

type partField struct {
	name, valueType string
	value           any
}

// decodeFHIRPathPatch reads a FHIRPath Patch: a valid R4 Parameters whose parameters
// are all "operation"s with the parts their type needs (400 otherwise).
func (s *Server) decodeFHIRPathPatch(body []byte) ([]fpOperation, error) {
	typ, err := s.validator.Validate(body)
	if err != nil {
		return nil, err
	}
	if typ != "Parameters" {
		return nil, &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeInvalid,
			Diagnostics: fmt.Sprintf("a FHIRPath Patch is a Parameters resource, not a %s", typ), Expression: []string{"resourceType"}}
	}
	var params struct {
		Parameter []struct {
			Name string                       `json:"name"`
			Part []map[string]json.RawMessage `json:"part"`
		} `json:"parameter"`
	}
	if err := json.Unmarshal(body, &params); err != nil {
		return nil, fhirerr.New(fhirerr.ErrInvalid, fhirerr.CodeStructure, "the FHIRPath Patch is not a Parameters resource: "+err.Error())
	}
	if len(params.Parameter) == 0 {
		return nil, fhirerr.New(fhirerr.ErrInvalid, fhirerr.CodeRequired, "the FHIRPath Patch has no operation", "Parameters.parameter")
	}
	var ops []fpOperation
	for i, p := range params.Parameter {
		at := fmt.Sprintf("Parameters.parameter[%d]", i)
		if p.Name != "operation" {
			return nil, fhirerr.New(fhirerr.ErrInvalid, fhirerr.CodeInvalid,
				fmt.Sprintf("a FHIRPath Patch has only parameters named operation, not %q", p.Name), at+".name")
		}
		op, err := decodeFPOperation(p.Part, at)
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	return ops, nil
}

func decodeFPOperation(parts []map[string]json.RawMessage, at string) (fpOperation, error) {
	op := fpOperation{Index: -1, Source: -1, Destination: -1, At: at}
	seen := map[string]bool{}
	for j, part := range parts {
		var name string
		json.Unmarshal(part["name"], &name)
		pat := fmt.Sprintf("%s.part[%d]", at, j)
		if seen[name] {
			return op, fhirerr.New(fhirerr.ErrInvalid, fhirerr.CodeStructure, fmt.Sprintf("the operation has two %s parts", name), pat)
		}
		seen[name] = true
		key, raw, nested := valueOfPart(part)
		switch name {
		case "type", "path", "name":
			var v string
			if key == "" || json.Unmarshal(raw, &v) != nil || v == "" {
				return op, fhirerr.New(fhirerr.ErrInvalid, fhirerr.CodeStructure, fmt.Sprintf("the %s part takes a value (valueCode or valueString)", name), pat)
			}
			switch name {
			case "type":
				op.Type = v
			case "path":
				op.Path = v
			case "name":
				op.Name = v
			}
		case "index", "source", "destination":
			var n int
			if key != "valueInteger" || json.Unmarshal(raw, &n) != nil {
				return op, fhirerr.New(fhirerr.ErrInvalid, fhirerr.CodeStructure, fmt.Sprintf("the %s part takes a valueInteger", name), pat)
			}
			switch name {
			case "index":
				op.Index = n
			case "source":
				op.Source = n
			case "destination":
				op.Destination = n
			}
		case "value":
			op.HasValue = true
			switch {
			case nested != nil:
				pv, err := decodeParts(nested, pat)
				if err != nil {
					return op, err
				}
				op.Value = pv
			case key != "":
				op.ValueType = strings.TrimPrefix(key, "value")
				op.Value = decodeJSON(raw)
			default:
				return op, fhirerr.New(fhirerr.ErrInvalid, fhirerr.CodeStructure, "the value part has neither a value[x] nor parts", pat)
			}
		default:
			return op, fhirerr.New(fhirerr.ErrInvalid, fhirerr.CodeStructure,
				fmt.Sprintf("an operation has parts type, path, name, value, index, source and destination, not %q", name), pat)
		}
	}
	need := map[string][]string{"add": {"path", "name", "value"}, "insert": {"path", "index", "value"}, "delete": {"path"},
		"replace": {"path", "value"}, "move": {"path", "source", "destination"}}
	wants, ok := need[op.Type]
	if !ok {
		return op, fhirerr.New(fhirerr.ErrInvalid, fhirerr.CodeValue,
			fmt.Sprintf("the operation type is add, insert, delete, replace or move, not %q", op.Type), at)
	}
	for _, w := range wants {
		if !seen[w] {
			return op, fhirerr.New(fhirerr.ErrInvalid, fhirerr.CodeRequired, fmt.Sprintf("a %s operation needs a %s part", op.Type, w), at)
		}
	}
	return op, nil
}

// valueOfPart finds the value[x] of a part (its key and JSON), or its nested parts.
func valueOfPart(part map[string]json.RawMessage) (string, json.RawMessage, []map[string]json.RawMessage) {
	for k, raw := range part {
		if strings.HasPrefix(k, "value") && len(k) > len("value") {
			return k, raw, nil
		}
	}
	if raw, ok := part["part"]; ok {
		var nested []map[string]json.RawMessage
		if json.Unmarshal(raw, &nested) == nil {
			return "", nil, nested
		}
	}
	return "", nil, nil
}

func decodeParts(parts []map[string]json.RawMessage, at string) (*partValue, error) {
	pv := &partValue{}
	for j, part := range parts {
		var name string
		json.Unmarshal(part["name"], &name)
		pat := fmt.Sprintf("%s.part[%d]", at, j)
		key, raw, nested := valueOfPart(part)
		f := partField{name: name}
		switch {
		case nested != nil:
			inner, err := decodeParts(nested, pat)
			if err != nil {
				return nil, err
			}
			f.value = inner
		case key != "":
			f.valueType, f.value = strings.TrimPrefix(key, "value"), decodeJSON(raw)
		default:
			return nil, fhirerr.New(fhirerr.ErrInvalid, fhirerr.CodeStructure, fmt.Sprintf("the part %q has neither a value[x] nor parts", name), pat)
		}
		pv.fields = append(pv.fields, f)
	}
	return pv, nil
}

func decodeJSON(raw []byte) any {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	dec.Decode(&v)
	return v
}

// fpDoc is a resource being patched: its JSON as maps and slices, and, while a path is
// evaluated, the index of its objects.
type fpDoc struct {
	root  map[string]any
	nodes map[string]*fpNode
}

// fpNode is one JSON object of the resource: where it is, and its R4 type (nil when
// unknown, e.g. inside an extension's primitive).
type fpNode struct {
	obj    map[string]any
	md     protoreflect.MessageDescriptor
	parent *fpNode // nil for the resource
	key    string
	index  int // in the array at parent.obj[key]; -1 when the value is not in an array
}

// fpSlot is one element: the value at obj[key], or its index-th item.
type fpSlot struct {
	parent *fpNode
	key    string
	index  int
}

// markerKey tags each object while a path is evaluated, so that an object the engine
// returns can be found in the document. No FHIR element has a colon in its name.
const markerKey = "careslot:node"

// fpError is a patch that cannot be applied: 422, at the operation.
func fpError(op *fpOperation, format string, args ...any) error {
	return fhirerr.New(fhirerr.ErrUnprocessable, fhirerr.CodeProcessing,
		fmt.Sprintf("operation %s (%s %s): %s", op.At, op.Type, op.Path, fmt.Sprintf(format, args...)), op.At)
}

// fhirPathPatchFunc applies ops; meta.versionId and meta.lastUpdated are the server's,
// and a patch that touches them is refused rather than silently undone.
func fhirPathPatchFunc(ops []fpOperation) patchFunc {
	return func(content []byte) ([]byte, error) {
		out, err := applyFHIRPathPatch(ops, content)
		if err != nil {
			return nil, err
		}
		for _, k := range []string{"versionId", "lastUpdated"} {
			before, _, _, _ := jsonparser.Get(content, "meta", k)
			after, _, _, _ := jsonparser.Get(out, "meta", k)
			if !bytes.Equal(before, after) {
				return nil, fhirerr.New(fhirerr.ErrUnprocessable, fhirerr.CodeInvalid,
					"a patch may not change meta."+k+": the server sets it on every write", "meta."+k)
			}
		}
		return out, nil
	}
}

// applyFHIRPathPatch applies ops in order to a resource's JSON.
func applyFHIRPathPatch(ops []fpOperation, content []byte) ([]byte, error) {
	root, ok := decodeJSON(content).(map[string]any)
	if !ok {
		return nil, fhirerr.New(fhirerr.ErrUnprocessable, fhirerr.CodeStructure, "the stored resource is not a JSON object")
	}
	d := &fpDoc{root: root}
	for i := range ops {
		if err := d.apply(&ops[i]); err != nil {
			return nil, err
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d.root); err != nil {
		return nil, err
	}
	return bytes.TrimSpace(buf.Bytes()), nil
}

func (d *fpDoc) apply(op *fpOperation) error {
	switch op.Type {
	case "delete":
		slots, err := d.resolve(op, op.Path)
		if err != nil {
			return err
		}
		switch {
		case len(slots) == 0:
			return nil // R4: deleting what is not there changes nothing
		case len(slots) > 1:
			return fpError(op, "the path matches %d elements; delete takes one", len(slots))
		case slots[0].parent == nil:
			return fpError(op, "the resource itself cannot be deleted")
		}
		slots[0].remove()
		return nil
	case "replace":
		slots, err := d.resolve(op, op.Path)
		if err != nil {
			return err
		}
		switch {
		case len(slots) == 0:
			return fpError(op, "the path matches nothing to replace")
		case len(slots) > 1:
			return fpError(op, "the path matches %d elements; replace takes one", len(slots))
		case slots[0].parent == nil:
			return fpError(op, "the resource itself cannot be replaced")
		}
		return d.replace(op, slots[0])
	case "add":
		n, err := d.container(op, op.Path)
		if err != nil {
			return err
		}
		return d.add(op, n)
	case "insert", "move":
		n, name, err := d.list(op)
		if err != nil {
			return err
		}
		return d.reorder(op, n, name)
	}
	return fpError(op, "unknown operation type")
}

// index tags every object of the document and returns its JSON as the engine reads it.
func (d *fpDoc) index() ([]byte, error) {
	d.nodes = map[string]*fpNode{}
	var walk func(n *fpNode)
	walk = func(n *fpNode) {
		id := strconv.Itoa(len(d.nodes))
		d.nodes[id] = n
		n.obj[markerKey] = id
		for k, v := range n.obj {
			if k == markerKey {
				continue
			}
			switch v := v.(type) {
			case map[string]any:
				walk(&fpNode{obj: v, md: childType(n.md, k, v), parent: n, key: k, index: -1})
			case []any:
				for i, item := range v {
					if m, ok := item.(map[string]any); ok {
						walk(&fpNode{obj: m, md: childType(n.md, k, m), parent: n, key: k, index: i})
					}
				}
			}
		}
	}
	rt, _ := d.root["resourceType"].(string)
	walk(&fpNode{obj: d.root, md: resourceDescriptor(rt), index: -1})
	b, err := json.Marshal(d.root)
	for _, n := range d.nodes {
		delete(n.obj, markerKey)
	}
	return b, err
}

// evaluate runs a path on the document: the objects it selects (as nodes) and how
// many values it selects in all.
func (d *fpDoc) evaluate(op *fpOperation, path string) ([]*fpNode, types.Collection, error) {
	expr, err := compileFHIRPath(path)
	if err != nil {
		return nil, nil, fhirerr.New(fhirerr.ErrInvalid, fhirerr.CodeInvalid, fmt.Sprintf("the path %q is not FHIRPath: %v", path, err), op.At)
	}
	doc, err := d.index()
	if err != nil {
		return nil, nil, err
	}
	values, err := evaluateSafely(expr, doc)
	if err != nil {
		return nil, nil, fpError(op, "the path cannot be evaluated: %v", err)
	}
	var nodes []*fpNode
	for _, v := range values {
		if o, ok := v.(*types.ObjectValue); ok {
			if id, err := jsonparser.GetString(o.Data(), markerKey); err == nil && d.nodes[id] != nil {
				nodes = append(nodes, d.nodes[id])
			}
		}
	}
	return nodes, values, nil
}

// evaluateSafely evaluates expr; a panic of the engine on some odd path is that
// path's refusal, not a 500.
func evaluateSafely(expr *fhirpath.Expression, doc []byte) (out types.Collection, err error) {
	defer func() {
		if v := recover(); v != nil {
			out, err = nil, fmt.Errorf("the FHIRPath engine failed on it (%v)", v)
		}
	}()
	return expr.Evaluate(doc)
}

var (
	fhirpathCacheMu sync.Mutex
	fhirpathCache   = map[string]*fhirpath.Expression{}
)

// compileFHIRPath compiles a path, keeping a few hundred compiled ones: clients send the
// same few paths again and again.
func compileFHIRPath(path string) (*fhirpath.Expression, error) {
	fhirpathCacheMu.Lock()
	e, ok := fhirpathCache[path]
	fhirpathCacheMu.Unlock()
	if ok {
		return e, nil
	}
	e, err := compileSafely(path)
	if err != nil {
		return nil, err
	}
	fhirpathCacheMu.Lock()
	if len(fhirpathCache) > 500 {
		clear(fhirpathCache)
	}
	fhirpathCache[path] = e
	fhirpathCacheMu.Unlock()
	return e, nil
}

func compileSafely(path string) (e *fhirpath.Expression, err error) {
	defer func() {
		if v := recover(); v != nil {
			e, err = nil, fmt.Errorf("the FHIRPath parser failed on it (%v)", v)
		}
	}()
	return fhirpath.Compile(path)
}

// resolve finds the elements a path selects. Objects are found by their tags; a
// primitive (a string, a date) has none, so its path must end with the element's name
// (and an index), and the element is found under the objects the rest selects.
func (d *fpDoc) resolve(op *fpOperation, path string) ([]fpSlot, error) {
	nodes, values, err := d.evaluate(op, path)
	if err != nil {
		return nil, err
	}
	if len(nodes) == len(values) {
		slots := make([]fpSlot, len(nodes))
		for i, n := range nodes {
			slots[i] = fpSlot{parent: n.parent, key: n.key, index: n.index}
		}
		return slots, nil
	}
	container, name, index, ok := splitPath(path)
	if !ok {
		return nil, fpError(op, "a path that selects a primitive value must end with the element's name, e.g. Patient.birthDate or Patient.name[0].given[1]")
	}
	var parents []*fpNode
	if container != "" {
		if parents, _, err = d.evaluate(op, container); err != nil {
			return nil, err
		}
	} else {
		d.index()
		parents = []*fpNode{d.nodes["0"]}
	}
	var slots []fpSlot
	for _, p := range parents {
		key := elementKey(p.obj, name)
		switch v := p.obj[key].(type) {
		case nil:
		case []any:
			for i := range v {
				if index < 0 || index == i {
					slots = append(slots, fpSlot{parent: p, key: key, index: i})
				}
			}
		default:
			if index <= 0 {
				slots = append(slots, fpSlot{parent: p, key: key, index: -1})
			}
		}
	}
	if len(slots) != len(values) {
		return nil, fpError(op, "the path selects %d values, but %d elements were found at it", len(values), len(slots))
	}
	return slots, nil
}

// container is the one object a path selects: where add puts the new element.
func (d *fpDoc) container(op *fpOperation, path string) (*fpNode, error) {
	nodes, values, err := d.evaluate(op, path)
	if err != nil {
		return nil, err
	}
	switch {
	case len(values) == 0:
		return nil, fpError(op, "the path matches nothing")
	case len(values) > 1:
		return nil, fpError(op, "the path matches %d elements; it must match one", len(values))
	case len(nodes) != 1:
		return nil, fpError(op, "the path matches a primitive value, which has no elements to add to")
	}
	return nodes[0], nil
}

// list is the object and element name of the list that insert and move change: the
// path names the list, so its last step is an element name.
func (d *fpDoc) list(op *fpOperation) (*fpNode, string, error) {
	container, name, index, ok := splitPath(op.Path)
	if !ok || index >= 0 {
		return nil, "", fpError(op, "the path of %s must name a list, ending with its element name (e.g. Patient.name.given)", op.Type)
	}
	if container == "" {
		d.index()
		return d.nodes["0"], name, nil
	}
	n, err := d.container(op, container)
	return n, name, err
}

// pathStep is the last step of a path: an element name and an optional index.
var pathStep = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9_]*)(?:\[([0-9]+)\])?$`)

// splitPath splits a path before its last step, which must be an element name with an
// optional [index]: Patient.name[0].given[1] is Patient.name[0], given, 1. A path of
// one step is the resource's own element ("" before it), or the resource itself.
func splitPath(path string) (container, name string, index int, ok bool) {
	path = strings.TrimSpace(path)
	depth, quote, cut := 0, rune(0), -1
	for i, r := range path {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '`':
			quote = r
		case r == '(' || r == '[':
			depth++
		case r == ')' || r == ']':
			depth--
		case r == '.' && depth == 0:
			cut = i
		}
	}
	last := path[cut+1:]
	m := pathStep.FindStringSubmatch(last)
	if m == nil {
		return "", "", -1, false
	}
	index = -1
	if m[2] != "" {
		n, err := strconv.Atoi(m[2])
		if err != nil {
			return "", "", -1, false
		}
		index = n
	}
	if cut < 0 {
		if r, _ := utf8.DecodeRuneInString(m[1]); unicode.IsUpper(r) {
			return "", "", -1, false // the resource itself, which has no parent
		}
		return "", m[1], index, true
	}
	return path[:cut], m[1], index, true
}

// elementKey is the JSON key of element name in obj: name itself, or name's value[x]
// key when the element is a choice (value is valueQuantity).
func elementKey(obj map[string]any, name string) string {
	if _, ok := obj[name]; ok {
		return name
	}
	for k := range obj {
		if len(k) > len(name) && strings.HasPrefix(k, name) && unicode.IsUpper(rune(k[len(name)])) {
			return k
		}
	}
	return name
}

func (s fpSlot) remove() {
	obj := s.parent.obj
	if s.index < 0 {
		delete(obj, s.key)
		delete(obj, "_"+s.key)
		return
	}
	list := obj[s.key].([]any)
	list = append(list[:s.index:s.index], list[s.index+1:]...)
	if len(list) == 0 {
		delete(obj, s.key)
		delete(obj, "_"+s.key)
		return
	}
	obj[s.key] = list
	// A list of primitives keeps its extensions in a parallel list (_given).
	if ext, ok := obj["_"+s.key].([]any); ok && s.index < len(ext) {
		obj["_"+s.key] = append(ext[:s.index:s.index], ext[s.index+1:]...)
	}
}

func (d *fpDoc) replace(op *fpOperation, s fpSlot) error {
	obj := s.parent.obj
	fd, inner := lookupField(s.parent.md, s.key)
	if s.index >= 0 {
		v, err := materialize(op, fieldType(fd, inner), op.Value)
		if err != nil {
			return err
		}
		obj[s.key].([]any)[s.index] = v
		return nil
	}
	key := s.key
	if inner != nil && op.ValueType != "" {
		// A choice element takes the key of the new value's type: valueQuantity may
		// become valueString.
		key = fd.JSONName() + upperFirst(op.ValueType)
		if _, inner = lookupField(s.parent.md, key); inner == nil {
			return fpError(op, "%s cannot be a %s", fd.JSONName(), op.ValueType)
		}
		delete(obj, s.key)
		delete(obj, "_"+s.key)
	}
	v, err := materialize(op, fieldType(fd, inner), op.Value)
	if err != nil {
		return err
	}
	obj[key] = v
	return nil
}

func (d *fpDoc) add(op *fpOperation, n *fpNode) error {
	key := op.Name
	fd, inner := lookupField(n.md, key)
	if n.md != nil && fd == nil {
		return fpError(op, "%s has no element %q", n.md.Name(), op.Name)
	}
	if fd != nil && inner == nil && isChoice(fd) {
		if op.ValueType == "" {
			return fpError(op, "%s is a choice of types; give the value as a value[x]", op.Name)
		}
		key = op.Name + upperFirst(op.ValueType)
		if _, inner = lookupField(n.md, key); inner == nil {
			return fpError(op, "%s cannot be a %s", op.Name, op.ValueType)
		}
	}
	v, err := materialize(op, fieldType(fd, inner), op.Value)
	if err != nil {
		return err
	}
	existing, has := n.obj[key]
	if fd != nil && inner == nil && isChoice(fd) || inner != nil {
		if k := elementKey(n.obj, fd.JSONName()); n.obj[k] != nil {
			existing, has = n.obj[k], true
		}
	}
	switch list, isList := existing.([]any); {
	case isList:
		n.obj[key] = append(list, v)
	case has:
		return fpError(op, "%s already has a %s; use replace", nodeName(n), op.Name)
	case fd != nil && fd.IsList():
		n.obj[key] = []any{v}
	default:
		n.obj[key] = v
	}
	return nil
}

// reorder inserts into or moves within the list n.obj[name].
func (d *fpDoc) reorder(op *fpOperation, n *fpNode, name string) error {
	fd, _ := lookupField(n.md, name)
	if n.md != nil && (fd == nil || !fd.IsList()) {
		return fpError(op, "%s is not a list of %s", nodeName(n), name)
	}
	var list []any
	switch v := n.obj[name].(type) {
	case nil:
	case []any:
		list = v
	default:
		return fpError(op, "%s is not a list", name)
	}
	ext, hasExt := n.obj["_"+name].([]any)
	if op.Type == "insert" {
		if op.Index < 0 || op.Index > len(list) {
			return fpError(op, "index %d is out of range: the list has %d elements", op.Index, len(list))
		}
		v, err := materialize(op, fieldType(fd, nil), op.Value)
		if err != nil {
			return err
		}
		n.obj[name] = insertAt(list, op.Index, v)
		if hasExt && op.Index <= len(ext) {
			n.obj["_"+name] = insertAt(ext, op.Index, nil)
		}
		return nil
	}
	if op.Source < 0 || op.Source >= len(list) || op.Destination < 0 || op.Destination >= len(list) {
		return fpError(op, "source %d and destination %d must be within the list's %d elements", op.Source, op.Destination, len(list))
	}
	v := list[op.Source]
	list = append(list[:op.Source:op.Source], list[op.Source+1:]...)
	n.obj[name] = insertAt(list, op.Destination, v)
	if hasExt && op.Source < len(ext) && op.Destination <= len(ext)-1 {
		e := ext[op.Source]
		ext = append(ext[:op.Source:op.Source], ext[op.Source+1:]...)
		n.obj["_"+name] = insertAt(ext, op.Destination, e)
	}
	return nil
}

func insertAt(list []any, i int, v any) []any {
	out := make([]any, 0, len(list)+1)
	out = append(out, list[:i]...)
	out = append(out, v)
	return append(out, list[i:]...)
}

func nodeName(n *fpNode) string {
	if n.md != nil {
		return string(n.md.Name())
	}
	return "the element"
}

// materialize turns an operation's value into JSON for an element of type md: a value
// given as parts becomes an object, each part an element (a list where R4 repeats it,
// a choice under its value[x] key).
func materialize(op *fpOperation, md protoreflect.MessageDescriptor, v any) (any, error) {
	pv, ok := v.(*partValue)
	if !ok {
		return v, nil
	}
	obj := map[string]any{}
	for _, f := range pv.fields {
		key := f.name
		fd, inner := lookupField(md, key)
		if md != nil && fd == nil {
			return nil, fpError(op, "%s has no element %q", md.Name(), f.name)
		}
		if fd != nil && inner == nil && isChoice(fd) && f.valueType != "" {
			key = f.name + upperFirst(f.valueType)
			if fd, inner = lookupField(md, key); inner == nil {
				return nil, fpError(op, "%s cannot be a %s", f.name, f.valueType)
			}
		}
		child, err := materialize(op, fieldType(fd, inner), f.value)
		if err != nil {
			return nil, err
		}
		prev, has := obj[key]
		switch {
		case fd != nil && fd.IsList() || has:
			list, _ := prev.([]any)
			if has && list == nil {
				list = []any{prev}
			}
			obj[key] = append(list, child)
		default:
			obj[key] = child
		}
	}
	return obj, nil
}

// R4's element definitions, from google/fhir's protobuf descriptors.

var (
	resourceDescriptorsOnce sync.Once
	resourceDescriptors     map[string]protoreflect.MessageDescriptor
)

func resourceDescriptor(typ string) protoreflect.MessageDescriptor {
	resourceDescriptorsOnce.Do(func() {
		resourceDescriptors = map[string]protoreflect.MessageDescriptor{}
		fields := (&bcrpb.ContainedResource{}).ProtoReflect().Descriptor().Oneofs().ByName("oneof_resource").Fields()
		for i := 0; i < fields.Len(); i++ {
			md := fields.Get(i).Message()
			resourceDescriptors[string(md.Name())] = md
		}
	})
	return resourceDescriptors[typ]
}

// lookupField finds the element of md whose JSON key is key: a field, or for a choice
// key such as valueQuantity the choice field and the type's field inside it.
func lookupField(md protoreflect.MessageDescriptor, key string) (fd, inner protoreflect.FieldDescriptor) {
	if md == nil {
		return nil, nil
	}
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		f := fields.Get(i)
		if f.JSONName() == key {
			return f, nil
		}
	}
	for i := 0; i < fields.Len(); i++ {
		f := fields.Get(i)
		if !isChoice(f) || !strings.HasPrefix(key, f.JSONName()) || len(key) == len(f.JSONName()) {
			continue
		}
		want := lowerFirst(key[len(f.JSONName()):])
		choices := f.Message().Oneofs().ByName("choice").Fields()
		for j := 0; j < choices.Len(); j++ {
			if c := choices.Get(j); c.JSONName() == want {
				return f, c
			}
		}
	}
	return nil, nil
}

func isChoice(fd protoreflect.FieldDescriptor) bool {
	return fd != nil && fd.Message() != nil && fd.Message().Oneofs().ByName("choice") != nil
}

// fieldType is the R4 type of an element's value; nil when unknown.
func fieldType(fd, inner protoreflect.FieldDescriptor) protoreflect.MessageDescriptor {
	switch {
	case inner != nil:
		return inner.Message()
	case fd != nil && fd.Message() != nil && fd.Message().FullName() != "google.protobuf.Any":
		return fd.Message()
	}
	return nil
}

// childType is the R4 type of the object at key in an object of type md; a contained
// resource is typed by its resourceType.
func childType(md protoreflect.MessageDescriptor, key string, obj map[string]any) protoreflect.MessageDescriptor {
	if key == "contained" {
		rt, _ := obj["resourceType"].(string)
		return resourceDescriptor(rt)
	}
	return fieldType(lookupField(md, key))
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
