"""The catalog's reference tables: AADSTS names and known event ids, and their validation."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from npsdiag.catalog import check_catalog, load_catalog
from npsdiag.errors import CatalogError
from npsdiag.tables import AadstsCode, read_tables
from tests.cli_runner import run

ENTRY = """\
- id: nps.sample-reason
  title: Sample reason
  category: configuration
  severity: high
  scope: server
  match:
    kind: nps.denied
    reason_code: 4242
  cause: Something is wrong.
  steps:
    - fix: Fix it.
  references:
    - https://learn.microsoft.com/windows-server/networking/technologies/nps/nps-top
  examples:
    - 'Reason Code: 4242'
  source: facts
"""

AADSTS = """\
source: https://learn.microsoft.com/entra/identity-platform/reference-error-codes
lookup: https://login.microsoftonline.com/error?code=
codes:
  50126: {name: InvalidUserNameOrPassword}
  28002: {meaning: the scope asked for is not valid}
"""

EVENTS = """\
source: https://learn.microsoft.com/windows/security/threat-protection/auditing/audit-network-policy-server
events:
  - id: 6273
    log: Security
    source: Microsoft-Windows-Security-Auditing
    what: NPS denied access.
    entries: [nps.sample-reason]
    hint: Read the Reason Code.
  - id: 20227
    log: Application
    source: RasClient
    what: A VPN connection failed.
