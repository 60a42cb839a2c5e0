# Cancel over D-Bus: the stop signal, SIGKILL after the grace period
# (stop_timeout, 2s in these scenarios), and a result marked cancelled.
@docker @podman
Feature: Cancel stops a running execution
  Cancel sends the job its stop signal, kills it when the grace period
  runs out, and returns once the container stopped. The result then says
  cancelled. Cancelling what is already over changes nothing.

  Background:
    Given a fresh executor on the engine under test

  Scenario: A running job that honours SIGTERM ends within the grace period
    Given a job "j1" that runs "trap 'echo got TERM; exit 0' TERM", then loops until it is stopped
    When I start "j1"
    And "j1" has reached its gate
    And I cancel "j1"
    Then the call succeeds
    And the call returned within 2 seconds
    And the container of "j1" is not running
    When I wait for "j1"
    Then the result of "j1" is cancelled
    And the result of "j1" has stdout "got TERM\n"

  Scenario: A job that ignores SIGTERM is killed after the grace period
    Given a job "j1" that runs "trap '' TERM; echo ignoring", then loops until it is stopped
    When I start "j1"
    And "j1" has reached its gate
    And I cancel "j1"
    Then the call succeeds
    And the call took between 1.5 and 10 seconds
    And the container of "j1" is not running
    When I wait for "j1"
    Then the result of "j1" is cancelled
    And the result of "j1" has exit code 137
    And the result of "j1" has signal 9
    And the result of "j1" has stdout "ignoring\n"

  Scenario: A waiter blocked in Wait gets the cancelled result
    Given a job "j1" that runs "echo waiting", then waits for its go signal, then runs "echo never"
    When I start "j1"
    And "j1" has reached its gate
    And 1 client on its own connection waits for "j1"
    And I cancel "j1"
    Then every background wait returns within 30 seconds
    And the result of "j1" is cancelled
    And the result of "j1" has stdout "waiting\n"

  Scenario: Cancelling an unknown execution id fails with NotFound
    When I cancel the execution id "no-such-execution"
    Then the call fails with org.dms.Error.NotFound
    And the error message mentions "no-such-execution"

  Scenario: Cancelling twice is harmless
    Given a job "j1" that runs "echo started", then loops until it is stopped
    When I start "j1"
    And "j1" has reached its gate
    And I cancel "j1"
    Then the call succeeds
    When I cancel "j1" again
    Then the call succeeds
    When I wait for "j1"
    Then the result of "j1" is cancelled
    And the result of "j1" has stdout "started\n"
    And the executor still answers

  Scenario: Two cancels at the same time both succeed
    Given a job "j1" that runs "trap '' TERM", then loops until it is stopped
    When I start "j1"
    And "j1" has reached its gate
    And 2 clients cancel "j1" at the same time
    Then every background cancel succeeds within 30 seconds
    And the container of "j1" is not running
    When I wait for "j1"
    Then the result of "j1" is cancelled

  Scenario: Cancelling a finished job leaves its result intact
    Given a job "j1" that runs "echo done; echo oops >&2; exit 3"
    When I start "j1"
    And I wait for "j1"
    And I cancel "j1"
    Then the call succeeds
    When I wait for "j1" again
    Then the results of "j1" are identical
    And the result of "j1" is not cancelled
    And the result of "j1" has exit code 3
    And the result of "j1" has stdout "done\n"
    And the result of "j1" has stderr "oops\n"
