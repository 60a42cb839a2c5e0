"""Waiting with deadlines, never with fixed sleeps.

Every wait in the features is "until this is true, or fail after N
seconds": D-Bus signals and asynchronous replies are dispatched by the GLib
main loop, so waiting means iterating that loop until a predicate holds.
Checks that have no event to wait on (a file the job creates, the engine's
view of a container) are polled, the loop iterating between polls so
signals keep being collected meanwhile.
"""
import time

from gi.repository import GLib

# Liveness checks run on every iteration (e.g. "dms-host has not died"), so
# a crash fails the step at once instead of at its deadline.
_liveness_checks = []


def add_liveness_check(fn):
    """fn() raises when waiting further is pointless."""
    _liveness_checks.append(fn)


def remove_liveness_check(fn):
    if fn in _liveness_checks:
        _liveness_checks.remove(fn)


class WaitTimeout(AssertionError):
    """A deadline passed before the awaited condition held."""


def _check_alive():
    for fn in list(_liveness_checks):
        fn()


def iterate(max_seconds):
    """Dispatches pending GLib events, blocking at most max_seconds."""
    ctx = GLib.MainContext.default()
    fired = []

    def on_timeout():
        fired.append(True)
        return False

    source_id = GLib.timeout_add(max(1, int(max_seconds * 1000)), on_timeout)
    try:
        ctx.iteration(True)
    finally:
        if not fired:
            GLib.source_remove(source_id)
    # Drain whatever else is ready without blocking.
    while ctx.pending():
        ctx.iteration(False)


def run_until(predicate, timeout, what):
    """Runs the main loop until predicate() is truthy; returns its value.
    Raises WaitTimeout naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        _check_alive()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WaitTimeout("timed out after %.1fs waiting for %s" % (timeout, what))
        iterate(min(remaining, 0.5))


def poll_until(check, timeout, what, interval=0.05):
    """Calls check() every `interval` seconds (the main loop runs in
    between) until it returns something truthy; returns that value.
    Raises WaitTimeout naming `what` (and check's last value) otherwise."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = check()
        if last:
            return last
        _check_alive()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WaitTimeout("timed out after %.1fs waiting for %s (last: %r)"
                              % (timeout, what, last))
        iterate(min(remaining, interval))


def drain():
    """Dispatches everything already queued, without blocking."""
    ctx = GLib.MainContext.default()
    while ctx.pending():
        ctx.iteration(False)
