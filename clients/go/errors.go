// errors.go — D-Bus error replies of dms-host as typed Go errors.
//
// dms-host answers every executor failure with org.dms.Error.<Category>
// and a text of the form "message (operation: ...; resource: ...; engine:
// ...)" (docs/dbus.md, "Errors"); protocol and access errors keep the
// standard org.freedesktop.DBus.Error.* names. Each becomes an *Error that
// matches its sentinel with errors.Is, so a caller writes
//
//	if errors.Is(err, dms.ErrNotFound) { ... }
//
// and reads the engine's own text from the *Error when it needs it.
package dms

import (
	"errors"
	"strings"

	"github.com/godbus/dbus/v5"
)

// Error is a failure reported by dms-host or by the bus.
type Error struct {
	// Name is the D-Bus error name, e.g. "org.dms.Error.NotFound".
	Name string
	// Message is the human-readable text without its context suffix.
	Message string
	// Operation, Resource and Engine are the context dms-host appends:
	// the engine operation that failed, the resource id (container,
	// image, execution) and the engine's own error text. Any may be "".
	Operation string
	Resource  string
	Engine    string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Category())
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	var ctx []string
	if e.Operation != "" {
		ctx = append(ctx, "operation: "+e.Operation)
	}
	if e.Resource != "" {
		ctx = append(ctx, "resource: "+e.Resource)
	}
	if e.Engine != "" {
		ctx = append(ctx, "engine: "+e.Engine)
	}
	if len(ctx) > 0 {
		b.WriteString(" (" + strings.Join(ctx, "; ") + ")")
	}
	return b.String()
}

// Category is the last component of the error name ("NotFound",
// "AccessDenied", ...).
func (e *Error) Category() string {
	if i := strings.LastIndexByte(e.Name, '.'); i >= 0 {
		return e.Name[i+1:]
	}
	return e.Name
}

// Is makes errors.Is(err, ErrX) true when err carries ErrX's name.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Name == e.Name && t.Message == ""
}

func sentinel(name string) *Error { return &Error{Name: name} }

// The executor's categories (docs/errors.md), one per org.dms.Error name.
var (
	ErrNotFound           = sentinel("org.dms.Error.NotFound")
	ErrAlreadyStarted     = sentinel("org.dms.Error.AlreadyStarted")
	ErrAlreadyFinished    = sentinel("org.dms.Error.AlreadyFinished")
	ErrInvalidArgument    = sentinel("org.dms.Error.InvalidArgument")
	ErrRuntimeUnavailable = sentinel("org.dms.Error.RuntimeUnavailable")
	ErrImage              = sentinel("org.dms.Error.Image")
	ErrContainer          = sentinel("org.dms.Error.Container")
	ErrNetwork            = sentinel("org.dms.Error.Network")
	ErrVolume             = sentinel("org.dms.Error.Volume")
	ErrConfig             = sentinel("org.dms.Error.Config")
	ErrResource           = sentinel("org.dms.Error.Resource")
	ErrCancelled          = sentinel("org.dms.Error.Cancelled")
	ErrTimeout            = sentinel("org.dms.Error.Timeout")
	ErrInternal           = sentinel("org.dms.Error.Internal")
	ErrNotSupported       = sentinel("org.dms.Error.NotSupported")
	ErrPermissionDenied   = sentinel("org.dms.Error.PermissionDenied")
)

// The bus's own names that dms-host and the bus daemon send.
var (
	ErrAccessDenied      = sentinel("org.freedesktop.DBus.Error.AccessDenied")
	ErrInvalidArgs       = sentinel("org.freedesktop.DBus.Error.InvalidArgs")
	ErrUnknownMethod     = sentinel("org.freedesktop.DBus.Error.UnknownMethod")
	ErrUnknownObject     = sentinel("org.freedesktop.DBus.Error.UnknownObject")
	ErrUnknownInterface  = sentinel("org.freedesktop.DBus.Error.UnknownInterface")
	ErrUnknownProperty   = sentinel("org.freedesktop.DBus.Error.UnknownProperty")
	ErrPropertyReadOnly  = sentinel("org.freedesktop.DBus.Error.PropertyReadOnly")
	ErrBusNotSupported   = sentinel("org.freedesktop.DBus.Error.NotSupported")
	ErrServiceUnknown    = sentinel("org.freedesktop.DBus.Error.ServiceUnknown")
	ErrNoReply           = sentinel("org.freedesktop.DBus.Error.NoReply")
	ErrBusFailed         = sentinel("org.freedesktop.DBus.Error.Failed")
	ErrNameHasNoOwner    = sentinel("org.freedesktop.DBus.Error.NameHasNoOwner")
	ErrDisconnected      = sentinel("org.freedesktop.DBus.Error.Disconnected")
	ErrLimitsExceeded    = sentinel("org.freedesktop.DBus.Error.LimitsExceeded")
	ErrUnixFdsNotAllowed = sentinel("org.freedesktop.DBus.Error.UnixFdsNotAllowed")
)

// Sentinels lists every sentinel above, for callers that map them on.
var Sentinels = []*Error{
	ErrNotFound, ErrAlreadyStarted, ErrAlreadyFinished, ErrInvalidArgument,
	ErrRuntimeUnavailable, ErrImage, ErrContainer, ErrNetwork, ErrVolume, ErrConfig,
	ErrResource, ErrCancelled, ErrTimeout, ErrInternal, ErrNotSupported,
	ErrPermissionDenied, ErrAccessDenied, ErrInvalidArgs, ErrUnknownMethod,
	ErrUnknownObject, ErrUnknownInterface, ErrUnknownProperty, ErrPropertyReadOnly,
	ErrBusNotSupported, ErrServiceUnknown, ErrNoReply, ErrBusFailed, ErrNameHasNoOwner,
	ErrDisconnected, ErrLimitsExceeded, ErrUnixFdsNotAllowed,
}

// splitContext takes dms-host's "message (operation: a; resource: b;
// engine: c)" apart. A text without that suffix is all message.
func splitContext(text string) (msg, op, res, eng string) {
	msg = text
	if !strings.HasSuffix(text, ")") {
		return
	}
	open := -1
	for _, key := range []string{" (operation: ", " (resource: ", " (engine: "} {
		if i := strings.LastIndex(text, key); i > open {
			open = i
		}
	}
	if open < 0 {
		return
	}
	inner := text[open+2 : len(text)-1]
	// "engine:" is last and its text may itself contain "; ", so split
	// it off first.
	if i := strings.Index(inner, "engine: "); i >= 0 {
		eng = inner[i+len("engine: "):]
		inner = strings.TrimSuffix(inner[:i], "; ")
	}
	for _, part := range strings.Split(inner, "; ") {
		switch {
		case strings.HasPrefix(part, "operation: "):
			op = part[len("operation: "):]
		case strings.HasPrefix(part, "resource: "):
			res = part[len("resource: "):]
		case part == "":
		default:
			return text, "", "", ""
		}
	}
	msg = text[:open]
	return
}

// wrap turns what godbus returned into an *Error (or passes through a
// context error or a transport failure).
func wrap(err error) error {
	if err == nil {
		return nil
	}
	var de dbus.Error
	if errors.As(err, &de) {
		text := ""
		if len(de.Body) > 0 {
			if s, ok := de.Body[0].(string); ok {
				text = s
			}
		}
		e := &Error{Name: de.Name}
		e.Message, e.Operation, e.Resource, e.Engine = splitContext(text)
		return e
	}
	var dep *dbus.Error
	if errors.As(err, &dep) && dep != nil {
		return wrap(*dep)
	}
	return err
}
