"""behave hooks for the dms-executor features: the fixtures of a run.

Per run: a private dbus-daemon and a dms-host on it (both stopped by pid at
the end), a connection that records executor signals, and a client of the
container engine's own API for looking at the engine from outside.
Per scenario: the Background creates a fresh executor id; afterwards every
executor the scenario created is cleaned up and removed, objects the
scenario made on the engine itself are removed, and anything still labelled
with the scenario's executor ids is swept (and reported).

Environment:
  DMS_ENGINE       docker | podman: the runtime named in each executor's
                   config and the engine the steps inspect; when unset, the
                   engine tag that --tags selects (--tags=podman), else docker
  DMS_BINARY_DIR   build directory holding bin/dms-host (default build-test)
  DMS_DOCKER_HOST  default unix:///tmp/dms-run/docker.sock
  DMS_PODMAN_HOST  default unix:///tmp/dms-run/podman.sock
  DMS_FEATURES_KEEP=1  keep the run directory (host log, state) afterwards
Features are tagged @docker @podman; a scenario whose engine tags do not
include DMS_ENGINE is skipped.
"""
import os
import shutil
import sys
import tempfile
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from dmstest import client, waiting  # noqa: E402
from dmstest.engine import Engine  # noqa: E402
from dmstest.host import HostProcess, PrivateBus  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENGINES = ("docker", "podman")
DEFAULT_HOSTS = {
    "docker": ("DMS_DOCKER_HOST", "unix:///tmp/dms-run/docker.sock"),
    "podman": ("DMS_PODMAN_HOST", "unix:///tmp/dms-run/podman.sock"),
}


def _binary_dir():
    d = os.environ.get("DMS_BINARY_DIR", "build-test")
    if not os.path.isabs(d) and not os.path.isdir(d):
        d = os.path.join(REPO_ROOT, d)
    return os.path.abspath(d)


def _engine_from_tags(context):
    """Without DMS_ENGINE, `behave --tags=podman` means Podman: the engine
    is the one engine tag the tag expression selects, else docker."""
    selected = [e for e in ENGINES if context.config.tags.check([e])]
    return selected[0] if len(selected) == 1 else "docker"


def before_all(context):
    context.engine_name = os.environ.get("DMS_ENGINE") or _engine_from_tags(context)
    if context.engine_name not in ENGINES:
        raise RuntimeError("DMS_ENGINE must be docker or podman, not %r" % context.engine_name)
    var, default = DEFAULT_HOSTS[context.engine_name]
    context.engine_host = os.environ.get(var, default)
    context.engine = Engine(context.engine_name, context.engine_host)
    if not context.engine.ping():
        raise RuntimeError("%s does not answer at %s (start it: scripts/engines.sh start all)"
                           % (context.engine_name, context.engine_host))

    host_bin = os.path.join(_binary_dir(), "bin", "dms-host")
    if not os.access(host_bin, os.X_OK):
        raise RuntimeError("no dms-host at %s (build it, or set DMS_BINARY_DIR)" % host_bin)

    context.run_dir = tempfile.mkdtemp(prefix="dms-features-")
    context.state_dir = os.path.join(context.run_dir, "state")
    context.ctl_root = os.path.join(context.run_dir, "ctl")
    os.makedirs(context.state_dir)
    os.makedirs(context.ctl_root)
    # Bind mounts of the control directories must be usable from the
    # container whatever user the engine maps root to.
    os.chmod(context.run_dir, 0o755)

    context.bus = PrivateBus().start()
    context.host = HostProcess(host_bin, context.bus.address,
                               os.path.join(context.run_dir, "dms-host.log"))
    context.host.start()
    waiting.add_liveness_check(context.host.check_alive)
    context.conn = client.connect(context.bus.address)
    context.host.wait_for_name(context.conn)
    context.manager = client.Manager(context.conn)
    context.signals = client.SignalRecorder(context.conn)
    context.run_problems = []
    print("features: %s at %s, dms-host %s, run directory %s"
          % (context.engine_name, context.engine_host, host_bin, context.run_dir))


def _engine_tags(tags):
    return {t for t in tags if t in ENGINES}


