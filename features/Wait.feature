# Wait over D-Bus: the result of an execution, once it ended, to any
# number of waiters; giving up waiting never touches the job.
@docker @podman
Feature: Wait returns the result of an execution
  Wait answers when the job ends, with its exit code, stdout and stderr.
  A finished job's result is kept and returned again at once; concurrent
  waiters all get the same result; a waiter that gives up leaves the job
  running.

  Background:
    Given a fresh executor on the engine under test

  Scenario: Wait returns the exit code, stdout and stderr
    Given a job "j1" that runs "echo out; echo err >&2; echo more"
    When I start "j1"
    And I wait for "j1"
    Then the result of "j1" has exit code 0
    And the result of "j1" has stdout "out\nmore\n"
    And the result of "j1" has stderr "err\n"
    And the result of "j1" is not cancelled
    And the result of "j1" is not truncated
    And the result of "j1" has start and finish times in order

  Scenario Outline: Wait reports the exit code <code> of a job that <how>
    Given a job "j1" that runs "<script>"
    When I start "j1"
    And I wait for "j1"
    Then the result of "j1" has exit code <code>
    And the result of "j1" has signal <signal>
    And the result of "j1" is not cancelled

    Examples:
      | how                | script                          | code | signal |
      | succeeds           | echo ok                         | 0    | 0      |
      | fails with 3       | echo failing; exit 3            | 3    | 0      |
      | kills itself       | sh -c 'kill -9 $$'; exit $?     | 137  | 9      |

  Scenario: Wait on an unknown execution id fails at once with NotFound
    When I wait for the execution id "no-such-execution"
    Then the call fails with org.dms.Error.NotFound
    And the error message mentions "no-such-execution"
    And the call returned within 5 seconds

  Scenario: Wait after completion returns the cached result at once
    Given a job "j1" that runs "echo once; echo twice >&2; exit 5"
    When I start "j1"
    And I wait for "j1"
    And I wait for "j1" again
    Then the call returned within 5 seconds
    And the results of "j1" are identical
    And the result of "j1" has exit code 5
    And the result of "j1" has stdout "once\n"

  Scenario: Three concurrent waiters get identical results
    Given a job "j1" that runs "echo before", then waits for its go signal, then runs "echo after; exit 4"
    When I start "j1"
    And 3 clients on their own connections wait for "j1"
    Then none of the background waits has returned
    When I let "j1" go
    Then every background wait returns within 60 seconds
    And the background waits returned identical results
    And the result of "j1" has exit code 4
    And the result of "j1" is not cancelled
    And the result of "j1" has stdout "before\nafter\n"

  Scenario: A waiter that gives up does not cancel the job
    Given a job "j1" that runs "echo before", then waits for its go signal, then runs "echo after"
    When I start "j1"
    And I wait for "j1" but give up after 1 second
    Then the call fails with org.freedesktop.DBus.Error.NoReply
    And the container of "j1" is running
    When I let "j1" go
    And I wait for "j1"
    Then the result of "j1" has exit code 0
    And the result of "j1" is not cancelled
    And the result of "j1" has stdout "before\nafter\n"

  Scenario: A waiter whose connection closes does not cancel the job
    Given a job "j1" that runs "echo before", then waits for its go signal, then runs "echo after"
    When I start "j1"
    And a client on its own connection waits for "j1" and then disconnects
    Then the container of "j1" is running
    When I let "j1" go
    And I wait for "j1"
    Then the result of "j1" has exit code 0
    And the result of "j1" is not cancelled
    And the result of "j1" has stdout "before\nafter\n"

  Scenario: A job that outlives its deadline is cancelled
    Given a job "j1" with a deadline of 1 second that runs "echo started; sleep 300"
    When I start "j1"
    And I wait for "j1"
    Then the result of "j1" is cancelled
    And the result of "j1" has stdout "started\n"
    And the call returned within 15 seconds

  Scenario: State signals come in order and ExecutionFinished carries the result
    Given a job "j1" that runs "echo signalled; exit 2"
    When I start "j1"
    And I wait for "j1"
    Then "j1" has reported the states "running, exited" in that order
    And "j1" has reported no state after "exited"
    And the ExecutionFinished signal of "j1" carried the result that Wait returned
