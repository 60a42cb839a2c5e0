# Signal over D-Bus: any signal, by name or number, to the job's main
# process (docker kill -s). The job keeps running unless the signal ends it.
@docker @podman
Feature: Signal sends a signal to a running execution
  A job that traps a signal sees it; a signal by number is the same
  signal; a bad signal, an unknown id and a finished job are refused with
  errors that say so.

  Background:
    Given a fresh executor on the engine under test

  Scenario: A job trapping USR1 receives it
    Given a job "j1" that runs "trap 'echo got USR1; exit 3' USR1", then loops until it is stopped
    When I start "j1"
    And "j1" has reached its gate
    And I send the signal "USR1" to "j1"
    Then the call succeeds
    When I wait for "j1"
    Then the result of "j1" has exit code 3
    And the result of "j1" has stdout "got USR1\n"
    And the result of "j1" is not cancelled

  Scenario: A signal given by number is that signal
    Given a job "j1" that runs "trap 'echo got HUP; exit 4' HUP", then loops until it is stopped
    When I start "j1"
    And "j1" has reached its gate
    And I send the signal "1" to "j1"
    Then the call succeeds
    When I wait for "j1"
    Then the result of "j1" has exit code 4
    And the result of "j1" has stdout "got HUP\n"

  Scenario: SIGKILL ends the job with signal 9
    Given a job "j1" that runs "echo up", then loops until it is stopped
    When I start "j1"
    And "j1" has reached its gate
    And I send the signal "SIGKILL" to "j1"
    Then the call succeeds
    When I wait for "j1"
    Then the result of "j1" has exit code 137
    And the result of "j1" has signal 9

  Scenario: A signal that does not exist is refused and the job keeps running
    Given a job "j1" that runs "echo up", then loops until it is stopped
    When I start "j1"
    And "j1" has reached its gate
    And I send the signal "SIGNOPE" to "j1"
    Then the call fails with org.dms.Error.InvalidArgument
    And the error message mentions "signal"
    And the error message mentions "SIGNOPE"
    And the container of "j1" is running

  Scenario: Signalling an unknown execution id fails with NotFound
    When I send the signal "USR1" to the execution id "no-such-execution"
    Then the call fails with org.dms.Error.NotFound
    And the error message mentions "no-such-execution"

  Scenario: Signalling a finished job fails with AlreadyFinished
    Given a job "j1" that runs "echo done"
    When I start "j1"
    And I wait for "j1"
    And I send the signal "USR1" to "j1"
    Then the call fails with org.dms.Error.AlreadyFinished
