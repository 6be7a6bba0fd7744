"""Configuration findings as a report shows them: a fault is a cause with a fix.

A finding is a flat mapping (``npsdiag.configlint.ConfigFinding.as_dict``, or a fact check's,
which adds ``statement``); an analysis built by hand may hold any keys. Every format that leads
with the answer (terminal, HTML) reads the findings through :func:`config_causes`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["ConfigCause", "config_causes"]

#: What a finding says about itself; any other key is shown as what was found.
_OWN_KEYS = ("id", "title", "category", "severity", "fix", "check", "evidence", "source")


@dataclass(frozen=True, slots=True)
class ConfigCause:
    """One configuration finding, told as a cause.

    Attributes:
        number: its 1-based place among the findings (``config-3`` is the third).
        title: the check's title (its id, when it has none).
        severity: the check's severity ("" when unknown).
        found: what the check found, in one sentence.
        fix: the check's first fix step ("" when it has none).
        fault: whether it is a fault (any category but ``not-an-error``).
    """

    number: int
    title: str
    severity: str
    found: str
    fix: str
    fault: bool

    @property
    def anchor(self) -> str:
        """The HTML id of the finding in the configuration section."""
        return f"config-{self.number}"


def _found(finding: dict[str, str]) -> str:
    if finding.get("statement"):
        return finding["statement"]
    value, data, key = finding.get("value", ""), finding.get("data", ""), finding.get("key", "")
    if value and data:
        return f"{value} = {data}" + (f" ({key})" if key else "")
    if value:
        return f"{value} is not set" + (f" in {key}" if key else "")
    if key:
        return f"the key {key} is missing"
    rest = [f"{name}: {text}" for name, text in finding.items() if name not in _OWN_KEYS and text]
    return "; ".join(rest)


def config_causes(findings: Sequence[Sequence[tuple[str, str]]]) -> list[ConfigCause]:
    """Every finding of ``ReportView.config_findings`` as a :class:`ConfigCause`, in order."""
    causes = []
    for number, pairs in enumerate(findings, start=1):
        finding = dict(pairs)
        causes.append(
            ConfigCause(
                number=number,
                title=finding.get("title") or finding.get("id") or finding.get("check") or "",
                severity=finding.get("severity", ""),
                found=_found(finding),
                fix=finding.get("fix", ""),
                fault=finding.get("category", "") != "not-an-error",
            )
        )
    return causes
