"""Jobs as the features describe them: a request document plus, for jobs
that must pause, a host directory bind-mounted at /ctl.

The control directory is how a scenario sequences a job without sleeping:
the job touches /ctl/ready when it reached its gate (everything before it
has been written), then polls for /ctl/go, which the step creates. The
polling happens inside the container; the steps wait for ready with a
deadline.
"""
import json
import os

IMAGE = "dms-test/busybox:latest"
CTL = "/ctl"
# The gate: report arrival, then wait for the step's go file.
GATE = ("touch %s/ready; while [ ! -e %s/go ]; do usleep 20000; done" % (CTL, CTL))
# A loop that never ends by itself (Cancel and deadlines end it).
LOOP_FOREVER = "touch %s/ready; while :; do usleep 100000; done" % CTL


class Job:
    def __init__(self, name, executor, engine_type, script, ctl_root=None):
        self.name = name
        self.executor = executor
        self.execution_id = name
        self.job_id = "job-" + name
        self.ctl_dir = None
        params = {"image": IMAGE, "entrypoint": ["/bin/sh", "-c"], "cmd": [script]}
        self.request = {
            "job_id": self.job_id,
            "execution_id": self.execution_id,
            "engine_spec": {"type": engine_type, "params": params},
        }
        if ctl_root is not None:
            self.ctl_dir = os.path.join(ctl_root, executor.executor_id, name)
            os.makedirs(self.ctl_dir, exist_ok=True)
            self.request["inputs"] = [
                {"type": "bind", "source": self.ctl_dir, "target": CTL, "read_only": False}]
        self.results = []      # parsed result documents, in the order obtained
        self.raw_results = []  # the same, as the JSON text dms-host sent

    @property
    def params(self):
        return self.request["engine_spec"]["params"]

    def request_json(self):
        return json.dumps(self.request)

    def reached_gate(self):
        return self.ctl_dir is not None and os.path.exists(os.path.join(self.ctl_dir, "ready"))

    def let_go(self):
        if self.ctl_dir is None:
            raise AssertionError("job %s has no gate to open" % self.name)
        with open(os.path.join(self.ctl_dir, "go"), "w"):
            pass

    def add_result(self, text):
        self.raw_results.append(str(text))
        self.results.append(json.loads(str(text)))
        return self.results[-1]

    @property
    def result(self):
        if not self.results:
            raise AssertionError("no result of %s was obtained yet" % self.name)
        return self.results[-1]


def apply_change(doc, change):
    """Applies "remove a.b.c" or "set a.b.c to <json>" to a request dict."""
    words = change.split(None, 2)
    if len(words) < 2 or words[0] not in ("remove", "set"):
        raise ValueError("unknown request change %r" % change)
    if words[0] == "remove":
        path, value = words[1], None
    else:
        path, rest = words[1], words[2] if len(words) > 2 else ""
        if not rest.startswith("to "):
            raise ValueError("expected 'set PATH to JSON' in %r" % change)
        value = json.loads(rest[3:])
    keys = path.split(".")
    node = doc
    for key in keys[:-1]:
        node = node[key]
    if words[0] == "remove":
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return doc
