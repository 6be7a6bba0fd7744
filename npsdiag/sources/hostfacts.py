"""Recognise the files ``npsdiag collect`` gathers besides event logs.

A bundle made by ``npsdiag collect`` holds, next to the event exports and the ``REG QUERY``
dumps, four kinds of file that say something about the server rather than about events:

* ``certificates.json``: the certificates of ``LocalMachine\\My`` (thumbprint, subject, issuer,
  validity, who may read the private key; never a key), :mod:`npsdiag.sources.certificates`;
* ``extension.json``: the installed NPS extension and its DLL versions,
  :mod:`npsdiag.sources.extension_info`;
* ``auditpol.csv``: ``auditpol /get`` for the "Network Policy Server" subcategory (``/r`` CSV
  or the plain table an administrator gets by hand), :mod:`npsdiag.sources.auditpol`;
* ``manifest.json``: what the collection gathered and what it could not, and why,
  :mod:`npsdiag.sources.manifest`.

The JSON files are recognised by the ``"schema"`` member they start with, auditpol output by
its header or by the subcategory's GUID. This module only recognises them: it is imported by
:mod:`npsdiag.sources.discover` and must stay free of imports from the rest of ``sources``.
"""

from __future__ import annotations

import re

__all__ = [
    "AUDITPOL",
    "CERTIFICATES",
    "CERTIFICATES_SCHEMA",
    "COLLECT_MANIFEST",
    "EXTENSION_INFO",
    "EXTENSION_SCHEMA",
    "HOST_FACT_KINDS",
    "MANIFEST_SCHEMA",
    "NPS_AUDIT_GUID",
    "host_fact_kind",
]

#: Kinds of the files above (values of ``SourceStats.kind``, like ``npsdiag.model.SourceKind``).
CERTIFICATES = "certificates"
EXTENSION_INFO = "extension-info"
AUDITPOL = "auditpol"
COLLECT_MANIFEST = "collect-manifest"
HOST_FACT_KINDS = frozenset({CERTIFICATES, EXTENSION_INFO, AUDITPOL, COLLECT_MANIFEST})

#: The ``"schema"`` each JSON file starts with; the number changes when the layout does.
CERTIFICATES_SCHEMA = "npsdiag/certificates/1"
EXTENSION_SCHEMA = "npsdiag/extension/1"
MANIFEST_SCHEMA = "npsdiag/collect-manifest/1"
_SCHEMAS = {
    CERTIFICATES_SCHEMA: CERTIFICATES,
    EXTENSION_SCHEMA: EXTENSION_INFO,
    MANIFEST_SCHEMA: COLLECT_MANIFEST,
}

#: The audit subcategory "Network Policy Server" (MS-GPAC 2.2.1.2); the same in every language.
NPS_AUDIT_GUID = "{0CCE9243-69AE-11D9-BED3-505054503030}"

_SCHEMA_MEMBER = re.compile(r'\A\{\s*"schema"\s*:\s*"([^"\\]{1,80})"')
_AUDITPOL_CSV_HEADER = "machine name,policy target,subcategory,subcategory guid"
_AUDITPOL_TEXT_HEADER = "system audit policy"


def host_fact_kind(text: str) -> str | None:
    """The kind of a collected fact file from its first characters, or None.

    Args:
        text: the start of the file, decoded, leading white space removed.

    Returns:
        One of :data:`HOST_FACT_KINDS`, or None when the text is none of them (a JSON file of
        an unknown schema included).
    """
    if text.startswith("{"):
        match = _SCHEMA_MEMBER.match(text)
        return _SCHEMAS.get(match.group(1)) if match else None
    first = text.split("\n", 1)[0].strip().casefold()
    if first.startswith(_AUDITPOL_CSV_HEADER) or first == _AUDITPOL_TEXT_HEADER:
        return AUDITPOL
    # A localised /r header still carries the subcategory's GUID in its row.
    if "," in text and NPS_AUDIT_GUID.casefold() in text[:2048].casefold():
        return AUDITPOL
    return None
