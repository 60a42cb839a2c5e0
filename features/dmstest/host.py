"""A private session bus and the dms-host under test, owned by pid.

The features never touch a shared bus or a dms-host someone else started:
environment.py starts a dbus-daemon of its own and a dms-host on it for the
run, and stops both by the pids it recorded (SIGTERM, a deadline, then
SIGKILL). dms-host's output goes to a log file so a failing scenario can
show what the daemon said while it ran.
"""
import os
import re
import signal
import subprocess
import time

from . import waiting

BUS_NAME = "org.dms.Executor"

# What sanitizer builds print when they find something.
_SANITIZER_RE = re.compile(
    r"ERROR: (AddressSanitizer|LeakSanitizer|ThreadSanitizer|UndefinedBehaviorSanitizer)"
    r"|runtime error: ")


def _pid_gone(pid):
    """True when pid no longer runs (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def _stop_pid(pid, term_deadline):
    """SIGTERM, wait up to term_deadline seconds, then SIGKILL.
    Returns True when SIGKILL was needed."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    try:
        waiting.poll_until(lambda: _pid_gone(pid), term_deadline, "pid %d to exit" % pid)
        return False
    except waiting.WaitTimeout:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        waiting.poll_until(lambda: _pid_gone(pid), 10, "pid %d to die after SIGKILL" % pid)
        return True


class PrivateBus:
    """dbus-daemon --session --fork, stopped by its pid."""

    def __init__(self):
        self.address = None
        self.pid = None

    def start(self, timeout=15):
        out = subprocess.run(
            ["dbus-daemon", "--session", "--fork", "--print-address=1", "--print-pid=1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, check=True,
            text=True)
        lines = out.stdout.split()
        if len(lines) < 2:
            raise RuntimeError("dbus-daemon printed %r, expected an address and a pid"
                               % out.stdout)
        self.address, self.pid = lines[0], int(lines[1])
        return self

    def stop(self):
        if self.pid:
            _stop_pid(self.pid, 10)
            self.pid = None


class HostProcess:
    """One dms-host --session on the private bus."""

    def __init__(self, binary, bus_address, log_path, extra_env=None):
        self.binary = binary
        self.bus_address = bus_address
        self.log_path = log_path
        self.extra_env = extra_env or {}
        self.proc = None
        self.crashes = []  # (exit status, log offset range) of unexpected exits

    def start(self):
        env = dict(os.environ)
        env.update(self.extra_env)
        env["DBUS_SESSION_BUS_ADDRESS"] = self.bus_address
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen([self.binary, "--session"], env=env,
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        finally:
            log.close()
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self):
        """Raises when dms-host exited (a liveness check for waiting)."""
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError("dms-host exited with status %s (log: %s)"
                                 % (self.proc.returncode, self.log_path))

    def wait_for_name(self, conn, timeout=30):
        """Waits until dms-host owns the bus name, by NameOwnerChanged."""
        owned = []

        def on_owner_changed(name, old, new):
            if name == BUS_NAME and new:
                owned.append(new)

        match = conn.add_signal_receiver(on_owner_changed, "NameOwnerChanged",
                                         "org.freedesktop.DBus", arg0=BUS_NAME)
        try:
            if conn.name_has_owner(BUS_NAME):
                return
            waiting.run_until(lambda: owned or self._died(), timeout,
                              "dms-host to own %s" % BUS_NAME)
            self.check_alive()
        finally:
            match.remove()

    def _died(self):
        self.check_alive()
        return False

    def stop(self, timeout=20):
        """Stops dms-host; returns its exit status (None if never started)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                return "killed after %ss" % timeout
        return self.proc.returncode

    def log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def log_since(self, offset, max_bytes=8000):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                data = f.read()
        except OSError:
            return ""
        text = data.decode(errors="replace")
        if len(text) > max_bytes:
            text = "...\n" + text[-max_bytes:]
        return text

    def sanitizer_reports(self):
        """Lines of the log where a sanitizer reported an error."""
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode(errors="replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if _SANITIZER_RE.search(line)]
