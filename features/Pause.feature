# Pause and Resume over D-Bus: the cgroup freezer. The state is "paused"
# (ExecutionStateChanged), Wait keeps waiting, the deadline keeps running,
# and Cancel of a paused job thaws it, then stops it.
@docker @podman
Feature: Pause freezes a running execution until Resume
  A paused job does nothing until it is resumed; waiting on it goes on;
  it can be cancelled while paused, and its deadline still applies.

  Background:
    Given a fresh executor on the engine under test

  Scenario: A paused job's counter stops until it is resumed
    Given a job "j1" that counts into its control directory
    When I start "j1"
    And "j1" has reached its gate
    Then the counter of "j1" advances
    When I pause "j1"
    Then the call succeeds
    And "j1" has reported the states "running, paused" in that order
    And the counter of "j1" stays still for 1 seconds
    When I resume "j1"
    Then the call succeeds
    And the counter of "j1" advances
    When I cancel "j1"
    And I wait for "j1"
    Then the result of "j1" is cancelled

  Scenario: Wait keeps waiting while the job is paused
    Given a job "j1" that runs "echo before", then waits for its go signal, then runs "echo after"
    When I start "j1"
    And "j1" has reached its gate
    And I pause "j1"
    Then the call succeeds
    When 1 client on its own connection waits for "j1"
    Then none of the background waits has returned
    When I resume "j1"
    And I let "j1" go
    Then every background wait returns within 30 seconds
    And the result of "j1" has exit code 0
    And the result of "j1" has stdout "before\nafter\n"

  Scenario: Cancelling a paused job thaws it and stops it
    Given a job "j1" that runs "trap 'echo got TERM; exit 0' TERM", then loops until it is stopped
    When I start "j1"
    And "j1" has reached its gate
    And I pause "j1"
    Then the call succeeds
    When I cancel "j1"
    Then the call succeeds
    And the call returned within 10 seconds
    When I wait for "j1"
    Then the result of "j1" is cancelled
    And the result of "j1" has stdout "got TERM\n"

  Scenario: The deadline keeps running while a job is paused
    Given a job "j1" with a deadline of 2 seconds that runs "while :; do usleep 100000; done"
    When I start "j1"
    And I pause "j1"
    Then the call succeeds
    And waiting for "j1" gives a cancelled result within 30 seconds

  Scenario: Pausing twice and resuming a running job are refused
    Given a job "j1" that runs "echo up", then loops until it is stopped
    When I start "j1"
    And "j1" has reached its gate
    And I resume "j1"
    Then the call fails with org.dms.Error.Container
    And the error message mentions "not paused"
    When I pause "j1"
    Then the call succeeds
    When I pause "j1" again
    Then the call fails with org.dms.Error.Container
    And the error message mentions "already paused"

  Scenario: Pausing an unknown execution id fails with NotFound
    When I pause the execution id "no-such-execution"
    Then the call fails with org.dms.Error.NotFound

  Scenario: Pausing a finished job fails with AlreadyFinished
    Given a job "j1" that runs "echo done"
    When I start "j1"
    And I wait for "j1"
    And I pause "j1"
    Then the call fails with org.dms.Error.AlreadyFinished
