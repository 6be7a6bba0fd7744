"""REG QUERY text dumps: encodings, the line format, the samples' dumps, and hostile input."""

from __future__ import annotations

import codecs
import re
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npsdiag.errors import InputError, TextDumpError
from npsdiag.sources.regquery import (
    MAX_DUMP_BYTES,
    MISSING_KEY_MESSAGE,
    RegistryDump,
    RegValue,
    canonical_key,
    looks_like_regquery,
    parse_regquery,
    read_regquery,
)

REPO = Path(__file__).resolve().parents[1]
SAMPLE_BUNDLES = sorted(REPO.glob("samples/*/*_NpsLogging.zip"))
AZUREMFA = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\AzureMfa"
AUTHSRV = "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\AuthSrv\\Parameters"
DUMP_NAMES = (
    "BeforeRegAdd_AzureMFA.txt",
    "AfterRegAdd_AzureMFA.txt",
    "BeforeRegAdd_AuthSrv.txt",
    "AfterRegAdd_AuthSrv.txt",
)

#: What the health-check script writes (shown as text; encoded per test).
AZUREMFA_TEXT = (
    "\r\n"
    f"{AZUREMFA}\r\n"
    "    AZURE_MFA_HOSTNAME    REG_SZ    strongauthenticationservice.auth.microsoft.com\r\n"
    "    CLIENT_ID    REG_SZ    981f26a1-7f43-403b-a875-f8b09b8cd720\r\n"
    "    STS_URL    REG_SZ    https://login.microsoftonline.com/\r\n"
    "    REQUIRE_USER_MATCH    REG_SZ    TRUE\r\n"
    "    LDAP_LOOKUP_FORESTS    REG_SZ    proseware.com contoso.com\r\n"
    "    IP_WHITELIST    REG_SZ    \r\n"
    "    CLIENT_CERT_IDENTIFIER    REG_SZ    CN=Société, OU=Microsoft NPS Extension\r\n"
    "\r\n"
)


def _utf16(text: str) -> bytes:
    """Bytes as PowerShell 5.1's ``>`` writes them: UTF-16LE with a BOM."""
    return codecs.BOM_UTF16_LE + text.encode("utf-16-le")


def _sample_members() -> list[tuple[str, bytes]]:
    members: list[tuple[str, bytes]] = []
    for bundle in SAMPLE_BUNDLES:
        with zipfile.ZipFile(bundle) as archive:
            for name in DUMP_NAMES:
                members.append((f"{bundle.parent.name}/{name}", archive.read(name)))
    return members


# ---------------------------------------------------------------------------------------------
# The line format


def test_health_check_dump_parses_with_line_numbers() -> None:
    dump = parse_regquery(_utf16(AZUREMFA_TEXT), "BeforeRegAdd_AzureMFA.txt")
    assert dump.name == "BeforeRegAdd_AzureMFA.txt"
    assert dump.encoding == "utf-16-le"
    assert list(dump.keys) == [AZUREMFA]
    assert dump.key_lines == {AZUREMFA: 2}
    values = dump.keys[AZUREMFA]
    assert list(values) == [
        "AZURE_MFA_HOSTNAME",
        "CLIENT_ID",
        "STS_URL",
        "REQUIRE_USER_MATCH",
        "LDAP_LOOKUP_FORESTS",
        "IP_WHITELIST",
        "CLIENT_CERT_IDENTIFIER",
    ]
    assert values["STS_URL"] == RegValue(
        "STS_URL", "REG_SZ", "https://login.microsoftonline.com/", 5
    )
    assert values["LDAP_LOOKUP_FORESTS"].data == "proseware.com contoso.com"
    assert values["IP_WHITELIST"].data == ""
    assert values["CLIENT_CERT_IDENTIFIER"].data == "CN=Société, OU=Microsoft NPS Extension"
    assert values["CLIENT_ID"].text == "CLIENT_ID    REG_SZ    981f26a1-7f43-403b-a875-f8b09b8cd720"
    assert dump.errors == ()


