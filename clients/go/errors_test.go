// errors_test.go — every name dms-host or the bus can send maps to its
// typed error, and the context dms-host appends is taken apart.
package dms

import (
	"errors"
	"testing"

	"github.com/godbus/dbus/v5"
)

func TestEveryNameMapsToItsSentinel(t *testing.T) {
	for _, s := range Sentinels {
		err := wrap(dbus.Error{Name: s.Name, Body: []interface{}{"it failed"}})
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, s) || e.Message != "it failed" {
			t.Errorf("%s: got %#v", s.Name, err)
		}
		for _, other := range Sentinels {
			if other != s && errors.Is(err, other) {
				t.Errorf("%s also matches %s", s.Name, other.Name)
			}
		}
	}
}

func TestContextIsSplit(t *testing.T) {
	cases := []struct{ text, msg, op, res, eng string }{
		{"plain message", "plain message", "", "", ""},
		{"image missing (operation: image inspect; resource: busybox; engine: No such image: busybox)",
			"image missing", "image inspect", "busybox", "No such image: busybox"},
		{"x (engine: a; b (c))", "x", "", "", "a; b (c)"},
		{"x (resource: e1)", "x", "", "e1", ""},
		{"a (b) c", "a (b) c", "", "", ""},
	}
	for _, c := range cases {
		msg, op, res, eng := splitContext(c.text)
		if msg != c.msg || op != c.op || res != c.res || eng != c.eng {
			t.Errorf("splitContext(%q) = %q, %q, %q, %q", c.text, msg, op, res, eng)
		}
	}
}

func TestUnknownNameKeepsItsName(t *testing.T) {
	err := wrap(dbus.Error{Name: "org.example.Other", Body: []interface{}{"?"}})
	var e *Error
	if !errors.As(err, &e) || e.Name != "org.example.Other" || e.Category() != "Other" {
		t.Fatalf("got %#v", err)
	}
}
