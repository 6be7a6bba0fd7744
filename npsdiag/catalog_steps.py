"""The next steps of a catalog entry and what kind of step each one is.

Every step is written ``<kind>: <text>`` in the catalog (``- fix: Restart the NPS service.``),
so a report can lead with the fix and list the checks after it. The kinds are documented in
catalog/README.md ("Step kinds"); an unknown kind, or a step without one, is an error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

__all__ = ["STEP_KINDS", "Step", "validate_steps"]

#: What a next step does: ``fix`` changes something so the cause goes away (a workaround
#: counts), ``check`` looks at something to confirm or narrow down the cause and changes
#: nothing, ``collect`` gathers data for a later step or for support, ``escalate`` hands the
#: problem to someone else (Microsoft support, a vendor, a security team, a manager).
STEP_KINDS: Mapping[str, str] = MappingProxyType(
    {
        "fix": "changes something so the cause goes away (a workaround counts)",
        "check": "looks at something to confirm or narrow down the cause; changes nothing",
        "collect": "gathers data for a later step or for a support case",
        "escalate": "hands the problem to someone else (Microsoft support, a vendor, a team)",
    }
)


@dataclass(frozen=True, slots=True)
class Step:
    """One next step of an entry and what kind of step it is (:data:`STEP_KINDS`)."""

    kind: str
    text: str


def validate_steps(raw: Mapping[Any, Any], error: Callable[[str], None]) -> tuple[Step, ...] | None:
    """Validate ``steps``: a list of one-key mappings, ``<kind>: <text>``.

    Returns:
        The steps, ``()`` for an empty or null list, or None when the key is missing or a
        problem was reported through ``error``.
    """
    if "steps" not in raw:
        return None
    value = raw["steps"]
    if value is None:
        return ()
    kinds = ", ".join(STEP_KINDS)
    if not isinstance(value, list):
        error(f"'steps' must be a list of '<kind>: <text>' items (kinds: {kinds})")
        return None
    steps: list[Step] = []
    for position, item in enumerate(value, start=1):
        where = f"'steps' item {position}"
        if isinstance(item, str):
            error(f"{where} has no kind: write it as '- fix: <text>' (kinds: {kinds})")
            return None
        if not isinstance(item, Mapping) or len(item) != 1:
            error(f"{where} must be one '<kind>: <text>' pair (kinds: {kinds})")
            return None
        ((kind, text),) = item.items()
        if kind not in STEP_KINDS:
            error(
                f"{where}: kind '{kind}' is not allowed (expected one of: {kinds}); "
                "quote a step text that contains ': '"
            )
            return None
        if not isinstance(text, str) or not text.strip():
            error(f"{where} must be a non-empty text after '{kind}:'")
            return None
        steps.append(Step(kind, text.strip()))
    return tuple(steps)
