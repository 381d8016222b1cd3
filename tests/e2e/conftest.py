import pytest

from tests.e2e.harness import RunningStack


@pytest.fixture
def running(tmp_path):
    stack = RunningStack(tmp_path / "run")
    yield stack
    if stack.process and stack.process.poll() is None:
        stack.interrupt()
