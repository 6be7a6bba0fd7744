"""Read ``REG QUERY`` text dumps into plain data.

Microsoft's health-check script for the NPS extension writes ``REG QUERY "HKLM\\..." > file``
from PowerShell, so its dumps are UTF-16LE with a byte-order mark and CRLF line ends; a dump
made in ``cmd.exe`` is in the console's ANSI code page, and one pasted into an editor is often
UTF-8. All of them have the same shape::

    <blank line>
    HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\AzureMfa
        NAME    REG_TYPE    DATA
        ...
    <blank line>
    HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\AzureMfa\\SomeSubkey

A key line starts a block; its values follow, indented by four spaces, with four spaces
between name, type and data. ``REG_MULTI_SZ`` data shows its separators as the two characters
``\\0``; ``REG_DWORD`` and ``REG_QWORD`` data are hexadecimal (``0x1``); ``REG_BINARY`` data is
a run of hex digits; the unnamed value is shown as ``(Default)``. Without ``/s``, subkeys are
listed after the values as bare key lines; with ``/s`` every key gets its own block. A missing
key makes ``reg`` print ``ERROR: The system was unable to find the specified registry key or
value.`` on stderr, which a ``>`` redirection does not capture, so the dump of a missing key is
usually empty.

Parsing is strict about structure (a line that is neither a key, a value, blank nor an
``ERROR:`` line is an error naming the line) and tolerant about what editors and tools do to
text: blank lines anywhere, LF or CR line ends, tabs for separators, missing indentation.

References:
    - https://learn.microsoft.com/windows-server/administration/windows-commands/reg-query
    - Azure-Samples/azure-mfa-nps-extension-health-check, ``MFA_NPS_Troubleshooter.ps1``
      (the ``REG QUERY ... > C:\\NPS\\BeforeRegAdd_AzureMFA.txt`` commands)
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from pathlib import Path

from npsdiag.errors import InputError, TextDumpError

__all__ = [
    "MAX_DUMP_BYTES",
    "MISSING_KEY_MESSAGE",
    "MULTI_SZ_SEPARATOR",
    "RegValue",
    "RegistryDump",
    "canonical_key",
    "looks_like_regquery",
    "parse_regquery",
    "read_regquery",
]

#: A registry dump is a few kilobytes; anything this large is not one.
MAX_DUMP_BYTES = 16 * 1024 * 1024
#: How ``reg query`` shows the separator between the strings of a ``REG_MULTI_SZ`` value.
MULTI_SZ_SEPARATOR = "\\0"
#: What ``reg query`` prints (on stderr) when the key does not exist.
MISSING_KEY_MESSAGE = "ERROR: The system was unable to find the specified registry key or value."

_ROOTS = {
    "HKLM": "HKEY_LOCAL_MACHINE",
    "HKCU": "HKEY_CURRENT_USER",
    "HKCR": "HKEY_CLASSES_ROOT",
    "HKU": "HKEY_USERS",
    "HKCC": "HKEY_CURRENT_CONFIG",
}
_KEY_LINE = re.compile(
    r"(?P<root>HKEY_(?:LOCAL_MACHINE|CURRENT_USER|CLASSES_ROOT|USERS|CURRENT_CONFIG"
    r"|PERFORMANCE_DATA|DYN_DATA)|HKLM|HKCU|HKCR|HKU|HKCC)(?P<rest>\\.*)?",
    re.IGNORECASE,
)
# The type column: a separator, a REG_* token, then a separator or the end of the line. A
# search for this token (not one regular expression over the whole line) keeps the cost
# linear on hostile lines full of spaces.
_TYPE_COLUMN = re.compile(r"(?: {4}|\t)(?P<type>REG_[A-Z0-9_]+)(?=(?: {4}|\t)|[ \t]*$)")
_SEPARATOR = re.compile(r"(?: {4}|\t)")
_ERROR_PREFIX = "ERROR:"
_MIN_ERROR_PREFIX = 24
_END_OF_SEARCH = re.compile(r"End of search: \d+ match\(es\) found\.")
# Characters that never occur in reg's output; their presence means binary or garbage.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_VALUE_SHAPE = "'    NAME    REG_TYPE    DATA'"
_SNIPPET_CHARS = 60


@dataclass(frozen=True, slots=True)
class RegValue:
    """One value line of a dump.

    Attributes:
        name: the value name as shown (``(Default)`` for the unnamed value).
        type: the type token as shown (``REG_SZ``, ``REG_MULTI_SZ``, ``REG_DWORD`` ...).
        data: the data exactly as shown, ``\\0`` separators of ``REG_MULTI_SZ`` included;
            empty when the line ends after the type.
        line: 1-based line number in the dump (the byte-order mark is not a line).
    """

    name: str
    type: str
    data: str
    line: int

    @property
    def items(self) -> tuple[str, ...]:
        """The strings of a ``REG_MULTI_SZ`` value; ``(data,)`` for any other type."""
        if self.type != "REG_MULTI_SZ":
            return (self.data,)
        return tuple(self.data.split(MULTI_SZ_SEPARATOR)) if self.data else ()

    @property
    def text(self) -> str:
        """The value line as ``reg query`` prints it, without its indentation."""
        return f"{self.name}    {self.type}    {self.data}"


@dataclass(frozen=True)
class RegistryDump:
    """The parsed output of one ``REG QUERY`` run.

    Attributes:
        name: how the dump is named in messages (a file name, ``bundle.zip!member``).
        keys: every key line of the dump, by path (root spelled out, as ``reg`` prints it;
            ``HKLM`` is expanded), mapping value names to values in dump order. Subkeys
            listed without values map to an empty dict.
        key_lines: the line number of each key line, by path.
        errors: ``(line, text)`` of every ``ERROR:`` line (a missing key, when stderr was
            captured too).
        encoding: the codec the bytes were decoded with.
    """

    name: str
    keys: dict[str, dict[str, RegValue]]
    key_lines: dict[str, int] = field(default_factory=dict)
    errors: tuple[tuple[int, str], ...] = ()
    encoding: str = "utf-8"

    def find_key(self, path: str) -> str | None:
        """The path of the dump's key that is ``path`` (letter case and ``HKLM`` ignored)."""
        wanted = canonical_key(path).casefold()
        for shown in self.keys:
            if shown.casefold() == wanted:
                return shown
        return None

    def values(self, path: str) -> dict[str, RegValue] | None:
        """The values of key ``path``, or None when the dump does not hold that key."""
        shown = self.find_key(path)
        return None if shown is None else self.keys[shown]

    def value(self, path: str, name: str) -> RegValue | None:
        """One value of key ``path``; names compare without letter case, as in Windows."""
        values = self.values(path)
        if values is None:
            return None
        wanted = name.casefold()
        for value in values.values():
            if value.name.casefold() == wanted:
                return value
        return None


