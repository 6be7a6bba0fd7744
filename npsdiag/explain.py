"""Explain one pasted message or code: the same extractor and catalog as ``analyze``."""

from __future__ import annotations

from typing import Any

from npsdiag.catalog import Catalog
from npsdiag.extract import finding_from_text

__all__ = ["explain_text"]

#: ``explain`` shows the best few entries; more would bury the answer.
MAX_MATCHES = 3


def explain_text(text: str, catalog: Catalog) -> dict[str, Any]:
    """Extract what the text says and list the catalog entries that match it, best first.

    Returns:
        A JSON-ready dict: ``found`` (kind, codes, cid, user, state, aadsts, ...) and
        ``matches`` (id, title, category, severity, confidence, cause, steps, collect,
        references), and ``known``: False when only a fallback entry (unknown code)
        matched.
    """
    finding = finding_from_text(text)
    matches = []
    found_matches = catalog.match(finding)
    # Only a fallback (e.g. "unknown code") matched: the text is not in the catalog.
    known = any(not match.rule.fallback for match in found_matches)
    for match in found_matches[:MAX_MATCHES]:
        entry = match.entry
        rule = match.rule
        if rule.fallback:
            confidence = "low"
        elif rule.code or rule.aadsts or rule.message or rule.reason_code is not None:
            confidence = "high"
        else:
            confidence = "medium"
        matches.append(
            {
                "id": entry.id,
                "title": entry.title,
                "category": entry.category,
                "severity": entry.severity,
                "confidence": confidence,
                "cause": " ".join(entry.cause.split()),
                "steps": list(entry.steps),
                "collect": list(entry.collect),
                "references": list(entry.references),
            }
        )
    found = {
        "kind": finding.kind,
        "codes": list(finding.codes),
        "cid": finding.cid,
        "user": finding.user,
        "state": finding.state,
        "aadsts": list(finding.aadsts),
        "trace_id": finding.trace_id,
        "correlation_id": finding.correlation_id,
        "response_state": finding.response_state,
        "reason_code": finding.reason_code,
    }
    return {"schema_version": 1, "known": known, "found": found, "matches": matches}
