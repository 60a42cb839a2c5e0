# Cleanup over D-Bus: removes what carries this executor's label, and
# nothing of anyone else's.
@docker @podman
Feature: Cleanup removes this executor's containers, networks and volumes
  Cleanup removes every container, network and volume labelled
  org.dms.executor=<this executor's id>, named volumes included. Objects of
  another executor id and objects without the label survive. Cleanup is
  harmless to repeat.

  Background:
    Given a fresh executor on the engine under test

  Scenario: Cleanup removes this executor's objects and nothing else
    Given a job "mine" that runs "echo mine", then waits for its go signal, then runs "exit 0"
    And I start "mine"
    And a job "done" that runs "echo done"
    And I start "done"
    And I wait for "done"
    And the engine has a network, a named volume and an anonymous volume labelled for this executor
    And a second executor "other" on the engine under test
    And a job "theirs" of executor "other" that runs "echo theirs", then waits for its go signal, then runs "exit 0"
    And I start "theirs"
    And the engine has a network and a named volume labelled for executor "other"
    And the engine has a running container without labels
    When I clean up the executor
    Then the call succeeds
    And the engine has no container, network or volume labelled for this executor
    And the container of "theirs" is running
    And the network and the volume of executor "other" still exist
    And the container without labels is running
    And waiting for "mine" gives a cancelled result within 30 seconds
    When I let "theirs" go
    And I wait for "theirs"
    Then the result of "theirs" has exit code 0
    And the result of "theirs" is not cancelled
    And the result of "theirs" has stdout "theirs\n"

  Scenario: Cleanup twice is harmless
    Given a job "mine" that runs "echo mine", then loops until it is stopped
    And I start "mine"
    And the engine has a network, a named volume and an anonymous volume labelled for this executor
    And a second executor "other" on the engine under test
    And the engine has a network and a named volume labelled for executor "other"
    And the engine has a running container without labels
    When I clean up the executor
    Then the call succeeds
    When I clean up the executor
    Then the call succeeds
    And the engine has no container, network or volume labelled for this executor
    And the network and the volume of executor "other" still exist
    And the container without labels is running
    And the executor still answers

  Scenario: Cleanup of an executor that has nothing is harmless
    When I clean up the executor
    Then the call succeeds
    And the engine has no container, network or volume labelled for this executor

  Scenario: The executor runs new jobs after Cleanup
    Given a job "before" that runs "echo before", then loops until it is stopped
    And I start "before"
    When I clean up the executor
    Then the call succeeds
    Given a job "after" that runs "echo after"
    When I run "after"
    Then the call succeeds
    And the result of "after" has exit code 0
    And the result of "after" has stdout "after\n"
