"""Tests of the report renderers: golden files, hostile text, determinism, docs and schema."""

from __future__ import annotations

import csv
import difflib
import importlib.resources
import io
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from functools import partial
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from npsdiag.errors import UsageError
from npsdiag.model import (
    Analysis,
    Diagnosis,
    Event,
    Finding,
    FindingKind,
    Incident,
    Problem,
    SourceKind,
    SourceStats,
)
from npsdiag.report import (
    REPORTS,
    Guidance,
    ReportOptions,
    guidance_from_entries,
    render_report,
    write_report,
)
from npsdiag.report._view import display_text, format_time, json_text, nps_decision, shorten
from npsdiag.report.csv import COLUMNS, neutralise_formula
from npsdiag.report.markdown import code_block, code_span, escape_cell, escape_inline
from tests.html_checks import foreign_scripts, without_our_script
from tests.report_fixtures import (
    REGEN_VARIABLE,
    TERMINAL_SCREENS,
    build_analysis,
    build_options,
    golden_path,
    terminal_golden_path,
    terminal_options,
)

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SCHEMA_PATH = DOCS / "report.schema.json"

#: Text that tries to break every format at once.
HOSTILE = (
    '<script>alert("x")</script></pre></td></table><!-- \' " & &amp; '
    "| col | `code` ``` ~~~\n# heading\n---\n"
    '=HYPERLINK("http://evil.invalid") \x00\x07\x08\x1b[31mred\x1b[0m \r\n'
    "[bold red]markup[/] :smile: \u202egnp.exe\u202c \u2066x\u2069 \x85\x9b \u2028end\t."
)
#: Characters that must never reach a human-readable report.
FORBIDDEN_DISPLAY = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]"
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
T0 = datetime(2026, 1, 14, 9, 0, tzinfo=timezone.utc)


# --------------------------------------------------------------------------- helpers


def render(name: str, analysis: Analysis, options: ReportOptions | None = None) -> str:
    return render_report(name, analysis, options or ReportOptions())


def hostile_event(text: str, *, minutes: float = 0, message: str | None = None) -> Event:
    return Event(
        time=T0 + timedelta(minutes=minutes),
        channel=text,
        provider=text,
        event_id=3,
        level=1,
        computer=text,
        record_id=7,
        fields={text: text, "Reason": text},
        data=(text, text),
        message=text if message is None else message,
        origin=text,
        keywords=text,
    )


def hostile_analysis(text: str = HOSTILE, *, message: str | None = None) -> Analysis:
    """An analysis with ``text`` in every string a report shows."""
    diagnosis = Diagnosis(text, text, text, text, text, text)
    finding = Finding(
        event=hostile_event(text, message=message),
        kind=text,
        codes=(text, "=1+1"),
        cid=text,
        user=text,
        user_key=text,
        state=text,
        aadsts=(text,),
        trace_id=text,
        correlation_id=text,
        detail=text,
        response_state=text,
        reason_code=21,
        client_ip=text,
        client_name=text,
        nas_ip=text,
    )
    incidents = [
        Incident(
            key=text,
            user=text,
            start=T0,
            end=T0 + timedelta(seconds=1),
            outcome="rejected",
            findings=[finding],
            diagnosis=diagnosis,
            cid=text,
            codes=(text,),
        ),
        Incident(
            key="formula",
            user='=HYPERLINK("http://evil.invalid","x")',
            start=T0 + timedelta(minutes=1),
            end=T0 + timedelta(minutes=1),
            outcome=text,
            findings=[replace(finding, event=hostile_event(text, minutes=1, message=message))],
            cid="+cmd|' /C calc'!A0",
            codes=("-2+3", "@SUM(A1)"),
        ),
    ]
    notice = Incident(
        key=text + "notice",
        user=None,
        start=T0,
        end=T0,
        outcome="notice",
        findings=[finding],
        diagnosis=diagnosis,
    )
    source = SourceStats(name=text, kind=text, size=10, records_read=1, status=text)
    source.note_error(text)
    problem = Problem(
        entry_id=text,
        title=text,
        category=text,
        severity=text,
        confidence=text,
        scope=text,
        users=[text, "@user"],
        incident_keys=[text, "formula", "missing-key"],
        start=T0,
        end=T0 + timedelta(minutes=1),
        because=text,
    )
    return Analysis(
        problems=[problem],
        incidents=incidents,
        notices=[notice],
        sources=[source],
        unknown_codes=[text],
        version=text,
        command_line=text,
        config_findings=[{text: text}],
    )


def hostile_options(text: str = HOSTILE) -> ReportOptions:
    return ReportOptions(
        guidance={
            text: Guidance(
                cause=text,
                steps=(text,),
                collect=(text,),
                references=("javascript:alert(1)", text),
            )
        }
    )


def empty_analysis() -> Analysis:
    return Analysis([], [], [], [], [], "0.1.0", "npsdiag analyze nothing")


def unescaped_pipes(line: str) -> int:
    """Count the ``|`` that Markdown treats as cell separators (not backslash-escaped)."""
    count = 0
    index = 0
    while index < len(line):
        if line[index] == "\\":
            index += 2
            continue
        if line[index] == "|":
            count += 1
        index += 1
    return count


def outside_code(markdown: str) -> str:
    """``markdown`` without fenced code blocks and code spans (which render as plain text)."""
    kept: list[str] = []
    fence: str | None = None
    for line in markdown.splitlines():
        if fence is None:
            opening = re.match(r"^(`{3,})", line)
            if opening:
                fence = opening.group(1)
            else:
                kept.append(line)
        elif line == fence:
            fence = None
    assert fence is None, "unclosed code block"
    return re.sub(r"(?<![\\`])(`+)(?!`).*?(?<!`)\1(?!`)", "", "\n".join(kept))


class _TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend(attrs)


# A small JSON Schema (2020-12 subset) checker, used when ``jsonschema`` is not installed.
# It covers every keyword docs/report.schema.json uses and fails on any other keyword.
_SUPPORTED_KEYWORDS = {
    "$schema", "$id", "$ref", "$defs", "title", "description", "type", "const", "enum",
    "required", "properties", "additionalProperties", "items", "minimum", "pattern", "anyOf",
}  # fmt: skip
_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "string": lambda value: isinstance(value, str),
    "integer": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "null": lambda value: value is None,
    "boolean": lambda value: isinstance(value, bool),
}