def test_every_value_type_and_the_default_value() -> None:
    text = (
        f"{AUTHSRV}\n"
        "    (Default)    REG_SZ    \n"
        "    AuthorizationDLLs    REG_MULTI_SZ    C:\\a\\one.dll\\0C:\\b\\two.dll\n"
        "    ExtensionDLLs    REG_MULTI_SZ    \n"
        "    Flags    REG_DWORD    0x1\n"
        "    Big    REG_QWORD    0x1f2e3d4c5b6a\n"
        "    Blob    REG_BINARY    00FF10A0\n"
        "    Nothing    REG_NONE\n"
        "    Path    REG_EXPAND_SZ    %SystemRoot%\\System32\\LogFiles\n"
        "    Spaced Name    REG_SZ    data    with    four-space runs   \n"
    )
    values = parse_regquery(text.encode(), "x.txt").keys[AUTHSRV]
    assert values["(Default)"].data == ""
    assert values["AuthorizationDLLs"].items == ("C:\\a\\one.dll", "C:\\b\\two.dll")
    assert values["ExtensionDLLs"].items == ()
    assert values["Flags"].type == "REG_DWORD" and values["Flags"].data == "0x1"
    assert values["Flags"].items == ("0x1",)
    assert values["Big"].data == "0x1f2e3d4c5b6a"
    assert values["Blob"].data == "00FF10A0"
    assert values["Nothing"] == RegValue("Nothing", "REG_NONE", "", 8)
    assert values["Path"].data == "%SystemRoot%\\System32\\LogFiles"
    # Data is kept exactly, inner separators and trailing spaces included.
    assert values["Spaced Name"].data == "data    with    four-space runs   "


def test_several_keys_subkeys_errors_and_end_of_search() -> None:
    text = (
        "\n"
        f"{AZUREMFA}\n"
        "    TENANT_ID    REG_SZ    6b1d7f3a-2e9c-4a58-8d06-c4a1e5f9b372\n"
        "\n"
        f"{AZUREMFA}\\Sub One\n"
        f"{AZUREMFA}\\Sub Two\n"
        "\n"
        "hklm\\SYSTEM\\CurrentControlSet\\Services\\AuthSrv\\Parameters\\\n"
        "\tExtensionDLLs\tREG_MULTI_SZ\tC:\\x.dll\n"
        "ERROR: Access is denied.\n"
        "End of search: 2 match(es) found.\n"
    )
    dump = parse_regquery(text.encode(), "many.txt")
    assert list(dump.keys) == [AZUREMFA, f"{AZUREMFA}\\Sub One", f"{AZUREMFA}\\Sub Two", AUTHSRV]
    assert dump.keys[f"{AZUREMFA}\\Sub One"] == {}
    assert dump.key_lines[AUTHSRV] == 8
    assert dump.keys[AUTHSRV]["ExtensionDLLs"].data == "C:\\x.dll"
    assert dump.errors == ((10, "ERROR: Access is denied."),)


def test_lookups_ignore_letter_case_and_hklm() -> None:
    dump = parse_regquery(_utf16(AZUREMFA_TEXT), "d.txt")
    assert dump.find_key("hklm\\software\\microsoft\\azuremfa\\") == AZUREMFA
    assert dump.values("HKLM\\SOFTWARE\\Microsoft\\Nothing") is None
    value = dump.value("HKLM\\Software\\Microsoft\\AzureMfa", "sts_url")
    assert value is not None and value.name == "STS_URL"
    assert dump.value(AZUREMFA, "NO_SUCH_VALUE") is None
    assert dump.value(AUTHSRV, "ExtensionDLLs") is None


def test_canonical_key() -> None:
    assert canonical_key("hklm\\Software\\X\\") == "HKEY_LOCAL_MACHINE\\Software\\X"
    assert canonical_key("HKCU") == "HKEY_CURRENT_USER"
    assert canonical_key("hkey_users\\S-1-5-18") == "HKEY_USERS\\S-1-5-18"


def test_missing_key_dumps_have_no_keys() -> None:
    # A ">" redirection leaves reg's error out of the file: the script's dump is just a BOM
    # and a line break. With 2>&1 the error line is kept.
    empty = parse_regquery(codecs.BOM_UTF16_LE + "\r\n".encode("utf-16-le"), "BeforeRegAdd.txt")
    assert empty.keys == {} and empty.errors == ()
    assert parse_regquery(b"", "e.txt").keys == {}
    error = parse_regquery(_utf16(f"\r\n{MISSING_KEY_MESSAGE}\r\n"), "err.txt")
    assert error.keys == {}
    assert error.errors == ((2, MISSING_KEY_MESSAGE),)


