"""The D-Bus client the steps drive dms-host with (docs/dbus.md).

Only the public surface: org.dms.ExecutorManager1 on /org/dms/Executor and
org.dms.Executor1 on each executor's object, plus the executor signals.
Calls are either blocking (with a D-Bus timeout) or asynchronous (a
reply/error handler fills a Call that the steps wait on by running the GLib
main loop). Every connection uses the GLib main loop, so signals and async
replies are dispatched only while a step waits.
"""
import json
import time

import dbus
import dbus.bus
from dbus.mainloop.glib import DBusGMainLoop

from . import waiting

BUS_NAME = "org.dms.Executor"
MANAGER_PATH = "/org/dms/Executor"
MANAGER_IFACE = "org.dms.ExecutorManager1"
EXECUTOR_IFACE = "org.dms.Executor1"
ERROR_PREFIX = "org.dms.Error."

_MAINLOOP = DBusGMainLoop(set_as_default=True)


def connect(address):
    """A new private connection to the bus at address."""
    return dbus.bus.BusConnection(address, mainloop=_MAINLOOP)


def _plain(value):
    """dbus-python types to plain Python ones."""
    if isinstance(value, dbus.Boolean):
        return bool(value)
    if isinstance(value, dbus.String):
        return str(value)
    if isinstance(value, dbus.ObjectPath):
        return str(value)
    if isinstance(value, dbus.Array):
        return [_plain(v) for v in value]
    return value


class Call:
    """The outcome of one method call: a value or a D-Bus error, and when
    it was sent and answered."""

    def __init__(self, method, args):
        self.method = method
        self.args = args
        self.value = None
        self.error = None
        self.sent_at = time.monotonic()
        self.answered_at = None

    @property
    def done(self):
        return self.answered_at is not None

    @property
    def duration(self):
        end = self.answered_at if self.answered_at is not None else time.monotonic()
        return end - self.sent_at

    @property
    def error_name(self):
        return self.error.get_dbus_name() if self.error is not None else None

    @property
    def error_message(self):
        return self.error.get_dbus_message() if self.error is not None else None

    def _reply(self, *values):
        if len(values) == 1:
            self.value = values[0]
        elif values:
            self.value = values
        self.answered_at = time.monotonic()

    def _fail(self, exc):
        self.error = exc
        self.answered_at = time.monotonic()

    def describe(self):
        if not self.done:
            return "%s still pending after %.1fs" % (self.method, self.duration)
        if self.error is not None:
            return "%s failed after %.2fs: %s: %s" % (self.method, self.duration,
                                                     self.error_name, self.error_message)
        shown = repr(self.value)
        if len(shown) > 300:
            shown = shown[:300] + "..."
        return "%s returned after %.2fs: %s" % (self.method, self.duration, shown)

    def expect_ok(self):
        if self.error is not None:
            raise AssertionError("expected %s to succeed; %s" % (self.method, self.describe()))
        return self.value

    def wait(self, timeout):
        """Runs the main loop until this (async) call is answered."""
        waiting.run_until(lambda: self.done, timeout, "the reply to %s" % self.method)
        return self


class _Object:
    def __init__(self, conn, path, iface):
        self.conn = conn
        self.path = str(path)
        self.iface = iface
        self._proxy = conn.get_object(BUS_NAME, self.path, introspect=False)

    def call(self, method, *args, timeout=120):
        """Blocking call; returns a Call holding the value or the error."""
        call = Call(method, args)
        try:
            value = self._proxy.get_dbus_method(method, self.iface)(*args, timeout=timeout)
            call._reply(value)
        except dbus.DBusException as exc:
            call._fail(exc)
        return call

    def call_async(self, method, *args, timeout=300):
        """Sends the call and returns its Call at once; wait on Call.wait()."""
        call = Call(method, args)
        self._proxy.get_dbus_method(method, self.iface)(
            *args, timeout=timeout, reply_handler=call._reply, error_handler=call._fail)
        return call

    def ping(self, timeout=30):
        """A round trip to dms-host through org.freedesktop.DBus.Peer: when
        it returns, every call this connection sent before was dispatched."""
        self._proxy.get_dbus_method("Ping", "org.freedesktop.DBus.Peer")(timeout=timeout)