def canonical_key(path: str) -> str:
    """A key path with its root spelled out and no trailing backslash.

    ``hklm\\Software\\X\\`` becomes ``HKEY_LOCAL_MACHINE\\Software\\X``; the rest keeps its
    letter case, since ``reg`` prints what was typed.
    """
    text = path.strip().rstrip("\\")
    root, _, rest = text.partition("\\")
    full = _ROOTS.get(root.upper(), root.upper() if root.upper().startswith("HKEY_") else root)
    return f"{full}\\{rest}" if rest else full


def looks_like_regquery(head: bytes) -> bool:
    """True when the first bytes of a file look like ``REG QUERY`` output.

    Args:
        head: the first bytes of the file (a few hundred are enough); it may end in the
            middle of a character or a line.

    Returns:
        True when the first non-blank line is a registry key path (or reg's "unable to find"
        error) and the next non-blank line, if the head reaches it, is a key, a value line or
        such an error. An empty dump (a missing key redirected with ``>``) cannot be told from
        any other empty file and gives False.
    """
    encoding, body = _detect_encoding(head)
    if encoding.startswith("utf-16"):
        body = body[: len(body) - len(body) % 2]
    text = body.decode(encoding, errors="replace")
    lines = _LINE_BREAK.split(text)
    if not text.endswith(("\n", "\r")):
        # The head ends inside the last line: too little of it to judge.
        lines = lines[:-1] if any(line.strip() for line in lines[:-1]) else lines
    shown = [line for line in lines if line.strip()][:2]
    if not shown:
        return False
    first = shown[0].strip()
    if first.startswith(_ERROR_PREFIX):
        # Only reg's own "unable to find" message, possibly cut off, but not a bare "ERROR:".
        return len(first) >= _MIN_ERROR_PREFIX and MISSING_KEY_MESSAGE.startswith(first)
    if _key_path(first) is None:
        return False
    if len(shown) == 1:
        return True
    second = shown[1]
    return (
        _key_path(second.strip()) is not None
        or _TYPE_COLUMN.search(second) is not None
        or second.strip().startswith(_ERROR_PREFIX)
    )


