"""The two PowerShell scripts ``npsdiag collect`` runs: certificates and extension version.

Why PowerShell: ``certutil -store My`` prints localised text with dates in the local format
and says nothing about who may read a private key, whereas Windows PowerShell 5.1 is on every
supported Windows Server and gives the certificate objects themselves (thumbprint, subject,
issuer, dates as UTC, enhanced key usages) and, through the key's container name, the access
rules of the key file. The scripts read metadata only: a private key is opened just to learn
where it is stored, and never exported or written anywhere.

The scripts' bodies are ``certificates.ps1`` and ``extension.ps1`` beside this module; each
runs between :data:`PRELUDE` (stop at the first error, report it on standard error, exit 1)
and :data:`EPILOGUE` (print ``$document`` as JSON whose every non-ASCII character is
escaped, so the console's code page cannot garble a subject). They are passed with
``-EncodedCommand`` (base64 of UTF-16LE), which needs no quoting and is not subject to the
script execution policy (that applies to script files).

The JSON layouts are documented in :mod:`npsdiag.sources.certificates` and
:mod:`npsdiag.sources.extension_info`.
"""

from __future__ import annotations

import base64
import functools
from importlib import resources

__all__ = ["EPILOGUE", "PRELUDE", "certificates_script", "extension_script", "powershell_args"]

PRELUDE = """\
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
trap { [Console]::Error.WriteLine('npsdiag: ' + $_.Exception.Message); exit 1 }
"""

EPILOGUE = """\
$json = ConvertTo-Json -InputObject $document -Depth 8
[regex]::Replace($json, '[^\\x00-\\x7F]', { param($m) '\\u{0:x4}' -f [int][char]$m.Value })
"""


@functools.lru_cache(maxsize=2)
def _script(name: str) -> str:
    body = resources.files("npsdiag.collect").joinpath(name).read_text(encoding="utf-8")
    return PRELUDE + body + EPILOGUE


def certificates_script() -> str:
    """Lists ``Cert:\\LocalMachine\\My`` with the extension's two registry values and, per
    certificate, the access rules of its private key's file."""
    return _script("certificates.ps1")


def extension_script() -> str:
    """The extension's Programs and Features entries and its DLLs' file versions."""
    return _script("extension.ps1")


def powershell_args(script: str) -> tuple[str, ...]:
    """The arguments that run ``script`` in Windows PowerShell without a profile or prompts."""
    encoded = base64.b64encode(script.encode("utf-16-le")).decode("ascii")
    return ("-NoProfile", "-NonInteractive", "-EncodedCommand", encoded)