def schema_errors(
    value: Any, schema: dict[str, Any], root: dict[str, Any], where: str = "$"
) -> list[str]:
    unknown = set(schema) - _SUPPORTED_KEYWORDS
    assert not unknown, f"checker does not support {unknown} at {where}"
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return schema_errors(value, target, root, where)
    errors: list[str] = []
    if "anyOf" in schema:
        if all(schema_errors(value, option, root, where) for option in schema["anyOf"]):
            errors.append(f"{where}: matches no anyOf option")
        return errors
    if "const" in schema and value != schema["const"]:
        errors.append(f"{where}: expected {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: expected one of {schema['enum']!r}")
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_JSON_TYPES[name](value) for name in types):
            return [f"{where}: expected type {types}, got {type(value).__name__}"]
    if "minimum" in schema and isinstance(value, int) and value < schema["minimum"]:
        errors.append(f"{where}: {value} < {schema['minimum']}")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        errors.append(f"{where}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, dict):
        for key in schema.get("required", ()):
            if key not in value:
                errors.append(f"{where}: missing required key {key!r}")
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in properties:
                errors += schema_errors(item, properties[key], root, f"{where}.{key}")
            elif extra is False:
                errors.append(f"{where}: unexpected key {key!r}")
            elif isinstance(extra, dict):
                errors += schema_errors(item, extra, root, f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            errors += schema_errors(item, schema["items"], root, f"{where}[{index}]")
    return errors


def validate_report(document: Any) -> list[str]:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    try:
        import jsonschema  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        return schema_errors(document, schema, schema)
    validator = jsonschema.Draft202012Validator(schema)
    return [error.message for error in validator.iter_errors(document)]


# --------------------------------------------------------------------------- golden files


def _compare_golden(name: str, path: Path, options: ReportOptions) -> str:
    """The report rendered with ``options``, after failing unless it equals ``path``."""
    if os.environ.get(REGEN_VARIABLE) == "1":
        write_report(name, build_analysis(), path, options)
        pytest.skip(f"rewrote {path} ({REGEN_VARIABLE}=1)")
    text = render(name, build_analysis(), options)
    assert path.is_file(), f"{path} is missing: run python -m tests.report_fixtures --regen"
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        diff = difflib.unified_diff(
            expected.splitlines(), text.splitlines(), "golden", "rendered", lineterm=""
        )
        pytest.fail(f"{name} report differs from {path}:\n" + "\n".join(list(diff)[:60]))
    return text


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_golden_file(name: str) -> None:
    _compare_golden(name, golden_path(name), build_options())


@pytest.mark.parametrize(
    ("width", "color"),
    TERMINAL_SCREENS,
    ids=[f"{w}-{'colour' if c else 'plain'}" for w, c in TERMINAL_SCREENS],
)
def test_golden_terminal_screens(width: int, color: bool) -> None:
    options = terminal_options(width, color)
    text = _compare_golden("terminal", terminal_golden_path(width, color), options)
    plain = re.sub(r"\x1b\[[0-9;]*m", "", text)
    # Laid out for the screen: no line is wider than it, whatever the colours.
    assert max(len(line) for line in plain.splitlines()) <= width
    assert ("\x1b[" in text) is color
    if color:
        uncoloured = render("terminal", build_analysis(), terminal_options(width, False))
        assert [line.rstrip() for line in plain.splitlines()] == uncoloured.splitlines()


def test_golden_terminal_shows_what_matters_first() -> None:
    text = golden_path("terminal").read_text(encoding="utf-8")
    # The answer first: the problems with their fix, the configuration fault, ...
    first_screen = "\n".join(text.splitlines()[:24])
    assert "4 problems and 1 configuration fault found." in first_screen
    assert "1. The extension cannot get a token from Entra ID" in first_screen
    assert "Fix: Run the extension's configuration script again" in first_screen
    # ... the fix even where the catalog lists a check before it ...
    assert "Fix: Remove passwords saved on the user's devices" in first_screen
    assert "Configuration fault (1)" in first_screen
    # ... then the details, in the report order.
    assert text.index("Problems in detail") < text.index("Affected users (10)")
    assert text.index("Affected users (10)") < text.index("Failed attempts (11 of 13)")
    # Only the two files that lost data; the trace and the unknown file are inventory.
    assert text.index("Failed attempts (11 of 13)") < text.index("Not read in full (2)")
    assert "2 more inputs listed, not read on purpose" in text
    assert "and 2 more" in text  # 7 users, 5 shown
    assert "2 benign notices" in text
    assert "C:\\export\\System.evtx" in text
    assert "unreadable (evtx): read 0, failed 1" in text
    # Every step in the details, with its kind.
    assert "2. check Check that the certificate in the computer store" in text
    # Nothing points at an HTML report the run did not write.
    assert "HTML report" not in text
    assert text.rstrip().endswith("Every problem's fix is at the top of this report.")


# --------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_rendering_twice_gives_identical_output(name: str) -> None:
    assert render(name, build_analysis(), build_options()) == render(
        name, build_analysis(), build_options()
    )


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_input_order_does_not_change_output(name: str) -> None:
    analysis = build_analysis()
    shuffled = replace(
        analysis,
        incidents=list(reversed(analysis.incidents)),
        notices=list(reversed(analysis.notices)),
        sources=list(reversed(analysis.sources)),
        unknown_codes=list(reversed(analysis.unknown_codes)),
    )
    assert render(name, shuffled, build_options()) == render(name, analysis, build_options())


def test_times_are_utc_whatever_the_input_zone() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert format_time(datetime(2026, 1, 14, 11, 30, 12, 345678, plus_two)) == (
        "2026-01-14T09:30:12.345678Z"
    )
    assert format_time(datetime(2026, 1, 14, 9, 30)) == "2026-01-14T09:30:00.000000Z"
    assert format_time(None) is None


def test_no_wall_clock_in_reports() -> None:
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    for name in REPORTS:
        assert today not in render(name, build_analysis(), build_options()), name


# --------------------------------------------------------------------------- registry, docs


def test_every_format_is_documented() -> None:
    text = (DOCS / "reports.md").read_text(encoding="utf-8")
    for name in REPORTS:
        assert re.search(rf"^## {re.escape(name)}$", text, re.MULTILINE), name


def test_registry_entries_are_consistent() -> None:
    assert set(REPORTS) == {"terminal", "html", "json", "jsonl", "markdown", "csv"}
    suffixes = [report.suffix for report in REPORTS.values()]
    assert len(set(suffixes)) == len(suffixes)
    for name, report in REPORTS.items():
        assert report.name == name
        assert report.description and report.suffix.startswith(".")
        output = report.render(empty_analysis())
        assert isinstance(output, str) and output.endswith("\n") and not output.endswith("\n\n")


def test_importing_the_registry_stays_light() -> None:
    code = "import sys, npsdiag.report; print(sorted({'rich', 'jinja2'} & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "[]"


def test_template_ships_inside_the_package() -> None:
    template = importlib.resources.files("npsdiag.report").joinpath("templates/report.html.j2")
    assert template.is_file()


def test_guidance_from_entries_indexes_by_id() -> None:
    @dataclass(frozen=True)
    class Entry:
        id: str
        cause: str
        steps: tuple[str, ...]
        collect: tuple[str, ...]
        references: tuple[str, ...]

    entry = Entry("ext.x", "cause", ("one", "two"), ("log",), ("https://example.invalid",))
    guidance = guidance_from_entries([entry])
    assert guidance == {
        "ext.x": Guidance("cause", ("one", "two"), ("log",), ("https://example.invalid",))
    }
    assert guidance["ext.x"].fixes == ()  # a source without step kinds names no fix
    text = render("json", build_analysis(), ReportOptions(guidance=guidance))
    assert json.loads(text)["problems"][0]["steps"] == []  # other entry ids: no guidance


def test_guidance_from_the_shipped_catalog() -> None:
    catalog_module = pytest.importorskip("npsdiag.catalog")
    entries = catalog_module.load_catalog().entries
    guidance = guidance_from_entries(entries)
    assert set(guidance) == {entry.id for entry in entries}
    assert all(guidance[entry.id].steps == tuple(entry.steps) for entry in entries)
    # The fixes are the catalog's fix steps, so a report can lead with the first one.
    assert all(guidance[entry.id].fixes == entry.fixes for entry in entries)
    timeout = guidance["nps.client-timeout"]
    assert timeout.fixes[0] == timeout.steps[1] and timeout.fixes[0].startswith("Raise")


def test_problem_cause_comes_from_guidance() -> None:
    document = json.loads(render("json", build_analysis(), build_options()))
    assert document["problems"][0]["cause"].startswith("Before it can ask for MFA")
    assert document["problems"][3]["cause"] is None
    html_page = render("html", build_analysis(), build_options())
    assert "<dt>Cause</dt><dd>Before it can ask for MFA" in html_page


def test_write_report_writes_utf8_with_lf(tmp_path: Path) -> None:
    for name, report in REPORTS.items():
        target = tmp_path / f"out{report.suffix}"
        assert write_report(name, build_analysis(), target, build_options()) == target
        raw = target.read_bytes()
        assert b"\r\n" not in raw
        assert raw.decode("utf-8") == render(name, build_analysis(), build_options())


def test_write_report_rejects_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown report format 'pdf'"):
        write_report("pdf", build_analysis(), tmp_path / "x.pdf")


def test_write_report_names_an_unwritable_path(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot write the json report"):
        write_report("json", build_analysis(), tmp_path / "missing" / "r.json")


def test_empty_analysis_says_so() -> None:
    # No attempt at all is not "nothing wrong": every format says it cannot tell.
    assert empty_analysis().verdict == "no-evidence"
    terminal = render("terminal", empty_analysis())
    assert "Cannot tell:" in terminal and "No problems found." not in terminal
    html = render("html", empty_analysis())
    assert "Cannot tell:" in html and "No failures to plot." in html
    assert "Cannot tell:" in render("markdown", empty_analysis())
    assert json.loads(render("json", empty_analysis()))["verdict"] == "no-evidence"
    assert render("csv", empty_analysis()) == ",".join(COLUMNS) + "\n"


def test_a_healthy_analysis_says_no_problems() -> None:
    analysis = people_analysis([person_incident("ok", "ann@contoso.com", 1, "accepted")])
    assert analysis.verdict == "healthy"
    assert "No problems found." in render("terminal", analysis)
    assert "No problems found." in render("html", analysis)
    assert "No problems found." in render("markdown", analysis)


# --------------------------------------------------------------------------- display text


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain text", "plain text"),
        ("tab\tand\nnewline", "tab\tand\nnewline"),
        ("windows\r\nline", "windows\nline"),
        ("bare\rreturn", "bare\nreturn"),
        ("\x1b[31mred", "\u241b[31mred"),
        ("nul\x00bell\x07del\x7f", "nul\u2400bell\u2407del\u2421"),
        ("c1\x85\x9b", "c1\ufffd\ufffd"),
        ("\u202egnp.exe", "<U+202E>gnp.exe"),
        ("iso\u2066late\u2069", "iso<U+2066>late<U+2069>"),
        ("line\u2028sep", "line\nsep"),
        ("lone\ud800surrogate", "lone\ufffdsurrogate"),
    ],
)
def test_display_text(raw: str, shown: str) -> None:
    assert display_text(raw) == shown


def test_json_text_keeps_everything_but_surrogates() -> None:
    assert json_text(HOSTILE) == HOSTILE
    assert json_text("a\udc80b") == "a\ufffdb"


def test_shorten_says_how_much_is_missing() -> None:
    assert shorten("abcdef", 10) == "abcdef"
    assert shorten("abcdef", 2) == "ab... (4 more characters)"


# --------------------------------------------------------------------------- json


def test_golden_json_validates_against_the_schema() -> None:
    document = json.loads(golden_path("json").read_text(encoding="utf-8"))
    assert validate_report(document) == []
    assert document["schema_version"] == 3
    assert document["tool"] == {
        "name": "npsdiag",
        "version": "0.1.0",
        "command_line": r"npsdiag analyze C:\export --html report.html",
    }


def test_schema_check_catches_a_broken_document() -> None:
    document = json.loads(render("json", build_analysis(), build_options()))
    del document["events"][0]["origin"]
    document["problems"][0]["rank"] = "first"
    document["sources"][0]["first_time"] = "2026-01-14 09:00"
    document["summary"]["surprise"] = 1
    errors = validate_report(document)
    assert len(errors) >= 4, errors


def test_every_schema_key_is_documented() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    text = (DOCS / "report-json-schema.md").read_text(encoding="utf-8")
    keys: set[str] = set()

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            keys.update(node.get("properties", {}))
            for child in node.values():
                collect(child)
        elif isinstance(node, list):
            for child in node:
                collect(child)

    collect(schema)
    missing = sorted(key for key in keys if f"`{key}`" not in text)
    assert not missing


def event_of(document: dict[str, Any], finding: dict[str, Any]) -> dict[str, Any]:
    """The evidence event a finding of a JSON report points to."""
    event: dict[str, Any] = document["events"][finding["event"]]
    return event


def test_json_is_sorted_one_list_element_per_line() -> None:
    text = render("json", build_analysis(), build_options())
    document = json.loads(text)
    lines = text.splitlines()
    # Top-level keys sorted; a long list has one element per line; everything else one line.
    top = [line.split('":', 1)[0].lstrip('{"') for line in [lines[0], *lines] if line[0] == '"']
    top.insert(0, lines[0].split('":', 1)[0].lstrip('{"'))
    top = list(dict.fromkeys(top))
    assert top == sorted(document) and len(top) == len(document)
    encode = partial(json.dumps, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    for key in ("events", "incidents", "notices", "users"):
        start = lines.index(f'"{key}":[')
        listed = [line.rstrip(",") for line in lines[start + 1 : start + 1 + len(document[key])]]
        assert listed == [encode(item) for item in document[key]], key
    # Every event is written once and every finding points to its own.
    findings = [
        f for item in (*document["incidents"], *document["notices"]) for f in item["evidence"]
    ]
    assert sorted(f["event"] for f in findings) == list(range(len(document["events"])))
    first = document["incidents"][0]
    assert event_of(document, first["evidence"][0])["time"] == "2026-01-14T09:02:00.000000Z"
    assert document["problems"][0]["steps"][0].startswith("Run the extension's configuration")


def test_json_keeps_hostile_text_exactly() -> None:
    document = json.loads(render("json", hostile_analysis(), hostile_options()))
    assert validate_report(document) == []
    event = event_of(document, document["incidents"][0]["evidence"][0])
    assert event["message"] == HOSTILE
    assert event["fields"] == {HOSTILE: HOSTILE, "Reason": HOSTILE}
    assert document["tool"]["command_line"] == HOSTILE


def test_json_replaces_lone_surrogates() -> None:
    text = render("json", hostile_analysis("bad\ud800text"))
    text.encode("utf-8")  # would raise on a surrogate
    assert "bad\ufffdtext" in json.loads(text)["incidents"][0]["user"]


# --------------------------------------------------------------------------- affected users


def person_finding(
    user: str | None,
    minutes: float,
    kind: str = FindingKind.EXCEPTION,
    *,
    keys: tuple[str, ...] = (),
    reason_code: int | None = None,
) -> Finding:
    """A finding naming ``user``; ``keys`` are its identity keys (user_key, then aliases)."""
    event = Event(
        time=T0 + timedelta(minutes=minutes),
        channel="Security" if kind.startswith("nps.") else "AuthZAdminCh",
        provider="test",
        event_id={"nps.granted": 6272, "nps.denied": 6273, "nps.discarded": 6274}.get(kind, 3),
        level=0,
        computer="NPS01",
        record_id=None,
        fields={},
        data=(),
        message=f"event for {user}",
        origin="test.evtx",
    )
    return Finding(
        event=event,
        kind=kind,
        user=user,
        user_key=keys[0] if keys else None,
        user_aliases=keys[1:],
        reason_code=reason_code,
    )


def person_incident(
    key: str,
    user: str | None,
    minutes: float,
    outcome: str,
    *findings: Finding,
    keys: tuple[str, ...] = (),
    diagnosis: Diagnosis | None = None,
) -> Incident:
    evidence = list(findings) or [person_finding(user, minutes, keys=keys)]
    times = [finding.event.time for finding in evidence]
    return Incident(
        key=key,
        user=user,
        start=min(times),
        end=max(times),
        outcome=outcome,
        findings=evidence,
        diagnosis=diagnosis,
    )


def people_analysis(incidents: list[Incident]) -> Analysis:
    return Analysis([], incidents, [], [], [], "0.1.0", "npsdiag analyze people")


def json_users(analysis: Analysis) -> list[dict[str, Any]]:
    document = json.loads(render("json", analysis))
    assert validate_report(document) == []
    users: list[dict[str, Any]] = document["users"]
    return users


def test_users_merge_the_two_name_forms_of_one_person_in_the_fixture() -> None:
    users = json_users(build_analysis())
    assert [user["name"] for user in users] == [
        "CONTOSO\\carol",  # 2 failures, then everyone with 1, by name
        "alice@contoso.com",
        "bob@contoso.com",
        "dave@contoso.com",
        "erin@contoso.com",
        "frank@contoso.com",
        "grace@contoso.com",
        "heidi@contoso.com",
        "ivan@contoso.com",
        "kim@contoso.com",
    ]
    carol = users[0]
    assert carol["other_names"] == ["carol@contoso.com"]
    assert carol["identity_keys"] == ["carol"]
    assert (carol["failed"], carol["succeeded"]) == (2, 0)
    assert (carol["first_time"], carol["last_time"]) == (
        "2026-01-14T09:17:00.000000Z",
        "2026-01-14T09:54:00.600000Z",
    )
    first, second = carol["attempts"]
    assert first["user"] == "CONTOSO\\carol" and first["nps_decision"] is None
    assert second == {
        "incident_key": "carol@contoso.com|2026-01-14T09:54:00Z",
        "user": "carol@contoso.com",
        "start": "2026-01-14T09:54:00.000000Z",
        "outcome": "rejected",
        "diagnosis_id": "nps.reason-16",
        "title": "Wrong user name or password",
        "codes": [],
        "nps_decision": {"event_id": 6273, "reason_code": 16},
    }
    alice = users[1]
    assert (alice["failed"], alice["succeeded"]) == (1, 1)
    assert alice["attempts"][1]["outcome"] == "accepted"
    assert alice["attempts"][1]["diagnosis_id"] is None and alice["attempts"][1]["title"] is None
    assert alice["attempts"][1]["nps_decision"] == {"event_id": 6272, "reason_code": None}
    ivan = next(user for user in users if user["name"] == "ivan@contoso.com")
    assert ivan["attempts"][0]["nps_decision"] == {"event_id": 6274, "reason_code": 9}
    # Judy only succeeded: not an affected user.
    assert all("judy" not in user["name"] for user in users)


def test_users_merge_transitively_across_name_forms_and_exact_names() -> None:
    incidents = [
        # The extension logs the UPN; NPS resolves it to CONTOSO\asmith and names both
        # (user_key and alias); a later attempt uses the bare sAMAccountName.
        person_incident("a1", "alice.smith@contoso.com", 0, "error", keys=("alice.smith",)),
        person_incident("a2", "CONTOSO\\asmith", 5, "accepted", keys=("asmith", "alice.smith")),
        person_incident("a3", "asmith", 10, "accepted", keys=("asmith",)),
        person_incident("b1", "bob", 1, "error", keys=("bob",)),
        person_incident("b2", "bob@contoso.com", 2, "no-answer", keys=("bob",)),
        # No identity key at all: the same exact name is still the same person.
        person_incident("c1", "Carl", 3, "discarded"),
        person_incident("c2", "Carl", 4, "unknown"),
        # Nobody: neither a user nor a key.
        person_incident("n1", None, 6, "error"),
    ]
    users = json_users(people_analysis(incidents))
    # Two failures each, ordered by name whatever its case ("bob" before "Carl"), then one.
    assert [user["name"] for user in users] == ["bob", "Carl", "alice.smith@contoso.com"]
    bob, carl, alice = users
    assert bob["other_names"] == ["bob@contoso.com"] and bob["identity_keys"] == ["bob"]
    assert carl["identity_keys"] == [] and carl["failed"] == 2
    assert alice["other_names"] == ["CONTOSO\\asmith", "asmith"]
    assert alice["identity_keys"] == ["alice.smith", "asmith"]
    assert (alice["failed"], alice["succeeded"]) == (1, 2)
    assert [attempt["incident_key"] for attempt in alice["attempts"]] == ["a1", "a2", "a3"]


def test_users_do_not_depend_on_input_order() -> None:
    analysis = build_analysis()
    shuffled = replace(
        analysis,
        incidents=[
            replace(incident, findings=list(reversed(incident.findings)))
            for incident in reversed(analysis.incidents)
        ],
    )
    assert json_users(shuffled) == json_users(analysis)
    # The name is the form of the earliest incident, not of the first one listed.
    assert json_users(shuffled)[0]["name"] == "CONTOSO\\carol"


def test_users_ignore_people_who_never_failed() -> None:
    incidents = [
        person_incident("j1", "judy", 0, "accepted", keys=("judy",)),
        person_incident("j2", "judy", 1, "ignored", keys=("judy",)),
    ]
    assert json_users(people_analysis(incidents)) == []
    assert "No user has a failed attempt." in render("terminal", people_analysis(incidents))
    assert "Affected users (0)" in render("html", people_analysis(incidents))
    assert "## Affected users (0)" in render("markdown", people_analysis(incidents))


def test_nps_decision_prefers_an_answer_to_a_discard_then_the_latest() -> None:
    discard = person_finding("u", 1, FindingKind.NPS_DISCARDED, keys=("u",), reason_code=9)
    denial = person_finding("u", 2, FindingKind.NPS_DENIED, keys=("u",), reason_code=16)
    late_discard = person_finding("u", 3, FindingKind.NPS_DISCARDED, keys=("u",), reason_code=9)
    grant = person_finding("u", 0.5, FindingKind.NPS_GRANTED, keys=("u",))
    assert nps_decision([discard, denial, late_discard]) is denial
    assert nps_decision([late_discard, discard]) is late_discard
    assert nps_decision([denial, grant]) is denial
    assert nps_decision([person_finding("u", 0, keys=("u",))]) is None
    incident = person_incident("x", "u", 0, "rejected", discard, denial, late_discard)
    (user,) = json_users(people_analysis([incident]))
    assert user["attempts"][0]["nps_decision"] == {"event_id": 6273, "reason_code": 16}


def test_users_show_the_nps_decision_in_every_human_format() -> None:
    terminal = render("terminal", build_analysis(), build_options())
    section = terminal.split("Affected users (10)")[1].split("Failed attempts (11 of 13)")[0]
    assert "6273 denied (16)" in section and "6274 discarded (9)" in section
    assert "6272 granted" in section
    # One person under both names; the counts go under the name when the line is too long.
    assert "CONTOSO\\carol (also carol@contoso.com)\n   2 failed, 0 succeeded" in section
    markdown = render("markdown", build_analysis(), build_options())
    assert "| 6273 denied, reason 16 |" in markdown
    document = lxml.html.document_fromstring(render("html", build_analysis(), build_options()))
    carol = document.xpath("//tbody[@id='user-1']")[0]
    assert "CONTOSO\\carol" in carol.xpath(".//th")[0].text_content()
    cells = [row.xpath("./td")[-1].text_content() for row in carol.xpath("./tr")[1:]]
    assert cells == ["-", "6273 denied, reason 16"]
    assert carol.xpath("./tr[3]/td[1]/a/@href") == ["#incident-12"]


def test_terminal_caps_users_and_attempts_per_user() -> None:
    incidents = [
        person_incident(f"busy{index}", "busy", index, "error", keys=("busy",))
        for index in range(8)
    ]
    incidents += [
        person_incident(f"u{index}", f"user{index:02d}", 10 + index, "error", keys=(f"u{index}",))
        for index in range(25)
    ]
    options = ReportOptions(max_terminal_users=20, max_terminal_attempts=5)
    text = render("terminal", people_analysis(incidents), options)
    section = text.split("Affected users (26)")[1].split("Failed attempts (33 of 33)")[0]
    busy = section.split("busy: 8 failed, 0 succeeded")[1].split("user00")[0]
    assert busy.count("error") == 5  # five attempts, then how many more
    assert "and 3 more (the last ending at 2026-01-14T09:07:00Z)" in busy
    # Without an HTML report in the same run, it says how to get the rest ...
    assert "... and 6 more affected users (write them all with --html FILE or" in section
    # ... and with one, where the rest is.
    written = replace(options, html_report="out/report.html")
    text = render("terminal", people_analysis(incidents), written)
    assert "... and 6 more affected users in out/report.html" in text
    assert "user18" in section and "user19" not in section


def test_hostile_user_names_are_escaped_in_the_users_view() -> None:
    analysis = hostile_analysis()
    (user,) = json_users(analysis)  # both incidents share the hostile identity key
    assert user["name"] == HOSTILE
    assert user["other_names"] == ['=HYPERLINK("http://evil.invalid","x")']
    shown = display_text(HOSTILE)
    page = render("html", analysis, hostile_options())
    users = lxml.html.document_fromstring(page).xpath("//section[@id='users']")[0]
    assert users.xpath(".//script") == []
    assert shown in users.xpath(".//th[@scope='rowgroup']")[0].text_content()
    markdown = render("markdown", analysis, hostile_options())
    section = markdown.split("## Affected users (1)")[1].split("## Incidents")[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    assert len(rows) == 2 + 2 and all(unescaped_pipes(row) == 7 for row in rows)
    assert not re.search(r"(?<!\\)<(?!br>)", outside_code(section))
    terminal = render("terminal", analysis, hostile_options())
    section = terminal.split("Affected users (1)")[1].split("Incidents (2)")[0]
    assert "\x1b" not in section and "[bold red]markup[/]" in section.replace("\n", " ")
    assert not FORBIDDEN_DISPLAY.search(section)


def test_not_diagnosed_means_an_unexplained_failure() -> None:
    terminal = render("terminal", build_analysis(), build_options())
    # judy signed in: the terminal counts successful attempts and lists only failures.
    assert "judy@contoso.com" not in terminal
    assert "Not listed: 2 attempts that did not fail (2 accepted)." in terminal
    kim = next(line for line in terminal.splitlines() if line.startswith("2026-01-14T09:52"))
    assert kim.endswith("not diagnosed")
    markdown = render("markdown", build_analysis(), build_options())
    judy_row = next(line for line in markdown.splitlines() if "| judy@contoso.com |" in line)
    assert "| accepted |  | - |" in judy_row
    assert "| kim@contoso.com | error | CLIENT_CERT_IDENTIFIER | not diagnosed |" in markdown
    document = lxml.html.document_fromstring(render("html", build_analysis(), build_options()))
    judy_article = document.xpath("//article[@id='incident-9']")[0].text_content()
    kim_article = document.xpath("//article[@id='incident-11']")[0].text_content()
    assert "Nothing to diagnose." in judy_article and "Not diagnosed" not in judy_article
    assert "Not diagnosed: no catalog entry explains this failure." in kim_article


# --------------------------------------------------------------------------- html


def test_html_hostile_text_is_escaped() -> None:
    page = render("html", hostile_analysis(), hostile_options())
    document = lxml.html.document_fromstring(page)
    assert foreign_scripts(document) == []
    assert document.xpath("//iframe|//object|//embed|//img|//link|//base|//form") == []
    for element in document.iter():
        for attribute in element.attrib:
            assert not attribute.lower().startswith("on"), attribute
    shown = display_text(HOSTILE)
    pres = [pre.text_content() for pre in document.xpath("//pre")]
    assert pres and all(shown in text for text in pres)
    assert "<script" not in without_our_script(page).lower()
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;/pre&gt;" in page
    assert not FORBIDDEN_DISPLAY.search(page)
    assert "&lt;U+202E&gt;gnp.exe" in page


def test_html_parser_sees_only_our_tags() -> None:
    collector = _TagCollector()
    collector.feed(without_our_script(render("html", hostile_analysis(), hostile_options())))
    assert "script" not in collector.tags
    assert collector.tags.count("pre") == 3  # one per evidence event: two incidents, one notice
    hrefs = [value for name, value in collector.attributes if name == "href"]
    assert "javascript:alert(1)" not in hrefs


def test_html_is_self_contained() -> None:
    page = render("html", build_analysis(), build_options())
    document = lxml.html.document_fromstring(page)
    # One script, the report's own, inline (its hash is in the CSP); nothing loaded.
    assert document.xpath("//link|//img|//iframe|//@src") == []
    assert foreign_scripts(document) == [] and len(document.xpath("//script")) == 1
    assert "script-src 'sha256-" in lxml.html.tostring(document).decode().replace("&#39;", "'")
    style = "".join(document.xpath("//style/text()"))
    assert "@import" not in style and "url(" not in style
    external = [href for href in document.xpath("//@href") if not href.startswith("#")]
    guidance = {link for entry in build_options().guidance.values() for link in entry.references}
    assert set(external) <= guidance
    assert "default-src 'none'" in page
    assert "prefers-color-scheme: dark" in style and "@media print" in style


def test_html_links_resolve_and_ids_are_unique() -> None:
    document = lxml.html.document_fromstring(render("html", build_analysis(), build_options()))
    ids = document.xpath("//@id")
    assert len(ids) == len(set(ids))
    for href in document.xpath("//@href"):
        if href.startswith("#"):
            assert href[1:] in ids, href
    problem_links = document.xpath("//article[@id='problem-1']//a/@href")
    assert [link for link in problem_links if link.startswith("#incident-")] == [
        "#incident-1",
        "#incident-2",
        "#incident-3",
        "#incident-5",
        "#incident-7",
        "#incident-8",
        "#incident-10",
    ]


def test_html_problem_incident_missing_from_report_is_not_linked() -> None:
    document = lxml.html.document_fromstring(render("html", hostile_analysis()))
    items = document.xpath("//article[@id='problem-1']//details//li")
    assert any("missing-key (not in this report)" in item.text_content() for item in items)


def test_html_timeline_has_one_row_per_problem_and_one_for_the_rest() -> None:
    document = lxml.html.document_fromstring(render("html", build_analysis(), build_options()))
    rows = document.xpath("//svg/g")
    assert [row.get("class") for row in rows] == ["row-problem"] * 4 + [
        "row-other",
        "row-nps-granted",
        "row-nps-denied",
        "row-nps-discarded",
        "legend",
    ]
    bars = document.xpath("//svg/g[1]/rect")
    assert len(bars) == 7
    assert "UTC" in document.xpath("//svg/desc")[0].text_content()
    ticks = [text.text_content() for text in document.xpath("//svg/text[@class='tick']")]
    assert ticks[:3] == ["09:00", "2026-01-14", "09:10"]  # the date under the first time


def test_html_timeline_picks_a_bucket_for_long_spans() -> None:
    analysis = build_analysis()
    incidents = [
        replace(incident, start=T0 + timedelta(days=30), end=T0 + timedelta(days=30))
        if incident.user == "kim@contoso.com"
        else incident
        for incident in analysis.incidents
    ]
    page = render("html", replace(analysis, incidents=incidents))
    document = lxml.html.document_fromstring(page)
    assert "per 1 day" in document.xpath("//svg/desc")[0].text_content()
    assert len(document.xpath("//svg//rect")) <= 48 * 5
    ticks = [text.text_content() for text in document.xpath("//svg/text[@class='tick']")]
    assert ticks[0] == "2026-01-14"


def nps_marks(page: str, kind: str) -> list[Any]:
    document = lxml.html.document_fromstring(page)
    return list(document.xpath(f"//svg/g[@class='row-{kind}']//path"))


def test_html_timeline_marks_nps_decisions_at_their_time() -> None:
    page = render("html", build_analysis(), build_options())
    granted = nps_marks(page, "nps-granted")
    denied = nps_marks(page, "nps-denied")
    discarded = nps_marks(page, "nps-discarded")
    assert (len(granted), len(denied), len(discarded)) == (2, 3, 1)
    # Distinct shapes: an arc (circle), a twelve-point X, a triangle.
    assert "a5.0 5.0" in granted[0].get("d")
    assert denied[0].get("d").count("L") == 11
    assert discarded[0].get("d").count("L") == 2
    # Judy's 6272 at 09:40 on a 09:00-10:00 axis from x=250 to x=945: centre 713.3.
    assert granted[0].get("d").startswith("M708.3 ")
    titles = [mark.xpath("./title")[0].text_content() for mark in denied]
    assert titles[2] == (
        "NPS 6273 denied at 2026-01-14T09:54:00.600000Z: carol@contoso.com, reason 16"
    )
    links = [mark.getparent().get("href") for mark in denied]
    assert links == ["#incident-1", "#incident-4", "#incident-12"]
    document = lxml.html.document_fromstring(page)
    legend = [text.text_content() for text in document.xpath("//svg/g[@class='legend']/text")]
    assert legend == ["NPS 6272 granted", "NPS 6273 denied", "NPS 6274 discarded"]
    assert len(document.xpath("//svg")) == 1


def test_html_timeline_buckets_thousands_of_nps_decisions() -> None:
    incidents = [
        person_incident(
            f"k{index}",
            f"user{index}",
            index * 0.25,
            "rejected",
            person_finding(
                f"user{index}", index * 0.25, FindingKind.NPS_DENIED, keys=(f"u{index}",)
            ),
        )
        for index in range(3000)
    ]
    started = time.perf_counter()
    page = render("html", people_analysis(incidents))
    assert time.perf_counter() - started < 10
    marks = nps_marks(page, "nps-denied")
    assert 1 <= len(marks) <= 48
    titles = [mark.xpath("./title")[0].text_content() for mark in marks]
    counts = [re.findall(r"^NPS 6273 denied: (\d+) from ", title) for title in titles]
    assert all(len(found) == 1 for found in counts), titles
    assert sum(int(found[0]) for found in counts) == 3000
    assert all(mark.getparent().tag != "a" for mark in marks)
    assert "one mark per" in page


def test_html_timeline_shows_decisions_even_without_failures() -> None:
    grant = person_finding("judy", 0, FindingKind.NPS_GRANTED, keys=("judy",))
    page = render("html", people_analysis([person_incident("j", "judy", 0, "accepted", grant)]))
    assert "No failures to plot." not in page
    assert len(nps_marks(page, "nps-granted")) == 1


def test_html_timeline_titles_escape_hostile_users() -> None:
    hostile_grant = person_finding(HOSTILE, 0, FindingKind.NPS_DENIED, keys=("x",))
    analysis = people_analysis([person_incident("h", HOSTILE, 0, "rejected", hostile_grant)])
    page = render("html", analysis)
    (mark,) = nps_marks(page, "nps-denied")
    assert display_text(HOSTILE) in mark.xpath("./title")[0].text_content()
    assert foreign_scripts(lxml.html.document_fromstring(page)) == []
    assert not FORBIDDEN_DISPLAY.search(page)


# --------------------------------------------------------------------------- terminal


def test_terminal_prints_hostile_text_literally() -> None:
    text = render("terminal", hostile_analysis(), hostile_options())
    assert "\x1b" not in text
    assert "[bold red]markup[/]" in text or "[bold red]" in text
    assert ":smile:" in text
    assert not FORBIDDEN_DISPLAY.search(text)


def test_terminal_colour_is_optional() -> None:
    assert "\x1b[" not in render("terminal", build_analysis(), build_options())
    coloured = render("terminal", build_analysis(), replace(build_options(), color=True))
    assert "\x1b[" in coloured


def test_terminal_caps_the_incident_table() -> None:
    analysis = build_analysis()
    many = [
        replace(analysis.incidents[0], key=f"k{index}", start=T0 + timedelta(seconds=index))
        for index in range(60)
    ]
    text = render("terminal", replace(analysis, incidents=many), build_options())
    assert "... and 10 more failed attempts (write them all with --html FILE or --csv FILE)" in (
        " ".join(text.split())
    )
    assert "(and" not in text.split("In short")[0].split("Failed attempts")[0]


def test_terminal_width_is_respected() -> None:
    for width in (80, 100, 140):
        text = render("terminal", build_analysis(), replace(build_options(), width=width))
        assert max(len(line) for line in text.splitlines()) <= width


# --------------------------------------------------------------------------- markdown


def test_markdown_tables_cannot_be_broken() -> None:
    text = render("markdown", hostile_analysis(), hostile_options())
    tables = [line for line in text.splitlines() if line.startswith("| ")]
    assert tables
    for line in tables:
        assert unescaped_pipes(line) == 7, line
    prose = outside_code(text)
    assert "script" in prose
    assert not re.search(r"(?<!\\)<(?!br>)", prose)
    assert not FORBIDDEN_DISPLAY.search(text)


def test_markdown_incident_table_has_one_line_per_incident() -> None:
    text = render("markdown", hostile_analysis())
    section = text.split("## Incidents (2)")[1].split("## ")[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    assert len(rows) == 2 + 2  # header, separator, two incidents


def test_markdown_code_blocks_cannot_be_closed_from_inside() -> None:
    block = code_block("a\n````\nb")
    assert block.startswith("`````text\n") and block.endswith("\n`````")
    assert code_span("x`y") == "``x`y``"
    assert code_span("`edge") == "`` `edge ``"


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        (r"CONTOSO\carol", r"CONTOSO\carol"),
        ("ESTS_TOKEN_ERROR", "ESTS_TOKEN_ERROR"),
        ("_emphasis_", r"\_emphasis\_"),
        ("a|b", r"a\|b"),
        ("<b>", r"\<b\>"),
        ("[x](y)", r"\[x\](y)"),
        ("`tick`", r"\`tick\`"),
        ("two\nlines", "two lines"),
        ("trailing\\", "trailing\\\\"),
        (r"\*", r"\\\*"),
    ],
)
def test_markdown_inline_escaping(raw: str, escaped: str) -> None:
    assert escape_inline(raw) == escaped


def test_markdown_cells_keep_line_breaks_as_br() -> None:
    assert escape_cell("one\ntwo|three", 100) == r"one<br>two\|three"


def test_markdown_evidence_is_capped_and_says_so() -> None:
    big = "x" * 1_000_000
    text = render("markdown", hostile_analysis(message=big), hostile_options())
    assert f"... ({1_000_000 - 600} more characters)" in text
    assert len(text) < 50_000


# --------------------------------------------------------------------------- csv


def test_csv_has_fixed_columns_and_one_row_per_incident() -> None:
    rows = list(csv.reader(io.StringIO(render("csv", build_analysis(), build_options()))))
    assert tuple(rows[0]) == COLUMNS
    assert len(rows) == 1 + len(build_analysis().incidents)
    first = dict(zip(COLUMNS, rows[1], strict=True))
    assert first["codes"] == "ESTS_TOKEN_ERROR"
    assert first["evidence_count"] == "2"
    assert first["origins"].split(";") == [
        r"C:\export\AuthZAdminCh.evtx",
        r"C:\export\nps01-bundle.zip!NPS/Security.evtx",
    ]


def test_csv_neutralises_formulas() -> None:
    rows = list(csv.reader(io.StringIO(render("csv", hostile_analysis(), hostile_options()))))
    assert all(len(row) == len(COLUMNS) for row in rows)
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(FORMULA_STARTS), cell
    formula = dict(zip(COLUMNS, rows[2], strict=True))
    assert formula["user"] == '\'=HYPERLINK("http://evil.invalid","x")'
    assert formula["cid"] == "'+cmd|' /C calc'!A0"
    assert formula["codes"] == "'-2+3;@SUM(A1)"


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("alice", "alice"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_neutralise_formula(cell: str, safe: str) -> None:
    assert neutralise_formula(cell) == safe


# --------------------------------------------------------------------------- every format


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_one_megabyte_message_renders_fast(name: str) -> None:
    big = (HOSTILE * (1_000_000 // len(HOSTILE) + 1))[:1_000_000]
    analysis = hostile_analysis(message=big)
    started = time.perf_counter()
    text = render(name, analysis, hostile_options())
    elapsed = time.perf_counter() - started
    assert elapsed < 5.0, f"{name} took {elapsed:.2f}s for a 1 MB message"
    if name == "html":
        document = lxml.html.document_fromstring(text)
        assert foreign_scripts(document) == []
        assert display_text(big) in document.xpath("//pre")[0].text_content()
    if name == "json":
        document = json.loads(text)
        assert event_of(document, document["incidents"][0]["evidence"][0])["message"] == big
    if name == "jsonl":
        lines = [json.loads(line) for line in text.split("\n") if line]
        incident = next(line for line in lines if line["type"] == "incident")
        assert incident["evidence"][0]["event"]["message"] == big
    if name not in ("json", "jsonl"):
        assert not FORBIDDEN_DISPLAY.search(text)


_ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=40)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_ANY_TEXT)
def test_any_text_renders_safely_in_every_format(text: str) -> None:
    analysis = hostile_analysis(text or "x")
    for name in REPORTS:
        output = render(name, analysis, hostile_options(text or "x"))
        output.encode("utf-8")
        assert output.endswith("\n")
        if name == "json":
            assert validate_report(json.loads(output)) == []
        elif name == "jsonl":
            # One object per line, whatever a line-reading tool takes as a line break.
            assert all(json.loads(line)["type"] for line in output.splitlines())
            assert len(output.splitlines()) == output.count("\n")
        else:
            assert not FORBIDDEN_DISPLAY.search(output), name
        if name == "html":
            assert foreign_scripts(lxml.html.document_fromstring(output)) == []
        if name == "csv":
            for row in list(csv.reader(io.StringIO(output)))[1:]:
                assert len(row) == len(COLUMNS)
                assert not any(cell.startswith(FORMULA_STARTS) for cell in row)


def test_fixture_sources_cover_every_read_state() -> None:
    statuses = {source.status for source in build_analysis().sources}
    assert statuses == {"ok", "partial", "unreadable", "listed", "skipped"}
    assert {source.kind for source in build_analysis().sources} >= {
        SourceKind.EVTX,
        SourceKind.TRACE,
        SourceKind.UNKNOWN,
    }
    assert FindingKind.EXCEPTION in {
        finding.kind for incident in build_analysis().incidents for finding in incident.findings
    }


def test_html_csp_allows_exactly_the_pages_own_script() -> None:
    import base64
    import hashlib

    page = render("html", build_analysis(), build_options())
    document = lxml.html.document_fromstring(page)
    (script,) = document.xpath("//script")
    digest = base64.b64encode(hashlib.sha256(script.text.encode("utf-8")).digest()).decode()
    (policy,) = document.xpath("//meta[@http-equiv='Content-Security-Policy']/@content")
    assert f"script-src 'sha256-{digest}';" in policy
    assert "default-src 'none'" in policy and "unsafe-inline'; script" in policy
    assert "'unsafe-eval'" not in policy
    # The controls are hidden in the markup: without the script the page shows no dead ones.
    assert all(box.get("hidden") is not None for box in document.xpath("//div[@class='filters']"))


def test_html_leads_with_the_fix_and_links_the_overview() -> None:
    document = lxml.html.document_fromstring(render("html", build_analysis(), build_options()))
    items = document.xpath("//section[@id='diagnosis']/ol[@class='overview']/li")
    assert [item.xpath(".//a/@href")[0] for item in items] == [
        "#problem-1",
        "#problem-2",
        "#problem-3",
        "#problem-4",
    ]
    leads = [
        " ".join(item.xpath(".//p[contains(@class, 'lead')]")[0].text_content().split())
        for item in items
    ]
    assert leads[0].startswith("Fix: Run the extension's configuration script again")
    assert leads[1].startswith("Next: Check that the account exists")
    # The fix leads even when the catalog lists a check before it.
    assert leads[2] == "Fix: Remove passwords saved on the user's devices if the failures repeat."
    kinds = document.xpath(
        "//article[@id='problem-1']//ol/li/span[contains(@class, 'kind')]/text()"
    )
    assert kinds == ["fix", "check", "fix"]
    # Sections in the order a reader needs them: the file inventory last.
    sections = document.xpath("//main/section/@id")
    assert sections[0] == "diagnosis" and sections[-2:] == ["sources", "about"]