# ---------------------------------------------------------------------------------------------
# Encodings


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (codecs.BOM_UTF16_LE + AZUREMFA_TEXT.encode("utf-16-le"), "utf-16-le"),
        (codecs.BOM_UTF16_BE + AZUREMFA_TEXT.encode("utf-16-be"), "utf-16-be"),
        (AZUREMFA_TEXT.encode("utf-16-le"), "utf-16-le"),  # cmd /u: no BOM
        (AZUREMFA_TEXT.encode("utf-16-be"), "utf-16-be"),
        (codecs.BOM_UTF8 + AZUREMFA_TEXT.encode("utf-8"), "utf-8"),
        (AZUREMFA_TEXT.encode("utf-8"), "utf-8"),
        (AZUREMFA_TEXT.encode("cp1252"), "cp1252"),  # reg in cmd.exe, ANSI code page
        (AZUREMFA_TEXT.replace("\r\n", "\n").encode("utf-8"), "utf-8"),
        (AZUREMFA_TEXT.replace("\r\n", "\r").encode("utf-8"), "utf-8"),
    ],
)
def test_every_encoding_gives_the_same_dump(data: bytes, encoding: str) -> None:
    expected = parse_regquery(_utf16(AZUREMFA_TEXT), "d.txt")
    dump = parse_regquery(data, "d.txt")
    assert dump.encoding == encoding
    assert dump.keys == expected.keys
    assert looks_like_regquery(data[:300])


# ---------------------------------------------------------------------------------------------
# The samples


@pytest.mark.skipif(not SAMPLE_BUNDLES, reason="samples/ is not available")
def test_every_sample_dump_parses_and_is_recognised() -> None:
    members = _sample_members()
    assert len(members) == 4 * len(SAMPLE_BUNDLES) >= 40
    for name, data in members:
        assert data.startswith(codecs.BOM_UTF16_LE), name
        dump = parse_regquery(data, name)
        assert dump.encoding == "utf-16-le"
        expected = AZUREMFA if "AzureMFA" in name else AUTHSRV
        assert list(dump.keys) == [expected], name
        assert dump.key_lines == {expected: 2}
        assert looks_like_regquery(data[:4096]), name
        assert looks_like_regquery(data[:64]), name


@pytest.mark.skipif(not SAMPLE_BUNDLES, reason="samples/ is not available")
def test_alternate_login_id_sample_keeps_the_space_in_the_forest_list() -> None:
    bundle = next(path for path in SAMPLE_BUNDLES if path.parent.name == "alternate-login-id")
    with zipfile.ZipFile(bundle) as archive:
        dump = parse_regquery(archive.read("BeforeRegAdd_AzureMFA.txt"), "before")
    forests = dump.value(AZUREMFA, "LDAP_LOOKUP_FORESTS")
    assert forests == RegValue("LDAP_LOOKUP_FORESTS", "REG_SZ", "proseware.com contoso.com", 14)
    dlls = parse_regquery(zipfile.ZipFile(bundle).read("AfterRegAdd_AuthSrv.txt"), "after").keys[
        AUTHSRV
    ]
    assert dlls["AuthorizationDLLs"].items == (
        "C:\\Program Files\\Microsoft\\AzureMfa\\Extensions\\MfaNpsAuthzExt.dll",
    )


# ---------------------------------------------------------------------------------------------
# What is not a dump: every error names the file and the line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            f"\n{AZUREMFA}\nnot a value line\n",
            "bad.txt: line 3: expected '    NAME    REG_TYPE    DATA' or a key path (HKEY_...), "
            "found 'not a value line'",
        ),
        (
            "Windows Registry Editor Version 5.00\n",
            "bad.txt: line 1: expected '    NAME    REG_TYPE    DATA'",
        ),
        (
            "    VERBOSE_LOG    REG_SZ    TRUE\n",
            "bad.txt: line 1: a value line before any key path (HKEY_...)",
        ),
        (
            f"{AZUREMFA}\n    A    REG_SZ    1\n    a    REG_SZ    2\n",
            "bad.txt: line 3: value 'a' appears twice under "
            "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\AzureMfa (first at line 2)",
        ),
        (
            f"{AZUREMFA}\n\n{AZUREMFA.upper()}\n",
            "bad.txt: line 3: key 'HKEY_LOCAL_MACHINE\\SOFTWARE\\MICROSOFT\\AZUREMFA' appears "
            "again (first at line 1)",
        ),
        (
            f"{AZUREMFA}\n        REG_SZ    x\n",
            "bad.txt: line 2: expected '    NAME    REG_TYPE    DATA' or a key path (HKEY_...), "
            "found 'REG_SZ    x'",
        ),
        (
            f"{AZUREMFA}\n    A    REG_SZ    one\x07two\n",
            "bad.txt: line 2: control character 0x07 in the text",
        ),
        (
            f"{AZUREMFA}\n<script>\x1b[31malert(1)</script>\n",
            "bad.txt: line 2: control character 0x1b",
        ),
    ],
)
def test_text_that_is_not_a_dump_names_the_line(text: str, expected: str) -> None:
    with pytest.raises(TextDumpError) as caught:
        parse_regquery(text.encode("utf-8"), "bad.txt")
    assert str(caught.value.message).startswith(expected), caught.value.message
    assert caught.value.hint


