# Inspect over D-Bus: the execution's current view, checked against what
# the engine itself says of the container.
# Tags are per scenario: the published-port one is for Podman only.
Feature: Inspect shows an execution's current view
  State, container id, image id, start and finish, the ports the engine
  assigned and the address on each network; the exit code once it ended.

  Background:
    Given a fresh executor on the engine under test

  @docker @podman
  Scenario: A running job's view matches the engine's
    Given a job "j1" that runs "echo up", then loops until it is stopped
    When I start "j1"
    And "j1" has reached its gate
    And I inspect "j1"
    Then the call succeeds
    And the view of "j1" says "running" with its container and image

  @docker @podman
  Scenario: A paused job's view says paused
    Given a job "j1" that runs "echo up", then loops until it is stopped
    When I start "j1"
    And "j1" has reached its gate
    And I pause "j1"
    And I inspect "j1"
    Then the call succeeds
    And the view of "j1" says "paused" with its container and image

  # This machine's dockerd runs without a bridge network (no port
  # publishing), so the assigned port is checked on Podman.
  @podman
  Scenario: A published port shows the host port the engine picked
    Given a job "j1" that publishes the container port 8080, then loops until it is stopped
    When I start "j1"
    And "j1" has reached its gate
    And I inspect "j1"
    Then the call succeeds
    And the view of "j1" maps the container port 8080 to the host port the engine picked

  @docker @podman
  Scenario: A finished job's view has its exit code
    Given a job "j1" that runs "exit 5"
    When I start "j1"
    And I wait for "j1"
    And I inspect "j1"
    Then the call succeeds
    And the view of "j1" says "exited" with exit code 5

  @docker @podman
  Scenario: Inspecting an unknown execution id fails with NotFound
    When I inspect the execution id "no-such-execution"
    Then the call fails with org.dms.Error.NotFound
