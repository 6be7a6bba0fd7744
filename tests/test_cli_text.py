"""What the command line says about itself: help texts, plurals, the command that ran,
and the width and colour of what it prints."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from npsdiag._screen import DEFAULT_WIDTH, MAX_WIDTH, MIN_WIDTH, screen_of, wrap
from npsdiag._words import noun, plural
from tests.cli_runner import run

SAMPLES = Path(__file__).resolve().parents[1] / "samples"

COMMANDS = [
    ["analyze"],
    ["collect"],
    ["batch"],
    ["explain"],
    ["catalog"],
    ["catalog", "list"],
    ["catalog", "show"],
    ["catalog", "check"],
    ["samples"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_speaks_the_users_language(
    capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    code, out, _err = run(capsys, *command, "--help")
    assert code == 0
    assert out.startswith(f"Usage: npsdiag {' '.join(command)} [OPTIONS]")
    # No type names of the implementation, no {REQUIRED} braces, no range notation.
    for leak in ("<path>", "<int", "<str>", "<text>", "list[", "{INPUT", "{ID", "{text", "x>="):
        assert leak not in out, f"{leak!r} in the help of {command}"
    assert "(s)" not in out


def test_usage_lines_read_as_typed(capsys: pytest.CaptureFixture[str]) -> None:
    usages = {}
    for command in (["analyze"], ["batch"], ["explain"], ["catalog", "show"], ["samples"]):
        _code, out, _err = run(capsys, *command, "--help")
        usages[" ".join(command)] = out.splitlines()[0]
    assert usages["analyze"] == "Usage: npsdiag analyze [OPTIONS] INPUT..."
    assert usages["batch"] == "Usage: npsdiag batch [OPTIONS] INPUT..."
    assert usages["explain"] == "Usage: npsdiag explain [OPTIONS] TEXT"
    assert usages["catalog show"] == "Usage: npsdiag catalog show [OPTIONS] ID"
    assert usages["samples"] == "Usage: npsdiag samples [OPTIONS] [NAME] [OUT]"


def test_options_name_what_they_take(capsys: pytest.CaptureFixture[str]) -> None:
    _code, out, _err = run(capsys, "analyze", "--help")
    for option in ("--html FILE", "--json FILE", "--csv FILE", "--evidence N", "--no-color"):
        assert option in out
    _code, out, _err = run(capsys, "batch", "--help")
    assert "-o, --output DIR" in out and "--workers N" in out


def test_a_number_below_its_minimum_is_refused_in_words(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _out, err = run(capsys, "analyze", str(SAMPLES / "healthy"), "--evidence", "-1")
    assert code == 2
    assert "Invalid value for '--evidence': must be 0 or more (got -1)" in err
    code, _out, err = run(capsys, "batch", "x", "-o", "y", "--workers", "0")
    assert code == 2 and "must be 1 or more (got 0)" in err


def test_reports_show_the_command_that_ran(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "r.json"
    arguments = ["analyze", str(SAMPLES / "healthy"), "--json", str(target), "--no-color"]
    code, out, _err = run(capsys, *arguments)
    assert code == 0
    shown = json.loads(target.read_text(encoding="utf-8"))["tool"]["command_line"]
    assert shown == "npsdiag " + " ".join(arguments)
    assert f"Command: npsdiag analyze {SAMPLES / 'healthy'}" in out


def test_plurals() -> None:
    assert plural(1, "attempt") == "1 attempt"
    assert plural(0, "attempt") == "0 attempts"
    assert plural(1234, "entry", "entries") == "1,234 entries"
    assert noun(2, "RADIUS client") == "RADIUS clients"
    assert noun(1, "is a copy", "are copies") == "is a copy"


class _Stream(io.StringIO):
    def __init__(self, terminal: bool) -> None:
        super().__init__()
        self.terminal = terminal

    def isatty(self) -> bool:
        return self.terminal


@pytest.mark.parametrize(
    ("terminal", "environ", "no_color", "color"),
    [
        (True, {}, False, True),
        (False, {}, False, False),  # a file or a pipe
        (True, {}, True, False),  # --no-color
        (True, {"NO_COLOR": "1"}, False, False),
        (True, {"NO_COLOR": ""}, False, True),  # set but empty: not a request
        (True, {"TERM": "dumb"}, False, False),
        (False, {"FORCE_COLOR": "1"}, False, True),
        (False, {"FORCE_COLOR": "0"}, False, False),
        (True, {"FORCE_COLOR": "1", "NO_COLOR": "1"}, False, False),  # NO_COLOR wins
        (False, {"FORCE_COLOR": "1"}, True, False),  # and --no-color above all
    ],
)
def test_colour_follows_the_terminal_and_the_conventions(
    terminal: bool, environ: dict[str, str], no_color: bool, color: bool
) -> None:
    screen = screen_of(_Stream(terminal), no_color=no_color, environ=environ, platform="linux")
    assert screen.color is color


def test_width_is_the_terminals_or_a_sensible_default() -> None:
    assert screen_of(_Stream(False), environ={}).width == DEFAULT_WIDTH
    assert screen_of(_Stream(False), environ={"COLUMNS": "80"}).width == 80
    assert screen_of(_Stream(True), environ={"COLUMNS": "120"}).width == 120
    assert screen_of(_Stream(False), environ={"COLUMNS": "10"}).width == MIN_WIDTH
    assert screen_of(_Stream(False), environ={"COLUMNS": "9999"}).width == MAX_WIDTH
    assert screen_of(_Stream(False), environ={"COLUMNS": "wide"}).width == DEFAULT_WIDTH


def test_wrap_keeps_long_words_whole() -> None:
    url = "https://learn.microsoft.com/entra/identity/authentication/howto-mfa-nps-extension"
    text = wrap(f"See {url} for the steps to follow.", 40, "  - ", "    ")
    assert url in text
    assert all(line.startswith("    ") for line in text.splitlines()[1:])


def test_explain_wraps_to_the_screen(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _err = run(capsys, "explain", "AADSTS700027")
    assert code == 0
    long_lines = [line for line in out.splitlines() if len(line) > 80]
    # Only what cannot be cut: a web address.
    assert all(re.search(r"https?://\S{40,}", line) for line in long_lines), long_lines
    assert "     1. (check) On the NPS server" in out


# ------------------------------------------------------------ the terminal report, as run


def test_a_healthy_server_counts_its_successes_without_listing_them(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _err = run(capsys, "analyze", str(SAMPLES / "healthy"))
    assert code == 0
    assert out.splitlines()[1].startswith("No problems found. 38 attempts (38 accepted), 5 users")
    assert "Failed attempts (0 of 38)" in out
    assert "Not listed: 38 attempts that did not fail (38 accepted)." in out
    assert "accepted  Success" not in out  # no row per success
    assert len(out.splitlines()) < 50


def test_the_first_screen_is_the_answer(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _err = run(capsys, "analyze", str(SAMPLES / "cert-expired"))
    assert code == 1
    screen = "\n".join(out.splitlines()[:24])
    assert "1 problem found." in screen
    assert "The extension's certificate is not" in screen
    assert "critical" in screen
    # The fix, not the first check of the catalog entry.
    assert "Fix: If the server's certificate is missing there or expired, run" in screen
    assert "AzureMfaNpsExtnConfigSetup.ps1" in screen
    assert max(len(line) for line in out.splitlines()) <= 80
    # No HTML report was written, so none is pointed at.
    assert "HTML report" not in out and ".html" not in out
    assert "wrote" not in out


def test_configuration_faults_are_causes_with_their_fix(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    _code, out, _err = run(capsys, "analyze", str(SAMPLES / "alternate-login-id"))
    screen = out.split("Problems in detail")[0]
    assert "Configuration fault (1)" in screen
    assert "LDAP_LOOKUP_FORESTS separates forests with spaces or commas" in screen
    assert "Found: LDAP_LOOKUP_FORESTS = proseware.com contoso.com" in screen
    assert "Fix: Rewrite LDAP_LOOKUP_FORESTS" in screen
    assert "id: config." not in screen  # not a key: value run-on


def test_written_reports_are_named_and_pointed_at(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    html, data = tmp_path / "r.html", tmp_path / "r.json"
    code, out, _err = run(
        capsys, "analyze", str(SAMPLES / "cert-expired"), "--html", str(html), "--json", str(data)
    )
    assert code == 1
    assert out.splitlines()[-2:] == [f"wrote {html}", f"wrote {data}"]
    assert f"... and 11 more failed attempts in {html}" in " ".join(out.split())
    code, out, err = run(
        capsys, "analyze", str(SAMPLES / "cert-expired"), "--json", str(data), "-q"
    )
    assert out == "" and err == ""
    # With a report on standard output, the "wrote" lines go to standard error.
    code, out, err = run(
        capsys, "analyze", str(SAMPLES / "healthy"), "--json", "-", "--html", str(html)
    )
    assert json.loads(out)["verdict"] == "healthy" and err == f"wrote {html}\n"


def test_colour_on_request_and_never_against_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("FORCE_COLOR", "1")
    _code, out, _err = run(capsys, "analyze", str(SAMPLES / "cert-expired"))
    assert "\x1b[1;31mcritical" in out  # severity in red
    assert "\x1b[1;32mFix: " in out
    _code, out, _err = run(capsys, "analyze", str(SAMPLES / "cert-expired"), "--no-color")
    assert "\x1b[" not in out
    monkeypatch.setenv("NO_COLOR", "1")
    _code, out, _err = run(capsys, "analyze", str(SAMPLES / "cert-expired"))
    assert "\x1b[" not in out


def test_the_terminal_width_shapes_the_report(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for width in (80, 120):
        monkeypatch.setenv("COLUMNS", str(width))
        _code, out, _err = run(capsys, "analyze", str(SAMPLES / "mixed"))
        widest = max(len(line) for line in out.splitlines())
        assert width - 10 <= widest <= width
