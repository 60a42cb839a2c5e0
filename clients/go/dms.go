// Package dms is a Go client for dms-executor: the DMS executor interface
// (NewExecutor, IsInstalled, Start, Wait, Cancel, GetLogStream, Run,
// Cleanup) over dms-host's D-Bus API (bus name org.dms.Executor,
// docs/dbus.md in the repository).
//
// A call takes a context: cancelling it abandons the call (and, for Wait,
// the wait — never the job). Failures are *Error values that match the
// sentinels of errors.go with errors.Is.
package dms

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/godbus/dbus/v5"
)

const (
	BusName         = "org.dms.Executor"
	ManagerPath     = dbus.ObjectPath("/org/dms/Executor")
	ManagerIface    = "org.dms.ExecutorManager1"
	ExecutorIface   = "org.dms.Executor1"
	propertiesIface = "org.freedesktop.DBus.Properties"
)

// Option configures NewExecutor.
type Option func(*options)

type options struct {
	conn    *dbus.Conn
	system  bool
	address string
	config  string
}

// WithConfig passes the executor config (YAML, docs/config.md) to the
// manager's NewExecutor. Without it the executor gets every default.
func WithConfig(yaml string) Option { return func(o *options) { o.config = yaml } }

// WithSystemBus talks to dms-host on the system bus (production). The
// default is the session bus.
func WithSystemBus() Option { return func(o *options) { o.system = true } }

// WithAddress talks to the bus at a D-Bus address ("unix:path=...").
func WithAddress(addr string) Option { return func(o *options) { o.address = addr } }

// WithConn uses a connection the caller made and keeps owning: Close
// then leaves it open.
func WithConn(c *dbus.Conn) Option { return func(o *options) { o.conn = c } }

// Executor is one dms-executor instance served by dms-host.
type Executor struct {
	id       string
	conn     *dbus.Conn
	ownsConn bool
	obj      dbus.BusObject
}

// The connection outlives ctx (godbus's WithContext would close it when
// the context ends), so ctx bounds only the calls.
func connect(o *options) (*dbus.Conn, bool, error) {
	if o.conn != nil {
		return o.conn, false, nil
	}
	var (
		c   *dbus.Conn
		err error
	)
	switch {
	case o.address != "":
		c, err = dbus.Dial(o.address)
	case o.system:
		c, err = dbus.SystemBusPrivate()
	default:
		c, err = dbus.SessionBusPrivate()
	}
	if err != nil {
		return nil, false, err
	}
	if err = c.Auth(nil); err == nil {
		err = c.Hello()
	}
	if err != nil {
		c.Close()
		return nil, false, err
	}
	return c, true, nil
}

// NewExecutor creates (or, with the same config, re-opens) the executor
// `id` in dms-host — the manager's NewExecutor — and returns a client for
// it. An executor with the id of one that died takes over its jobs.
func NewExecutor(ctx context.Context, id string, opts ...Option) (*Executor, error) {
	o := &options{}
	for _, fn := range opts {
		fn(o)
	}
	conn, owns, err := connect(o)
	if err != nil {
		return nil, fmt.Errorf("dms: connecting to the bus: %w", err)
	}
	var path dbus.ObjectPath
	call := conn.Object(BusName, ManagerPath).CallWithContext(ctx, ManagerIface+".NewExecutor", 0,
		id, o.config)
	if err = call.Store(&path); err != nil {
		if owns {
			conn.Close()
		}
		return nil, wrap(err)
	}
	return &Executor{id: id, conn: conn, ownsConn: owns, obj: conn.Object(BusName, path)}, nil
}

// ID is the executor id.
func (e *Executor) ID() string { return e.id }

// Path is the executor's object path.
func (e *Executor) Path() dbus.ObjectPath { return e.obj.Path() }

// Conn is the bus connection the executor uses.
func (e *Executor) Conn() *dbus.Conn { return e.conn }

// Close closes the bus connection when NewExecutor made it. The executor
// and its jobs stay in dms-host; Remove removes it.
func (e *Executor) Close() error {
	if e.ownsConn {
		return e.conn.Close()
	}
	return nil
}

// Remove removes the executor from dms-host (the manager's
// RemoveExecutor): pending Waits end with ErrCancelled; containers keep
// running for the next executor with this id.
func (e *Executor) Remove(ctx context.Context) error {
	return wrap(e.conn.Object(BusName, ManagerPath).CallWithContext(ctx,
		ManagerIface+".RemoveExecutor", 0, e.id).Err)
}

func (e *Executor) call(ctx context.Context, method string, args ...interface{}) *dbus.Call {
	return e.obj.CallWithContext(ctx, ExecutorIface+"."+method, 0, args...)
}

// IsInstalled reports whether the executor's engine answers.
func (e *Executor) IsInstalled(ctx context.Context) (bool, error) {
	var ok bool
	if err := e.call(ctx, "IsInstalled").Store(&ok); err != nil {
		return false, wrap(err)
	}
	return ok, nil
}

