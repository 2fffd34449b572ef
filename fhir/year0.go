package fhir

import (
	"strconv"
	"strings"
	"time"

	"github.com/careslot/careslot/fhir/fhirerr"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The R4 types whose year must be 0001 or later: their regular expressions in the spec
// leave out year 0000, but google/fhir's parser reads it like any other year.
var datedTypes = map[protoreflect.FullName]bool{
	"google.fhir.r4.core.Date":     true,
	"google.fhir.r4.core.DateTime": true,
	"google.fhir.r4.core.Instant":  true,
}

// checkYears refuses a date, dateTime or instant in year 0000 (or before), naming it.
// msg is what google/fhir parsed body into.
func checkYears(typ string, msg protoreflect.Message) error {
	if !hasYearZero(msg) {
		return nil // the common case builds no paths
	}
	if at := yearZero(msg, typ); at != "" {
		return &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeValue,
			Diagnostics: at + ": year 0000 is not a valid FHIR date (years run from 0001)", Expression: []string{at}}
	}
	return nil
}

// hasYearZero reports whether msg holds a dated element before year 0001.
func hasYearZero(msg protoreflect.Message) bool {
	if datedTypes[msg.Descriptor().FullName()] {
		return beforeYear1(msg)
	}
	found := false
	msg.Range(func(f protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if f.Kind() != protoreflect.MessageKind || f.IsMap() {
			return true
		}
		if f.IsList() {
			list := v.List()
			for i := 0; i < list.Len() && !found; i++ {
				found = hasYearZero(list.Get(i).Message())
			}
		} else {
			found = hasYearZero(v.Message())
		}
		return !found
	})
	return found
}

// yearZero returns the path of the first dated element of msg before year 0001, or "".
func yearZero(msg protoreflect.Message, path string) string {
	d := msg.Descriptor()
	if datedTypes[d.FullName()] {
		if beforeYear1(msg) {
			return path
		}
	}
	// A resource container (ContainedResource) and a choice element (effective[x]) are
	// not elements of their own in JSON.
	wrapper := d.Oneofs().ByName("oneof_resource") != nil
	choice := d.Oneofs().ByName("choice") != nil
	found := ""
	msg.Range(func(f protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if f.Kind() != protoreflect.MessageKind {
			return true
		}
		name := path + "." + f.JSONName()
		switch {
		case wrapper:
			name = path
		case choice:
			name = path + strings.ToUpper(f.JSONName()[:1]) + f.JSONName()[1:]
		}
		if f.IsList() {
			list := v.List()
			for i := 0; i < list.Len() && found == ""; i++ {
				found = yearZero(list.Get(i).Message(), name+"["+strconv.Itoa(i)+"]")
			}
		} else if !f.IsMap() {
			found = yearZero(v.Message(), name)
		}
		return found == ""
	})
	return found
}

// beforeYear1 reads value_us in the element's own time zone.
func beforeYear1(msg protoreflect.Message) bool {
	fields := msg.Descriptor().Fields()
	us, tz := fields.ByName("value_us"), fields.ByName("timezone")
	if us == nil || tz == nil {
		return false
	}
	t := time.UnixMicro(msg.Get(us).Int()).In(zone(msg.Get(tz).String()))
	return t.Year() < 1
}

// zone reads google/fhir's timezone: Z, UTC, ±hh:mm or an IANA name.
func zone(name string) *time.Location {
	if name == "" || name == "Z" || name == "UTC" {
		return time.UTC
	}
	if len(name) == 6 && (name[0] == '+' || name[0] == '-') && name[3] == ':' {
		h, err1 := strconv.Atoi(name[1:3])
		m, err2 := strconv.Atoi(name[4:6])
		if err1 == nil && err2 == nil {
			off := h*3600 + m*60
			if name[0] == '-' {
				off = -off
			}
			return time.FixedZone(name, off)
		}
	}
	if loc, err := time.LoadLocation(name); err == nil {
		return loc
	}
	return time.UTC
}
