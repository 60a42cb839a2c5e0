# Start over D-Bus: a request becomes a running, labelled container, and
# every refusal is specific, named, and leaves nothing behind.
@docker @podman
Feature: Start runs a job in a new container
  Start returns once the job's container runs. The container carries the
  executor, job and execution ids as labels. A second Start of the same
  execution id is refused, and a Start that fails leaves no container.

  Background:
    Given a fresh executor on the engine under test

  Scenario: A new request starts a running container carrying the three labels
    Given a job "j1" that runs "echo started", then waits for its go signal, then runs "exit 0"
    When I start "j1"
    Then the call succeeds
    And the container of "j1" is running
    And the container of "j1" is labelled with the executor id, the job id and the execution id
    And "j1" has reported the state "running"
    When I let "j1" go
    And I wait for "j1"
    Then the result of "j1" has exit code 0
    And the result of "j1" has stdout "started\n"

  Scenario: Starting an execution id that is running is refused with AlreadyStarted
    Given a job "j1" that runs "echo first", then waits for its go signal, then runs "exit 0"
    When I start "j1"
    And I try to start "j1" again
    Then the call fails with org.dms.Error.AlreadyStarted
    And the error message mentions "j1"
    And the engine has exactly one container of "j1"
    When I let "j1" go
    And I wait for "j1"
    Then the result of "j1" has exit code 0
    And the result of "j1" has stdout "first\n"

  Scenario: Starting an execution id that finished is refused with AlreadyFinished
    Given a job "j1" that runs "echo once; exit 3"
    When I start "j1"
    And I wait for "j1"
    And I try to start "j1" again
    Then the call fails with org.dms.Error.AlreadyFinished
    And the error message mentions "j1"
    When I wait for "j1" again
    Then the result of "j1" has exit code 3
    And the result of "j1" has stdout "once\n"

  Scenario: A missing image is an Image error naming the image, and leaves no container
    Given a job "j1" that runs "true" in the image "dms-test/no-such-image:latest"
    When I try to start "j1"
    Then the call fails with org.dms.Error.Image
    And the error message mentions "dms-test/no-such-image"
    And no container of this executor exists on the engine
    And waiting for "j1" does not hang

  Scenario Outline: An invalid request is refused with InvalidArgument naming the field (<what>)
    Given a job "j1" that runs "echo never"
    When I try to start "j1" with its request changed: <change>
    Then the call fails with org.dms.Error.InvalidArgument
    And the error message mentions "<field>"
    And no container of this executor exists on the engine

    Examples:
      | what               | change                                                     | field        |
      | no image           | remove engine_spec.params.image                            | image        |
      | empty image        | set engine_spec.params.image to ""                         | image        |
      | unknown param key  | set engine_spec.params.imagee to "dms-test/busybox:latest" | imagee       |
      | unknown top key    | set colour to "blue"                                       | colour       |
      | cmd is a number    | set engine_spec.params.cmd to 42                           | cmd          |
      | timeout is text    | set timeout to "soon"                                      | timeout      |
      | empty execution id | set execution_id to ""                                     | execution_id |
      | bind is relative   | set inputs to [{"type": "bind", "source": "rel/dir", "target": "/in"}] | source |

  Scenario: A request that is not JSON is refused with InvalidArgument
    When I try to start a job with the request text "{job_id: j1, engine_spec: [ not json"
    Then the call fails with org.dms.Error.InvalidArgument
    And no container of this executor exists on the engine

  Scenario: A container that cannot start is removed again
    Given a job "j1" whose entrypoint is "/no/such/program"
    When I try to start "j1"
    Then the call fails with org.dms.Error.Container
    And the error message mentions "/no/such/program"
    And no container of this executor exists on the engine