// EngineInfo is IsInstalled plus the engine's fingerprint as JSON.
func (e *Executor) EngineInfo(ctx context.Context) (bool, map[string]interface{}, error) {
	var (
		ok   bool
		info string
	)
	if err := e.call(ctx, "GetEngineInfo").Store(&ok, &info); err != nil {
		return false, nil, wrap(err)
	}
	m := map[string]interface{}{}
	if info != "" {
		if err := json.Unmarshal([]byte(info), &m); err != nil {
			return ok, nil, fmt.Errorf("dms: engine info: %w", err)
		}
	}
	return ok, m, nil
}

func marshal(req *ExecutionRequest) (string, error) {
	if req == nil {
		return "", fmt.Errorf("dms: nil request")
	}
	b, err := json.Marshal(req)
	if err != nil {
		return "", fmt.Errorf("dms: request: %w", err)
	}
	return string(b), nil
}

// Start starts the execution and returns when its container runs. When
// req names no ExecutionID, the one the executor generated is written
// back into req.ExecutionID.
func (e *Executor) Start(ctx context.Context, req *ExecutionRequest) error {
	doc, err := marshal(req)
	if err != nil {
		return err
	}
	id, err := e.StartRaw(ctx, doc)
	if err != nil {
		return err
	}
	if id != "" {
		req.ExecutionID = id
	}
	return nil
}

// StartRaw starts the execution a JSON or YAML request describes and
// returns the execution id the executor used.
func (e *Executor) StartRaw(ctx context.Context, request string) (string, error) {
	var id string
	if err := e.call(ctx, "Start", request).Store(&id); err != nil {
		return "", wrap(err)
	}
	return id, nil
}

// Wait waits for the execution to end. Exactly one of the two channels
// receives one value, then both are closed: the result, or the error
// (the executor's, or ctx.Err() when the context ended first — the job
// keeps running).
func (e *Executor) Wait(ctx context.Context, executionID string) (<-chan *ExecutionResult, <-chan error) {
	results := make(chan *ExecutionResult, 1)
	errs := make(chan error, 1)
	// Sent before Wait returns, so that it reaches dms-host ahead of any
	// call the caller makes next (a Cancel, a RemoveExecutor).
	call := e.obj.GoWithContext(ctx, ExecutorIface+".Wait", 0, make(chan *dbus.Call, 1),
		executionID)
	go func() {
		defer close(results)
		defer close(errs)
		var doc string
		select {
		case <-call.Done:
		case <-ctx.Done():
			errs <- ctx.Err()
			return
		}
		if err := call.Store(&doc); err != nil {
			if ctx.Err() != nil {
				errs <- ctx.Err()
			} else {
				errs <- wrap(err)
			}
			return
		}
		r, err := parseResult(doc)
		if err != nil {
			errs <- fmt.Errorf("dms: result of %s: %w", executionID, err)
			return
		}
		results <- r
	}()
	return results, errs
}

// Cancel stops the execution: the stop signal, then SIGKILL after the
// grace period. Harmless on a finished execution.
func (e *Executor) Cancel(ctx context.Context, executionID string) error {
	return wrap(e.call(ctx, "Cancel", executionID).Err)
}

// GetLogStream returns the execution's output as the request asks; the
// caller closes it. Framed (the default): Docker's 8-byte headers, see
// NewDemuxer.
func (e *Executor) GetLogStream(ctx context.Context, req LogStreamRequest) (io.ReadCloser, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("dms: log request: %w", err)
	}
	var fd dbus.UnixFD
	if err := e.call(ctx, "GetLogStream", string(b)).Store(&fd); err != nil {
		return nil, wrap(err)
	}
	return os.NewFile(uintptr(fd), "dms-log-stream:"+req.ExecutionID), nil
}

// Run starts the execution and waits for it, with no race in between.
func (e *Executor) Run(ctx context.Context, req *ExecutionRequest) (*ExecutionResult, error) {
	doc, err := marshal(req)
	if err != nil {
		return nil, err
	}
	return e.RunRaw(ctx, doc)
}

// RunRaw is Run for a JSON or YAML request.
func (e *Executor) RunRaw(ctx context.Context, request string) (*ExecutionResult, error) {
	var doc string
	if err := e.call(ctx, "Run", request).Store(&doc); err != nil {
		return nil, wrap(err)
	}
	return parseResult(doc)
}

// Cleanup removes every container, network and volume labelled with
// this executor's id, and nothing else.
func (e *Executor) Cleanup(ctx context.Context) error {
	return wrap(e.call(ctx, "Cleanup").Err)
}

// List returns the executions the executor tracks.
func (e *Executor) List(ctx context.Context) ([]ExecutionInfo, error) {
	var doc string
	if err := e.call(ctx, "List").Store(&doc); err != nil {
		return nil, wrap(err)
	}
	var out []ExecutionInfo
	if err := json.Unmarshal([]byte(doc), &out); err != nil {
		return nil, fmt.Errorf("dms: list: %w", err)
	}
	return out, nil
}
