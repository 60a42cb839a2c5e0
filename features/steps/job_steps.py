"""Steps about jobs: describing them, Start, Wait, Run and Cancel (also
from other connections, in the background), their results and the
ExecutionStateChanged / ExecutionFinished signals."""
import datetime
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from behave import register_type, step  # noqa: E402

from dmstest import client, jobs, waiting  # noqa: E402
from dmstest import scenario as sc  # noqa: E402

register_type(**sc.STEP_TYPES)


# --- describing jobs --------------------------------------------------------
# The name of a job is also its execution id; its job id is "job-<name>".

def _gated(before, after):
    return "%s; %s; %s" % (before, jobs.GATE, after)


@step('a job "{name:Q}" of executor "{ex:Q}" that runs "{before:Q}", then waits for its '
      'go signal, then runs "{after:Q}"')
def job_gated_other(context, name, ex, before, after):
    sc.add_job(context, name, _gated(before, after), gated=True,
               executor=sc.executor_named(context, ex))


@step('a job "{name:Q}" that runs "{before:Q}", then waits for its go signal, '
      'then runs "{after:Q}"')
def job_gated(context, name, before, after):
    sc.add_job(context, name, _gated(before, after), gated=True)


@step('a job "{name:Q}" that runs "{before:Q}", then loops until it is stopped')
def job_looping(context, name, before):
    sc.add_job(context, name, "%s; %s" % (before, jobs.LOOP_FOREVER), gated=True)


@step('a job "{name:Q}" that runs "{script:Q}" in the image "{image:Q}"')
def job_in_image(context, name, script, image):
    sc.add_job(context, name, script).params["image"] = image


@step('a job "{name:Q}" with a deadline of {seconds:d} second that runs "{script:Q}"')
@step('a job "{name:Q}" with a deadline of {seconds:d} seconds that runs "{script:Q}"')
def job_with_deadline(context, name, seconds, script):
    sc.add_job(context, name, script).request["timeout"] = seconds


@step('a job "{name:Q}" whose entrypoint is "{path:Q}"')
def job_entrypoint(context, name, path):
    job = sc.add_job(context, name, "unused")
    job.params["entrypoint"] = [path]
    job.params["cmd"] = []


@step('a job "{name:Q}" that runs "{script:Q}"')
def job_plain(context, name, script):
    sc.add_job(context, name, script)


@step('"{name:Q}" has reached its gate')
def job_reached_gate(context, name):
    sc.wait_for_gate(sc.job_named(context, name))


@step('I let "{name:Q}" go')
def let_go(context, name):
    sc.job_named(context, name).let_go()


# --- Start ----------------------------------------------------------------

@step('I start "{name:Q}"')
def start(context, name):
    job = sc.job_named(context, name)
    sc.record(context, job.executor.start(job.request_json())).expect_ok()


@step('I try to start "{name:Q}"')
@step('I try to start "{name:Q}" again')
def try_start(context, name):
    job = sc.job_named(context, name)
    sc.record(context, job.executor.start(job.request_json()))


@step('I try to start "{name:Q}" with its request changed: {change}')
def try_start_changed(context, name, change):
    job = sc.job_named(context, name)
    doc = jobs.apply_change(json.loads(job.request_json()), change)
    sc.record(context, job.executor.start(json.dumps(doc)))


@step('I try to start a job with the request text "{text:Q}"')
def try_start_text(context, text):
    sc.record(context, context.executor.start(text))


# --- Wait -----------------------------------------------------------------

@step('I wait for "{name:Q}"')
@step('I wait for "{name:Q}" again')
def wait_for(context, name):
    sc.finish_result(context, sc.job_named(context, name))


@step('I wait for the execution id "{execution_id:Q}"')
def wait_for_id(context, execution_id):
    sc.record(context, context.executor.wait(execution_id, timeout=60))


@step('I wait for "{name:Q}" but give up after {seconds:d} second')
@step('I wait for "{name:Q}" but give up after {seconds:d} seconds')
def wait_give_up(context, name, seconds):
    job = sc.job_named(context, name)
    sc.record(context, job.executor.wait(job.execution_id, timeout=seconds))


def _own_connection(context):
    conn = client.connect(context.bus.address)
    context.extra_conns.append(conn)
    return conn


@step('{count:d} clients on their own connections wait for "{name:Q}"')
@step('{count:d} client on its own connection waits for "{name:Q}"')
def background_waits(context, count, name):
    job = sc.job_named(context, name)
    context.bg_waits = []
    for _ in range(count):
        ex = job.executor.on(_own_connection(context))
        context.bg_waits.append(ex.wait_async(job.execution_id))
        # The Ping answer comes after dms-host dispatched the Wait sent
        # before it on this connection: the waiter is registered.
        ex.ping()
    context.bg_wait_job = job


@step("none of the background waits has returned")
def background_waits_pending(context):
    waiting.drain()
    done = [c.describe() for c in context.bg_waits if c.done]
    assert not done, "background waits returned early: %s" % done


