"""Run the real ``npsdiag`` entry point inside a test, as the console script does."""

from __future__ import annotations

import pytest

from npsdiag.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``npsdiag ARGS`` and return its exit code, stdout and stderr."""
    with pytest.raises(SystemExit) as done:
        main(list(args))
    out, err = capsys.readouterr()
    code = done.value.code
    return (code if isinstance(code, int) else 0), out, err
