"""Steps that look at the container engine from outside the executor
(its HTTP API over the unix socket): containers and their labels, objects
left behind, and the foreign objects Cleanup must not touch."""
import os
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from behave import register_type, step  # noqa: E402

from dmstest import scenario as sc  # noqa: E402
from dmstest.engine import LABEL_EXECUTION, LABEL_EXECUTOR, LABEL_JOB  # noqa: E402

register_type(**sc.STEP_TYPES)


def _state(info):
    state = info.get("State") or {}
    return "%s (running=%s, exit %s)" % (state.get("Status"), state.get("Running"),
                                         state.get("ExitCode"))


@step('the container of "{name:Q}" is running')
def container_running(context, name):
    info = sc.the_container_of(context, sc.job_named(context, name))
    assert info["State"]["Running"] is True, "container %s is %s" % (info["Id"][:12], _state(info))


@step('the container of "{name:Q}" is not running')
def container_not_running(context, name):
    # No polling: Cancel returns only once the container stopped.
    for c in sc.containers_of(context, sc.job_named(context, name)):
        info = context.engine.inspect_container(c["Id"])
        if info is not None:
            assert info["State"]["Running"] is False, \
                "container %s is still %s" % (info["Id"][:12], _state(info))


@step('no container of "{name:Q}" is running on the engine')
def no_container_running(context, name):
    container_not_running(context, name)


@step('the container of "{name:Q}" is labelled with the executor id, the job id and the '
      'execution id')
def container_labels(context, name):
    job = sc.job_named(context, name)
    info = sc.the_container_of(context, job)
    labels = info["Config"].get("Labels") or {}
    want = {LABEL_EXECUTOR: job.executor.executor_id, LABEL_JOB: job.job_id,
            LABEL_EXECUTION: job.execution_id}
    got = {k: labels.get(k) for k in want}
    assert got == want, "labels of container %s: want %s, got %s" % (info["Id"][:12], want, labels)


@step('the engine has exactly one container of "{name:Q}"')
def exactly_one_container(context, name):
    sc.the_container_of(context, sc.job_named(context, name))


@step("no container of this executor exists on the engine")
def no_container_of_executor(context):
    found = context.engine.containers("%s=%s" % (LABEL_EXECUTOR, context.executor.executor_id))
    assert not found, "containers left behind: %s" % [
        (c.get("Names"), c.get("State")) for c in found]


# --- objects for Cleanup -------------------------------------------------------

def _labels_for(executor_id):
    return {LABEL_EXECUTOR: executor_id}


@step("the engine has a network, a named volume and an anonymous volume labelled for this "
      "executor")
def own_objects(context):
    ex_id = context.executor.executor_id
    labels = _labels_for(ex_id)
    net_name = "%s-net" % ex_id
    context.engine.create_network(net_name, labels)
    named = context.engine.create_volume(labels, name="%s-vol" % ex_id)
    anonymous = context.engine.create_volume(labels)
    context.foreign["networks"].append(net_name)
    context.foreign["volumes"] += [named, anonymous]
    context.own_objects = {"network": net_name, "volumes": [named, anonymous]}


@step('the engine has a network and a named volume labelled for executor "{ex:Q}"')
def other_objects(context, ex):
    ex_id = sc.executor_named(context, ex).executor_id
    labels = _labels_for(ex_id)
    net_name = "%s-net" % ex_id
    context.engine.create_network(net_name, labels)
    vol = context.engine.create_volume(labels, name="%s-vol" % ex_id)
    context.foreign["networks"].append(net_name)
    context.foreign["volumes"].append(vol)
    context.other_objects = getattr(context, "other_objects", {})
    context.other_objects[ex] = {"network": net_name, "volume": vol}


@step("the engine has a running container without labels")
def unlabelled_container(context):
    name = "feat-unlabelled-" + uuid.uuid4().hex[:10]
    cid = context.engine.create_container(name, ["sleep", "600"])
    context.foreign["containers"].append(cid)
    context.engine.start_container(cid)
    context.unlabelled = cid


@step("the engine has no container, network or volume labelled for this executor")
def nothing_labelled(context):
    ex_id = context.executor.executor_id
    containers, networks, volumes = context.engine.objects_of(ex_id)
    left = ["container %s %s" % (c.get("Names"), c.get("State")) for c in containers]
    left += ["network %s" % n["Name"] for n in networks]
    left += ["volume %s" % v["Name"] for v in volumes]
    own = getattr(context, "own_objects", None)
    if own:
        # By name too, in case a label filter of the engine misbehaved.
        if context.engine.network_exists(own["network"]):
            left.append("network %s (by name)" % own["network"])
        left += ["volume %s (by name)" % v for v in own["volumes"]
                 if context.engine.volume_exists(v)]
    assert not left, "still on the engine after Cleanup: %s" % ", ".join(sorted(set(left)))


@step('the network and the volume of executor "{ex:Q}" still exist')
def other_objects_survive(context, ex):
    objs = context.other_objects[ex]
    assert context.engine.network_exists(objs["network"]), \
        "network %s of executor %s was removed" % (objs["network"], ex)
    assert context.engine.volume_exists(objs["volume"]), \
        "volume %s of executor %s was removed" % (objs["volume"], ex)


@step("the container without labels is running")
def unlabelled_survives(context):
    info = context.engine.inspect_container(context.unlabelled)
    assert info is not None, "the unlabelled container %s was removed" % context.unlabelled[:12]
    assert info["State"]["Running"] is True, \
        "the unlabelled container is %s" % _state(info)
