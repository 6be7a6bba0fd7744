"""The knowledge of the whole sign-in chain, proven through the command line.

Every example of the entries that explain the RADIUS client's side, the health-check script,
the setup script and the certificate lifecycle is run through ``npsdiag explain``; every one
that is an event (RD Gateway, Windows VPN client, RRAS) is also written as an ``.evtx`` file and
as an XML export and run through ``npsdiag analyze``, which must reach the same entry.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from npsdiag.catalog import CatalogEntry, load_catalog
from npsdiag.extract import finding_from_text
from npsdiag.model import FindingKind
from npsdiag.synth.evtx_writer import write_evtx
from npsdiag.synth.records import EventRecord
from tests.cli_runner import run
from tests.client_events import (
    RDG_CHANNEL,
    RDG_PROVIDER,
    rasclient_record,
    rdg_record,
    remoteaccess_record,
    xml_document,
    xml_event,
)

ROOT = Path(__file__).resolve().parents[1]
WHEN = datetime(2026, 2, 3, 9, 15, tzinfo=timezone.utc)
#: Catalog files that hold only knowledge of the chain around the extension.
CHAIN_FILES = ("catalog/client.yaml", "catalog/healthcheck.yaml", "catalog/setup.yaml")
#: Entries of that knowledge that live in the older files.
CHAIN_ENTRIES = (
    "ext.ests-token-error.certificate-expired",
    "ext.client-certificate-identifier",
    "ext.ests-token-error.aadsts700027",
    "ext.ests-token-error.aadsts7000112",
    "nps.reason-258",
)
_CLIENT_PREFIXES = ("rdg.", "vpn.", "ras.")


def _chain_entries() -> list[CatalogEntry]:
    catalog = load_catalog()
    return [
        entry
        for entry in catalog
        if (entry.file in CHAIN_FILES or entry.id in CHAIN_ENTRIES) and entry.check is None
    ]


def _examples() -> list[tuple[str, str]]:
    return [(entry.id, example) for entry in _chain_entries() for example in entry.examples]


def _client_examples() -> list[tuple[str, str]]:
    return [
        (entry.id, example)
        for entry in _chain_entries()
        if any((rule.kind or "").startswith(_CLIENT_PREFIXES) for rule in entry.rules)
        for example in entry.examples
    ]


@pytest.mark.parametrize(("entry_id", "example"), _examples())
def test_every_example_is_explained_by_its_entry(
    capsys: pytest.CaptureFixture[str], entry_id: str, example: str
) -> None:
    code, out, _ = run(capsys, "explain", "--json", example)
    result = json.loads(out)
    entry = load_catalog().get(entry_id)
    # A fallback entry (a VPN error code no entry names) answers, but the code stays unknown.
    fallback = all(rule.fallback for rule in entry.rules)
    assert code == (1 if fallback else 0), (entry_id, result["matches"][:1])
    assert result["matches"][0]["id"] == entry_id
    assert result["harmless"] is entry.benign


def test_every_chain_entry_cites_a_public_source_and_has_an_example() -> None:
    entries = _chain_entries()
    assert len(entries) >= 35
    for entry in entries:
        assert entry.references and all(url.startswith("https://") for url in entry.references)
        assert entry.examples, entry.id


def test_new_catalog_files_validate_against_the_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((ROOT / "catalog" / "schema.json").read_text(encoding="utf-8"))
    for name in CHAIN_FILES:
        jsonschema.validate(yaml.safe_load((ROOT / name).read_text(encoding="utf-8")), schema)


# ---------------------------------------------------------------------------------------------
# Client-side examples as events, through analyze


def _event_id(entry: CatalogEntry, kind: str) -> int:
    for rule in entry.rules:
        if rule.event_id is not None:
            return rule.event_id
    defaults = {FindingKind.VPN_FAILED: 20227, FindingKind.RAS_AUTH_FAILED: 20271}
    return defaults.get(kind, 200)  # rdg.authorized: 200, the connection policy met


def _record(entry: CatalogEntry, example: str, when: datetime) -> EventRecord:
    """The example as Windows writes the event: fields and insertion strings, no message."""
    finding = finding_from_text(example)
    user = finding.user or "CONTOSO\\alice"
    kind = finding.kind
    event_id = _event_id(entry, kind)
    if kind.startswith("rdg."):
        return rdg_record(event_id, when, user=user, code=finding.error_code or 0)
    if kind == FindingKind.VPN_FAILED:
        assert finding.error_code is not None
        return rasclient_record(event_id, when, user=user, code=finding.error_code)
    assert kind == FindingKind.RAS_AUTH_FAILED and finding.detail
    return remoteaccess_record(event_id, when, user=user, reason=finding.detail)


def _source(kind: str) -> tuple[str, str]:
    if kind.startswith("rdg."):
        return RDG_PROVIDER, RDG_CHANNEL
    if kind == FindingKind.VPN_FAILED:
        return "RasClient", "Application"
    return "RemoteAccess", "System"


def _diagnosed(report: dict[str, object]) -> set[str]:
    ids: set[str] = set()
    for key in ("problems",):
        for problem in report[key]:  # type: ignore[attr-defined]
            ids.add(problem["entry_id"])
    for key in ("incidents", "notices"):
        for incident in report.get(key, []):  # type: ignore[attr-defined]
            diagnosis = incident.get("diagnosis")
            if diagnosis:
                ids.add(diagnosis["entry_id"])
    return ids


@pytest.mark.parametrize(("entry_id", "example"), _client_examples())
@pytest.mark.parametrize("layout", ["evtx", "xml"])
def test_client_examples_as_events_reach_their_entry(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, entry_id: str, example: str, layout: str
) -> None:
    entry = load_catalog().get(entry_id)
    kind = finding_from_text(example).kind
    if layout == "evtx":
        path = tmp_path / "client.evtx"
        with path.open("wb") as stream:
            write_evtx(stream, [_record(entry, example, WHEN)])
    else:
        provider, channel = _source(kind)
        path = tmp_path / "client.xml"
        event = xml_event(provider, channel, _event_id(entry, kind), WHEN, example)
        path.write_text(xml_document(event), encoding="utf-8")
    code, out, _ = run(capsys, "analyze", "-q", "--json", "-", str(path))
    report = json.loads(out)
    if kind == FindingKind.RDG_AUTHORIZED:
        # A success has no diagnosis; the attempt is simply accepted.
        assert [i["outcome"] for i in report["incidents"]] == ["accepted"]
        assert code == 0
        return
    assert entry_id in _diagnosed(report), report["problems"]
    if not entry.benign:
        assert code == 1
    elif report["incidents"]:
        assert code == 0
    else:
        # A gateway notice alone (connection initiated, disconnected) is no sign-in attempt:
        # npsdiag cannot tell whether sign-ins work, and says so.
        assert code == 3 and report["verdict"] == "no-evidence"


def test_a_gateway_report_with_nps_logs_reaches_the_cause(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The RD Gateway's log and the NPS server's extension log, read together."""
    gateway = tmp_path / "RDG01_TerminalServices-Gateway.evtx"
    with gateway.open("wb") as stream:
        write_evtx(
            stream,
            [
                rdg_record(312, WHEN, user="alice@contoso.com", ip="192.168.178.1:57250"),
                rdg_record(201, WHEN + timedelta(seconds=3), user="CONTOSO\\alice", code=23003),
            ],
        )
    challenge = (
        "NPS Extension for Azure MFA: CID: 32e83cbf-484d-49aa-9adb-71528f5eb94d : Challenge "
        "requested in Authentication Ext for User alice@contoso.com with state "
        "300c9d6c-7734-4165-83d3-212e73aee286"
    )
    extension = tmp_path / "NPS01_AuthZOptCh.evtx"
    with extension.open("wb") as stream:
        write_evtx(
            stream,
            [
                EventRecord(
                    provider="Microsoft-AzureMfa-AuthZ",
                    event_id=1,
                    time=WHEN + timedelta(seconds=1),
                    channel="AuthZOptCh",
                    computer="NPS01.contoso.com",
                    data=(challenge,),
                )
            ],
        )
    code, out, _ = run(capsys, "analyze", "-q", "--json", "-", str(tmp_path))
    report = json.loads(out)
    assert code == 1
    assert [p["entry_id"] for p in report["problems"]] == ["ext.challenge-no-answer"]
    # The gateway's log is named as the client's side, not as a log of nothing.
    (client,) = [log for log in report["coverage"]["logs"] if log["role"] == "client"]
    assert client["status"] == "read" and client["events"] == 2
    assert report["coverage"]["other_logs"] == []
    (incident,) = report["incidents"]
    # The whole attempt in one place: the gateway's start and refusal, the extension's challenge.
    assert sorted(e["kind"] for e in incident["evidence"]) == [
        "ext.challenge",
        "rdg.denied",
        "rdg.other",
    ]
