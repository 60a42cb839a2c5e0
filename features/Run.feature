# Run over D-Bus: Start and Wait in one call, with the job's own errors.
@docker @podman
Feature: Run starts a job and returns its result in one call
  Run answers when the job ended, with the same result Wait gives. A job
  that cannot start makes Run fail with Start's error; a job that is
  cancelled, or outlives its deadline, makes Run fail with Cancelled.

  Background:
    Given a fresh executor on the engine under test

  Scenario: Run returns the result in one call
    Given a job "j1" that runs "echo hello; echo oops >&2; exit 7"
    When I run "j1"
    Then the call succeeds
    And the result of "j1" has exit code 7
    And the result of "j1" has stdout "hello\n"
    And the result of "j1" has stderr "oops\n"
    And the result of "j1" is not cancelled
    When I wait for "j1"
    Then the results of "j1" are identical

  Scenario: Run does not answer before the job ended
    Given a job "j1" that runs "echo before", then waits for its go signal, then runs "echo after"
    When I run "j1" in the background
    And "j1" has reached its gate
    Then the background run has not returned
    When I let "j1" go
    Then the background run returns within 60 seconds
    And the result of "j1" has exit code 0
    And the result of "j1" has stdout "before\nafter\n"

  Scenario: Run of a job whose image is missing returns the Image error
    Given a job "j1" that runs "true" in the image "dms-test/no-such-image:latest"
    When I try to run "j1"
    Then the call fails with org.dms.Error.Image
    And the error message mentions "dms-test/no-such-image"
    And no container of this executor exists on the engine

  Scenario: Run of an invalid request returns InvalidArgument naming the field
    Given a job "j1" that runs "echo never"
    When I try to run "j1" with its request changed: set engine_spec.params.entrypoint to "sh"
    Then the call fails with org.dms.Error.InvalidArgument
    And the error message mentions "entrypoint"
    And no container of this executor exists on the engine

  Scenario: Run of a job that outlives its deadline returns Cancelled
    Given a job "j1" with a deadline of 1 second that runs "echo started; sleep 300"
    When I try to run "j1"
    Then the call fails with org.dms.Error.Cancelled
    And the call returned within 15 seconds
    And no container of "j1" is running on the engine

  Scenario: Run of a job that is cancelled returns Cancelled
    Given a job "j1" that runs "echo started", then loops until it is stopped
    When I run "j1" in the background
    And "j1" has reached its gate
    And I cancel "j1"
    Then the call succeeds
    And the background run fails with org.dms.Error.Cancelled within 30 seconds
    And no container of "j1" is running on the engine
