"""The catalog's data model: entries, match rules, configuration checks, and the matching of
findings to entries (:class:`Catalog`). Loading and validating the YAML files is
:mod:`npsdiag.catalog`'s, which re-exports everything here; this module stands below the
modules that evaluate entries (``npsdiag.configlint``, ``npsdiag.factcheck``), so that they
need not import the loader, which runs their example checks.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from npsdiag._literal import required_literal
from npsdiag.catalog_facts import FactCheck
from npsdiag.catalog_steps import Step
from npsdiag.errors import UsageError
from npsdiag.model import Finding
from npsdiag.tables import Tables

#: How bad it is, worst first (documented in catalog/README.md).
SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low", "info")
#: The registry keys a check can read, by the short name the catalog uses.
REGISTRY_KEYS: Mapping[str, str] = MappingProxyType(
    {
        "azuremfa": "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\AzureMfa",
        "authsrv": "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\AuthSrv\\Parameters",
    }
)
#: The category of an entry that names no error (see ``CATEGORIES`` in npsdiag.catalog).
_BENIGN = "not-an-error"


#: Every key a match rule may carry. ``fallback`` is not counted in a rule's specificity.
RULE_KEYS: tuple[str, ...] = (
    "kind",
    "code",
    "message",
    "aadsts",
    "response_state",
    "event_id",
    "reason_code",
    "error_code",
    "fallback",
)


def code_to_kebab(code: str) -> str:
    """The id form of a product code: ``ESTS_TOKEN_ERROR`` -> ``ests-token-error``.

    CamelCase codes split at each word: ``SMSAuthFailedWrongCodeEntered`` ->
    ``sms-auth-failed-wrong-code-entered``.
    """
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1-\2", code)
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1-\2", spaced)
    return spaced.replace("_", "-").lower()


class FindingTexts:
    """The texts a rule's ``message`` is searched in, and their lower-cased form, built once.

    On ASCII text lower-casing agrees with case-insensitive matching, so a rule's needle
    (:func:`npsdiag._literal.required_literal`) missing from the lower-cased texts proves
    the slow case-insensitive search would find nothing.
    """

    __slots__ = ("_lowered", "ascii", "detail", "text")

    def __init__(self, finding: Finding) -> None:
        self.detail = finding.detail or ""
        self.text = finding.event.text
        self.ascii = self.detail.isascii() and self.text.isascii()
        self._lowered: str | None = None

    @property
    def lowered(self) -> str:
        """Detail and text lower-cased, joined by a NUL (no needle holds one)."""
        if self._lowered is None:
            self._lowered = f"{self.detail}\x00{self.text}".lower()
        return self._lowered


@dataclass(frozen=True)
class MatchRule:
    """One way to recognise an entry; every key that is set must hold.

    Attributes:
        kind: a :class:`npsdiag.model.FindingKind` value the finding must have.
        code: one of the finding's codes (exact, case-sensitive).
        message: a regular expression searched, case-insensitively, in the finding's
            detail or its event's text.
        aadsts: an AADSTS code the finding must carry (``AADSTS700027``).
        response_state: the finding's RADIUS response state (``AccessReject`` ...).
        event_id: the event id of the finding's event.
        reason_code: the NPS reason code of the finding.
        error_code: the error code of a client-side finding (RD Gateway ErrorCode, VPN client
            error); any integer, negative ones included.
        fallback: the rule only applies when no other entry matches the finding.
    """

    kind: str | None = None
    code: str | None = None
    message: str | None = None
    aadsts: str | None = None
    response_state: str | None = None
    event_id: int | None = None
    reason_code: int | None = None
    error_code: int | None = None
    fallback: bool = False
    pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)
    #: Lower-case text every match of ``message`` contains, to reject ASCII text cheaply.
    needle: str | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.message is not None and self.pattern is None:
            object.__setattr__(self, "pattern", re.compile(self.message, re.IGNORECASE))
        if self.message is not None and self.needle is None:
            object.__setattr__(self, "needle", required_literal(self.message))

    @functools.cached_property
    def specificity(self) -> int:
        """How many keys the rule checks (``fallback`` excluded): more keys, stronger match."""
        return sum(value is not None for value in self._keyed_values())

    def _keyed_values(self) -> tuple[object, ...]:
        return (
            self.kind,
            self.code,
            self.message,
            self.aadsts,
            self.response_state,
            self.event_id,
            self.reason_code,
            self.error_code,
        )

    def matches(self, finding: Finding) -> bool:
        """True when every key of the rule holds for ``finding``."""
        return self.holds_without_text(finding) and (
            self.pattern is None or self.text_holds(finding)
        )

    def holds_without_text(self, finding: Finding) -> bool:
        """True when every key but ``message`` holds: the values :func:`match_key` holds."""
        if self.kind is not None and finding.kind != self.kind:
            return False
        if self.code is not None and self.code not in finding.codes:
            return False
        if self.aadsts is not None and self.aadsts not in finding.aadsts:
            return False
        if self.response_state is not None and finding.response_state != self.response_state:
            return False
        if self.event_id is not None and finding.event.event_id != self.event_id:
            return False
        if self.error_code is not None and finding.error_code != self.error_code:
            return False
        return self.reason_code is None or finding.reason_code == self.reason_code

    def text_holds(self, finding: Finding, texts: FindingTexts | None = None) -> bool:
        """True when the rule has no ``message`` or it occurs in the detail or event text.

        ``texts`` shares the lower-cased texts among the rules tried on one finding.
        """
        pattern = self.pattern
        if pattern is None:
            return True
        texts = texts if texts is not None else FindingTexts(finding)
        needle = self.needle
        if needle is not None and texts.ascii and needle not in texts.lowered:
            return False
        return bool(pattern.search(texts.detail) or pattern.search(texts.text))

    def to_dict(self) -> dict[str, Any]:
        """The rule as written in YAML (only the keys that are set)."""
        data: dict[str, Any] = {}
        for key in RULE_KEYS:
            value = getattr(self, key)
            if key == "fallback":
                if value:
                    data[key] = True
            elif value is not None:
                data[key] = value
        return data


@dataclass(frozen=True)
class ConfigCheck:
    """A declarative rule over the registry configuration; it fires when every key holds.

    Field meanings are documented in catalog/README.md ("Configuration checks");
    :mod:`npsdiag.configlint` evaluates checks against ``REG QUERY`` dumps.

    Attributes:
        keys: short names of the registry keys to read (:data:`REGISTRY_KEYS`).
        values: value names to test, one finding per value that fires; empty means the key
            itself (``when: missing``) or every value (``when: changed``).
        when: ``present``, ``missing`` or ``changed`` (:data:`CHECK_WHEN`).
        matches: a case-sensitive regular expression the data must fit (``re.search``).
        not_matches: a case-sensitive regular expression the data must not fit.
        consistent: ``(group, ((value, pattern), ...))`` pairs; fires when the present values
            do not all fit one common group.
        dump: ``newest`` or ``before`` (:data:`CHECK_DUMPS`).
        ignore: value names a ``changed`` check skips.
    """

    keys: tuple[str, ...]
    values: tuple[str, ...] = ()
    when: str = "present"
    matches: str | None = None
    not_matches: str | None = None
    consistent: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    dump: str = "newest"
    ignore: tuple[str, ...] = ()

    def data_fits(self, data: str) -> bool:
        """True when ``data`` satisfies ``matches`` and ``not_matches`` (absent ones hold)."""
        if self.matches is not None and _compiled(self.matches).search(data) is None:
            return False
        return not (
            self.not_matches is not None and _compiled(self.not_matches).search(data) is not None
        )

    def groups_of(self, name: str, data: str) -> tuple[str, ...]:
        """The ``consistent`` groups whose pattern for value ``name`` fits ``data``."""
        folded = name.casefold()
        return tuple(
            group
            for group, patterns in self.consistent
            for value, pattern in patterns
            if value.casefold() == folded and _compiled(pattern).search(data) is not None
        )

    @property
    def consistent_values(self) -> tuple[str, ...]:
        """The value names a ``consistent`` check compares, in the order first written."""
        return tuple(
            dict.fromkeys(value for _, patterns in self.consistent for value, _ in patterns)
        )

    def to_dict(self) -> dict[str, Any]:
        """The check as written in YAML (defaults left out, one-item lists as strings)."""
        data: dict[str, Any] = {"key": self.keys[0] if len(self.keys) == 1 else list(self.keys)}
        if self.values:
            data["value"] = self.values[0] if len(self.values) == 1 else list(self.values)
        if self.when != "present":
            data["when"] = self.when
        for key in ("matches", "not_matches"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        if self.consistent:
            data["consistent"] = {group: dict(patterns) for group, patterns in self.consistent}
        if self.dump != "newest":
            data["dump"] = self.dump
        if self.ignore:
            data["ignore"] = list(self.ignore)
        return data

    def describe(self) -> str:
        """One line saying when the check fires, for ``npsdiag catalog show``."""
        keys = " or ".join(self.keys)
        where = "the before dump" if self.dump == "before" else "the newest dump"
        if self.consistent:
            names = ", ".join(self.consistent_values)
            groups = ", ".join(group for group, _ in self.consistent)
            return f"{keys}: {names} do not all belong to one of {groups} (in {where})"
        if self.when == "changed":
            what = ", ".join(self.values) if self.values else "any value"
            skipped = f" (except {', '.join(self.ignore)})" if self.ignore else ""
            return f"{keys}: {what}{skipped} differs between the before and after dumps"
        if not self.values:
            return f"{keys}: the key is missing from {where}"
        names = " or ".join(self.values)
        if self.when == "missing":
            return f"{keys}: {names} is missing from {where}"
        parts = [f"{keys}: {names} is present in {where}"]
        if self.matches is not None:
            parts.append(f"matches {self.matches}")
        if self.not_matches is not None:
            parts.append(f"does not match {self.not_matches}")
        return " and ".join(parts)


@functools.lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str]:
    """Check patterns compiled once (validation already proved they compile)."""
    return re.compile(pattern)


@dataclass(frozen=True)
class CatalogEntry:
    """One validated catalog entry (field meanings: catalog/README.md).

    An entry is recognised by exactly one of: its match ``rules`` (one finding), its
    configuration ``check`` (registry dumps), or a ``detector`` name (a pattern over many
    events that the diagnosis looks for; :data:`DETECTORS`). Check and detector entries have
    no rules.
    """

    id: str
    title: str
    category: str
    severity: str
    scope: str
    rules: tuple[MatchRule, ...]
    cause: str
    steps: tuple[str, ...]
    collect: tuple[str, ...]
    references: tuple[str, ...]
    examples: tuple[str, ...]
    source: str
    file: str
    check: ConfigCheck | None = None
    detector: str | None = None
    #: For a configuration check: ids (or families) of the entries whose failures this
    #: misconfiguration explains; the diagnosis links them in the report.
    explains: tuple[str, ...] = ()
    #: A ``check`` over the facts ``npsdiag collect`` gathers (``facts:``) instead of the
    #: registry; evaluated by npsdiag.factcheck. ``check`` stays None for such an entry.
    fact_check: FactCheck | None = None
    #: The kind of each of ``steps`` (:data:`STEP_KINDS`), in the same order.
    step_kinds: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if len(self.step_kinds) != len(self.steps):
            raise ValueError(
                f"entry {self.id}: {len(self.steps)} steps but {len(self.step_kinds)} step kinds"
            )

    @property
    def typed_steps(self) -> tuple[Step, ...]:
        """The next steps with their kinds, in order (``steps`` holds the texts alone)."""
        return tuple(
            Step(kind, text) for kind, text in zip(self.step_kinds, self.steps, strict=True)
        )

    @property
    def fixes(self) -> tuple[str, ...]:
        """The texts of the ``fix`` steps, in order: what removes the cause."""
        return tuple(
            text for kind, text in zip(self.step_kinds, self.steps, strict=True) if kind == "fix"
        )

    @property
    def family(self) -> str:
        """The id up to its second dot.

        ``ext.ests-token-error.aadsts700027`` belongs to the family ``ext.ests-token-error``.
        """
        return ".".join(self.id.split(".")[:2])

    @property
    def benign(self) -> bool:
        """True for entries that describe expected behaviour, not a fault."""
        return self.category == _BENIGN

    @property
    def codes(self) -> tuple[str, ...]:
        """The product codes this entry's rules name, in rule order, without repeats."""
        return tuple(dict.fromkeys(rule.code for rule in self.rules if rule.code))

    def to_dict(self) -> dict[str, Any]:
        """The entry as JSON-ready data.

        ``match`` is always a list of rules (empty for a check or detector entry); ``check``
        is the configuration check and ``detector`` the detector's name, each None when the
        entry is recognised otherwise.
        """
        return {
            "id": self.id,
            "title": self.title,
            "category": self.category,
            "severity": self.severity,
            "scope": self.scope,
            "match": [rule.to_dict() for rule in self.rules],
            "check": (
                self.check.to_dict()
                if self.check is not None
                else self.fact_check.to_dict()
                if self.fact_check is not None
                else None
            ),
            "detector": self.detector,
            "explains": list(self.explains),
            "cause": self.cause,
            "steps": list(self.steps),
            "step_kinds": list(self.step_kinds),
            "collect": list(self.collect),
            "references": list(self.references),
            "examples": list(self.examples),
            "source": self.source,
            "file": self.file,
        }


