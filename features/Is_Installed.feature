# IsInstalled over D-Bus: whether the executor's container engine answers.
@docker @podman
Feature: IsInstalled tells whether the container engine answers
  A caller asks IsInstalled before it sends jobs. The answer is true when
  the engine responds and false when it does not: never an error, never a
  hang, and never a stale answer remembered from an earlier call.

  Background:
    Given a fresh executor on the engine under test

  Scenario: The engine is reachable
    When I ask the executor whether its engine is installed
    Then the answer is true
    And the call returned within 10 seconds

  Scenario: The engine's socket does not exist
    Given a fresh executor whose engine socket does not exist
    When I ask that executor whether its engine is installed
    Then the answer is false
    And the call returned within 10 seconds

  Scenario: The engine is stopped and its socket file refuses connections
    Given a fresh executor whose engine socket refuses connections
    When I ask that executor whether its engine is installed
    Then the answer is false
    And the call returned within 10 seconds

  Scenario: A wedged engine that accepts connections but never answers
    Given a fresh executor whose engine accepts connections but never answers
    When I ask that executor whether its engine is installed
    Then the answer is false
    And the call returned within 35 seconds

  Scenario: An engine that appears later is seen by the next call
    Given a fresh executor whose engine socket does not exist
    When I ask that executor whether its engine is installed
    Then the answer is false
    When the engine under test appears at that executor's socket path
    And I ask that executor whether its engine is installed
    Then the answer is true

  Scenario: An unreachable engine does not disturb other executors
    Given a fresh executor whose engine socket refuses connections
    When I ask that executor whether its engine is installed
    And I ask the executor whether its engine is installed
    Then the answer is true
