"""Support library for the Gherkin features (features/*.feature).

Why a package and not files in features/steps/: behave executes every .py
in steps/ as a step module; helpers imported from there would be loaded
twice. environment.py and the step modules import this package instead.

Modules:
  waiting  -- deadlines: run the GLib main loop until something happened
  host     -- a private dbus-daemon and dms-host, started and stopped by pid
  client   -- the D-Bus client of org.dms.ExecutorManager1/Executor1
  engine   -- the container engine's HTTP API over its unix socket, used
              only to look at the engine from outside the executor
  jobs     -- request documents and the host-side control directory of a job
  logs     -- reading a log stream fd, Docker frame demultiplexing
  scenario -- what the step modules share: executors and jobs of a
              scenario, call outcomes
"""
