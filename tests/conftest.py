"""The suite's one harness lives in ``tests/harness.py``: databases, plans, the clock, the demo
session and the people in it."""

pytest_plugins = ("tests.harness", "tests.harness.cli")