def test_error_messages_show_untrusted_text_printably() -> None:
    text = f"{AZUREMFA}\n" + "\u202e evil \u200b" + "x" * 200 + "\n"
    with pytest.raises(TextDumpError) as caught:
        parse_regquery(text.encode("utf-8"), "bad.txt")
    message = caught.value.message
    assert "\u202e" not in message and "\\u202e" in message
    assert message.endswith("...'")
    assert len(message) < 200


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"ElfFile\x00\x01\x00\x00\x00" + bytes(100), "line 1: control character 0x00"),
        (b"PK\x03\x04" + bytes(40), "line 1: control character 0x03"),
        (codecs.BOM_UTF16_LE + b"H\x00K", "line 1: expected"),
    ],
)
def test_binary_bytes_are_rejected_naming_the_line(data: bytes, expected: str) -> None:
    with pytest.raises(TextDumpError, match=re.escape(expected)) as caught:
        parse_regquery(data, "blob.bin")
    assert caught.value.message.startswith("blob.bin: ")


@pytest.mark.parametrize(
    "data",
    [
        b"HKEY_LOCAL_MACHINE\\X\n    A    REG_SZ    \x81\x8d\n",
        b"HKEY_LOCAL_MACHINE\\X\n    A    REG_SZ    caf\xe9 \xff\n",
        codecs.BOM_UTF16_LE
        + "HKEY_LOCAL_MACHINE\\X\n    A    REG_SZ    ".encode("utf-16-le")
        + "\ud800".encode("utf-16-le", "surrogatepass")
        + "\n".encode("utf-16-le"),
    ],
    ids=["undefined-in-windows-1252", "windows-1252", "broken-utf-16"],
)
def test_stray_bytes_in_a_value_do_not_lose_the_dump(data: bytes) -> None:
    # Recognition reads such a head as a REG QUERY dump, so reading must not refuse it.
    assert looks_like_regquery(data)
    dump = parse_regquery(data, "dump.txt")
    value = dump.value("HKEY_LOCAL_MACHINE\\X", "A")
    assert value is not None and value.type == "REG_SZ" and value.data


def test_oversized_input_is_rejected_before_decoding() -> None:
    with pytest.raises(TextDumpError, match="far too large"):
        parse_regquery(b" " * (MAX_DUMP_BYTES + 1), "huge.txt")


def test_hostile_long_lines_are_linear() -> None:
    # A name followed by a long run of spaces and no type column must fail fast, not backtrack.
    line = "    A" + " " * 2_000_000 + "B\n"
    with pytest.raises(TextDumpError, match="line 2"):
        parse_regquery(f"{AZUREMFA}\n{line}".encode(), "long.txt")


@settings(max_examples=400, deadline=None)
@given(data=st.binary(max_size=600))
def test_parser_only_raises_text_dump_error_on_arbitrary_bytes(data: bytes) -> None:
    try:
        dump = parse_regquery(data, "fuzz.bin")
    except TextDumpError as error:
        assert error.message.startswith("fuzz.bin: ")
    else:
        assert isinstance(dump, RegistryDump)
    assert isinstance(looks_like_regquery(data), bool)


_NAMES = st.one_of(
    st.text(
        alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x2FF, exclude_characters="\x7f"),
        min_size=1,
        max_size=20,
    ),
    # Names that look like a type token must not be read as one.
    st.sampled_from(["REG_SZ", "REG_X", "(Default)"]),
)


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(max_size=300),
    prefix=st.sampled_from([f"{AZUREMFA}\n", f"{AZUREMFA}\n    ", ""]),
    encoding=st.sampled_from(["utf-8", "utf-16"]),
)
def test_parser_only_raises_text_dump_error_on_arbitrary_text(
    text: str, prefix: str, encoding: str
) -> None:
    try:
        data = (prefix + text).encode(encoding)
    except UnicodeEncodeError:
        return  # lone surrogates cannot be written at all
    try:
        dump = parse_regquery(data, "fuzz.txt")
    except TextDumpError as error:
        assert error.message.startswith("fuzz.txt: ")
    else:
        assert all(key.startswith("HKEY_") for key in dump.keys)