@dataclass(frozen=True)
class Match:
    """A catalog entry that matches a finding, through its most specific matching rule."""

    entry: CatalogEntry
    specificity: int
    rule: MatchRule


def match_key(finding: Finding) -> tuple[object, ...]:
    """Every value of a finding that a rule reads, except the text its ``message`` searches.

    Findings with the same key meet the same rules in the same order, so the catalog
    plans matching once per key (see :class:`_MatchPlan`).
    """
    return (
        finding.kind,
        finding.codes,
        finding.aadsts,
        finding.response_state,
        finding.event.event_id,
        finding.reason_code,
        finding.error_code,
    )


_Candidate = tuple[CatalogEntry, MatchRule]


@dataclass(frozen=True, slots=True)
class _MatchPlan:
    """How to match the findings of one :func:`match_key`.

    ``rules`` and ``fallbacks`` are the candidates whose keys other than ``message`` hold,
    in the order :meth:`Catalog.match` offers them; ``fixed`` is the answer itself when no
    rule that could decide it reads the text.
    """

    rules: tuple[_Candidate, ...]
    fallbacks: tuple[_Candidate, ...]
    fixed: tuple[Match, ...] | None


#: Plans kept per catalog; unknown codes in hostile text could make keys without end, so
#: the memo starts over when it is full (a plan costs one un-memoised match to rebuild).
_MAX_PLANS = 4096


