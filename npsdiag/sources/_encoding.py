"""Tell text from binary, and decode text the way Windows tools write it, never failing.

Recognising a file and reading it must agree: a dump that a reader can read must not be
refused as "not an event log export" because of one odd byte in its first 4 KiB. Both use this
module.

* :func:`text_encoding` decides from the first bytes whether a file is text and in which
  encoding: UTF-16 with or without a byte-order mark, UTF-8 with or without one, the encoding
  an XML declaration names. Stray bytes do not make text binary: a Windows-1252 character, an
  invalid UTF-8 byte or a NUL among text is what a damaged or hand-edited export holds, so only
  a head in which such bytes or control characters are frequent is called binary.
* :func:`incremental_decoder` and :func:`decode` decode with the ``npsdiag-windows-1252``
  error handler for UTF-8: a byte that is not part of a UTF-8 character is read as the
  Windows-1252 character it stands for (``cmd.exe`` redirections and editors saving in the ANSI
  code page leave those), and one of the five bytes Windows-1252 leaves undefined becomes
  U+FFFD. Other encodings replace what they cannot decode with U+FFFD.
"""

from __future__ import annotations

import codecs
import contextlib
import re

__all__ = [
    "WINDOWS_1252_FALLBACK",
    "bad_characters",
    "decode",
    "incremental_decoder",
    "text_encoding",
]

#: Name of the codec error handler registered here.
WINDOWS_1252_FALLBACK = "npsdiag-windows-1252"
_BAD = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f\ufffd]")
_DECLARED_ENCODING = re.compile(rb"""\A\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
#: At most one character in this many of the head may be a control character (NUL included)
#: or undecodable for the head to count as text (binary data has about one in eight).
_BAD_SHARE = 20
_SAMPLE = 512


def _windows_1252(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    return bytes(bad).decode("cp1252", errors="replace"), error.end


codecs.register_error(WINDOWS_1252_FALLBACK, _windows_1252)


def _errors_for(encoding: str) -> str:
    return WINDOWS_1252_FALLBACK if codecs.lookup(encoding).name == "utf-8" else "replace"


def incremental_decoder(encoding: str) -> codecs.IncrementalDecoder:
    """A decoder for ``encoding`` that never raises (see the module's description)."""
    return codecs.getincrementaldecoder(encoding)(errors=_errors_for(encoding))


def decode(data: bytes, encoding: str) -> str:
    """``data`` decoded; never raises (see the module's description)."""
    return data.decode(encoding, errors=_errors_for(encoding))


def bad_characters(text: str) -> int:
    """Control characters (NUL included, line ends and tabs not) and U+FFFD in ``text``."""
    return len(_BAD.findall(text))


def text_encoding(head: bytes) -> str | None:
    """The codec that decodes ``head`` as text, or None when it looks binary.

    Knows UTF-8 and UTF-16 with or without a byte-order mark (Windows tools write UTF-16
    when redirected), and the encoding an XML declaration names. Bytes that are not UTF-8 are
    read as Windows-1252 and never make a head binary; control characters (NUL included) and
    undecodable bytes do when they are more than one in twenty of the first 512 characters.
    Readers decode such text with :func:`incremental_decoder`.
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    sample = head[:_SAMPLE]
    if len(sample) >= 4:
        # UTF-16 without a BOM: ASCII text leaves every other byte zero.
        odd_zeros = sample[1::2].count(0)
        even_zeros = sample[0::2].count(0)
        half = len(sample) // 2
        if odd_zeros > half * 0.8 and even_zeros < half * 0.2:
            return "utf-16-le"
        if even_zeros > half * 0.8 and odd_zeros < half * 0.2:
            return "utf-16-be"
    encoding = "utf-8"
    declared = _DECLARED_ENCODING.match(head)
    if declared is not None:
        name = declared[1].decode("ascii").lower()
        with contextlib.suppress(LookupError):
            if not codecs.lookup(name).name.startswith("utf-16"):
                encoding = name
    # The head may end in the middle of a character: the decoder keeps such a tail back.
    text = incremental_decoder(encoding).decode(sample)
    bad = bad_characters(text)
    return encoding if bad * _BAD_SHARE <= max(len(text), 1) else None
