"""Nothing untrusted reaches the terminal raw: file names with escape sequences (OSC 52 sets
the clipboard, ``ESC c`` clears the screen), bidirectional overrides and undecodable bytes
are shown as escapes in every message on standard error (and in the batch summary line)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from npsdiag._visible import visible
from tests.cli_runner import run

HOSTILE = [
    "\x1b]52;c;aGVsbG8=\x07",  # OSC 52: set the clipboard
    "\x1bc",  # reset the terminal
    "\x1b[2J\x1b[H",  # clear the screen
    "\x9b31m",  # a C1 control sequence introducer
    "\u202e",  # right-to-left override
    "\u2066",  # left-to-right isolate
    "\u200b",  # zero-width space
    "\r",
    "\n",
    "\x7f",
    "\x08",
]
pieces = st.lists(
    st.one_of(st.sampled_from(HOSTILE), st.text("abc.- ", min_size=1, max_size=4)),
    min_size=1,
    max_size=6,
)


def _clean(text: str) -> bool:
    """Only printable characters and line ends."""
    return all(char.isprintable() or char == "\n" for char in text)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(parts=pieces)
def test_hostile_file_names_are_escaped_on_stderr(
    capsys: pytest.CaptureFixture[str], tmp_path_factory: pytest.TempPathFactory, parts: list[str]
) -> None:
    name = "".join(parts).replace("/", "_") + ".txt"
    folder = tmp_path_factory.mktemp("names")
    path = folder / name
    path.write_text("these are notes, not a log\n")
    code, _, err = run(capsys, "analyze", str(path))
    assert code == 2
    assert _clean(err), repr(err)
    assert visible(name) in err
    assert err.count("\n") == 1  # one line, whatever the name holds


def test_undecodable_bytes_in_a_name_are_escaped(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    raw = os.fsencode(tmp_path) + b"/notes-\xff\x1b[2J.txt"
    with open(raw, "wb") as stream:
        stream.write(b"not a log\n")
    code, _, err = run(capsys, "analyze", os.fsdecode(raw))
    assert code == 2
    assert _clean(err) and "\\udcff\\x1b[2J" in err


def test_usage_errors_quote_what_was_typed_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "analyze", "--bogus\x1b]52;c;eA==\x07", "x")
    assert code == 2
    assert _clean(err) and "\\x1b]52" in err


def test_batch_messages_are_escaped(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    collected = tmp_path / "in\x1bc"
    collected.mkdir()
    (collected / "notes\u202etxt.exe").write_text("nothing to see\n")
    code, _, err = run(capsys, "batch", str(collected), "-o", str(tmp_path / "out"))
    assert code == 2
    assert _clean(err) and "\\x1bc" in err and "\\u202e" in err


def test_the_real_command_writes_no_escape_byte(tmp_path: Path) -> None:
    path = tmp_path / "\x1b]52;c;aGVsbG8=\x07\x1bc\u202e.txt"
    path.write_text("not a log\n")
    done = subprocess.run(
        [sys.executable, "-m", "npsdiag", "analyze", str(path)],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    for raw in (b"\x1b", b"\x07", "\u202e".encode()):
        assert raw not in done.stderr
    assert b"\\x1b]52;c;aGVsbG8=\\x07\\x1bc\\u202e.txt" in done.stderr
