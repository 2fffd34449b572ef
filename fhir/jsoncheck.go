package fhir

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/storage/search"
)

// checkJSON refuses what google/fhir's parser lets through but R4 or PostgreSQL does
// not: null in an array (JSON format: an array holds no nulls), a contained resource
// with contained resources of its own (dom-2), and a decimal PostgreSQL's numeric, in
// jsonb and in the search index, cannot hold exactly (1e-999999 failed the INSERT).
// Each refusal names the element. Bodies with none of the three pay only a byte scan.
func checkJSON(typ string, body []byte) error {
	if !bytes.Contains(body, []byte("null")) && !bytes.Contains(body, []byte(`"contained"`)) && !oddNumber(body) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	w := jsonWalk{dec: dec}
	if err := w.value(typ, false, 0); err != nil && err != io.EOF {
		if fe, ok := fhirerr.As(err); ok {
			return fe
		}
		return nil // not JSON: the parser says so
	}
	return nil
}

type jsonWalk struct{ dec *json.Decoder }

// value reads one value at path; inArray says it is an array item, contained how many
// contained lists enclose it.
func (w jsonWalk) value(path string, inArray bool, contained int) error {
	tok, err := w.dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case nil:
		if inArray {
			return &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeStructure,
				Diagnostics: path + " is null: an array in FHIR JSON holds no nulls", Expression: []string{path}}
		}
	case json.Number:
		if err := search.CheckDecimal(string(t)); err != nil {
			return &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeValue,
				Diagnostics: path + ": " + err.Error(), Expression: []string{path}}
		}
	case json.Delim:
		switch t {
		case '{':
			for w.dec.More() {
				k, err := w.dec.Token()
				if err != nil {
					return err
				}
				key, _ := k.(string)
				in := contained
				if key == "contained" {
					if contained > 0 {
						return &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeInvariant,
							Diagnostics: "dom-2: a contained resource SHALL NOT contain additional contained resources",
							Expression:  []string{path + ".contained"}}
					}
					in++
				}
				if err := w.value(path+"."+key, false, in); err != nil {
					return err
				}
			}
		case '[':
			for i := 0; w.dec.More(); i++ {
				if err := w.value(path+"["+strconv.Itoa(i)+"]", true, contained); err != nil {
					return err
				}
			}
		}
		if _, err := w.dec.Token(); err != nil { // the closing delimiter
			return err
		}
	}
	return nil
}

// oddNumber reports whether body has a number with an exponent or more than 30
// characters, the only ones CheckDecimal can refuse. Strings are skipped.
func oddNumber(body []byte) bool {
	inString := false
	run := 0
	for i := 0; i < len(body); i++ {
		c := body[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch {
		case c == '"':
			inString, run = true, 0
		case c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+':
			run++
			if run > 30 {
				return true
			}
		case (c == 'e' || c == 'E') && run > 0:
			return true
		default:
			run = 0
		}
	}
	return false
}
