# GetLogStream over D-Bus: a unix fd carrying a job's output, framed like
# Docker's logs (stream 1 = stdout, 2 = stderr) or as plain merged bytes.
@docker @podman
Feature: GetLogStream streams a job's output through a file descriptor
  tail=false starts with everything the job wrote so far, tail=true with
  what it writes from now on; follow=true keeps the stream open until the
  job ends, then it ends with EOF. Nothing is lost or reordered.

  Background:
    Given a fresh executor on the engine under test

  Scenario: tail=false includes the output written before the call
    Given a job "j1" that runs "echo before; echo early >&2", then waits for its go signal, then runs "echo after"
    When I start "j1"
    And "j1" has reached its gate
    And I open a log stream of "j1" with {"tail": false, "follow": true}
    Then the log stream delivers stdout "before\n" within 30 seconds
    When I let "j1" go
    Then the log stream ends within 60 seconds
    And the log stream carried stdout "before\nafter\n"
    And the log stream carried stderr "early\n"

  Scenario: tail=true delivers only the output written after the call
    Given a job "j1" that runs "echo before", then waits for its go signal, then runs "echo after; echo late >&2"
    When I start "j1"
    And "j1" has reached its gate
    And the logs of "j1" already show "before\n"
    And I open a log stream of "j1" with {"tail": true, "follow": true}
    And I let "j1" go
    Then the log stream ends within 60 seconds
    And the log stream carried stdout "after\n"
    And the log stream carried stderr "late\n"

  Scenario: follow=true stays open while the job runs and ends with EOF when it ends
    Given a job "j1" that runs "echo before", then waits for its go signal, then runs "echo after"
    When I start "j1"
    And "j1" has reached its gate
    And I open a log stream of "j1" with {"follow": true}
    Then the log stream delivers stdout "before\n" within 30 seconds
    And the log stream is still open
    And the container of "j1" is running
    When I let "j1" go
    Then the log stream ends within 60 seconds
    And the log stream carried stdout "before\nafter\n"
    And "j1" has finished

  Scenario: follow=false ends at once with what was written so far
    Given a job "j1" that runs "echo before", then waits for its go signal, then runs "echo after"
    When I start "j1"
    And "j1" has reached its gate
    And the logs of "j1" already show "before\n"
    And I open a log stream of "j1" with {"follow": false}
    Then the log stream ends within 10 seconds
    And the log stream carried stdout "before\n"
    And the container of "j1" is running

  Scenario: stdout and stderr are both present and distinguishable
    Given a job "j1" that runs "echo out1; echo err1 >&2; echo out2; echo err2 >&2"
    When I start "j1"
    And I wait for "j1"
    And I open a log stream of "j1" with {"format": "framed"}
    Then the log stream ends within 10 seconds
    And the log stream carried stdout "out1\nout2\n"
    And the log stream carried stderr "err1\nerr2\n"
    When I open a log stream of "j1" with {"format": "plain"}
    Then the log stream ends within 10 seconds
    And the plain log stream carried the lines "out1, err1, out2, err2" with each stream in order

  Scenario: The log stream works after the job exited
    Given a job "j1" that runs "echo line1; echo line2 >&2; exit 6"
    When I start "j1"
    And I wait for "j1"
    And I open a log stream of "j1" with {"tail": false, "follow": true}
    Then the log stream ends within 10 seconds
    And the log stream carried stdout "line1\n"
    And the log stream carried stderr "line2\n"

  Scenario: A log stream of an unknown execution id fails with NotFound
    When I try to open a log stream with {"execution_id": "no-such-execution"}
    Then the call fails with org.dms.Error.NotFound
    And the error message mentions "no-such-execution"

  # 10 MB as 10,000 lines of 1 KB: engines spend ~15 us per log line in
  # their log drivers, so a burst of short lines would time the engine.
  Scenario: A 10 MB burst arrives complete and in order while the job runs
    Given a job "burst" that runs "i=1; while [ $i -le 10000 ]; do printf '%-1023d\n' $i; i=$((i+1)); done"
    When I start "burst"
    And I open a log stream of "burst" with {"tail": false, "follow": true}
    Then the log stream ends within 180 seconds
    And the log stream carried on stdout the numbers 1 to 10000, each padded to 1024 bytes
    And the log stream carried no stderr

  Scenario: A 10 MB burst arrives complete and in order after the job exited
    Given a job "burst" that runs "i=1; while [ $i -le 10000 ]; do printf '%-1023d\n' $i; i=$((i+1)); done"
    When I start "burst"
    And I wait for "burst"
    And I open a log stream of "burst" with {"format": "plain"}
    Then the log stream ends within 180 seconds
    And the log stream carried on stdout the numbers 1 to 10000, each padded to 1024 bytes
