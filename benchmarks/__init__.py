"""Speed measurements (``make bench``). Never part of the test suite's timing."""
