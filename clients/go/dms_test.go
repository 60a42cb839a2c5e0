// dms_test.go — the client against a real dms-host and a real engine.
//
// scripts/test-go.sh starts a private session bus and a dms-host on it and
// runs these with DMS_GO_TEST_BUS (the bus address), DMS_DOCKER_HOST and
// DMS_TEST_IMAGE set. Without DMS_GO_TEST_BUS the tests that need the
// host are skipped — unless DMS_GO_TEST_REQUIRE=1 (the script sets it),
// so a broken set-up fails instead of passing silently.
package dms

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

const deadline = 60 * time.Second

func image() string {
	if s := os.Getenv("DMS_TEST_IMAGE"); s != "" {
		return s
	}
	return "dms-test/busybox:latest"
}

func busAddress(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("DMS_GO_TEST_BUS")
	if addr == "" {
		if os.Getenv("DMS_GO_TEST_REQUIRE") == "1" {
			t.Fatal("DMS_GO_TEST_BUS is not set: scripts/test-go.sh sets it")
		}
		t.Skip("no dms-host: run scripts/test-go.sh")
	}
	return addr
}

func config(t *testing.T, extra string) string {
	host := os.Getenv("DMS_DOCKER_HOST")
	if host == "" {
		host = "unix:///tmp/dms-run/docker.sock"
	}
	return fmt.Sprintf("runtime: docker\nhost: %s\nstate_dir: %s\nstop_timeout: 2s\n%s", host,
		t.TempDir(), extra)
}

var serial int

func uniqueID(prefix string) string {
	serial++
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), serial)
}

// executor makes an executor of its own for one test, removed (after a
// Cleanup of its containers) when the test ends.
func executor(t *testing.T, extraConfig string) *Executor {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	ex, err := NewExecutor(ctx, uniqueID("go"), WithAddress(busAddress(t)),
		WithConfig(config(t, extraConfig)))
	if err != nil {
		t.Fatalf("NewExecutor: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		if err := ex.Cleanup(ctx); err != nil && !errors.Is(err, ErrUnknownObject) {
			t.Errorf("Cleanup: %v", err)
		}
		if err := ex.Remove(ctx); err != nil && !errors.Is(err, ErrNotFound) {
			t.Errorf("Remove: %v", err)
		}
		ex.Close()
	})
	return ex
}

func shellJob(script string) *ExecutionRequest {
	return &ExecutionRequest{
		JobID: uniqueID("j"),
		EngineSpec: EngineSpec{Type: "docker", Params: map[string]interface{}{
			"image": image(), "entrypoint": []string{"/bin/sh", "-c"}, "cmd": []string{script},
		}},
	}
}

func timeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	t.Cleanup(cancel)
	return ctx
}

func TestIsInstalled(t *testing.T) {
	ex := executor(t, "")
	ok, err := ex.IsInstalled(timeout(t))
	if err != nil || !ok {
		t.Fatalf("IsInstalled = %v, %v; want true, nil", ok, err)
	}
	ok, info, err := ex.EngineInfo(timeout(t))
	if err != nil || !ok || info["runtime"] != "docker" {
		t.Fatalf("EngineInfo = %v, %v, %v; want true, runtime docker", ok, info, err)
	}
}

func TestRun(t *testing.T) {
	ex := executor(t, "")
	req := shellJob("echo hello; echo oops >&2; exit 3")
	r, err := ex.Run(timeout(t), req)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if r.ExitCode != 3 || r.Stdout != "hello\n" || r.Stderr != "oops\n" || r.Cancelled ||
		r.ErrorMsg != nil || r.StartedAt == nil || r.FinishedAt == nil {
		t.Fatalf("Run result = %+v (raw %s)", r, r.Raw)
	}
}

func TestStartFillsGeneratedID(t *testing.T) {
	ex := executor(t, "")
	req := shellJob("echo generated")
	if err := ex.Start(timeout(t), req); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if !strings.HasPrefix(req.ExecutionID, "run-") {
		t.Fatalf("ExecutionID after Start = %q, want the generated run-...", req.ExecutionID)
	}
	results, errs := ex.Wait(timeout(t), req.ExecutionID)
	select {
	case r := <-results:
		if r == nil || r.Stdout != "generated\n" || r.ExitCode != 0 {
			t.Fatalf("Wait result = %+v", r)
		}
	case err := <-errs:
		t.Fatalf("Wait: %v", err)
	}
	list, err := ex.List(timeout(t))
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	found := false
	for _, e := range list {
		found = found || (e.ExecutionID == req.ExecutionID && e.State == "exited")
	}
	if !found {
		t.Fatalf("List = %+v, want %s exited", list, req.ExecutionID)
	}
}