def read_regquery(path: Path, name: str | None = None) -> RegistryDump:
    """Read and parse a dump file.

    Args:
        path: the file.
        name: how messages name it (default: the path as given).

    Raises:
        InputError: the file cannot be read.
        TextDumpError: the file is not a ``REG QUERY`` dump.
    """
    shown = name if name is not None else str(path)
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_DUMP_BYTES + 1)
    except OSError as error:
        raise InputError(
            f"{shown}: cannot read the file ({error.strerror or error})",
            hint="check that the path exists and that you may read it",
        ) from error
    return parse_regquery(data, shown)


def parse_regquery(data: bytes, name: str) -> RegistryDump:
    """Parse the bytes of one ``REG QUERY`` output.

    Args:
        data: the file's bytes; UTF-16LE/BE with a byte-order mark, UTF-16 without one,
            UTF-8 with or without one, or Windows-1252.
        name: how the dump is named in messages and findings.

    Returns:
        The dump. An empty file (or one holding only blank or ``ERROR:`` lines) gives a dump
        without keys: that is what the health-check script writes when the key is missing.

    Raises:
        TextDumpError: the bytes are not a ``REG QUERY`` dump; the message names the file and
            the first line that does not fit.
    """
    if len(data) > MAX_DUMP_BYTES:
        raise TextDumpError(
            f"{name}: {len(data):,} bytes or more, far too large for a REG QUERY dump",
            hint="pass the output of REG QUERY for one key",
        )
    encoding, text = _decode(data)
    keys: dict[str, dict[str, RegValue]] = {}
    key_lines: dict[str, int] = {}
    folded_lines: dict[str, int] = {}
    errors: list[tuple[int, str]] = []
    current: dict[str, RegValue] | None = None
    current_key = ""
    folded_names: dict[str, int] = {}
    for number, line in enumerate(_LINE_BREAK.split(text), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        control = _CONTROL.search(line)
        if control is not None:
            raise _error(
                name,
                number,
                f"control character {ord(control.group()):#04x} in the text: "
                "this is not a REG QUERY dump",
            )
        indented = line[0] in " \t"
        # The type column follows a name, so the search starts after the first character of
        # the name (a value may be named "REG_SZ").
        type_column = _TYPE_COLUMN.search(line, len(line) - len(line.lstrip(" \t")) + 1)
        path = None if indented and type_column else _key_path(stripped)
        if path is not None:
            folded = path.casefold()
            if folded in folded_lines:
                raise _error(
                    name,
                    number,
                    f"key '{_snippet(path)}' appears again (first at line {folded_lines[folded]}):"
                    " pass each REG QUERY output as its own file",
                )
            folded_lines[folded] = number
            key_lines[path] = number
            current = keys[path] = {}
            current_key = path
            folded_names = {}
            continue
        if type_column is not None:
            value_name = line[: type_column.start()].strip(" \t")
            if current is None:
                raise _error(
                    name,
                    number,
                    f"a value line before any key path (HKEY_...): '{_snippet(stripped)}'",
                )
            folded = value_name.casefold()
            if folded in folded_names:
                raise _error(
                    name,
                    number,
                    f"value '{_snippet(value_name)}' appears twice under {_snippet(current_key)}"
                    f" (first at line {folded_names[folded]})",
                )
            folded_names[folded] = number
            rest = line[type_column.end() :]
            separator = _SEPARATOR.match(rest)
            value_data = rest[separator.end() :] if separator is not None else ""
            current[value_name] = RegValue(
                name=value_name, type=type_column.group("type"), data=value_data, line=number
            )
            continue
        if stripped.startswith(_ERROR_PREFIX):
            errors.append((number, stripped))
            continue
        if _END_OF_SEARCH.fullmatch(stripped):
            continue
        raise _error(
            name,
            number,
            f"expected {_VALUE_SHAPE} or a key path (HKEY_...), found '{_snippet(stripped)}'",
        )
    return RegistryDump(
        name=name, keys=keys, key_lines=key_lines, errors=tuple(errors), encoding=encoding
    )


def _key_path(stripped: str) -> str | None:
    """The canonical path when a stripped line is a key line, else None."""
    match = _KEY_LINE.fullmatch(stripped)
    if match is None:
        return None
    return canonical_key(stripped)


def _detect_encoding(data: bytes) -> tuple[str, bytes]:
    """``(codec, bytes without the byte-order mark)``; guesses UTF-16 without a BOM.

    Anything else is "utf-8" (read as Windows-1252 where it is not UTF-8): a NUL there is a
    control character, which the parser names by its line.
    """
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8", data[len(codecs.BOM_UTF8) :]
    if data.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le", data[len(codecs.BOM_UTF16_LE) :]
    if data.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be", data[len(codecs.BOM_UTF16_BE) :]
    if b"\x00" not in data:
        return "utf-8", data
    sample = data[:1024]
    # UTF-16 without a BOM (``cmd /u`` redirections): ASCII text leaves every other byte zero.
    half = len(sample) // 2
    odd_zeros = sample[1::2].count(0)
    even_zeros = sample[0::2].count(0)
    if half and odd_zeros >= half * 0.8 and even_zeros <= half * 0.2:
        return "utf-16-le", data
    if half and even_zeros >= half * 0.8 and odd_zeros <= half * 0.2:
        return "utf-16-be", data
    return "utf-8", data


def _decode(data: bytes) -> tuple[str, str]:
    """``(codec, text)``: the dump decoded; never raises.

    UTF-8 where it all is, else Windows-1252 (``reg`` run in ``cmd.exe`` writes the ANSI code
    page); a byte neither decodes (one of the five Windows-1252 leaves undefined, broken
    UTF-16) becomes U+FFFD, as the recognition of the file by content assumes.
    """
    encoding, body = _detect_encoding(data)
    if encoding != "utf-8":
        return encoding, body.decode(encoding, "replace")
    try:
        return encoding, body.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252", body.decode("cp1252", "replace")


def _error(name: str, number: int, problem: str) -> TextDumpError:
    return TextDumpError(
        f"{name}: line {number}: {problem}",
        hint="pass the unedited output of REG QUERY for one key",
    )


def _snippet(text: str) -> str:
    """A short, printable excerpt of untrusted text for an error message."""
    short = text if len(text) <= _SNIPPET_CHARS else text[: _SNIPPET_CHARS - 3] + "..."
    return "".join(char if char.isprintable() else ascii(char)[1:-1] for char in short)