class Manager(_Object):
    def __init__(self, conn):
        super().__init__(conn, MANAGER_PATH, MANAGER_IFACE)

    def new_executor(self, executor_id, config_yaml):
        return self.call("NewExecutor", executor_id, config_yaml, timeout=60)

    def remove_executor(self, executor_id):
        return self.call("RemoveExecutor", executor_id, timeout=120)

    def list_executors(self):
        return self.call("ListExecutors", timeout=30)


class Executor(_Object):
    """One executor object; `executor_id` is the id given to NewExecutor."""

    def __init__(self, conn, executor_id, path, config_yaml):
        super().__init__(conn, path, EXECUTOR_IFACE)
        self.executor_id = executor_id
        self.config_yaml = config_yaml
        self.engine_reachable = True  # False: teardown expects Cleanup to fail

    def on(self, conn):
        """The same executor object seen through another connection."""
        other = Executor(conn, self.executor_id, self.path, self.config_yaml)
        other.engine_reachable = self.engine_reachable
        return other

    def is_installed(self):
        return self.call("IsInstalled", timeout=60)

    def start(self, request):
        return self.call("Start", _as_text(request), timeout=180)

    def wait(self, execution_id, timeout=180):
        return self.call("Wait", execution_id, timeout=timeout)

    def wait_async(self, execution_id, timeout=300):
        return self.call_async("Wait", execution_id, timeout=timeout)

    def cancel(self, execution_id):
        return self.call("Cancel", execution_id, timeout=120)

    def cancel_async(self, execution_id):
        return self.call_async("Cancel", execution_id, timeout=120)

    def get_log_stream(self, log_request):
        return self.call("GetLogStream", _as_text(log_request), timeout=60)

    def run(self, request, timeout=300):
        return self.call("Run", _as_text(request), timeout=timeout)

    def run_async(self, request, timeout=300):
        return self.call_async("Run", _as_text(request), timeout=timeout)

    def cleanup(self):
        return self.call("Cleanup", timeout=180)

    # live operations (ABI 1.2)
    def signal(self, execution_id, sig):
        return self.call("Signal", execution_id, sig, timeout=60)

    def pause(self, execution_id):
        return self.call("Pause", execution_id, timeout=60)

    def resume(self, execution_id):
        return self.call("Resume", execution_id, timeout=60)

    def stats(self, execution_id):
        return self.call("Stats", execution_id, timeout=60)

    def stats_stream(self, execution_id):
        return self.call("StatsStream", execution_id, timeout=60)

    def inspect(self, execution_id):
        return self.call("Inspect", execution_id, timeout=60)


def _as_text(doc):
    return doc if isinstance(doc, str) else json.dumps(doc)


class SignalRecorder:
    """Records every org.dms.Executor1 signal seen on one connection, in
    arrival order: (object path, member, execution id, state or result)."""

    def __init__(self, conn):
        self.events = []
        self._match = conn.add_signal_receiver(
            self._on_signal, dbus_interface=EXECUTOR_IFACE, path_keyword="path",
            member_keyword="member")

    def _on_signal(self, *args, path=None, member=None):
        args = [str(a) for a in args]
        execution_id = args[0] if args else None
        payload = args[1] if len(args) > 1 else None
        self.events.append((str(path), str(member), execution_id, payload))

    def states(self, path, execution_id):
        return [e[3] for e in self.events
                if e[0] == path and e[1] == "ExecutionStateChanged" and e[2] == execution_id]

    def finished(self, path, execution_id):
        """The result JSON texts of ExecutionFinished for this execution."""
        return [e[3] for e in self.events
                if e[0] == path and e[1] == "ExecutionFinished" and e[2] == execution_id]

    def close(self):
        self._match.remove()