// A Wait whose context is cancelled ends on the error channel with
// context.Canceled and closes the result channel empty; the job keeps
// running, and a second Wait gets its result.
func TestWaitCancelledContext(t *testing.T) {
	ex := executor(t, "")
	req := shellJob("trap 'echo got TERM; exit 7' TERM; echo started; while :; do sleep 0.1; done")
	if err := ex.Start(timeout(t), req); err != nil {
		t.Fatalf("Start: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	results, errs := ex.Wait(ctx, req.ExecutionID)
	cancel()
	select {
	case err := <-errs:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait error = %v, want context.Canceled", err)
		}
	case r := <-results:
		t.Fatalf("Wait delivered a result %+v for a running job", r)
	case <-time.After(deadline):
		t.Fatal("Wait did not end after its context was cancelled")
	}
	if r, ok := <-results; ok {
		t.Fatalf("result channel delivered %+v after the error", r)
	}

	results, errs = ex.Wait(timeout(t), req.ExecutionID)
	if err := ex.Cancel(timeout(t), req.ExecutionID); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	select {
	case r := <-results:
		if !r.Cancelled || r.ExitCode != 7 || !strings.Contains(r.Stdout, "got TERM") {
			t.Fatalf("result after Cancel = %+v", r)
		}
	case err := <-errs:
		t.Fatalf("second Wait: %v", err)
	}
	if _, ok := <-errs; ok {
		t.Fatal("error channel not closed after the result")
	}
}

func TestLogStreamToEOF(t *testing.T) {
	ex := executor(t, "")
	req := shellJob("for i in 1 2 3; do echo out$i; echo err$i >&2; done; sleep 0.5; echo last")
	if err := ex.Start(timeout(t), req); err != nil {
		t.Fatalf("Start: %v", err)
	}
	stream, err := ex.GetLogStream(timeout(t), LogStreamRequest{ExecutionID: req.ExecutionID,
		Follow: true})
	if err != nil {
		t.Fatalf("GetLogStream: %v", err)
	}
	defer stream.Close()
	var stdout, stderr bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- Demux(stream, &stdout, &stderr) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Demux: %v", err)
		}
	case <-time.After(deadline):
		t.Fatal("the followed log stream did not reach EOF after the job ended")
	}
	if stdout.String() != "out1\nout2\nout3\nlast\n" || stderr.String() != "err1\nerr2\nerr3\n" {
		t.Fatalf("log stream stdout %q stderr %q", stdout.String(), stderr.String())
	}

	plain, err := ex.GetLogStream(timeout(t), LogStreamRequest{ExecutionID: req.ExecutionID,
		Format: "plain"})
	if err != nil {
		t.Fatalf("GetLogStream plain: %v", err)
	}
	defer plain.Close()
	all, err := io.ReadAll(plain)
	if err != nil || !bytes.Contains(all, []byte("out3\n")) || !bytes.Contains(all, []byte("err3\n")) {
		t.Fatalf("plain stream %q, %v", all, err)
	}
}

