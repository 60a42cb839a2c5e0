"""What the step modules share: creating executors for a scenario, finding
jobs by name, and checking call outcomes with messages that show the
actual values.
"""
import codecs
import json
import uuid

from parse import with_pattern

from . import client, jobs, waiting
from .engine import LABEL_EXECUTION, LABEL_EXECUTOR


@with_pattern(r'[^"]*')
def parse_quoted(text):
    """A "..."-quoted step argument: never spans a double quote."""
    return text


STEP_TYPES = {"Q": parse_quoted}


def unescape(text):
    """Gherkin "a\\nb" -> "a<newline>b"."""
    return codecs.decode(text, "unicode_escape")


def executor_config(context, host):
    # Gated jobs bind their control directory (jobs.py): allowed under the
    # run's ctl root by this config's own policy (docs/security.md).
    return ("runtime: %s\nhost: %s\nstate_dir: %s\nstop_timeout: 2s\n"
            "policy:\n  bind_roots: [%s]\n"
            % (context.engine_name, host, context.state_dir, json.dumps(context.ctl_root)))


def new_executor(context, host=None, name=None, reachable=True):
    """NewExecutor with a fresh id; the executor is torn down after the
    scenario. Fails the step when NewExecutor fails."""
    executor_id = "feat-" + uuid.uuid4().hex[:12]
    config = executor_config(context, host or context.engine_host)
    call = context.manager.new_executor(executor_id, config)
    call.expect_ok()
    ex = client.Executor(context.conn, executor_id, call.value, config)
    ex.engine_reachable = reachable
    context.executors.append(ex)
    if name is not None:
        context.named_executors[name] = ex
    return ex


def executor_named(context, name):
    try:
        return context.named_executors[name]
    except KeyError:
        raise AssertionError("no executor %r in this scenario" % name) from None


def add_job(context, name, script, gated=False, executor=None):
    ex = executor or context.executor
    job = jobs.Job(name, ex, context.engine_name, script,
                   ctl_root=context.ctl_root if gated else None)
    context.jobs[name] = job
    return job


def job_named(context, name):
    try:
        return context.jobs[name]
    except KeyError:
        raise AssertionError("no job %r was described in this scenario" % name) from None


def record(context, call):
    context.last_call = call
    return call


def last_call(context):
    if context.last_call is None:
        raise AssertionError("no call was made yet")
    return context.last_call


def wait_for_gate(job, timeout=60):
    waiting.poll_until(job.reached_gate, timeout,
                       "job %s to reach its gate (%s/ready)" % (job.name, job.ctl_dir))


def containers_of(context, job):
    """The engine's containers of a job, found by its labels."""
    return context.engine.containers(
        "%s=%s" % (LABEL_EXECUTOR, job.executor.executor_id),
        "%s=%s" % (LABEL_EXECUTION, job.execution_id))


def the_container_of(context, job):
    found = containers_of(context, job)
    if len(found) != 1:
        raise AssertionError("expected exactly one container of %s on the engine, found %d: %s"
                             % (job.name, len(found), [c.get("Names") for c in found]))
    info = context.engine.inspect_container(found[0]["Id"])
    if info is None:
        raise AssertionError("the container %s of %s vanished while being looked at"
                             % (found[0]["Id"][:12], job.name))
    return info


def finish_result(context, job, timeout=120):
    """Waits (blocking Wait) for the job and records its result."""
    call = record(context, job.executor.wait(job.execution_id, timeout=timeout))
    job.add_result(call.expect_ok())
    return job.result


def dump(doc):
    return json.dumps(doc, sort_keys=True)