class Catalog:
    """A validated set of entries, sorted by id, with fast matching by code."""

    def __init__(self, entries: Iterable[CatalogEntry], tables: Tables | None = None) -> None:
        self.entries: tuple[CatalogEntry, ...] = tuple(sorted(entries, key=lambda e: e.id))
        #: The reference tables that came with the catalog (AADSTS names, known event ids).
        self.tables = tables if tables is not None else Tables()
        self._by_id = {entry.id: entry for entry in self.entries}
        self._checks = tuple(entry for entry in self.entries if entry.check is not None)
        self._fact_checks = tuple(e for e in self.entries if e.fact_check is not None)
        self._detectors = {
            entry.detector: entry for entry in self.entries if entry.detector is not None
        }
        by_code: dict[str, list[tuple[CatalogEntry, MatchRule]]] = {}
        codeless: list[tuple[CatalogEntry, MatchRule]] = []
        fallbacks: list[tuple[CatalogEntry, MatchRule]] = []
        for entry in self.entries:
            if entry.detector is not None:
                # A pattern over many events is the diagnosis's to find, never one finding's.
                continue
            for rule in entry.rules:
                if rule.fallback:
                    fallbacks.append((entry, rule))
                elif rule.code is not None:
                    by_code.setdefault(rule.code, []).append((entry, rule))
                else:
                    codeless.append((entry, rule))
        self._by_code = by_code
        # Rules without a code are tried only on findings of their kind (most name one), so a
        # finding is not tested against the hundred NPS reason-code rules of other kinds.
        # NPS rules are further keyed by their reason code (about a hundred share a kind).
        by_kind: dict[str | None, list[tuple[CatalogEntry, MatchRule]]] = {}
        by_reason: dict[tuple[str | None, int], list[tuple[CatalogEntry, MatchRule]]] = {}
        for entry, rule in codeless:
            if rule.reason_code is not None:
                by_reason.setdefault((rule.kind, rule.reason_code), []).append((entry, rule))
            else:
                by_kind.setdefault(rule.kind, []).append((entry, rule))
        self._codeless_by_kind = {kind: tuple(rules) for kind, rules in by_kind.items()}
        self._codeless_by_reason = {key: tuple(rules) for key, rules in by_reason.items()}
        self._fallbacks = tuple(fallbacks)
        self._plans: dict[tuple[object, ...], _MatchPlan] = {}
        #: Every product code some entry names; anything else is an unknown code.
        self.codes: frozenset[str] = frozenset(by_code) | frozenset(
            rule.code for _, rule in fallbacks if rule.code
        )

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def checks(self) -> tuple[CatalogEntry, ...]:
        """The configuration-check entries, sorted by id."""
        return self._checks

    @property
    def fact_checks(self) -> tuple[CatalogEntry, ...]:
        """The checks over collected facts (certificates, auditing, extension), sorted by id."""
        return self._fact_checks

    def detectors(self) -> dict[str, CatalogEntry]:
        """The entries the diagnosis raises from a pattern, by detector name (a fresh dict).

        Only detectors some entry names are present; the diagnosis skips the others.
        """
        return {name: self._detectors[name] for name in sorted(self._detectors)}

    def __iter__(self) -> Iterator[CatalogEntry]:
        return iter(self.entries)

    def find(self, entry_id: str) -> CatalogEntry | None:
        """The entry with this id, or None."""
        return self._by_id.get(entry_id)

    def get(self, entry_id: str) -> CatalogEntry:
        """The entry with this id.

        Raises:
            UsageError: no entry has this id (use :meth:`find` to get None instead).
        """
        entry = self._by_id.get(entry_id)
        if entry is None:
            raise UsageError(
                f"no catalog entry with id '{entry_id}'",
                hint="run 'npsdiag catalog list' to see every id",
            )
        return entry

    def by_code(self, code: str) -> tuple[CatalogEntry, ...]:
        """Entries whose rules name ``code`` (exact); the entry for the bare code comes first.

        Order: the least specific rule naming the code first (the code alone before code plus
        message), then family entries before refinements, then id.
        """
        weakest: dict[str, int] = {}
        entries: dict[str, CatalogEntry] = {}
        for entry, rule in self._by_code.get(code, ()):
            entries[entry.id] = entry
            weakest[entry.id] = min(rule.specificity, weakest.get(entry.id, rule.specificity))
        return tuple(sorted(entries.values(), key=lambda e: (weakest[e.id], e.id.count("."), e.id)))

    def by_error_code(self, error_code: int) -> tuple[CatalogEntry, ...]:
        """Entries with a rule naming this client-side error code, most specific rule first."""
        found: dict[str, tuple[int, CatalogEntry]] = {}
        for entry in self.entries:
            for rule in entry.rules:
                if rule.error_code == error_code and not rule.fallback:
                    best = found.get(entry.id, (0, entry))[0]
                    found[entry.id] = (max(best, rule.specificity), entry)
        ranked = sorted(found.values(), key=lambda item: (-item[0], item[1].id))
        return tuple(entry for _, entry in ranked)

    def unknown_codes(self, finding: Finding) -> tuple[str, ...]:
        """The finding's codes that no entry names (never dropped: reports list them)."""
        return tuple(code for code in finding.codes if code not in self.codes)

    def match(self, finding: Finding) -> list[Match]:
        """Every entry that matches ``finding``, best first.

        An entry's specificity is the number of keys in its most specific matching rule,
        so a code plus message (or AADSTS) refinement beats the bare code. Ties are broken
        by id. Fallback rules are only tried when nothing else matches. Check and detector
        entries have no rules and are never returned.
        """
        return list(self.matches_of(finding))

    def matches_of(self, finding: Finding) -> tuple[Match, ...]:
        """:meth:`match` as a tuple, shared by every finding of the same kind when it can be.

        A finding whose ``matches`` were worked out already (``npsdiag.analyze`` does it while
        the event's text is at hand, before the text leaves memory) gets them back.
        """
        known = finding.matches
        if known is not None:
            return known
        key = match_key(finding)
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) >= _MAX_PLANS:
                self._plans.clear()
            plan = self._plans[key] = self._plan(finding)
        if plan.fixed is not None:
            return plan.fixed
        return tuple(_ranked(_best(plan.rules, finding) or _best(plan.fallbacks, finding)))

    def _plan(self, finding: Finding) -> _MatchPlan:
        """Sort out, once per :func:`match_key`, which rules can match and whether text matters."""
        candidates: list[_Candidate] = [
            *self._codeless_by_kind.get(finding.kind, ()),
            *self._codeless_by_kind.get(None, ()),
        ]
        if finding.reason_code is not None:
            candidates.extend(self._codeless_by_reason.get((finding.kind, finding.reason_code), ()))
            candidates.extend(self._codeless_by_reason.get((None, finding.reason_code), ()))
        for code in dict.fromkeys(finding.codes):
            candidates.extend(self._by_code.get(code, ()))
        rules = tuple(c for c in candidates if c[1].holds_without_text(finding))
        fallbacks = tuple(c for c in self._fallbacks if c[1].holds_without_text(finding))
        fixed: tuple[Match, ...] | None = None
        # Without a message pattern every rule left matches: a non-empty list decides alone,
        # an empty one hands over to the fallbacks, which must then be text-free too.
        if all(rule.pattern is None for _, rule in rules) and (
            rules or all(rule.pattern is None for _, rule in fallbacks)
        ):
            fixed = tuple(_ranked(_best(rules or fallbacks, finding)))
        return _MatchPlan(rules, fallbacks, fixed)


def _best(candidates: Iterable[_Candidate], finding: Finding) -> dict[str, Match]:
    """Each entry's most specific rule among ``candidates`` whose message (if any) holds."""
    best: dict[str, Match] = {}
    texts: FindingTexts | None = None
    for entry, rule in candidates:
        if rule.pattern is not None:
            texts = texts if texts is not None else FindingTexts(finding)
            if not rule.text_holds(finding, texts):
                continue
        current = best.get(entry.id)
        if current is None or rule.specificity > current.specificity:
            best[entry.id] = Match(entry, rule.specificity, rule)
    return best


def _ranked(best: dict[str, Match]) -> list[Match]:
    return sorted(best.values(), key=lambda m: (-m.specificity, m.entry.id))


@dataclass(frozen=True)
class CatalogCheck:
    """The outcome of validating catalog files.

    Attributes:
        files: display names of the files read, in reading order.
        errors: one line per error, ``<file>: entry '<id>': <what is wrong>``.
        warnings: lint-level issues in the same format; they do not make the catalog invalid.
        catalog: the loaded catalog, or None when there are errors.
    """

    files: tuple[str, ...]
    errors: tuple[str, ...]
    warnings: tuple[str, ...]
    catalog: Catalog | None

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not self.errors