// Each org.dms.Error.* and bus error the client can meet, caused for real
// through dms-host, arrives as the typed error.
func TestErrorsFromTheHost(t *testing.T) {
	ex := executor(t, "")
	ctx := timeout(t)
	check := func(what string, err, want error, contains string) {
		t.Helper()
		var e *Error
		if !errors.Is(err, want) || !errors.As(err, &e) {
			t.Errorf("%s: got %v (%T), want %v", what, err, err, want)
			return
		}
		if !strings.Contains(e.Error(), contains) {
			t.Errorf("%s: %q does not contain %q", what, e.Error(), contains)
		}
	}

	_, errs := ex.Wait(ctx, "no-such-execution")
	check("Wait of an unknown id", <-errs, ErrNotFound, "no-such-execution")
	check("Cancel of an unknown id", ex.Cancel(ctx, "no-such-execution"), ErrNotFound, "")

	req := shellJob("true")
	req.ExecutionID = uniqueID("e")
	if _, err := ex.Run(ctx, req); err != nil {
		t.Fatalf("Run: %v", err)
	}
	check("Start of an id that finished", ex.Start(ctx, req), ErrAlreadyFinished, req.ExecutionID)
	running := shellJob("sleep 30")
	if err := ex.Start(ctx, running); err != nil {
		t.Fatalf("Start: %v", err)
	}
	check("Start of an id that runs", ex.Start(ctx, running), ErrAlreadyStarted, running.ExecutionID)
	if err := ex.Cancel(ctx, running.ExecutionID); err != nil {
		t.Fatalf("Cancel: %v", err)
	}

	_, err := ex.StartRaw(ctx, `{"job_id":"j","execution_id":"e-bad","engine_spec":{"type":"docker","params":{"image":"x"}},"bogus":1}`)
	check("an unknown request key", err, ErrInvalidArgument, "bogus")

	missing := shellJob("true")
	missing.EngineSpec.Params["image"] = "dms-test/no-such-image:never"
	missing.EngineSpec.Params["pull_policy"] = "never"
	_, err = ex.Run(ctx, missing)
	check("a missing image with pull_policy never", err, ErrImage, "no-such-image")

	_, err = NewExecutor(ctx, uniqueID("go-bad"), WithAddress(busAddress(t)),
		WithConfig("stop_timeout: forever\n"))
	check("a bad config", err, ErrConfig, "stop_timeout")

	_, err = NewExecutor(ctx, "bad id/with slash", WithAddress(busAddress(t)))
	check("a bad executor id", err, ErrInvalidArgument, "")

	dead, err := NewExecutor(ctx, uniqueID("go-dead"), WithAddress(busAddress(t)),
		WithConfig("runtime: docker\nhost: unix:///nonexistent/docker.sock\n"))
	if err != nil {
		t.Fatalf("NewExecutor on a dead engine: %v", err)
	}
	_, err = dead.Run(ctx, shellJob("true"))
	check("an engine that does not answer", err, ErrRuntimeUnavailable, "")
	if err := dead.Remove(ctx); err != nil {
		t.Errorf("Remove: %v", err)
	}
	check("a call on a removed executor", dead.Cleanup(ctx), ErrUnknownObject, "")
	dead.Close()

	check("wrong argument types", wrap(ex.obj.CallWithContext(ctx, ExecutorIface+".Cancel", 0,
		int32(1)).Err), ErrInvalidArgs, "")
	check("an unknown method", wrap(ex.obj.CallWithContext(ctx, ExecutorIface+".Nope", 0).Err),
		ErrUnknownMethod, "")
	check("an unknown interface", wrap(ex.obj.CallWithContext(ctx, "org.dms.Nope1.Nope", 0).Err),
		ErrUnknownInterface, "")
	var v dbus.Variant
	check("an unknown property", wrap(ex.obj.CallWithContext(ctx, propertiesIface+".Get", 0,
		ExecutorIface, "Nope").Store(&v)), ErrUnknownProperty, "")
	check("a read-only property", wrap(ex.obj.CallWithContext(ctx, propertiesIface+".Set", 0,
		ExecutorIface, "Id", dbus.MakeVariant("x")).Err), ErrPropertyReadOnly, "")
	check("a name nobody owns", wrap(ex.conn.Object("org.dms.NoSuchService", "/").CallWithContext(
		ctx, "org.freedesktop.DBus.Peer.Ping", 0).Err), ErrServiceUnknown, "")
}

// RemoveExecutor while a Wait is pending: the Wait ends with Cancelled.
func TestRemoveAnswersWaitWithCancelled(t *testing.T) {
	ex := executor(t, "")
	req := shellJob("sleep 30")
	if err := ex.Start(timeout(t), req); err != nil {
		t.Fatalf("Start: %v", err)
	}
	results, errs := ex.Wait(timeout(t), req.ExecutionID)
	if err := ex.Remove(timeout(t)); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	select {
	case err := <-errs:
		if !errors.Is(err, ErrCancelled) {
			t.Fatalf("Wait error = %v, want ErrCancelled", err)
		}
	case r := <-results:
		t.Fatalf("Wait delivered %+v", r)
	}
	// The container keeps running for the next executor with this id:
	// take it over and cancel it.
	again, err := NewExecutor(timeout(t), ex.ID(), WithAddress(busAddress(t)),
		WithConfig(config(t, "")))
	if err != nil {
		t.Fatalf("NewExecutor again: %v", err)
	}
	defer again.Close()
	if err := again.Cancel(timeout(t), req.ExecutionID); err != nil {
		t.Fatalf("Cancel after recovery: %v", err)
	}
	if err := again.Cleanup(timeout(t)); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
}