@settings(max_examples=150, deadline=None)
@given(
    values=st.dictionaries(
        keys=_NAMES.filter(lambda name: not name.upper().startswith(("HKEY_", "HK"))),
        values=st.tuples(
            st.sampled_from(["REG_SZ", "REG_EXPAND_SZ", "REG_MULTI_SZ", "REG_DWORD"]),
            st.text(
                alphabet=st.characters(
                    min_codepoint=0x20, max_codepoint=0x2FF, exclude_characters="\x7f"
                ),
                max_size=30,
            ),
        ),
        max_size=8,
    ),
    encoding=st.sampled_from(["utf-16", "utf-8-sig", "utf-8"]),
)
def test_rendered_dumps_read_back_exactly(
    values: dict[str, tuple[str, str]], encoding: str
) -> None:
    unique = {name.casefold(): name for name in values}  # Windows names ignore case
    lines = ["", AZUREMFA]
    lines += [f"    {name}    {values[name][0]}    {values[name][1]}" for name in unique.values()]
    dump = parse_regquery(("\r\n".join(lines) + "\r\n").encode(encoding), "round.txt")
    parsed = dump.keys[AZUREMFA]
    assert {name: (v.type, v.data) for name, v in parsed.items()} == {
        name: values[name] for name in unique.values()
    }


# ---------------------------------------------------------------------------------------------
# Content sniffing


@pytest.mark.parametrize(
    "head",
    [
        _utf16(AZUREMFA_TEXT),
        AZUREMFA_TEXT.encode("utf-8"),
        f"{AZUREMFA}\n".encode(),
        f"{AZUREMFA}\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\AzureMfa\\Sub\n".encode(),
        _utf16(f"\r\n{MISSING_KEY_MESSAGE}\r\n"),
        MISSING_KEY_MESSAGE[:30].encode(),
        # Cut inside the second line: judged on the first.
        f"{AZUREMFA}\n    AZURE_MFA_HOSTN".encode(),
    ],
)
def test_sniffing_recognises_dumps(head: bytes) -> None:
    assert looks_like_regquery(head)


@pytest.mark.parametrize(
    "head",
    [
        b"",
        codecs.BOM_UTF16_LE + "\r\n".encode("utf-16-le"),
        b"ElfFile\x00" + bytes(64),
        b"<?xml version='1.0'?><Events></Events>",
        b"Event[0]:\r\n  Log Name: Security\r\n",
        b"Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE]\r\n",
        b"ERROR: something else went wrong\n",
        b"ERROR:\n",
        b"HKEY_LOCAL_MACHINE is where the settings live.\nSee the docs.\n",
        f"{AZUREMFA}\nthis is prose, not a value\n".encode(),
    ],
)
def test_sniffing_rejects_other_files(head: bytes) -> None:
    assert not looks_like_regquery(head)


def test_sniffing_a_truncated_head_never_fails() -> None:
    data = _utf16(AZUREMFA_TEXT)
    key_line_end = len(_utf16(f"\r\n{AZUREMFA}\r\n"))
    for cut in range(len(data) + 1):
        result = looks_like_regquery(data[:cut])
        if cut >= key_line_end:
            assert result, cut


# ---------------------------------------------------------------------------------------------
# Reading files


def test_read_regquery_reads_and_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "AfterRegAdd_AzureMFA.txt"
    path.write_bytes(_utf16(AZUREMFA_TEXT))
    assert read_regquery(path).name == str(path)
    assert read_regquery(path, "bundle.zip!AfterRegAdd_AzureMFA.txt").keys[AZUREMFA]
    with pytest.raises(InputError, match="cannot read the file") as caught:
        read_regquery(tmp_path / "missing.txt")
    assert not isinstance(caught.value, TextDumpError)
    big = tmp_path / "big.txt"
    big.write_bytes(b" " * (MAX_DUMP_BYTES + 10))
    with pytest.raises(TextDumpError, match="far too large"):
        read_regquery(big)
