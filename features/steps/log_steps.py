"""Steps about GetLogStream: opening a stream (a unix fd passed over
D-Bus), reading it with deadlines, and checking what each stream carried."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from behave import register_type, step  # noqa: E402

from dmstest import waiting  # noqa: E402
from dmstest import scenario as sc  # noqa: E402
from dmstest.logs import LogStream, _short  # noqa: E402

register_type(**sc.STEP_TYPES)


def _open(context, executor, doc):
    call = sc.record(context, executor.get_log_stream(doc))
    fd_obj = call.expect_ok()
    stream = LogStream(fd_obj.take(), framed=doc.get("format", "framed") == "framed")
    context.streams.append(stream)
    return stream


@step('I open a log stream of "{name:Q}" with {doc}')
def open_stream(context, name, doc):
    job = sc.job_named(context, name)
    request = json.loads(doc)
    request["execution_id"] = job.execution_id
    context.stream = _open(context, job.executor, request)


@step("I try to open a log stream with {doc}")
def try_open_stream(context, doc):
    sc.record(context, context.executor.get_log_stream(json.loads(doc)))


@step('the logs of "{name:Q}" already show "{text:Q}"')
def logs_already_show(context, name, text):
    """Polls non-following snapshots until the executor has the text, so a
    tail=true stream opened next cannot see it as new output."""
    job = sc.job_named(context, name)
    want = sc.unescape(text).encode()

    def snapshot_has_it():
        stream = _open(context, job.executor, {"execution_id": job.execution_id,
                                               "follow": False, "format": "plain"})
        try:
            stream.read_to_eof(30)
            return want in bytes(stream.stdout)
        finally:
            stream.close()
            context.streams.remove(stream)

    waiting.poll_until(snapshot_has_it, 30, "the logs of %s to show %r" % (name, want),
                       interval=0.1)


@step('the log stream delivers stdout "{text:Q}" within {seconds:d} seconds')
def stream_delivers(context, text, seconds):
    want = sc.unescape(text).encode()
    s = context.stream
    s.read_until(lambda: len(s.stdout) >= len(want), seconds, "stdout %r" % want)
    assert bytes(s.stdout) == want, "expected stdout %r so far, got %r" % (want, _short(s.stdout))


@step("the log stream is still open")
def stream_open(context):
    context.stream.read_available(0)
    assert not context.stream.eof, "the follow stream ended while the job still runs"


@step("the log stream ends within {seconds:d} seconds")
def stream_ends(context, seconds):
    context.stream.read_to_eof(seconds)


@step('the log stream carried stdout "{text:Q}"')
def stream_stdout(context, text):
    want = sc.unescape(text).encode()
    got = bytes(context.stream.stdout)
    assert got == want, "expected stdout %r, got %r (stderr %r)" % (
        want, _short(got), _short(context.stream.stderr))


@step('the log stream carried stderr "{text:Q}"')
def stream_stderr(context, text):
    want = sc.unescape(text).encode()
    got = bytes(context.stream.stderr)
    assert got == want, "expected stderr %r, got %r (stdout %r)" % (
        want, _short(got), _short(context.stream.stdout))


@step("the log stream carried no stderr")
def stream_no_stderr(context):
    assert not context.stream.stderr, "unexpected stderr %r" % _short(context.stream.stderr)


@step('the plain log stream carried the lines "{lines:Q}" with each stream in order')
def plain_lines(context, lines):
    """The merged stream has every line once; lines of one stream (told
    apart by their "out"/"err" prefix) keep their relative order."""
    want = [w.strip() for w in lines.split(",")]
    got = bytes(context.stream.stdout).decode(errors="replace").splitlines()
    assert sorted(got) == sorted(want), "expected the lines %s, got %s" % (want, got)
    for prefix in ("out", "err"):
        mine = [line for line in got if line.startswith(prefix)]
        assert mine == [w for w in want if w.startswith(prefix)], \
            "%s lines out of order: %s" % (prefix, got)


@step("the log stream carried on stdout the numbers 1 to {count:d}, one per line")
def stream_numbers(context, count):
    want = ("\n".join(str(i) for i in range(1, count + 1)) + "\n").encode()
    _compare_stdout(context, want)


@step("the log stream carried on stdout the numbers 1 to {count:d}, each padded to {width:d} bytes")
def stream_padded_numbers(context, count, width):
    want = "".join("%-*d\n" % (width - 1, i) for i in range(1, count + 1)).encode()
    _compare_stdout(context, want)


def _compare_stdout(context, want):
    got = bytes(context.stream.stdout)
    if got == want:
        return
    at = next((i for i in range(min(len(got), len(want))) if got[i] != want[i]),
              min(len(got), len(want)))
    raise AssertionError(
        "stdout differs from byte %d on: got %d bytes, want %d; got %r..., want %r..."
        % (at, len(got), len(want), got[max(0, at - 20):at + 40], want[max(0, at - 20):at + 40]))
