"""``npsdiag collect`` on a stand-in NPS server, and what ``analyze`` makes of its bundle.

The Windows programs are the stand-ins of :mod:`tests.windows_standins` (real ``.evtx`` files
from npsdiag's EVTX writer, real REG QUERY, auditpol and certificate output), taken from the
folder ``NPSDIAG_COLLECT_TOOLS`` names, exactly as the collection takes them from
``System32`` on Windows.
"""

from __future__ import annotations

import base64
import json
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from npsdiag import _patterns as pat
from npsdiag.collect import CollectOptions, collect
from npsdiag.collect import queries as q
from npsdiag.collect.output import bundle_file_name
from npsdiag.collect.powershell import certificates_script, extension_script, powershell_args
from npsdiag.collect.tools import Toolbox
from npsdiag.commands.collect import DEFAULT_SINCE
from npsdiag.errors import CollectError, UsageError
from npsdiag.extract import is_relevant
from npsdiag.sources import discover
from npsdiag.sources.hostfacts import CERTIFICATES_SCHEMA, EXTENSION_SCHEMA
from npsdiag.sources.manifest import parse_manifest
from npsdiag.sources.regquery import MISSING_KEY_MESSAGE
from npsdiag.synth.bundle import reg_query_text
from npsdiag.synth.evtx_writer import write_evtx
from npsdiag.synth.generate import LOGS, records_for
from npsdiag.synth.scenario import load_shipped
from tests import windows_standins as standins
from tests.cli_runner import run

TENANT = "9b2c4e71-5d3a-4f08-b6e2-1a7c3d95e0f4"  # the cert-expired scenario's tenant
SUBJECT = f"CN={TENANT}, OU=Microsoft NPS Extension"
THUMB = "3F2A9C6B1D7E4F80A5B2C3D4E5F60718293A4B5C"
EXPIRED_ON = "2025-04-30T09:00:00Z"
COMPUTER = "NPS-MFA01"
BUNDLE_FILES = [
    f"{COMPUTER}_AuthNOptCh.evtx",
    f"{COMPUTER}_AuthZOptCh.evtx",
    f"{COMPUTER}_AuthZAdminCh.evtx",
    f"{COMPUTER}_Security_NPS.evtx",
    f"{COMPUTER}_System_NPS.evtx",
    "RegQuery_AzureMFA.txt",
    "RegQuery_AuthSrv.txt",
    "auditpol.csv",
    "certificates.json",
    "extension.json",
    "manifest.json",
]


