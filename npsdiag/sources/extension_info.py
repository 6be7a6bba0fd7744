"""Read which NPS extension ``npsdiag collect`` found installed (``extension.json``).

Behaviour differs by version (what ``CLIENT_CERT_IDENTIFIER`` may hold, whether one-time
codes are asked for), so the collection records the installed product as Programs and
Features lists it (the uninstall entries of both registry views, not ``Win32_Product``, which
makes Windows Installer check every package) and the file versions of the two DLLs NPS loads::

    {
      "schema": "npsdiag/extension/1",
      "collected": "2026-01-14T09:30:12.0000000Z",
      "products": [{"name": "NPS Extension For Azure MFA", "version": "1.2.2893.1",
                    "publisher": "Microsoft Corporation", "install_date": "20250310"}],
      "files": [{"path": "C:\\\\Program Files\\\\...\\\\MfaNpsAuthzExt.dll",
                 "version": "1.2.2893.1"}]
    }

A DLL that is not there has ``"version": null``.

References:
    - https://learn.microsoft.com/entra/identity/authentication/howto-mfa-nps-extension
    - https://github.com/Azure-Samples/azure-mfa-nps-extension-health-check
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from npsdiag.sources._json_doc import JsonObject, load_document
from npsdiag.sources.hostfacts import EXTENSION_SCHEMA

__all__ = ["ExtensionFile", "ExtensionInfo", "InstalledProduct", "parse_extension_info"]


@dataclass(frozen=True, slots=True)
class InstalledProduct:
    """One uninstall entry."""

    name: str
    version: str
    publisher: str
    install_date: str


@dataclass(frozen=True, slots=True)
class ExtensionFile:
    """One DLL: its path and file version ("" when the file is not there)."""

    path: str
    version: str


@dataclass(frozen=True, slots=True)
class ExtensionInfo:
    """What ``extension.json`` says, with the entries that could not be read."""

    name: str
    collected: datetime | None
    products: tuple[InstalledProduct, ...]
    files: tuple[ExtensionFile, ...]
    problems: tuple[str, ...]

    @property
    def installed(self) -> bool:
        """True when Programs and Features lists it or one of its DLLs is there."""
        return bool(self.products) or any(file.version for file in self.files)


def parse_extension_info(data: bytes, name: str) -> ExtensionInfo:
    """Parse ``extension.json``; entries that are not what they should be are left out.

    Raises:
        FactsReadError: the file is not such a document at all.
    """
    document = load_document(data, name, EXTENSION_SCHEMA)
    problems: list[str] = []
    products = document.each("products", _product, problems)
    files = document.each("files", _file, problems)
    return ExtensionInfo(
        name=name,
        collected=document.time("collected"),
        products=tuple(products),
        files=tuple(files),
        problems=tuple(problems),
    )


def _file(item: JsonObject) -> ExtensionFile:
    return ExtensionFile(item.text("path"), item.text("version").strip())


def _product(item: JsonObject) -> InstalledProduct:
    return InstalledProduct(
        name=item.text("name").strip(),
        version=item.text("version").strip(),
        publisher=item.text("publisher").strip(),
        install_date=item.text("install_date").strip(),
    )