def before_scenario(context, scenario):
    wanted = _engine_tags(scenario.effective_tags)
    if wanted and context.engine_name not in wanted:
        scenario.skip("not tagged for %s" % context.engine_name)
        return
    if not context.host.alive():
        # A crash in an earlier scenario is reported at the end of the run;
        # a new dms-host keeps the remaining scenarios meaningful.
        context.run_problems.append("dms-host exited with status %s before scenario %r"
                                    % (context.host.proc.returncode, scenario.name))
        context.host.start()
        context.host.wait_for_name(context.conn)
        # Proxies are bound to the unique name of the dms-host they were
        # made for: the manager must be made again for the new one.
        context.manager = client.Manager(context.conn)
    context.host_log_offset = context.host.log_size()
    context.executors = []          # client.Executor, in creation order
    context.named_executors = {}    # name in the scenario -> client.Executor
    context.jobs = {}
    context.extra_conns = []
    context.streams = []
    context.to_close = []           # sockets and such a step keeps open
    context.foreign = {"containers": [], "networks": [], "volumes": []}
    context.last_call = None
    context.pending = {}


def _teardown_scenario(context):
    problems = []
    for stream in getattr(context, "streams", []):
        stream.close()
    for thing in getattr(context, "to_close", []):
        thing.close()
    for conn in getattr(context, "extra_conns", []):
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - already closed by the scenario
            pass
    host_alive = context.host.alive()
    for ex in reversed(getattr(context, "executors", [])):
        if host_alive:
            call = ex.cleanup()
            if call.error is not None and ex.engine_reachable:
                problems.append("Cleanup of executor %s: %s" % (ex.executor_id, call.describe()))
            call = context.manager.remove_executor(ex.executor_id)
            if call.error is not None and call.error_name != "org.dms.Error.NotFound":
                problems.append("RemoveExecutor(%s): %s" % (ex.executor_id, call.describe()))
        try:
            left = context.engine.sweep(ex.executor_id)
        except Exception as exc:  # noqa: BLE001 - report, keep tearing down
            left = ["(sweep failed: %s)" % exc]
        if left and ex.engine_reachable:
            print("WARNING: after Cleanup, executor %s still had on the engine: %s"
                  % (ex.executor_id, ", ".join(left)))
    foreign = getattr(context, "foreign", {})
    for ref in foreign.get("containers", []):
        context.engine.remove_container(ref)
    for ref in foreign.get("networks", []):
        context.engine.remove_network(ref)
    for ref in foreign.get("volumes", []):
        context.engine.remove_volume(ref)
    for ex in getattr(context, "executors", []):
        shutil.rmtree(os.path.join(context.ctl_root, ex.executor_id), ignore_errors=True)
    return problems


def _print_failure(context, scenario):
    """The failing step and its message: compact formatters (progress, as
    in scripts/test.sh) show only the scenario's name otherwise."""
    if set(context.config.format or []) & {"plain", "pretty"}:
        return
    for step in scenario.all_steps:
        if step.status == "failed":
            print("\nFAILED %s:%d %s %s\n  %s" % (step.location.filename, step.location.line,
                                               step.keyword, step.name,
                                               (step.error_message or "").strip()
                                               .replace("\n", "\n  ")))


def after_scenario(context, scenario):
    if scenario.status == "skipped" and not getattr(context, "executors", None):
        return
    try:
        problems = _teardown_scenario(context)
    except Exception:  # noqa: BLE001
        problems = ["teardown raised:\n" + traceback.format_exc()]
    if scenario.status == "failed":
        _print_failure(context, scenario)
    if scenario.status == "failed" or problems:
        print("---- dms-host log during %r ----\n%s\n---- end of log ----"
              % (scenario.name, context.host.log_since(context.host_log_offset)))
    if problems:
        raise AssertionError("teardown of %r: %s" % (scenario.name, "; ".join(problems)))


def after_all(context):
    if not hasattr(context, "bus"):
        return
    problems = list(getattr(context, "run_problems", []))
    if hasattr(context, "signals"):
        context.signals.close()
    if hasattr(context, "conn"):
        context.conn.close()
    if hasattr(context, "host"):
        waiting.remove_liveness_check(context.host.check_alive)
        was_alive = context.host.alive()
        status = context.host.stop()
        if not was_alive:
            problems.append("dms-host had exited with status %s" % status)
        elif status not in (0, None):
            problems.append("dms-host exited with status %s on SIGTERM" % status)
        reports = context.host.sanitizer_reports()
        if reports:
            problems.append("sanitizer reports in the dms-host log: " + "; ".join(reports[:10]))
    context.bus.stop()
    keep = os.environ.get("DMS_FEATURES_KEEP") == "1" or problems
    if keep:
        print("features: run directory kept: %s" % context.run_dir)
    else:
        shutil.rmtree(context.run_dir, ignore_errors=True)
    if problems:
        raise AssertionError("; ".join(problems))
