"""The container engine seen from outside the executor.

Steps that check what the executor did to the engine (labels on a
container, objects left behind, foreign objects surviving Cleanup) must not
ask the executor itself: they talk to the engine's Docker-compatible HTTP
API over its unix socket. Docker and Podman's compat API both answer the
unversioned paths used here.
"""
import http.client
import json
import socket
import urllib.parse

from . import waiting

LABEL_EXECUTOR = "org.dms.executor"
LABEL_JOB = "org.dms.job"
LABEL_EXECUTION = "org.dms.execution"


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


class EngineError(AssertionError):
    pass


class Engine:
    """A thin client of the engine API; every call has a timeout."""

    def __init__(self, name, host_url, timeout=30):
        if not host_url.startswith("unix://"):
            raise ValueError("engine host must be unix:///path, got %r" % host_url)
        self.name = name
        self.url = host_url
        self.socket_path = host_url[len("unix://"):]
        self.timeout = timeout

    # --- transport -------------------------------------------------------

    def request(self, method, path, query=None, body=None, ok=(200, 201, 204)):
        if query:
            path += "?" + urllib.parse.urlencode(query)
        conn = _UnixHTTPConnection(self.socket_path, self.timeout)
        try:
            headers = {}
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        if ok is not None and resp.status not in ok:
            raise EngineError("%s %s on %s: HTTP %d %s" % (
                method, path, self.name, resp.status, raw[:500].decode(errors="replace")))
        if not raw:
            return resp.status, None
        try:
            return resp.status, json.loads(raw)
        except ValueError:
            return resp.status, raw.decode(errors="replace")

    def ping(self):
        try:
            status, body = self.request("GET", "/_ping", ok=None)
        except OSError:
            return False
        return status == 200

    @staticmethod
    def _label_filter(labels):
        return {"filters": json.dumps({"label": list(labels)})}

    # --- containers -------------------------------------------------------

    def containers(self, *labels):
        """All containers (running or not) carrying every label ("k=v")."""
        query = {"all": "1"}
        if labels:
            query.update(self._label_filter(labels))
        return self.request("GET", "/containers/json", query)[1] or []

    def inspect_container(self, ref):
        """The container's inspect document, or None when it does not exist
        (Podman answers 500 "no such container" for one removed meanwhile)."""
        status, body = self.request("GET", "/containers/%s/json" % urllib.parse.quote(ref),
                                    ok=None)
        if status == 200:
            return body
        if status == 404 or "no such container" in json.dumps(body):
            return None
        raise EngineError("GET /containers/%s/json on %s: HTTP %d %s"
                          % (ref, self.name, status, json.dumps(body)[:500]))

    def create_container(self, name, cmd, labels=None):
        body = {"Image": "dms-test/busybox:latest", "Cmd": cmd, "Labels": labels or {}}
        _, out = self.request("POST", "/containers/create", {"name": name}, body)
        return out["Id"]

    def start_container(self, ref):
        self.request("POST", "/containers/%s/start" % urllib.parse.quote(ref), ok=(204, 304))

    def remove_container(self, ref):
        self.request("DELETE", "/containers/%s" % urllib.parse.quote(ref),
                     {"force": "1", "v": "1"}, ok=(200, 204, 404, 409))

    # --- networks and volumes ---------------------------------------------

    def networks(self, *labels):
        query = self._label_filter(labels) if labels else None
        return self.request("GET", "/networks", query)[1] or []

    def network_exists(self, ref):
        status, _ = self.request("GET", "/networks/%s" % urllib.parse.quote(ref),
                                 ok=(200, 404))
        return status == 200

    def create_network(self, name, labels):
        _, out = self.request("POST", "/networks/create", body={"Name": name, "Labels": labels})
        return out["Id"]

    def remove_network(self, ref):
        self.request("DELETE", "/networks/%s" % urllib.parse.quote(ref), ok=(200, 204, 404))

    def volumes(self, *labels):
        query = self._label_filter(labels) if labels else None
        body = self.request("GET", "/volumes", query)[1] or {}
        return body.get("Volumes") or []

    def volume_exists(self, name):
        status, _ = self.request("GET", "/volumes/%s" % urllib.parse.quote(name), ok=(200, 404))
        return status == 200

    def create_volume(self, labels, name=None):
        body = {"Labels": labels}
        if name:
            body["Name"] = name
        _, out = self.request("POST", "/volumes/create", body=body)
        return out["Name"]

    def remove_volume(self, name):
        self.request("DELETE", "/volumes/%s" % urllib.parse.quote(name), {"force": "1"},
                     ok=(200, 204, 404))

    # --- everything of one executor id -------------------------------------

    def objects_of(self, executor_id):
        """(containers, networks, volumes) labelled org.dms.executor=<id>."""
        label = "%s=%s" % (LABEL_EXECUTOR, executor_id)
        return self.containers(label), self.networks(label), self.volumes(label)

    def sweep(self, executor_id):
        """Removes every object labelled with executor_id; returns a
        description of what had to be removed (empty when nothing).
        Containers the engine is already removing are waited for, not
        reported: someone (the executor's harvest) removes them."""
        containers, networks, volumes = self.objects_of(executor_id)
        found = []
        for c in containers:
            if c.get("State") == "removing":
                waiting.poll_until(lambda: self.inspect_container(c["Id"]) is None, 30,
                                   "the engine to finish removing %s" % c["Id"][:12])
                continue
            found.append("container %s (%s)" % (c["Id"][:12], c.get("State")))
            self.remove_container(c["Id"])
        for n in networks:
            found.append("network %s" % n["Name"])
            self.remove_network(n["Id"])
        for v in volumes:
            found.append("volume %s" % v["Name"])
            self.remove_volume(v["Name"])
        return found
