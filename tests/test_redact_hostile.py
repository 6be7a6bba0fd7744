"""``--redact`` against generated personal data in free text: phone numbers, SHA-256
thumbprints, bare MAC addresses, surnames after a user name in AADSTS text, UNC paths, X.500
names and object ids in Graph URLs. Each is replaced by a stable pseudonym, and the values a
diagnosis needs (times, event ids, AADSTS codes, record ids, error codes, CIDs) stay.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npsdiag.catalog import Catalog, load_catalog
from npsdiag.diagnose import diagnose
from npsdiag.extract import extract
from npsdiag.model import Analysis
from npsdiag.redact import redact_analysis
from npsdiag.report import render_report
from tests.cli_runner import run
from tests.test_redact import ext_event
from tests.test_source_xml import as_document, event_xml

CID = "32e83cbf-484d-49aa-9adb-71528f5eb94d"
#: What a diagnosis needs, in the forms messages write it: must survive redaction.
KEPT = (
    "2024-05-01T10:00:00.1234567Z",
    "AADSTS700027",
    "ESTS_TOKEN_ERROR",
    "record 6335011",
    "event 6273",
    "Reason Code 16",
    "request handle: -895352831",
    "HRESULT 0x80070005",
    "error code 2147942405",
    "at 10:00:05",
    CID,
)

digit = st.sampled_from("0123456789")
first_digit = st.sampled_from("23456789")


@st.composite
def north_american(draw: st.DrawFn) -> tuple[str, str]:
    """(the number as written, its ten digits)."""
    area = draw(first_digit) + draw(digit) + draw(digit)
    exchange = draw(first_digit) + draw(digit) + draw(digit)
    line = "".join(draw(st.lists(digit, min_size=4, max_size=4)))
    shape = draw(
        st.sampled_from(
            [
                "+1 ({a}) {e}-{l}",
                "({a}) {e}-{l}",
                "{a}-{e}-{l}",
                "{a}{e}{l}",
                "+1 {a} {e} {l}",
                "{a}.{e}.{l}",
            ]
        )
    )
    return shape.format(a=area, e=exchange, l=line), area + exchange + line


international = st.sampled_from(
    [
        "+44 20 7946 0958",
        "+49 30 1234567",
        "+33 1 23 45 67 89",
        "+61 2 9374 4000",
        "+353 1 555 0199",
        "+819012345678",
    ]
)
hexdigits = st.text(st.sampled_from("0123456789ABCDEF"), min_size=64, max_size=64)
mac = st.text(st.sampled_from("0123456789ABCDEF"), min_size=12, max_size=12).filter(
    lambda text: any(c.isalpha() for c in text) and any(c.isdigit() for c in text)
)
names = st.sampled_from(["Smith", "Jones", "Öztürk", "Nguyen", "O'Brien", "García", "Okafor"])
firsts = st.sampled_from(["alice", "bjones", "Kenji", "maria.lopez", "svc_nps"])
hosts = st.sampled_from(["FS01", "filesrv-2", "NAS7", "fs01.contoso.com"])
shares = st.sampled_from(["share$", "homes", "Profiles", "scans"])
folders = st.sampled_from(["jdoe", "Alice Smith", "x7", "eng\\team"])


@functools.cache
def _catalog() -> Catalog:
    return load_catalog()


def _analysis(*texts: str) -> Analysis:
    findings = [extract(ext_event(text, seconds=index)) for index, text in enumerate(texts)]
    result = diagnose([finding for finding in findings if finding is not None], _catalog())
    return Analysis(
        problems=result.problems,
        incidents=result.incidents,
        notices=result.notices,
        sources=[],
        unknown_codes=result.unknown_codes,
        version="0.1.0",
        command_line="npsdiag analyze case --redact",
    )


def _everything(analysis: Analysis) -> str:
    return render_report("json", analysis) + render_report("markdown", analysis)


@settings(max_examples=25, deadline=None)
@given(
    phone=north_american(),
    other_phone=international,
    thumbprint=hexdigits,
    bare_mac=mac,
    first=firsts,
    surname=names,
    host=hosts,
    share=shares,
    folder=folders,
    person=st.tuples(st.sampled_from(["John", "Ana", "Wei"]), names),
    object_id=st.uuids(),
)
def test_free_text_personal_data_is_replaced_and_diagnosis_data_kept(
    phone: tuple[str, str],
    other_phone: str,
    thumbprint: str,
    bare_mac: str,
    first: str,
    surname: str,
    host: str,
    share: str,
    folder: str,
    person: tuple[str, str],
    object_id: object,
) -> None:
    written, digits = phone
    unc = f"\\\\{host}\\{share}\\{folder}"
    subject = f"CN={person[0]} {person[1]}, OU=Staff, O=Contoso Ltd, DC=contoso, DC=com"
    graph = f"https://graph.microsoft.com/v1.0/users/{object_id}/authentication/methods"
    first_cap = first[:1].upper() + first[1:]
    message = (
        f"NPS Extension for Azure MFA: CID: {CID} : Exception in Authentication Ext for User "
        f"{first} :: ErrorCode:: ESTS_TOKEN_ERROR Msg:: AADSTS50034: The user account "
        f"{first_cap} {surname} does not exist. Call {written} or {other_phone}; certificate "
        f"{thumbprint} for {subject}; MAC {bare_mac}; profile on {unc}; see {graph}. "
        + " ".join(KEPT)
    )
    second = (
        f"Callback number {digits} confirmed for object {object_id}; "
        f"thumbprint {thumbprint.lower()}"
    )
    redacted = redact_analysis(_analysis(message, second))
    text = _everything(redacted)
    for secret in (
        written,
        digits,
        other_phone,
        thumbprint,
        thumbprint.lower(),
        bare_mac,
        surname,
        unc,
        f"{person[0]} {person[1]}",
        "Contoso Ltd",
        str(object_id),
    ):
        assert secret not in text, secret
    assert f"\\{share}\\" not in text or share.endswith("$") is False
    for kept in KEPT:
        assert kept in text, kept
    # One number, whatever its form, is one pseudonym; so is one thumbprint and one object.
    assert len(set(re.findall(r"phone-\d+", text))) == 2
    assert len(set(re.findall(r"thumbprint-\d+", text))) == 1
    assert len(set(re.findall(r"object-\d+", text))) == 1
    # The same analysis gives the same report.
    assert _everything(redact_analysis(_analysis(message, second))) == text


def _assert_kept(text: str, *kept: str) -> str:
    """Redact an analysis of ``text``; every one of ``kept`` must still be in its reports."""
    out = _everything(redact_analysis(_analysis(text)))
    for value in kept:
        assert value in out, value
    return out


def test_numbers_that_are_not_phone_numbers_are_kept() -> None:
    text = (
        "NPS Extension for Azure MFA: CID: " + CID + " : Exception in Authentication Ext for "
        "User alice :: ErrorCode:: ESTS_TOKEN_ERROR Msg:: error code 2147942405, HRESULT "
        "2147942405, record 4123456789, status: 3123456789, at 2026-01-14T09:30:12.3450000Z "
        "and 1714557600 seconds, build 10.0.17763.1, port 18121, ticks 638500000000000000"
    )
    _assert_kept(
        text,
        "error code 2147942405",
        "HRESULT 2147942405",
        "record 4123456789",
        "status: 3123456789",
        "2026-01-14T09:30:12.3450000Z",
        "1714557600",
        "18121",
        "638500000000000000",
    )


def test_microsoft_certificates_and_well_known_containers_are_kept() -> None:
    text = (
        "NPS Extension for Azure MFA: CID: " + CID + " : Exception in Authentication Ext for "
        "User alice :: ErrorCode:: ESTS_TOKEN_ERROR Msg:: issuer CN=Microsoft Azure RSA TLS "
        "Issuing CA 03, O=Microsoft Corporation; path CN=Users,DC=contoso,DC=com; share "
        "\\\\fs01\\SYSVOL\\contoso.com and \\\\fs01\\c$\\temp"
    )
    out = _assert_kept(
        text,
        "CN=Microsoft Azure RSA TLS Issuing CA 03",
        "O=Microsoft Corporation",
        "CN=Users",
        "\\SYSVOL\\",
        "\\c$\\",
    )
    assert "fs01" not in out.lower().replace("fs01_", "")


def test_an_unrecognised_files_content_is_never_quoted_when_redacted() -> None:
    from npsdiag.model import SourceStats

    leak = SourceStats(
        name="case/notes.txt",
        kind="unknown",
        status="skipped",
        messages=[
            "case/notes.txt: not an event log export (text starting with "
            "'root:*:19000:0:99999:7:::'); export ..."
        ],
    )
    binary = SourceStats(
        name="case/blob.bin",
        kind="unknown",
        status="skipped",
        messages=[
            "case/blob.bin: not an event log export (binary data starting with "
            "72 6F 6F 74 3A 2A 3A 31); export ..."
        ],
    )
    analysis = _analysis(
        "NPS Extension for Azure MFA: CID: "
        + CID
        + " : Challenge requested in Authentication Ext for User alice with state "
        + CID
    )
    analysis.sources = [leak, binary]
    out = _everything(redact_analysis(analysis))
    assert "root:" not in out and "72 6F 6F 74" not in out
    assert "not shown: --redact" in out


def test_redaction_of_free_text_through_the_command_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    message = (
        f"NPS Extension for Azure MFA: CID: {CID} : Exception in Authentication Ext for User "
        "alice :: ErrorCode:: ESTS_TOKEN_ERROR Msg:: AADSTS50034: The user account Alice Smith "
        "does not exist. Call +1 (425) 555-0100. Certificate "
        + "AB"
        * 32
        + " for CN=John Smith; MAC 0019920CE4E9 on \\\\FS01\\share$\\jdoe; "
        "https://graph.microsoft.com/v1.0/users/3fa85f64-5717-4562-b3fc-2c963f66afa6 "
        "AADSTS700027 at 2024-05-01T10:00:00Z"
    )
    event = event_xml(
        7,
        provider="Microsoft-AzureMfa-AuthZ",
        channel="AuthZAdminCh",
        event_id=3,
        data=f"<Data>{message}</Data>",
    )
    path = tmp_path / "export.xml"
    path.write_text(as_document(event), encoding="utf-8")
    code, out, err = run(capsys, "analyze", str(path), "--redact", "--json", "-")
    assert code in (0, 1), err
    report = json.loads(out)
    text = json.dumps(report)
    for secret in (
        "Smith",
        "425",
        "555-0100",
        "AB" * 32,
        "0019920CE4E9",
        "FS01",
        "jdoe",
        "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    ):
        assert secret not in text, secret
    for kept in ("AADSTS700027", "AADSTS50034", CID):
        assert kept in text, kept


def test_detect_lists_the_new_kinds() -> None:
    from npsdiag.redact import detect

    text = (
        "call +1 (425) 555-0100, mac 0019920CE4E9 at \\\\FS01\\x\\y for CN=John Smith, "
        "DC=contoso via https://graph.microsoft.com/v1.0/users/3fa85f64-5717-4562-b3fc-"
        "2c963f66afa6 thumbprint " + "ab" * 32
    )
    kinds = {(found.kind, found.value) for found in detect(text)}
    assert {
        ("phone", "+1 (425) 555-0100"),
        ("mac", "0019920CE4E9"),
        ("unc", "\\\\FS01\\x\\y"),
        ("name", "John Smith"),
        ("domain", "contoso"),
        ("object", "3fa85f64-5717-4562-b3fc-2c963f66afa6"),
        ("thumbprint", "ab" * 32),
    } <= kinds
