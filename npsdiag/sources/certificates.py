"""Read the certificate listing ``npsdiag collect`` makes on the NPS server.

The NPS extension signs in to Entra ID with a certificate from the computer's Personal store
(``Cert:\\LocalMachine\\My``): the one ``CLIENT_CERT_IDENTIFIER`` names (a subject, or a
thumbprint in recent versions), which the setup script creates with the subject
``CN=<tenant id>, OU=Microsoft NPS Extension`` and whose private key it lets NETWORK SERVICE
read. When that certificate has expired, the extension's events only say ESTS_TOKEN_ERROR;
the certificate's own dates are in no event. So the collection lists the store, with
PowerShell, as ``certificates.json``::

    {
      "schema": "npsdiag/certificates/1",
      "collected": "2026-01-14T09:30:12.0000000Z",
      "store": "LocalMachine\\\\My",
      "azure_mfa": {"tenant_id": "...", "client_cert_identifier": "..."},
      "certificates": [
        {"thumbprint": "...", "subject": "...", "issuer": "...",
         "not_before": "...", "not_after": "...", "has_private_key": true,
         "enhanced_key_usages": ["1.3.6.1.5.5.7.3.2"],
         "private_key": {"storage": "csp", "error": null,
                         "access": [{"sid": "S-1-5-20", "type": "Allow", "rights": 1179785}]}}
      ]
    }

``enhanced_key_usages`` is null when the certificate has no such extension (any purpose).
``private_key.access`` is the access control list of the key's file (SIDs, allow or deny, the
``FileSystemRights`` mask); it is null, with ``error`` saying why, when it could not be read.
No key material is ever in the file. This module only parses; what the facts mean (expired
for the extension, readable by NETWORK SERVICE) is :mod:`npsdiag.facts`.

References:
    - https://learn.microsoft.com/entra/identity/authentication/howto-mfa-nps-extension
      (certificate renewal, CLIENT_CERT_IDENTIFIER, NETWORK SERVICE read access)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from npsdiag.errors import FactsReadError
from npsdiag.sources._json_doc import JsonObject, load_document
from npsdiag.sources.hostfacts import CERTIFICATES_SCHEMA

__all__ = ["Certificate", "CertificateListing", "KeyAce", "parse_certificates"]

#: More certificates than any machine store holds; the rest are not read.
MAX_CERTIFICATES = 10_000


@dataclass(frozen=True, slots=True)
class KeyAce:
    """One access rule of a private key's file: who, allow or deny, which rights."""

    sid: str
    allow: bool
    rights: int


@dataclass(frozen=True, slots=True)
class Certificate:
    """One certificate of the store, as listed (never a key).

    Attributes:
        thumbprint: SHA-1 thumbprint, upper-case hex as Windows shows it.
        subject, issuer: distinguished names as Windows prints them (``CN=..., OU=...``).
        not_before, not_after: validity, UTC (None when the listing lacks them).
        has_private_key: whether the store holds a private key for it.
        usages: enhanced key usage OIDs; None when the certificate has no such extension.
        key_storage: ``csp`` (MachineKeys), ``cng`` (Crypto\\Keys) or "" when unknown.
        key_access: the key file's access rules; None when they could not be read.
        key_error: why the rules could not be read ("" otherwise).
    """

    thumbprint: str
    subject: str
    issuer: str
    not_before: datetime | None
    not_after: datetime | None
    has_private_key: bool
    usages: tuple[str, ...] | None
    key_storage: str
    key_access: tuple[KeyAce, ...] | None
    key_error: str


@dataclass(frozen=True, slots=True)
class CertificateListing:
    """A whole listing.

    Attributes:
        name: the file it was read from.
        collected: when it was made (UTC); expiry is judged against this moment.
        store: the store listed (``LocalMachine\\My``).
        tenant_id, client_cert_identifier: the extension's registry values when listed ("" if
            the key or value was missing).
        certificates: the certificates read, in file order.
        problems: one line per certificate that could not be read (it is left out).
    """

    name: str
    collected: datetime | None
    store: str
    tenant_id: str
    client_cert_identifier: str
    certificates: tuple[Certificate, ...]
    problems: tuple[str, ...]


def parse_certificates(data: bytes, name: str) -> CertificateListing:
    """Parse a ``certificates.json`` listing.

    A certificate entry that is not what the listing should hold is left out with a line in
    ``problems``; the others are kept.

    Raises:
        FactsReadError: the file is not such a listing at all.
    """
    document = load_document(data, name, CERTIFICATES_SCHEMA)
    settings = document.child("azure_mfa")
    problems: list[str] = []
    certificates = document.each("certificates", _certificate, problems, MAX_CERTIFICATES)
    return CertificateListing(
        name=name,
        collected=document.time("collected"),
        store=document.text("store") or "LocalMachine\\My",
        tenant_id=settings.text("tenant_id").strip() if settings else "",
        client_cert_identifier=settings.text("client_cert_identifier").strip() if settings else "",
        certificates=tuple(certificates),
        problems=tuple(problems),
    )


def _certificate(item: JsonObject) -> Certificate:
    thumbprint = "".join(char for char in item.text("thumbprint") if char.isalnum()).upper()
    if not thumbprint:
        raise FactsReadError(f"{item.where}: no thumbprint")
    key = item.child("private_key")
    access: tuple[KeyAce, ...] | None = None
    storage = error = ""
    if key is not None:
        storage = key.text("storage").lower()
        error = key.text("error")
        if key.given("access"):
            try:
                access = tuple(_ace(rule) for rule in key.children("access"))
            except FactsReadError as bad:
                # The certificate stays; only who may read its key is unknown.
                access, error = None, str(bad)
    return Certificate(
        thumbprint=thumbprint,
        subject=item.text("subject"),
        issuer=item.text("issuer"),
        not_before=item.time("not_before"),
        not_after=item.time("not_after"),
        has_private_key=bool(item.flag("has_private_key")),
        usages=item.texts("enhanced_key_usages"),
        key_storage=storage,
        key_access=access,
        key_error=error,
    )


def _ace(rule: JsonObject | FactsReadError) -> KeyAce:
    if isinstance(rule, FactsReadError):
        raise rule
    sid = rule.text("sid").strip().upper()
    rights = rule.number("rights")
    kind = rule.text("type").strip().casefold()
    if not sid.startswith("S-1-") or rights is None or kind not in ("allow", "deny"):
        raise FactsReadError(f"{rule.where}: expected a SID, type Allow or Deny, and rights")
    return KeyAce(sid=sid, allow=kind == "allow", rights=rights & 0xFFFFFFFF)
