"""Docs stay honest: every command and option is documented, every linked page exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from npsdiag.cli import _register_commands, app

ROOT = Path(__file__).resolve().parents[1]
CLI_DOC = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands() -> list[tuple[str, typer.Typer | None]]:
    _register_commands()
    names = [(info.name or "", None) for info in app.registered_commands]
    names += [(group.name or "", group.typer_instance) for group in app.registered_groups]
    return names


@pytest.mark.parametrize("name", [name for name, _ in _commands()])
def test_every_command_and_option_is_in_docs_cli(name: str) -> None:
    assert f"`npsdiag {name}" in CLI_DOC, name
    result = CliRunner().invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output
    for option in sorted(set(re.findall(r"(--[a-z][a-z-]+)", result.output)) - {"--help"}):
        assert f"`{option}" in CLI_DOC, f"{name} {option} is not in docs/cli.md"


def test_readme_starts_with_the_two_commands() -> None:
    blocks = re.findall(r"```sh\n(.*?)```", README, re.S)
    assert "npsdiag analyze samples/" in blocks[0]
    assert blocks[1].strip().startswith("bash .ci/run")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install" in ci and "pytest" in ci and "mypy" in ci and "ruff" in ci


def test_every_linked_doc_exists() -> None:
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#:]+\.md)(?:#[^)]*)?\)", text):
            assert (page.parent / target).resolve().is_file(), f"{page.name} links {target}"
