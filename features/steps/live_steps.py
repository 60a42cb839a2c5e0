"""Steps about the live operations on a running job (ABI 1.2): Signal,
Pause and Resume, Stats and StatsStream, Inspect, and the `usage` of a
result."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from behave import register_type, step  # noqa: E402

from dmstest import jobs, waiting  # noqa: E402
from dmstest import scenario as sc  # noqa: E402
from dmstest.logs import LogStream  # noqa: E402

register_type(**sc.STEP_TYPES)

# A job that writes a counter into its control directory every 50 ms (the
# rename makes each value appear whole).
COUNTER = ("touch %s/ready; i=0; while :; do i=$((i+1)); echo $i > %s/count.tmp; "
           "mv %s/count.tmp %s/count; usleep 50000; done" % ((jobs.CTL,) * 4))
# 64 MiB held by busybox awk (a string of that length) for 2 s.
ALLOC_64M = "awk 'BEGIN{s=sprintf(\"%67108864s\",\"\"); system(\"sleep 2\"); print length(s)}'"
# Spins until the shell itself has used 2 s of CPU (utime + stime of
# /proc/$$/stat, in 1/100 s), then exits: a known cost whatever the load.
BUSY_2S = ("while :; do i=0; while [ $i -lt 200 ]; do i=$((i+1)); done; "
           "read -r l < /proc/$$/stat; set -- ${l#*) }; "
           "[ $(( ${12} + ${13} )) -ge 200 ] && break; done; echo spun")


@step('a job "{name:Q}" that counts into its control directory')
def job_counter(context, name):
    sc.add_job(context, name, COUNTER, gated=True)


@step('a job "{name:Q}" that allocates 64 MiB for 2 seconds')
def job_alloc(context, name):
    sc.add_job(context, name, ALLOC_64M)


@step('a job "{name:Q}" that spins for 2 seconds of CPU time')
def job_busy(context, name):
    sc.add_job(context, name, BUSY_2S)


@step('a job "{name:Q}" that publishes the container port {port:d}, then loops until it is '
      'stopped')
def job_with_port(context, name, port):
    job = sc.add_job(context, name, jobs.LOOP_FOREVER, gated=True)
    job.params["ports"] = [{"container_port": port}]


# --- the calls --------------------------------------------------------------

@step('I send the signal "{sig:Q}" to "{name:Q}"')
def send_signal(context, sig, name):
    job = sc.job_named(context, name)
    sc.record(context, job.executor.signal(job.execution_id, sig))


@step('I send the signal "{sig:Q}" to the execution id "{execution_id:Q}"')
def send_signal_id(context, sig, execution_id):
    sc.record(context, context.executor.signal(execution_id, sig))


@step('I pause "{name:Q}"')
@step('I pause "{name:Q}" again')
def pause(context, name):
    job = sc.job_named(context, name)
    sc.record(context, job.executor.pause(job.execution_id))


@step('I resume "{name:Q}"')
def resume(context, name):
    job = sc.job_named(context, name)
    sc.record(context, job.executor.resume(job.execution_id))


@step('I pause the execution id "{execution_id:Q}"')
def pause_id(context, execution_id):
    sc.record(context, context.executor.pause(execution_id))


@step('I ask for the stats of "{name:Q}"')
def ask_stats(context, name):
    job = sc.job_named(context, name)
    call = sc.record(context, job.executor.stats(job.execution_id))
    if call.error is None:
        context.sample = json.loads(str(call.value))


@step('I ask for the stats of the execution id "{execution_id:Q}"')
def ask_stats_id(context, execution_id):
    sc.record(context, context.executor.stats(execution_id))


@step('I inspect "{name:Q}"')
def inspect(context, name):
    job = sc.job_named(context, name)
    call = sc.record(context, job.executor.inspect(job.execution_id))
    if call.error is None:
        context.view = json.loads(str(call.value))


@step('I inspect the execution id "{execution_id:Q}"')
def inspect_id(context, execution_id):
    sc.record(context, context.executor.inspect(execution_id))


@step('I open a stats stream of "{name:Q}"')
def open_stats_stream(context, name):
    job = sc.job_named(context, name)
    call = sc.record(context, job.executor.stats_stream(job.execution_id))
    stream = LogStream(call.expect_ok().take(), framed=False)
    context.streams.append(stream)
    context.stats_stream = stream


# --- the counter ------------------------------------------------------------

def _count(job):
    try:
        with open(os.path.join(job.ctl_dir, "count")) as f:
            return int(f.read().strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


@step('the counter of "{name:Q}" advances')
def counter_advances(context, name):
    job = sc.job_named(context, name)
    start = _count(job)
    waiting.poll_until(lambda: _count(job) > start + 2, 20,
                       "the counter of %s to advance past %d" % (name, start))


@step('the counter of "{name:Q}" stays still for {seconds:g} seconds')
def counter_still(context, name, seconds):
    # An observation over a window, not a wait for an event: the counter
    # is read throughout it and must not move once.
    job = sc.job_named(context, name)
    start = _count(job)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        now = _count(job)
        assert now == start, "the counter of %s moved from %d to %d while paused" \
            % (name, start, now)
        waiting.iterate(0.1)


# --- samples, views, usage ----------------------------------------------------

def _number(doc, key):
    v = doc.get(key)
    assert isinstance(v, (int, float)) and not isinstance(v, bool), \
        "expected a number %s in %s" % (key, sc.dump(doc))
    return v


@step('the sample of "{name:Q}" shows a memory usage above 0')
def sample_memory(context, name):
    s = context.sample
    assert s.get("execution_id") == sc.job_named(context, name).execution_id, sc.dump(s)
    assert _number(s, "memory_usage_bytes") > 0, sc.dump(s)
    assert _number(s, "memory_limit_bytes") >= _number(s, "memory_usage_bytes"), sc.dump(s)
    assert _number(s, "cpu_time_ns") > 0, sc.dump(s)
    assert _number(s, "pids") >= 1, sc.dump(s)
    for key in ("cpu_percent", "memory_percent", "net_rx_bytes", "net_tx_bytes",
                "block_read_bytes", "block_write_bytes", "memory_peak_bytes"):
        assert _number(s, key) >= 0, sc.dump(s)


@step('the stats stream gives {count:d} samples of "{name:Q}"')
def stream_samples(context, count, name):
    stream = context.stats_stream
    job = sc.job_named(context, name)

    def lines():
        return [line for line in bytes(stream.stdout).split(b"\n") if line]

    stream.read_until(lambda: len(lines()) >= count, 30, "%d stats lines" % count)
    for line in lines()[:count]:
        doc = json.loads(line)
        assert doc.get("execution_id") == job.execution_id, line
        assert _number(doc, "memory_usage_bytes") > 0, line


@step("the stats stream ends within {seconds:d} seconds")
def stream_ends(context, seconds):
    context.stats_stream.read_to_eof(seconds)


@step('the result of "{name:Q}" has a usage with a peak memory of at least {mib:d} MiB')
def usage_peak(context, name, mib):
    u = sc.job_named(context, name).result.get("usage") or {}
    assert _number(u, "memory_peak_bytes") >= mib * 1024 * 1024, \
        "expected memory_peak_bytes >= %d MiB in %s" % (mib, sc.dump(u))


@step('the result of "{name:Q}" has a usage with at least {seconds:g} seconds of CPU time')
def usage_cpu(context, name, seconds):
    u = sc.job_named(context, name).result.get("usage") or {}
    assert _number(u, "cpu_time_ns") >= seconds * 1e9, \
        "expected cpu_time_ns >= %g s in %s" % (seconds, sc.dump(u))


@step('the result of "{name:Q}" has a complete usage')
def usage_complete(context, name):
    r = sc.job_named(context, name).result
    u = r.get("usage")
    assert isinstance(u, dict), "no usage in %s" % sc.dump(r)
    for key in ("cpu_time_ns", "memory_peak_bytes", "block_read_bytes", "block_write_bytes",
                "net_rx_bytes", "net_tx_bytes", "wall_time_ns", "samples"):
        assert _number(u, key) >= 0, sc.dump(u)
    assert _number(u, "wall_time_ns") > 0, sc.dump(u)
    assert _number(u, "samples") >= 1, sc.dump(u)
    assert isinstance(u.get("sampled_at"), str), sc.dump(u)


@step('the view of "{name:Q}" says "{state:Q}" with its container and image')
def view_running(context, name, state):
    v = context.view
    job = sc.job_named(context, name)
    info = sc.the_container_of(context, job)
    assert v.get("execution_id") == job.execution_id, sc.dump(v)
    assert v.get("state") == state, sc.dump(v)
    assert v.get("container_id") == info["Id"], "container %s, engine %s" % (
        v.get("container_id"), info["Id"])
    assert v.get("image_id") == info["Image"], "image_id %s, engine %s" % (
        v.get("image_id"), info["Image"])
    assert str(v.get("image_id")).startswith("sha256:"), sc.dump(v)
    assert isinstance(v.get("started_at"), str), sc.dump(v)
    assert v.get("finished_at") is None and v.get("exit_code") is None, sc.dump(v)
    nets = info.get("NetworkSettings", {}).get("Networks") or {}
    assert set(v.get("networks", {})) == set(nets), "networks %s, engine %s" % (
        sorted(v.get("networks", {})), sorted(nets))
    for net, doc in nets.items():
        want = doc.get("IPAddress") or None
        assert v["networks"][net].get("ip_address") == want, "%s: %s, engine %s" % (
            net, v["networks"][net], want)


@step('the view of "{name:Q}" maps the container port {port:d} to the host port the engine '
      'picked')
def view_port(context, name, port):
    v = context.view
    info = sc.the_container_of(context, sc.job_named(context, name))
    key = "%d/tcp" % port
    bound = (info.get("NetworkSettings", {}).get("Ports") or {}).get(key) or []
    assert bound and bound[0].get("HostPort") not in (None, "", "0"), \
        "the engine assigned no host port to %s: %s" % (key, bound)
    want = ["%s:%s" % (b.get("HostIp", ""), b["HostPort"]) for b in bound]
    assert v.get("ports", {}).get(key) == want, "ports %s, engine %s" % (v.get("ports"), want)


@step('the view of "{name:Q}" says "{state:Q}" with exit code {code:d}')
def view_finished(context, name, state, code):
    v = context.view
    r = sc.job_named(context, name).result
    assert v.get("state") == state, sc.dump(v)
    assert v.get("exit_code") == code, sc.dump(v)
    assert v.get("finished_at") == r.get("finished_at"), "%s vs result %s" % (
        v.get("finished_at"), r.get("finished_at"))