@step("every background wait returns within {seconds:d} seconds")
def background_waits_return(context, seconds):
    calls = context.bg_waits
    waiting.run_until(lambda: all(c.done for c in calls), seconds,
                      "%d background waits" % len(calls))
    for c in calls:
        context.bg_wait_job.add_result(c.expect_ok())


@step("the background waits returned identical results")
def background_waits_identical(context):
    texts = [str(c.value) for c in context.bg_waits]
    assert len(set(texts)) == 1, "background waits returned different results:\n%s" \
        % "\n".join(texts)


@step('a client on its own connection waits for "{name:Q}" and then disconnects')
def wait_then_disconnect(context, name):
    job = sc.job_named(context, name)
    conn = client.connect(context.bus.address)
    unique = conn.get_unique_name()
    ex = job.executor.on(conn)
    call = ex.wait_async(job.execution_id)
    ex.ping()
    gone = []
    match = context.conn.add_signal_receiver(
        lambda n, old, new: gone.append(n) if not new else None, "NameOwnerChanged",
        "org.freedesktop.DBus", arg0=unique)
    try:
        conn.close()
        waiting.run_until(lambda: gone, 30, "the bus to report %s gone" % unique)
    finally:
        match.remove()
    assert not call.done, "the Wait of the closed connection was answered: %s" % call.describe()
    # A round trip on the main connection: dms-host has handled what the
    # bus told it about the departed client by the time it answers.
    context.executor.ping()


@step('waiting for "{name:Q}" does not hang')
def wait_does_not_hang(context, name):
    job = sc.job_named(context, name)
    call = job.executor.wait(job.execution_id, timeout=20)
    assert call.error_name != "org.freedesktop.DBus.Error.NoReply", \
        "Wait after a failed Start hung: %s" % call.describe()


@step('waiting for "{name:Q}" gives a cancelled result within {seconds:d} seconds')
def wait_gives_cancelled(context, name, seconds):
    job = sc.job_named(context, name)
    call = sc.record(context, job.executor.wait(job.execution_id, timeout=seconds))
    result = job.add_result(call.expect_ok())
    assert result.get("cancelled") is True, "expected cancelled: true in %s" % sc.dump(result)


# --- Run ------------------------------------------------------------------

@step('I run "{name:Q}"')
def run(context, name):
    job = sc.job_named(context, name)
    call = sc.record(context, job.executor.run(job.request_json()))
    job.add_result(call.expect_ok())


@step('I try to run "{name:Q}"')
def try_run(context, name):
    job = sc.job_named(context, name)
    sc.record(context, job.executor.run(job.request_json()))


@step('I try to run "{name:Q}" with its request changed: {change}')
def try_run_changed(context, name, change):
    job = sc.job_named(context, name)
    doc = jobs.apply_change(json.loads(job.request_json()), change)
    sc.record(context, job.executor.run(json.dumps(doc)))


@step('I run "{name:Q}" in the background')
def run_background(context, name):
    job = sc.job_named(context, name)
    context.bg_run = job.executor.run_async(job.request_json())
    context.bg_run_job = job


@step("the background run has not returned")
def background_run_pending(context):
    waiting.drain()
    assert not context.bg_run.done, "Run answered early: %s" % context.bg_run.describe()


@step("the background run returns within {seconds:d} seconds")
def background_run_returns(context, seconds):
    context.bg_run.wait(seconds)
    context.bg_run_job.add_result(context.bg_run.expect_ok())


@step("the background run fails with {error_name:S} within {seconds:d} seconds")
def background_run_fails(context, error_name, seconds):
    call = context.bg_run.wait(seconds)
    assert call.error_name == error_name, "expected %s, got %s" % (error_name, call.describe())


# --- Cancel ---------------------------------------------------------------

@step('I cancel "{name:Q}"')
@step('I cancel "{name:Q}" again')
def cancel(context, name):
    job = sc.job_named(context, name)
    sc.record(context, job.executor.cancel(job.execution_id))


@step('I cancel the execution id "{execution_id:Q}"')
def cancel_id(context, execution_id):
    sc.record(context, context.executor.cancel(execution_id))


@step('{count:d} clients cancel "{name:Q}" at the same time')
def concurrent_cancels(context, count, name):
    job = sc.job_named(context, name)
    context.bg_cancels = [job.executor.on(_own_connection(context)).cancel_async(job.execution_id)
                          for _ in range(count)]


@step("every background cancel succeeds within {seconds:d} seconds")
def background_cancels_succeed(context, seconds):
    calls = context.bg_cancels
    waiting.run_until(lambda: all(c.done for c in calls), seconds,
                      "%d concurrent cancels" % len(calls))
    for c in calls:
        c.expect_ok()


# --- results --------------------------------------------------------------

def _result(context, name):
    return sc.job_named(context, name).result


@step('the result of "{name:Q}" has exit code {code:d}')
def result_exit_code(context, name, code):
    r = _result(context, name)
    assert r.get("exit_code") == code, "expected exit_code %d in %s" % (code, sc.dump(r))


