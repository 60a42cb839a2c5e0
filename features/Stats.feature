# Stats over D-Bus: one sample, a stream of JSON lines, and the `usage`
# every result carries, checked against jobs of known cost.
@docker @podman
Feature: Stats samples a running execution and every result has its usage
  A sample has CPU time and percentage, memory usage, limit and peak,
  pids, network and block I/O. A stream gives one sample a second until
  the job ends. A result's usage is the job's CPU time, peak memory, I/O
  bytes and wall time.

  Background:
    Given a fresh executor on the engine under test

  Scenario: One sample of a running job
    Given a job "j1" that runs "x=1", then loops until it is stopped
    When I start "j1"
    And "j1" has reached its gate
    And I ask for the stats of "j1"
    Then the call succeeds
    And the sample of "j1" shows a memory usage above 0

  Scenario: A stats stream gives samples until the job ends
    Given a job "j1" that runs "echo up", then waits for its go signal, then runs "echo down"
    When I start "j1"
    And "j1" has reached its gate
    And I open a stats stream of "j1"
    Then the stats stream gives 2 samples of "j1"
    When I let "j1" go
    Then the stats stream ends within 30 seconds

  Scenario: A job that allocates 64 MiB reports a peak of at least that
    Given a job "j1" that allocates 64 MiB for 2 seconds
    When I start "j1"
    And I wait for "j1"
    Then the result of "j1" has exit code 0
    And the result of "j1" has stdout "67108864\n"
    And the result of "j1" has a usage with a peak memory of at least 64 MiB

  Scenario: A job that spins for 2 seconds of CPU reports at least 1.5 seconds
    Given a job "j1" that spins for 2 seconds of CPU time
    When I start "j1"
    And I wait for "j1"
    Then the result of "j1" has stdout "spun\n"
    And the result of "j1" has a usage with at least 1.5 seconds of CPU time

  Scenario: The result of a one-second job has a usage sampled while it ran
    Given a job "j1" that runs "sleep 1; echo done"
    When I start "j1"
    And I wait for "j1"
    Then the result of "j1" has stdout "done\n"
    And the result of "j1" has a complete usage

  Scenario: Stats of an unknown execution id fails with NotFound
    When I ask for the stats of the execution id "no-such-execution"
    Then the call fails with org.dms.Error.NotFound

  Scenario: Stats of a finished job fails with AlreadyFinished
    Given a job "j1" that runs "echo done"
    When I start "j1"
    And I wait for "j1"
    And I ask for the stats of "j1"
    Then the call fails with org.dms.Error.AlreadyFinished
