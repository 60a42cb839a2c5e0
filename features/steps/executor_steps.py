"""Steps about executors themselves: creating them (the Background),
IsInstalled, Cleanup, and the outcome of the last call (success, error
name, message, duration)."""
import os
import socket
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from behave import register_type, step  # noqa: E402

from dmstest import scenario as sc  # noqa: E402

register_type(**sc.STEP_TYPES)


# --- executors -------------------------------------------------------------

@step("a fresh executor on the engine under test")
def fresh_executor(context):
    context.executor = sc.new_executor(context)


@step('a second executor "{name:Q}" on the engine under test')
def second_executor(context, name):
    sc.new_executor(context, name=name)


def _socket_dir(context):
    d = os.path.join(context.run_dir, "sockets", uuid.uuid4().hex[:8])
    os.makedirs(d)
    return d


@step("a fresh executor whose engine socket does not exist")
def executor_missing_socket(context):
    path = os.path.join(_socket_dir(context), "engine.sock")
    context.that_socket = path
    context.that_executor = sc.new_executor(context, host="unix://" + path, reachable=False)


@step("a fresh executor whose engine socket refuses connections")
def executor_refusing_socket(context):
    # A socket file nobody listens on: what a stopped engine leaves behind.
    path = os.path.join(_socket_dir(context), "engine.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
        raise AssertionError("test set-up: %s accepted a connection" % path)
    except ConnectionRefusedError:
        pass
    finally:
        probe.close()
    context.that_socket = path
    context.that_executor = sc.new_executor(context, host="unix://" + path, reachable=False)


@step("a fresh executor whose engine accepts connections but never answers")
def executor_wedged_socket(context):
    # The kernel completes connections to a listening socket nobody
    # accepts on; requests then sit unanswered, as with a wedged engine.
    path = os.path.join(_socket_dir(context), "engine.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(64)
    context.to_close.append(s)
    context.that_socket = path
    context.that_executor = sc.new_executor(context, host="unix://" + path, reachable=False)


@step("the engine under test appears at that executor's socket path")
def engine_appears(context):
    if os.path.lexists(context.that_socket):
        os.unlink(context.that_socket)
    os.symlink(context.engine.socket_path, context.that_socket)


@step("I ask the executor whether its engine is installed")
def ask_installed(context):
    sc.record(context, context.executor.is_installed())


@step("I ask that executor whether its engine is installed")
def ask_that_installed(context):
    sc.record(context, context.that_executor.is_installed())


@step("the answer is {answer:w}")
def answer_is(context, answer):
    want = {"true": True, "false": False}[answer]
    call = sc.last_call(context)
    value = call.expect_ok()
    assert bool(value) is want and isinstance(value, (bool, int)), \
        "expected %s, got %r (%s)" % (want, value, call.describe())


@step("the executor still answers")
def executor_answers(context):
    call = context.executor.is_installed()
    assert call.expect_ok() is not None and bool(call.value), \
        "IsInstalled after the scenario's calls: %s" % call.describe()


@step("I clean up the executor")
def clean_up(context):
    sc.record(context, context.executor.cleanup())


# --- the last call -------------------------------------------------------

@step("the call succeeds")
def call_succeeds(context):
    sc.last_call(context).expect_ok()


@step("the call fails with {error_name:S}")
def call_fails_with(context, error_name):
    call = sc.last_call(context)
    assert call.done, call.describe()
    assert call.error is not None, "expected %s, but %s" % (error_name, call.describe())
    assert call.error_name == error_name, \
        "expected %s, got %s" % (error_name, call.describe())


@step('the error message mentions "{text:Q}"')
def error_mentions(context, text):
    call = sc.last_call(context)
    assert call.error is not None, "expected an error, but %s" % call.describe()
    assert text in (call.error_message or ""), \
        "the message does not mention %r: %s" % (text, call.describe())


@step("the call returned within {seconds:g} seconds")
def call_within(context, seconds):
    call = sc.last_call(context)
    assert call.done, call.describe()
    assert call.duration <= seconds, \
        "expected an answer within %gs: %s" % (seconds, call.describe())


@step("the call took between {low:g} and {high:g} seconds")
def call_between(context, low, high):
    call = sc.last_call(context)
    assert call.done, call.describe()
    assert low <= call.duration <= high, \
        "expected %g..%gs: %s" % (low, high, call.describe())