def _write_logs(name: str, folder: Path) -> dict[str, str]:
    """A shipped scenario's five logs, written by npsdiag's EVTX writer, by channel."""
    scenario = load_shipped(name)
    written = {}
    for log in LOGS:
        path = folder / f"{log}.evtx"
        write_evtx(path, records_for(scenario, log))
        written[log] = str(path)
    return written


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The cert-expired scenario: every user fails with ESTS_TOKEN_ERROR."""
    return _write_logs("cert-expired", tmp_path_factory.mktemp("logs"))


def _certificates(not_after: str = EXPIRED_ON) -> dict[str, Any]:
    collected = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
    return {
        "schema": CERTIFICATES_SCHEMA,
        "collected": collected,
        "store": "LocalMachine\\My",
        "azure_mfa": {"tenant_id": TENANT, "client_cert_identifier": SUBJECT},
        "certificates": [
            {
                "thumbprint": THUMB,
                "subject": SUBJECT,
                "issuer": SUBJECT,
                "not_before": "2023-04-30T09:00:00.0000000Z",
                "not_after": not_after,
                "has_private_key": True,
                "enhanced_key_usages": None,
                "private_key": {
                    "storage": "csp",
                    "error": None,
                    "access": [
                        {"sid": "S-1-5-18", "type": "Allow", "rights": 2032127},
                        {"sid": "S-1-5-20", "type": "Allow", "rights": 131209},
                    ],
                },
            }
        ],
    }


EXTENSION = {
    "schema": EXTENSION_SCHEMA,
    "collected": "2026-01-14T09:30:12.0000000Z",
    "products": [
        {
            "name": "NPS Extension For Azure MFA",
            "version": "1.2.2893.1",
            "publisher": "Microsoft Corporation",
            "install_date": "20230430",
        }
    ],
    "files": [
        {
            "path": "C:\\Program Files\\Microsoft\\AzureMfa\\Extensions\\MfaNpsAuthzExt.dll",
            "version": "1.2.2893.1",
        }
    ],
}


@pytest.fixture
def server(logs: dict[str, str]) -> standins.Server:
    scenario = load_shipped("cert-expired")
    registry = scenario.registry
    return standins.Server(
        evtx=logs,
        registry={
            standins.AZURE_MFA_KEY: reg_query_text(registry.azure_mfa_key, registry.azure_mfa),
            standins.AUTHSRV_KEY: reg_query_text(registry.auth_srv_key, registry.auth_srv),
        },
        certificates=_certificates(),
        extension=EXTENSION,
        computer=COMPUTER,
    )


class Collection:
    """One run of ``npsdiag collect`` against stand-ins, and what it left behind."""

    def __init__(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: standins.Server
    ) -> None:
        self.tools = standins.install(tmp_path / "tools", server)
        self.out = tmp_path / "out"
        monkeypatch.setenv("NPSDIAG_COLLECT_TOOLS", str(self.tools))
        monkeypatch.setenv("COMPUTERNAME", COMPUTER)

    def run(self, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
        return run(capsys, "collect", "-o", str(self.out), *args)

    @property
    def bundle(self) -> Path:
        (bundle,) = sorted(self.out.glob("*_NpsLogging.zip"))
        return bundle

    def members(self) -> list[str]:
        with zipfile.ZipFile(self.bundle) as archive:
            return archive.namelist()

    def manifest(self) -> Any:
        with zipfile.ZipFile(self.bundle) as archive:
            return parse_manifest(archive.read("manifest.json"), "manifest.json")

    def calls(self, program: str | None = None) -> list[dict[str, Any]]:
        return [c for c in standins.calls(self.tools) if program in (None, c["program"])]

    def exports(self) -> dict[str, list[str]]:
        """wevtutil epl calls by channel."""
        return {c["args"][1]: c["args"] for c in self.calls("wevtutil") if c["args"][0] == "epl"}


@pytest.fixture
def collection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: standins.Server
) -> Collection:
    return Collection(tmp_path, monkeypatch, server)


def _report(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------
# A complete collection


def test_collect_then_analyse_states_the_expired_certificate(
    collection: Collection, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    code, out, err = collection.run(capsys, "--json", str(report))
    assert code == 1, err  # problems found
    assert sorted(collection.members()) == sorted(BUNDLE_FILES)
    assert collection.bundle.name.startswith(f"{COMPUTER}_")
    assert f"Bundle: {collection.bundle} (10 of 10 items collected)" in out
    assert "warning" not in err
    data = _report(report)
    statement = f"client certificate {THUMB} ({SUBJECT}) expired on {EXPIRED_ON}"
    (problem,) = data["problems"]
    assert problem["entry_id"].startswith("ext.ests-token-error")
    assert statement in problem["because"]
    assert problem["confidence"] == "high"
    found = {row["id"]: row for row in data["config_findings"]}
    assert found["config.client-cert-expired"]["statement"] == statement
    assert found["config.extension-version"]["statement"] == "NPS extension 1.2.2893.1 is installed"
    assert "config.nps-auditing-off" not in found
    assert data["servers"] == ["NPS-MFA01.fabrikam.com"]
    # The terminal summary says it too.
    assert statement in " ".join(out.split())


def test_the_bundle_is_one_case_with_every_file_read(
    collection: Collection, capsys: pytest.CaptureFixture[str]
) -> None:
    assert collection.run(capsys, "--no-analyze")[0] == 0
    found = discover([str(collection.bundle)])
    assert len(found.bundles) == 1
    assert found.bundles[0].server == COMPUTER
    kinds = sorted(source.kind for source in (*found.sources, *found.host_facts))
    assert kinds == sorted(
        ["evtx"] * 5 + ["auditpol", "certificates", "collect-manifest", "extension-info"]
    )
    assert len(found.registry_dumps) == 2
    # The bundle's own line: listed, with the server its file names give.
    assert [(s.kind, s.status) for s in found.skipped] == [("zip", "listed")]
    assert f"server {COMPUTER} (from file names)" in found.skipped[0].messages[0]
    manifest = collection.manifest()
    assert manifest.computer == COMPUTER and manifest.elevated is True
    assert manifest.since == DEFAULT_SINCE
    assert manifest.collected is not None and manifest.window_start is not None
    assert manifest.collected - manifest.window_start == timedelta(hours=24)
    assert [item.file for item in manifest.items] == BUNDLE_FILES[:-1]
    assert all(item.status == "collected" and item.size for item in manifest.items)


def test_exports_are_filtered_by_xpath_over_the_time_window(
    collection: Collection, capsys: pytest.CaptureFixture[str]
) -> None:
    assert collection.run(capsys, "--no-analyze", "--since", "3d")[0] == 0
    window = timedelta(days=3)
    exports = collection.exports()
    assert sorted(exports) == sorted([*q.EXTENSION_CHANNELS, "Security", "System"])
    for channel, args in exports.items():
        assert args[-1] == "/ow:true"
        query = next(arg for arg in args if arg.startswith("/q:"))[3:]
        assert "TimeCreated[timediff(@SystemTime) <= 259200000]" in query
        expected = (
            q.security_query(window)
            if channel == "Security"
            else q.system_query(window)
            if channel == "System"
            else q.channel_query(window)
        )
        assert query == expected
    assert exports["Security"][3] == (
        "/q:*[System[(EventID>=6272 and EventID<=6280) and "
        "TimeCreated[timediff(@SystemTime) <= 259200000]]]"
    )
    assert collection.manifest().since == "3d"


def test_no_security_export_is_unfiltered_and_nothing_secret_is_asked_for(
    collection: Collection, capsys: pytest.CaptureFixture[str]
) -> None:
    assert collection.run(capsys, "--no-analyze")[0] == 0
    calls = collection.calls()
    assert {call["program"] for call in calls} == set(standins.TOOLS)
    for call in calls:
        joined = " ".join(call["args"]).lower()
        for secret in ("netsh", "ias.xml", "export-", "sharedsecret", "nps export", "pfx"):
            assert secret not in joined, call
        if call["program"] == "wevtutil" and call["args"][0] == "epl":
            assert any(arg.startswith("/q:*[System[") for arg in call["args"]), call
            if call["args"][1] == "Security":
                assert "eventid>=6272 and eventid<=6280" in joined
    assert [call["args"] for call in collection.calls("reg")] == [
        ["query", "HKLM\\SOFTWARE\\Microsoft\\AzureMfa", "/reg:64"],
        ["query", "HKLM\\SYSTEM\\CurrentControlSet\\Services\\AuthSrv\\Parameters", "/reg:64"],
    ]
    assert [call["args"] for call in collection.calls("auditpol")] == [
        ["/get", "/subcategory:{0CCE9243-69AE-11D9-BED3-505054503030}", "/r"]
    ]
    scripts = [call["script"] for call in collection.calls("powershell")]
    assert scripts == [certificates_script(), extension_script()]
    for script in scripts:
        code = "\n".join(line for line in script.lower().splitlines() if not line.startswith("#"))
        for forbidden in (
            "export",  # no Export(), ExportParameters, Export-PfxCertificate ...
            "set-acl",
            "win32_product",
            "get-wmiobject",
            "ias.xml",
            "netsh",
        ):
            assert forbidden not in code, forbidden


def test_the_powershell_scripts() -> None:
    certificates, extension = certificates_script(), extension_script()
    assert f"schema = '{CERTIFICATES_SCHEMA}'" in certificates
    assert "Cert:\\LocalMachine\\My" in certificates
    assert "HKLM:\\SOFTWARE\\Microsoft\\AzureMfa" in certificates
    assert "Get-Acl -LiteralPath $file" in certificates
    assert f"schema = '{EXTENSION_SCHEMA}'" in extension
    assert "MfaNpsAuthzExt.dll" in extension
    args = powershell_args(certificates)
    assert args[:3] == ("-NoProfile", "-NonInteractive", "-EncodedCommand")
    assert base64.b64decode(args[3]).decode("utf-16-le") == certificates
    # What stays on one command line: Windows allows 32,767 characters.
    assert len(" ".join(args)) < 30_000


# ---------------------------------------------------------------------------------------------
# What cannot be collected


def test_not_elevated_collects_what_it_can_and_says_what_is_missing(
    collection: Collection,
    server: standins.Server,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    server.elevated = False
    standins.install(collection.tools, server)
    report = tmp_path / "report.json"
    code, out, err = collection.run(capsys, "--json", str(report))
    assert code == 1  # the extension's events still show the problem
    lines = err.splitlines()
    assert lines[0].startswith("npsdiag: warning: this prompt is not elevated")
    security = f"{COMPUTER}_Security_NPS.evtx"
    assert any(
        line.startswith(f"npsdiag: warning: {security} not collected: access to Security denied")
        and "run npsdiag collect as administrator" in line
        for line in lines
    ), err
    assert any(line.startswith("npsdiag: warning: auditpol.csv not collected") for line in lines)
    assert security not in collection.members() and "auditpol.csv" not in collection.members()
    assert "9 of 11" not in out and "8 of 10 items collected, 2 missing" in out
    manifest = collection.manifest()
    assert manifest.elevated is False
    assert [item.file for item in manifest.missing] == [security, "auditpol.csv"]
    assert "0x00000522" in manifest.missing[1].reason
    # The report's accounting shows each missing item, with the reason.
    sources = {source["name"]: source for source in _report(report)["sources"]}
    missing = sources[f"{collection.bundle}!{security}"]
    assert missing["status"] == "skipped"
    assert missing["messages"][0].startswith(f"{collection.bundle}!{security}: not collected:")
    listed = sources[f"{collection.bundle}!manifest.json"]
    assert "NOT elevated" in listed["messages"][0]
    assert "2 missing" in listed["messages"][0]


def test_an_absent_channel_is_a_missing_item_and_the_rest_is_collected(
    collection: Collection, server: standins.Server, capsys: pytest.CaptureFixture[str]
) -> None:
    server.channels.remove("AuthNOptCh")
    standins.install(collection.tools, server)
    code, _, err = collection.run(capsys, "--no-analyze")
    assert code == 3
    assert err.count("warning") == 1
    assert (
        f"npsdiag: warning: {COMPUTER}_AuthNOptCh.evtx not collected: the AuthNOptCh channel "
        "does not exist on this server (is the NPS extension installed?)"
    ) in err
    assert "AuthNOptCh" not in collection.exports()
    assert f"{COMPUTER}_AuthZOptCh.evtx" in collection.members()
    (missing,) = collection.manifest().missing
    assert missing.command == ("wevtutil", "el")


def test_a_tree_named_channel_is_exported_under_its_name(
    collection: Collection, server: standins.Server, capsys: pytest.CaptureFixture[str]
) -> None:
    server.channels = [
        "Microsoft-AzureMfa-AuthZ/AuthZOptCh" if name == "AuthZOptCh" else name
        for name in server.channels
    ]
    server.evtx["Microsoft-AzureMfa-AuthZ/AuthZOptCh"] = server.evtx["AuthZOptCh"]
    standins.install(collection.tools, server)
    assert collection.run(capsys, "--no-analyze")[0] == 0
    assert "Microsoft-AzureMfa-AuthZ/AuthZOptCh" in collection.exports()


def test_a_missing_program_costs_its_items_only(
    collection: Collection, server: standins.Server, capsys: pytest.CaptureFixture[str]
) -> None:
    server.missing = ["powershell"]
    standins.install(collection.tools, server)
    code, _, err = collection.run(capsys, "--no-analyze")
    assert code == 3
    expected = f"not collected: powershell not found in {collection.tools}"
    assert f"npsdiag: warning: certificates.json {expected}" in err
    assert f"npsdiag: warning: extension.json {expected}" in err
    assert len(collection.members()) == len(BUNDLE_FILES) - 2


def test_without_whoami_elevation_is_unknown_and_said_so(
    collection: Collection, server: standins.Server, capsys: pytest.CaptureFixture[str]
) -> None:
    server.missing = ["whoami"]
    standins.install(collection.tools, server)
    code, _, err = collection.run(capsys, "--no-analyze")
    assert code == 0  # everything else was collected
    assert "npsdiag: warning: cannot tell whether this prompt is elevated (whoami not found" in err
    assert collection.manifest().elevated is None


def test_a_missing_registry_key_is_kept_as_reg_shows_it(
    collection: Collection,
    server: standins.Server,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    server.registry[standins.AZURE_MFA_KEY] = None
    standins.install(collection.tools, server)
    report = tmp_path / "r.json"
    assert collection.run(capsys, "--json", str(report))[0] == 1
    with zipfile.ZipFile(collection.bundle) as archive:
        dump = archive.read("RegQuery_AzureMFA.txt").decode()
    assert dump.strip() == MISSING_KEY_MESSAGE
    item = collection.manifest().items[5]
    assert item.status == "collected"
    assert item.reason == "the key does not exist: HKLM\\SOFTWARE\\Microsoft\\AzureMfa"
    ids = [row["id"] for row in _report(report)["config_findings"]]
    assert "config.azuremfa-key-missing" in ids


def test_unusable_powershell_output_is_not_bundled(
    collection: Collection, server: standins.Server, capsys: pytest.CaptureFixture[str]
) -> None:
    server.certificates = {"schema": "npsdiag/certificates/1", "certificates": "oops"}
    standins.install(collection.tools, server)
    assert collection.run(capsys, "--no-analyze")[0] == 3
    (missing,) = collection.manifest().missing
    assert missing.file == "certificates.json"
    assert missing.reason.startswith("PowerShell's output was not usable: certificates.json")


def test_auditing_off_is_stated_and_explains_the_missing_decisions(
    collection: Collection,
    server: standins.Server,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    # A server whose extension rejects users (decisions NPS would log), with auditing off:
    # its Security log holds no NPS event at all.
    server.evtx = _write_logs("user-not-in-entra", tmp_path)
    server.audit_setting = "No Auditing"
    write_evtx(server.evtx["Security"], [])
    standins.install(collection.tools, server)
    report = tmp_path / "r.json"
    assert collection.run(capsys, "--json", str(report))[0] == 1
    data = _report(report)
    auditing = next(p for p in data["problems"] if p["entry_id"] == "nps.auditing-off")
    assert (
        "NPS auditing is off (Network Policy Server: No Auditing): no 6272/6273 will be logged"
        in auditing["because"]
    )


# ---------------------------------------------------------------------------------------------
# Before anything is collected


def test_not_windows_says_so_and_collects_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("NPSDIAG_COLLECT_TOOLS", raising=False)
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "collect", "-o", str(tmp_path / "out"))
    assert code == 2 and out == ""
    assert err == (
        "npsdiag: error: npsdiag collect runs on the Windows NPS server, and this is linux "
        "(run it there in an elevated prompt, or collect the logs by hand as "
        "docs/admin-guide.md shows and analyse them here)\n"
    )
    assert not (tmp_path / "out").exists()


def test_an_existing_bundle_is_refused_before_collecting(
    collection: Collection, capsys: pytest.CaptureFixture[str]
) -> None:
    collection.out.mkdir()
    taken = collection.out / "case.zip"
    taken.write_bytes(b"keep me")
    code, _, err = run(capsys, "collect", "-o", str(taken))
    assert code == 2
    assert err == (
        f"npsdiag: error: {taken} already exists "
        "(add --force to replace it, or choose another -o)\n"
    )
    assert collection.calls() == []
    assert taken.read_bytes() == b"keep me"
    assert sorted(p.name for p in collection.out.iterdir()) == ["case.zip"]
    assert run(capsys, "collect", "-o", str(taken), "--force", "--no-analyze")[0] == 0
    assert zipfile.is_zipfile(taken)
    assert sorted(p.name for p in collection.out.iterdir()) == ["case.zip"]  # no leftovers


def test_an_output_that_cannot_be_written_is_refused_before_collecting(
    collection: Collection, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, _, err = run(capsys, "collect", "-o", str(blocker / "sub"))
    assert code == 2
    assert err.startswith(f"npsdiag: error: cannot create the output folder {blocker / 'sub'}")
    folder = tmp_path / "folder.zip"
    folder.mkdir()
    code, _, err = run(capsys, "collect", "-o", str(folder))
    assert code == 2 and "is a folder" in err
    assert collection.calls() == []


@pytest.mark.parametrize("since", ["5x", "0m", "400d", "", "24 h"])
def test_a_bad_window_is_a_usage_error(
    collection: Collection, capsys: pytest.CaptureFixture[str], since: str
) -> None:
    code, _, err = collection.run(capsys, "--since", since)
    assert code == 2 and err.startswith("npsdiag: error: --since") and err.count("\n") == 1
    assert collection.calls() == []


def test_an_interrupted_collection_leaves_no_bundle(
    collection: Collection, monkeypatch: pytest.MonkeyPatch
) -> None:
    from npsdiag.collect import steps

    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(steps, "_auditpol", interrupted)
    with pytest.raises(KeyboardInterrupt):
        collect(CollectOptions(window=timedelta(hours=1), output=collection.out))
    assert list(collection.out.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# Pieces


def test_queries_read_exactly_what_the_diagnosis_reads() -> None:
    window = timedelta(hours=24)
    system = q.system_query(window)
    for provider in pat.NPS_SYSTEM_PROVIDERS | pat.SCHANNEL_PROVIDERS:
        assert f"Provider[@Name='{q.PROVIDER_NAMES[provider]}']" in system
        assert q.PROVIDER_NAMES[provider].lower() == provider
    for event_id in (13, 17, 18, 4400, 4401, 4402, 36871):
        provider = "Schannel" if event_id == 36871 else "NPS"
        assert is_relevant("System", provider, event_id)
    assert "EventID=13 or EventID=17 or EventID=18 or (EventID>=4400 and EventID<=4402)" in system
    assert "(EventID=36871)" in system
    # Windows wants a structured query beyond 20 expressions; stay well below.
    for query in (system, q.security_query(window), q.channel_query(window)):
        assert query.count("EventID") + query.count("Provider[") + 1 < 20
    assert q.event_id_condition(range(6272, 6281)) == "(EventID>=6272 and EventID<=6280)"
    assert q.event_id_condition({7}) == "(EventID=7)"


@pytest.mark.parametrize(
    ("text", "window"),
    [
        ("24h", timedelta(hours=24)),
        ("30m", timedelta(minutes=30)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        ("1d12h", timedelta(hours=36)),
        (" 3D ", timedelta(days=3)),
    ],
)
def test_parse_since(text: str, window: timedelta) -> None:
    assert q.parse_since(text) == window


def test_parse_since_refuses_nonsense() -> None:
    for text in ("", "h", "24", "-1h", "1.5h", "24h30", "367d"):
        with pytest.raises(UsageError):
            q.parse_since(text)


def test_default_since_is_shared() -> None:
    assert q.DEFAULT_SINCE == DEFAULT_SINCE
    q.parse_since(DEFAULT_SINCE)


def test_bundle_file_name() -> None:
    started = datetime(2026, 1, 14, 9, 30, 12, tzinfo=timezone.utc)
    assert bundle_file_name("NPS01", started) == "NPS01_20260114_093012_NpsLogging.zip"
    assert bundle_file_name("bad/name:*", started) == "bad-name_20260114_093012_NpsLogging.zip"
    assert bundle_file_name("", started).startswith("server_")


def test_on_windows_the_programs_come_from_the_system_folder(tmp_path: Path) -> None:
    system32 = tmp_path / "System32"
    (system32 / "WindowsPowerShell" / "v1.0").mkdir(parents=True)
    (system32 / "wevtutil.exe").write_bytes(b"")
    (system32 / "WindowsPowerShell" / "v1.0" / "powershell.exe").write_bytes(b"")
    tools = Toolbox.for_this_machine({"SystemRoot": str(tmp_path), "PATH": "x"}, "win32")
    assert not tools.override and tools.folder == system32
    assert tools.find("wevtutil") == system32 / "wevtutil.exe"
    assert tools.find("powershell") == system32 / "WindowsPowerShell" / "v1.0" / "powershell.exe"
    assert tools.find("reg") is None
    # A 32-bit Python on 64-bit Windows: the real System32 is Sysnative.
    (tmp_path / "Sysnative").mkdir()
    assert Toolbox.for_this_machine({"SystemRoot": str(tmp_path)}, "win32").folder.name == (
        "Sysnative"
    )
    with pytest.raises(CollectError, match="runs on the Windows NPS server, and this is darwin"):
        Toolbox.for_this_machine({}, "darwin")


def test_a_redacted_report_of_the_bundle_hides_thumbprint_tenant_and_server(
    collection: Collection, capsys: pytest.CaptureFixture[str]
) -> None:
    assert collection.run(capsys, "--no-analyze")[0] == 0
    code, out, _ = run(capsys, "analyze", str(collection.bundle), "--redact", "--json", "-")
    assert code == 1
    for secret in (THUMB, TENANT, COMPUTER):
        assert secret.lower() not in out.lower(), secret
    statements = [row.get("statement", "") for row in json.loads(out)["config_findings"]]
    assert any(s.endswith(f"expired on {EXPIRED_ON}") for s in statements)
