"""The admin guide's commands are the ones that work: tested where they can be.

The guide (docs/admin-guide.md) and the README show commands to type on the NPS server. These
tests parse their code blocks and check that the ``wevtutil`` queries are exactly the ones
``npsdiag collect`` runs, that every export overwrites and the Security one is filtered, that
each shell's syntax is used in its own blocks, that the pip commands name options pip has,
and that every npsdiag command and option mentioned exists.
"""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from npsdiag.cli import ExitStatus, _register_commands, app
from npsdiag.collect import queries as q
from npsdiag.sources.hostfacts import NPS_AUDIT_GUID

ROOT = Path(__file__).resolve().parents[1]
GUIDE = (ROOT / "docs" / "admin-guide.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")
_BLOCK = re.compile(r"```(\w*)\n(.*?)```", re.S)
_QUERY = re.compile(r'(?:/q:"([^"]*)"|"/q:([^"]*)")')
_TIMEDIFF = re.compile(r"timediff\(@SystemTime\) <= (\d+)\]")


def _blocks(text: str, *languages: str) -> list[str]:
    return [body for language, body in _BLOCK.findall(text) if language in languages]


def _lines(text: str, *languages: str) -> list[str]:
    return [line.strip() for block in _blocks(text, *languages) for line in block.splitlines()]


def _exports(text: str) -> list[str]:
    return [line for line in _lines(text, "cmd", "powershell") if line.startswith("wevtutil epl")]


def test_the_guide_has_the_sections_the_admin_needs() -> None:
    for heading in (
        "## 1. Install npsdiag on Windows",
        "### A server without internet access",
        "### With npsdiag collect (recommended)",
        "### By hand, in cmd.exe",
        "### By hand, in PowerShell",
        "### With Microsoft's health-check script",
        "## 3. Read the report",
        "## 4. Exit codes, for scripts",
        "## 5. Questions and answers",
    ):
        assert f"\n{heading}\n" in GUIDE, heading
    # The tour shows the real reports: every picture exists (made by tools/screenshots.py).
    pictures = re.findall(r"!\[[^\]]+\]\(([^)]+)\)", GUIDE)
    assert pictures
    for picture in pictures:
        assert (ROOT / "docs" / picture).is_file(), picture
    assert "(docs/admin-guide.md)" in README


@pytest.mark.parametrize("text", [GUIDE, README], ids=["guide", "readme"])
def test_wevtutil_queries_are_the_ones_collect_runs(text: str) -> None:
    exports = _exports(text)
    assert exports
    channels = set()
    for line in exports:
        channel = line.split()[2]
        channels.add(channel)
        assert line.endswith("/ow:true"), line
        found = _QUERY.search(line)
        assert found is not None, f"no /q: query: {line}"
        query = found.group(1) or found.group(2)
        window = timedelta(milliseconds=int(_TIMEDIFF.findall(query)[0]))
        expected = {
            "Security": q.security_query,
            "System": q.system_query,
        }.get(channel, q.channel_query)
        assert query == expected(window), line
    assert set(q.EXTENSION_CHANNELS) | {"Security"} <= channels


def test_the_guide_exports_every_log_in_both_shells() -> None:
    for shell in ("cmd", "powershell"):
        channels = [line.split()[2] for line in _exports(GUIDE) if line in _lines(GUIDE, shell)]
        assert sorted(channels) == sorted([*q.EXTENSION_CHANNELS, "Security", "System"]), shell


def test_each_shell_gets_its_own_syntax() -> None:
    for line in _lines(GUIDE, "powershell"):
        assert "%computername%" not in line.lower(), line
        # "$env:COMPUTERNAME_x" would name another variable inside a string.
        assert not re.search(r"\$env:COMPUTERNAME\w", line), line
        assert not re.search(r"(?<!')/subcategory:\{", line), line  # braces start a script block
    for line in _lines(GUIDE, "cmd"):
        assert "$env:" not in line and "$(" not in line, line
    assert any("$($env:COMPUTERNAME)" in line for line in _lines(GUIDE, "powershell"))
    assert any("%computername%" in line for line in _lines(GUIDE, "cmd"))


def test_registry_and_audit_commands_match_collect() -> None:
    lines = _lines(GUIDE, "cmd", "powershell")
    keys = {line.split()[2] for line in lines if line.startswith("reg query")}
    assert keys == set(q.REGISTRY_KEYS.values())
    audits = [line for line in lines if line.startswith("auditpol /get")]
    assert audits and all(
        NPS_AUDIT_GUID in line and line.split(">")[0].strip().endswith("/r") for line in audits
    )
    assert " ".join(q.AUDITPOL_ARGS) in audits[0]


def _pip_help(command: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pip", command, "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_pip_commands_name_real_options() -> None:
    lines = [
        line
        for line in _lines(GUIDE, "cmd", "powershell", "sh")
        if re.search(r"-m pip (download|wheel|install)\b", line)
    ]
    commands = {re.search(r"-m pip (\w+)", line).group(1) for line in lines}
    assert commands == {"download", "wheel", "install"}
    helps = {command: _pip_help(command) for command in commands}
    for line in lines:
        command = re.search(r"-m pip (\w+)", line).group(1)
        for option in re.findall(r"(?<!\S)(--[a-z-]+)", line):
            assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", helps[command]), (
                f"pip {command} has no {option}"
            )
    offline = next(line for line in lines if "--no-index" in line)
    assert "--find-links" in offline


def test_every_npsdiag_command_and_option_mentioned_exists() -> None:
    _register_commands()
    known = {info.name for info in app.registered_commands} | {
        group.name for group in app.registered_groups
    }
    mentioned = re.findall(r"npsdiag (\w+)((?: [^\n`|]*)?)", GUIDE)
    assert {"collect", "analyze"} <= {name for name, _ in mentioned}
    runner = CliRunner()
    for name, rest in mentioned:
        if name not in known:
            # Prose such as "npsdiag itself"; commands are always followed by options or a path.
            assert not rest.strip().startswith(("-", "C:")), (name, rest)
            continue
        helptext = runner.invoke(app, [name, "--help"]).output
        for option in re.findall(r"(?<!\S)(--[a-z][a-z-]*)", rest):
            assert option in helptext, f"npsdiag {name} has no {option}"
    for option in ("--since", "--output", "--force", "--no-analyze", "--html", "--quiet"):
        assert "npsdiag collect" in GUIDE and option in GUIDE


def test_exit_code_table_matches_the_cli() -> None:
    section = GUIDE.split("## 4. Exit codes, for scripts", 1)[1].split("\n## ", 1)[0]
    codes = [int(code) for code in re.findall(r"^\|\s*(\d+) \|", section, re.M)]
    assert codes == sorted(int(status) for status in ExitStatus)
    assert "$LASTEXITCODE" in section and "%ERRORLEVEL%" in section