"""


def _folder(tmp_path: Path, aadsts: str | None = AADSTS, events: str | None = EVENTS) -> Path:
    (tmp_path / "entries.yaml").write_text(ENTRY, encoding="utf-8")
    tables = tmp_path / "tables"
    tables.mkdir()
    if aadsts is not None:
        (tables / "aadsts.yaml").write_text(textwrap.dedent(aadsts), encoding="utf-8")
    if events is not None:
        (tables / "events.yaml").write_text(textwrap.dedent(events), encoding="utf-8")
    return tmp_path


def _problems(tmp_path: Path, **tables: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    result = check_catalog([_folder(tmp_path, **tables)])
    return result.errors, result.warnings


def test_valid_tables_load_with_the_catalog(tmp_path: Path) -> None:
    catalog = load_catalog([_folder(tmp_path)])
    row = catalog.tables.aadsts("AADSTS50126")
    assert row == AadstsCode(
        "AADSTS50126",
        "InvalidUserNameOrPassword",
        None,
        "https://login.microsoftonline.com/error?code=50126",
    )
    assert row.describe() == "InvalidUserNameOrPassword (invalid user name or password)"
    meaning = catalog.tables.aadsts("AADSTS28002")
    assert meaning is not None and meaning.describe() == "the scope asked for is not valid"
    assert catalog.tables.aadsts("AADSTS1") is None
    (event,) = catalog.tables.events_with_id(6273)
    assert (event.log, event.entries, event.hint) == (
        "Security",
        ("nps.sample-reason",),
        "Read the Reason Code.",
    )
    assert catalog.tables.events_with_id(1) == ()


def test_tables_are_optional(tmp_path: Path) -> None:
    catalog = load_catalog([_folder(tmp_path, aadsts=None, events=None)])
    assert catalog.tables.aadsts_codes == {} and catalog.tables.events == ()
    assert read_tables(None, "x", lambda *_: None).files == ()


def test_check_counts_the_table_files(tmp_path: Path) -> None:
    result = check_catalog([_folder(tmp_path)])
    assert result.errors == () and result.warnings == ()
    assert [Path(file).name for file in result.files] == [
        "entries.yaml",
        "aadsts.yaml",
        "events.yaml",
    ]


@pytest.mark.parametrize(
    ("aadsts", "message"),
    [
        (AADSTS + "  50126: {name: Other}\n", "line 6: duplicate key"),
        (AADSTS + "  -5: {name: Negative}\n", "code -5: a code must be a positive number"),
        (AADSTS + "  70001: {name: not a name}\n", "must be a symbolic name"),
        (AADSTS + "  70002: {}\n", "must map 'name' and/or 'meaning'"),
        (AADSTS + "  70003: {name: Ok, typo: x}\n", "unknown key 'typo'"),
        (AADSTS + "  70004: {meaning: '  '}\n", "meaning must be a non-empty text"),
        (AADSTS.replace("https://learn", "http://learn"), "'source' must be the https URL"),
        (AADSTS.replace("lookup: https", "lookup: ftp"), "'lookup' must be an https URL"),
        (AADSTS + "extra: 1\n", "unknown key 'extra'"),
        ("- just\n- a list\n", "the top level must be a mapping"),
        ("codes: [\n", "not valid YAML"),
        ("", "the file is empty"),
    ],
)
def test_bad_aadsts_tables_are_errors(tmp_path: Path, aadsts: str, message: str) -> None:
    errors, _ = _problems(tmp_path, aadsts=aadsts)
    assert any(message in error and "tables/aadsts.yaml" in error for error in errors), errors
    with pytest.raises(CatalogError, match=r"aadsts\.yaml"):
        load_catalog([tmp_path])


@pytest.mark.parametrize(
    ("events", "message"),
    [
        (
            EVENTS + "  - {id: 6273, log: Security, source: microsoft-windows-security-auditing, "
            "what: again}\n",
            "event 6273: listed twice",
        ),
        (EVENTS + "  - {id: -1, log: S, source: S, what: w}\n", "'id' must be a non-negative"),
        (EVENTS + "  - {id: 1, log: '', source: S, what: w}\n", "'log' must be a non-empty text"),
        (
            EVENTS + "  - {id: 1, log: S, source: S, what: w, entries: [Bad Id]}\n",
            "'entries' must be a list of catalog entry ids",
        ),
        (EVENTS + "  - {id: 1, log: S, source: S, what: w, hint: ''}\n", "'hint' must be"),
        (EVENTS + "  - {id: 1, log: S, source: S, what: w, typo: x}\n", "unknown key 'typo'"),
        (EVENTS + "  - just text\n", "an event must be a mapping"),
        (EVENTS.split("events:")[0] + "events: []\n", "'events' must be a list of events"),
    ],
)
def test_bad_event_tables_are_errors(tmp_path: Path, events: str, message: str) -> None:
    errors, _ = _problems(tmp_path, events=events)
    assert any(message in error and "tables/events.yaml" in error for error in errors), errors


def test_an_event_naming_a_missing_entry_is_a_warning(tmp_path: Path) -> None:
    events = EVENTS.replace("[nps.sample-reason]", "[nps.sample-reason, nps.no-such-entry]")
    errors, warnings = _problems(tmp_path, events=events)
    assert errors == ()
    assert len(warnings) == 1
    assert "event 6273" in warnings[0] and "no entry 'nps.no-such-entry'" in warnings[0]


def test_a_family_counts_as_an_existing_entry(tmp_path: Path) -> None:
    _folder(tmp_path)
    entries = tmp_path / "entries.yaml"
    entries.write_text(ENTRY.replace("nps.sample-reason", "nps.sample-reason.one"), "utf-8")
    result = check_catalog([tmp_path])
    assert result.errors == ()
    # The only warning is the lint's (a refinement without its family entry), none from events.
    assert not [warning for warning in result.warnings if "events.yaml" in warning]


def test_catalog_check_command_names_the_table_and_the_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _folder(tmp_path, aadsts=AADSTS + "  70001: {name: not a name}\n")
    code, out, err = run(capsys, "catalog", "check", str(tmp_path))
    assert code == 1
    assert "tables/aadsts.yaml: code 70001: name 'not a name' must be a symbolic name" in (
        out + err
    )
    (tmp_path / "ok").mkdir()
    _folder(tmp_path / "ok")
    code, out, _ = run(capsys, "catalog", "check", str(tmp_path / "ok"))
    assert code == 0 and "catalog OK: 1 entry in 3 files, 0 warnings" in out


def test_shipped_tables_name_the_codes_the_catalog_refines() -> None:
    catalog = load_catalog()
    for entry in catalog.entries:
        for rule in entry.rules:
            if rule.aadsts:
                assert catalog.tables.aadsts(rule.aadsts) is not None, entry.id
    for event in catalog.tables.events:
        for entry_id in event.entries:
            assert catalog.find(entry_id) is not None or any(
                e.family == entry_id for e in catalog.entries
            ), (event.event_id, entry_id)