@step('the result of "{name:Q}" has signal {number:d}')
def result_signal(context, name, number):
    r = _result(context, name)
    assert r.get("signal") == number, "expected signal %d in %s" % (number, sc.dump(r))


@step('the result of "{name:Q}" has stdout "{text:Q}"')
def result_stdout(context, name, text):
    r = _result(context, name)
    want = sc.unescape(text)
    assert r.get("stdout") == want, "expected stdout %r in %s" % (want, sc.dump(r))


@step('the result of "{name:Q}" has stderr "{text:Q}"')
def result_stderr(context, name, text):
    r = _result(context, name)
    want = sc.unescape(text)
    assert r.get("stderr") == want, "expected stderr %r in %s" % (want, sc.dump(r))


@step('the result of "{name:Q}" is cancelled')
def result_cancelled(context, name):
    r = _result(context, name)
    assert r.get("cancelled") is True, "expected cancelled: true in %s" % sc.dump(r)


@step('the result of "{name:Q}" is not cancelled')
def result_not_cancelled(context, name):
    r = _result(context, name)
    assert r.get("cancelled") is False, "expected cancelled: false in %s" % sc.dump(r)


@step('the result of "{name:Q}" is not truncated')
def result_not_truncated(context, name):
    r = _result(context, name)
    assert r.get("stdout_truncated") is False and r.get("stderr_truncated") is False, \
        "expected both truncation flags false in %s" % sc.dump(r)


_RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")


def _timestamp_ns(text):
    m = _RFC3339.match(text or "")
    assert m, "not an RFC 3339 time: %r" % (text,)
    base = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")
    tz = m.group(3)
    offset = 0
    if tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        offset = sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
    seconds = int(base.replace(tzinfo=datetime.timezone.utc).timestamp()) - offset
    return seconds * 10**9 + int((m.group(2) or "0").ljust(9, "0"))


@step('the result of "{name:Q}" has start and finish times in order')
def result_times(context, name):
    r = _result(context, name)
    started, finished = _timestamp_ns(r.get("started_at")), _timestamp_ns(r.get("finished_at"))
    assert started <= finished, "started_at after finished_at in %s" % sc.dump(r)
    now_ns = int(datetime.datetime.now(datetime.timezone.utc).timestamp() * 10**9)
    assert abs(now_ns - finished) < 3600 * 10**9, "finished_at is not recent: %s" % sc.dump(r)


@step('the results of "{name:Q}" are identical')
def results_identical(context, name):
    job = sc.job_named(context, name)
    assert len(job.results) >= 2, "only %d result(s) of %s" % (len(job.results), name)
    first = job.results[0]
    for other in job.results[1:]:
        assert other == first, "results differ:\n%s\n%s" % (sc.dump(first), sc.dump(other))


# --- signals ----------------------------------------------------------------

@step('"{name:Q}" has reported the state "{state:Q}"')
def reported_state(context, name, state):
    job = sc.job_named(context, name)
    waiting.run_until(lambda: state in context.signals.states(job.executor.path, job.execution_id),
                      30, "ExecutionStateChanged(%s, %s)" % (job.execution_id, state))


@step('"{name:Q}" has reported the states "{states:Q}" in that order')
def reported_states_in_order(context, name, states):
    job = sc.job_named(context, name)
    want = [s.strip() for s in states.split(",")]

    def seen():
        return context.signals.states(job.executor.path, job.execution_id)

    waiting.run_until(lambda: all(s in seen() for s in want), 30,
                      "ExecutionStateChanged %s of %s" % (want, job.execution_id))
    got = seen()
    positions = [got.index(s) for s in want]
    assert positions == sorted(positions), "states out of order: got %s, want %s in order" \
        % (got, want)
    assert len(got) == len(set(got)), "a state was reported twice: %s" % got


@step('"{name:Q}" has reported no state after "{state:Q}"')
def no_state_after(context, name, state):
    job = sc.job_named(context, name)
    job.executor.ping()  # signals sent before the answer have arrived
    waiting.drain()
    got = context.signals.states(job.executor.path, job.execution_id)
    assert got and got[-1] == state, "expected %r to be the last state, got %s" % (state, got)


@step('the ExecutionFinished signal of "{name:Q}" carried the result that Wait returned')
def finished_signal_result(context, name):
    job = sc.job_named(context, name)
    waiting.run_until(lambda: context.signals.finished(job.executor.path, job.execution_id), 30,
                      "ExecutionFinished(%s)" % job.execution_id)
    job.executor.ping()
    waiting.drain()
    texts = context.signals.finished(job.executor.path, job.execution_id)
    assert len(texts) == 1, "ExecutionFinished was emitted %d times: %s" % (len(texts), texts)
    assert json.loads(texts[0]) == job.result, \
        "signal: %s\nWait: %s" % (texts[0], sc.dump(job.result))


@step('"{name:Q}" has finished')
def has_finished(context, name):
    job = sc.job_named(context, name)
    waiting.run_until(lambda: context.signals.finished(job.executor.path, job.execution_id), 30,
                      "ExecutionFinished(%s)" % job.execution_id)
