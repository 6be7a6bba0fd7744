"""The error catalog: load ``catalog/*.yaml``, validate it strictly, match findings to entries.

The catalog is data. Each entry names a cause (a product error code, one of its messages, or
a symptom such as "challenge requested and no answer"), says how to recognise it (``match``
rules over the fields the extractor produces) and what to do about it. The meaning of every
field and value is documented in ``catalog/README.md``; this module is the authority on what is
valid.

An entry may instead carry a ``check``: a declarative rule over the extension's registry
configuration (the ``REG QUERY`` dumps of a support bundle), evaluated by
``npsdiag.configlint``. This module defines and validates that small rule language.

Some causes are patterns over many events (the same request discarded again and again, or a
Security log without any NPS decision) that no rule over one finding can express. Their
entries name a ``detector`` instead: one of :data:`DETECTORS`, implemented by the diagnosis
(``npsdiag.diagnose``). Such entries have no rules, so :meth:`Catalog.match` never returns them.

Validation follows pySigma's habits: unknown keys, duplicate YAML keys, duplicate ids, bad enum
values and bad patterns are all errors, every error names *file* and *entry*, and every error
in every file is collected before anything is raised. Lint-level issues (warnings) never stop
loading; ``npsdiag catalog check`` prints them.

The entries, rules and the matching itself are :mod:`npsdiag.catalog_model`'s (re-exported
here): the modules that evaluate checks import the model, not this loader, which runs their
examples.

References:
    https://learn.microsoft.com/entra/identity/authentication/howto-mfa-nps-extension-errors
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from npsdiag._yaml_keys import repeated_keys
from npsdiag.catalog_cache import cached
from npsdiag.catalog_facts import FactCheck, is_fact_check, validate_fact_check
from npsdiag.catalog_model import (
    _BENIGN,
    REGISTRY_KEYS,
    RULE_KEYS,
    SEVERITIES,
    Catalog,
    CatalogCheck,
    CatalogEntry,
    ConfigCheck,
    Match,
    MatchRule,
    code_to_kebab,
)
from npsdiag.catalog_steps import STEP_KINDS, Step, validate_steps
from npsdiag.errors import CatalogError
from npsdiag.model import FindingKind
from npsdiag.tables import Tables, read_tables, unknown_entries

if TYPE_CHECKING:
    if sys.version_info >= (3, 11):
        from importlib.resources.abc import Traversable
    else:
        from importlib.abc import Traversable

#: Reports one problem about the entry being validated.
_Report = Callable[[str], None]

__all__ = [
    "CATEGORIES",
    "CHECK_DUMPS",
    "CHECK_KEYS",
    "CHECK_WHEN",
    "DETECTORS",
    "ENTRY_KEYS",
    "REGISTRY_KEYS",
    "RESPONSE_STATES",
    "RULE_KEYS",
    "SCOPES",
    "SEVERITIES",
    "SOURCES",
    "STEP_KINDS",
    "UNKNOWN_CODE_ID",
    "Catalog",
    "CatalogCheck",
    "CatalogEntry",
    "ConfigCheck",
    "Match",
    "MatchRule",
    "Step",
    "check_catalog",
    "code_to_kebab",
    "load_catalog",
]

#: Who has to act (documented in catalog/README.md).
CATEGORIES: tuple[str, ...] = ("configuration", "user", "not-an-error", "needs-support")
#: ``server``: one cause hits every user, so incidents roll up into one problem.
SCOPES: tuple[str, ...] = ("server", "user")
#: Where the code or message text comes from.
SOURCES: tuple[str, ...] = (
    "errors-doc-2018",
    "errors-doc-current",
    "facts",
    "aadsts-reference",
    "health-check",
    "vendor",
    "npsdiag",
)
#: Categories whose entries must say how to fix the cause (a ``fix`` step); ``needs-support``
#: entries may escalate instead.
_NEEDS_FIX: tuple[str, ...] = ("configuration", "user")
#: RADIUS response states the extension names in its "ignoring request" message.
RESPONSE_STATES: tuple[str, ...] = ("AccessAccept", "AccessReject", "AccessChallenge")
#: The entry that stands for any code or extension message the catalog does not know.
UNKNOWN_CODE_ID = "ext.unknown-code"

#: Required in every entry; ``match`` stands for "exactly one of ``match``, ``check`` and
#: ``detector``", and a detector entry may leave out ``examples``.
_REQUIRED_KEYS: tuple[str, ...] = (
    "id",
    "title",
    "category",
    "severity",
    "scope",
    "match",
    "cause",
    "steps",
    "references",
    "examples",
    "source",
)
#: Every key an entry may carry, in the order the README documents them.
ENTRY_KEYS: tuple[str, ...] = (
    "id",
    "title",
    "category",
    "severity",
    "scope",
    "match",
    "check",
    "detector",
    "explains",
    "cause",
    "steps",
    "collect",
    "references",
    "examples",
    "source",
)
#: What an entry is recognised by: exactly one of these keys.
_RECOGNISED_BY: tuple[str, ...] = ("match", "check", "detector")
#: Patterns over many events that the diagnosis looks for, each with what it looks for
#: (documented in catalog/README.md). An entry with ``detector: <name>`` is what the
#: diagnosis reports when that pattern is found.
DETECTORS: Mapping[str, str] = MappingProxyType(
    {
        "repeated-discards": (
            "two or more 6274 discards within one authentication attempt that the extension "
            "did not fail itself"
        ),
        "no-nps-decisions": (
            "the extension logged authentication decisions but the Security events hold no "
            "6272/6273 at all although a Security export was read"
        ),
    }
)
#: Every key a configuration check may carry (documented in catalog/README.md).
CHECK_KEYS: tuple[str, ...] = (
    "key",
    "value",
    "when",
    "matches",
    "not_matches",
    "consistent",
    "dump",
    "ignore",
)
#: What a check looks for: a value (or the key) present, missing, or changed during collection.
CHECK_WHEN: tuple[str, ...] = ("present", "missing", "changed")
#: Which dump a check reads: the newest one, or the one taken before the script changed anything.
CHECK_DUMPS: tuple[str, ...] = ("newest", "before")
_GROUP_PATTERN = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
# Registry value names may hold any printable character (up to 16,383 of them).
_VALUE_NAME_PATTERN = re.compile(r"^[^\x00-\x1f\x7f]{1,16383}$")

_KINDS: tuple[str, ...] = tuple(
    sorted(
        value
        for name, value in vars(FindingKind).items()
        if not name.startswith("_") and isinstance(value, str)
    )
)
_ID_PATTERN = re.compile(r"^[a-z][a-z0-9]*(?:\.[a-z0-9]+(?:-[a-z0-9]+)*){1,2}$")
_CODE_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_AADSTS_PATTERN = re.compile(r"^AADSTS[0-9]+$")
_URL_PATTERN = re.compile(r"^https://[^\s/]+\.[^\s/]+(?:/\S*)?$")
#: A step list longer than this stops being readable at 2 a.m.
_MAX_STEPS = 8
_CATALOG_SUFFIXES = (".yaml", ".yml")
_SHIPPED_PACKAGE_DIR = "_catalog_data"


# ---------------------------------------------------------------------------------------------
# Loading and validation


@dataclass(frozen=True)
class _Source:
    """One catalog file to read: a display name and a way to read its text."""

    name: str
    resource: Traversable | Path


class _Collector:
    """Collects errors and warnings as ``<file>: <where>: <message>`` lines."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def error(self, file: str, where: str | None, message: str) -> None:
        self.errors.append(_format_issue(file, where, message))

    def warn(self, file: str, where: str | None, message: str) -> None:
        self.warnings.append(_format_issue(file, where, message))


def _format_issue(file: str, where: str | None, message: str) -> str:
    return f"{file}: {where}: {message}" if where else f"{file}: {message}"


def load_catalog(paths: Sequence[Path] | None = None) -> Catalog:
    """Load and validate the catalog.

    Args:
        paths: catalog files or directories (every ``*.yaml``/``*.yml`` directly inside);
            None loads the catalog shipped with npsdiag (cached after the first call).

    Returns:
        The validated catalog.

    Raises:
        CatalogError: any file or entry is invalid; ``problems`` lists every error found.
    """
    if paths is None:
        return _load_shipped()
    return _require_valid(check_catalog(paths))


@functools.lru_cache(maxsize=1)
def _load_shipped() -> Catalog:
    # Validated once per change of the data (npsdiag.catalog_cache), not once per run.
    return cached(
        "catalog", _shipped_files(_shipped_root()), lambda: _require_valid(check_catalog(None))
    )


def _shipped_files(
    root: Traversable | Path, prefix: str = "catalog"
) -> Iterator[tuple[str, bytes]]:
    """Every file of the shipped catalog (tables included), by name, for the cache key."""
    if not root.is_dir():
        return
    for child in sorted(root.iterdir(), key=lambda item: item.name):
        name = f"{prefix}/{child.name}"
        if child.is_dir():
            yield from _shipped_files(child, name)
        elif child.name.endswith((*_CATALOG_SUFFIXES, ".json")):
            yield name, child.read_bytes()


def _require_valid(result: CatalogCheck) -> Catalog:
    if result.catalog is None:
        raise CatalogError(list(result.errors))
    return result.catalog


def check_catalog(paths: Sequence[Path] | None = None) -> CatalogCheck:
    """Validate catalog files and collect every error and warning (never raises on bad data).

    Args:
        paths: catalog files or directories; None checks the shipped catalog.

    Returns:
        Files read, errors, warnings and, when there is no error, the catalog.
    """
    collector = _Collector()
    sources = _shipped_sources(collector) if paths is None else _path_sources(paths, collector)
    tables = _read_tables(paths, collector)
    entries: list[CatalogEntry] = []
    first_seen: dict[str, str] = {}
    detector_owner: dict[str, CatalogEntry] = {}
    for source in sources:
        for entry in _read_source(source, collector):
            if entry.id in first_seen:
                collector.error(
                    entry.file,
                    f"entry '{entry.id}'",
                    f"duplicate id (first defined in {first_seen[entry.id]})",
                )
                continue
            if entry.detector is not None:
                # The diagnosis raises one entry per detector; a second one would be ignored.
                owner = detector_owner.setdefault(entry.detector, entry)
                if owner is not entry:
                    collector.error(
                        entry.file,
                        f"entry '{entry.id}'",
                        f"detector '{entry.detector}' is already named by entry '{owner.id}' "
                        f"({owner.file})",
                    )
                    continue
            first_seen[entry.id] = entry.file
            entries.append(entry)
    if not sources and not collector.errors:
        collector.error("catalog", None, "no catalog files found")
    _lint_catalog(entries, collector)
    unknown_entries(tables, first_seen, collector.warn)
    catalog = None if collector.errors else Catalog(entries, tables)
    return CatalogCheck(
        files=tuple(source.name for source in sources) + tables.files,
        errors=tuple(collector.errors),
        warnings=tuple(collector.warnings),
        catalog=catalog,
    )


def _shipped_root() -> Traversable | Path:
    """The catalog inside the installed wheel, else the repository's ``catalog/`` folder."""
    packaged = resources.files("npsdiag") / _SHIPPED_PACKAGE_DIR
    if packaged.is_dir():
        return packaged
    # Editable installs and source checkouts: the data sits next to the package.
    return Path(__file__).resolve().parent.parent / "catalog"


def _read_tables(paths: Sequence[Path] | None, collector: _Collector) -> Tables:
    """The reference tables of the shipped catalog, or of the first folder given that has them."""
    if paths is None:
        root = _shipped_root()
        return read_tables(root if root.is_dir() else None, "catalog", collector.error)
    for path in paths:
        if path.is_dir():
            tables = read_tables(path, str(path), collector.error)
            if tables.files:
                return tables
    return Tables()


def _shipped_sources(collector: _Collector) -> list[_Source]:
    """The catalog files inside the installed wheel, else in the repository's ``catalog/``."""
    root = _shipped_root()
    if not root.is_dir():
        collector.error("catalog", None, f"shipped catalog not found (looked in {root})")
        return []
    children = sorted(
        (child for child in root.iterdir() if child.name.endswith(_CATALOG_SUFFIXES)),
        key=lambda child: child.name,
    )
    return [_Source(f"catalog/{child.name}", child) for child in children]


def _path_sources(paths: Sequence[Path], collector: _Collector) -> list[_Source]:
    sources: list[_Source] = []
    seen: set[Path] = set()

    def add(path: Path) -> None:
        # A file named twice (``catalog/ catalog/x.yaml``) is read once, not reported as
        # duplicating its own ids.
        resolved = path.resolve()
        if resolved not in seen:
            seen.add(resolved)
            sources.append(_Source(str(path), path))

    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.name.endswith(_CATALOG_SUFFIXES))
            if not found:
                collector.error(str(path), None, "no catalog files (*.yaml) in this folder")
            for child in found:
                add(child)
        elif path.is_file():
            add(path)
        else:
            collector.error(str(path), None, "no such file or folder")
    return sources


def _read_source(source: _Source, collector: _Collector) -> list[CatalogEntry]:
    import yaml  # imported here: the CLI's --help must not pay for it

    try:
        text = source.resource.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        collector.error(source.name, None, f"cannot read the file: {error}")
        return []
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            collector.warn(source.name, None, "the file holds no entries")
            return []
        duplicates = _duplicate_keys(node)
        data = loader.construct_document(node)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else None
        problem = getattr(error, "problem", None) or str(error)
        collector.error(source.name, where, f"not valid YAML: {problem}")
        return []
    finally:
        loader.dispose()
    if not isinstance(data, list) or not isinstance(node, yaml.SequenceNode):
        collector.error(source.name, None, "the top level must be a list of entries")
        return []
    entries: list[CatalogEntry] = []
    for index, (raw, item_node) in enumerate(zip(data, node.value, strict=True), start=1):
        label = _entry_label(raw, index, item_node.start_mark.line + 1)
        for key, line in duplicates.get(id(item_node), ()):
            collector.error(source.name, label, f"duplicate key '{key}' (line {line})")
        entry = _validate_entry(raw, source.name, label, collector)
        if entry is not None:
            entries.append(entry)
    return entries


def _duplicate_keys(root: Any) -> dict[int, list[tuple[str, int]]]:
    """Duplicate mapping keys anywhere under each top-level item, keyed by ``id(item node)``."""
    import yaml

    items = root.value if isinstance(root, yaml.SequenceNode) else [root]
    return {id(item): found for item in items if (found := repeated_keys(item))}


def _entry_label(raw: object, index: int, line: int) -> str:
    if isinstance(raw, Mapping):
        entry_id = raw.get("id")
        if isinstance(entry_id, str) and entry_id.strip():
            return f"entry '{entry_id}'"
    return f"entry #{index} (line {line})"


def _validate_entry(
    raw: object, file: str, label: str, collector: _Collector
) -> CatalogEntry | None:
    """Check one entry; report every problem; return the entry only when it is valid."""
    errors_before = len(collector.errors)

    def error(message: str) -> None:
        collector.error(file, label, message)

    if not isinstance(raw, Mapping):
        error("an entry must be a mapping of keys to values")
        return None
    for key in raw:
        if key not in ENTRY_KEYS:
            error(f"unknown key '{key}' (expected one of: {', '.join(ENTRY_KEYS)})")
    recognised_by = [key for key in _RECOGNISED_BY if key in raw]
    is_detector = recognised_by == ["detector"]
    for key in _REQUIRED_KEYS:
        if key == "match":
            _recognised_by_one(recognised_by, error)
        elif key == "examples" and is_detector:
            continue  # a pattern over many events has no single event text to show
        elif key not in raw:
            error(f"missing required key '{key}'")

    entry_id = _string(raw, "id", error)
    if entry_id is not None and not _ID_PATTERN.match(entry_id):
        error(
            f"id '{entry_id}' must be lower-case dotted kebab-case with 2 or 3 parts "
            "(e.g. ext.ests-token-error or ext.ests-token-error.aadsts700027)"
        )
    title = _string(raw, "title", error)
    if title is not None and "\n" in title.strip():
        error("title must be one line")
    category = _choice(raw, "category", CATEGORIES, error)
    severity = _choice(raw, "severity", SEVERITIES, error)
    scope = _choice(raw, "scope", SCOPES, error)
    source = _choice(raw, "source", SOURCES, error)
    cause = _string(raw, "cause", error)
    typed_steps = validate_steps(raw, error)
    steps = None if typed_steps is None else tuple(step.text for step in typed_steps)
    collect = _string_list(raw, "collect", error) if "collect" in raw else ()
    references = _string_list(raw, "references", error)
    examples = _string_list(raw, "examples", error)
    rules = _rules(raw.get("match"), error) if "match" in raw else ()
    check: ConfigCheck | None = None
    fact_check: FactCheck | None = None
    if is_fact_check(raw.get("check")):
        # Collected facts (certificates, auditing ...) have a rule language of their own.
        fact_check = validate_fact_check(raw["check"], error)
    elif "check" in raw:
        check = _check(raw.get("check"), error)
    detector = _detector(raw.get("detector"), error) if "detector" in raw else None
    explains = _string_list(raw, "explains", error) if "explains" in raw else ()
    if explains and "check" not in raw:
        error("explains is only for configuration checks (entries with 'check')")

    if steps is not None and not steps and category is not None and category != _BENIGN:
        error(f"steps must not be empty for a '{category}' entry (only not-an-error may omit them)")
    for url in references or ():
        if not _URL_PATTERN.match(url):
            error(f"reference '{url}' is not an https URL")
    if references is not None and not references:
        error("references must list at least one https URL")
    if examples is not None and not examples:
        if is_detector:
            error("examples, when given, must hold at least one text (or leave the key out)")
        elif is_fact_check(raw.get("check")):
            error("examples must hold at least one collected file that triggers this check")
        elif "check" in raw:
            error("examples must hold at least one REG QUERY snippet that triggers this check")
        else:
            error("examples must hold at least one event text that matches this entry")
    if "check" in raw and scope is not None and scope != "server":
        error(f"scope '{scope}' does not fit a configuration check: use scope: server")

    if len(collector.errors) > errors_before:
        return None
    # Every value below was checked above; the asserts narrow the types for mypy.
    assert entry_id is not None and title is not None and cause is not None
    assert category is not None and severity is not None and scope is not None
    assert source is not None and steps is not None and collect is not None
    assert references is not None and (examples is not None or is_detector)
    return CatalogEntry(
        id=entry_id,
        title=title.strip(),
        category=category,
        severity=severity,
        scope=scope,
        rules=rules,
        cause=cause.strip(),
        steps=steps,
        collect=collect,
        references=references,
        examples=examples or (),
        source=source,
        file=file,
        check=check,
        detector=detector,
        explains=explains or (),
        fact_check=fact_check,
        step_kinds=tuple(step.kind for step in typed_steps or ()),
    )


def _recognised_by_one(present: Sequence[str], error: _Report) -> None:
    """Report an entry that has none, or more than one, of ``match``, ``check``, ``detector``."""
    if not present:
        error(
            "missing required key 'match' (or 'check' for a configuration check) "
            "or 'detector' (for a pattern over many events that the diagnosis looks for)"
        )
    elif len(present) > 1:
        quoted = [f"'{key}'" for key in present]
        named = f"both {quoted[0]} and {quoted[1]}" if len(quoted) == 2 else ", ".join(quoted)
        error(
            f"has {named}: an entry either matches findings, checks the configuration "
            "or names a detector of the diagnosis, only one of them"
        )


def _detector(value: object, error: _Report) -> str | None:
    """Validate a ``detector`` name: one of :data:`DETECTORS`."""
    if isinstance(value, str) and value in DETECTORS:
        return value
    error(f"detector '{value}' is unknown (known detectors: {', '.join(DETECTORS)})")
    return None


def _string(raw: Mapping[Any, Any], key: str, error: _Report) -> str | None:
    if key not in raw:
        return None
    value = raw[key]
    if not isinstance(value, str) or not value.strip():
        error(f"'{key}' must be a non-empty string")
        return None
    return value


def _choice(
    raw: Mapping[Any, Any], key: str, allowed: tuple[str, ...], error: _Report
) -> str | None:
    if key not in raw:
        return None
    value = raw[key]
    if not isinstance(value, str) or value not in allowed:
        error(f"{key} '{value}' is not allowed (expected one of: {', '.join(allowed)})")
        return None
    return value


def _string_list(raw: Mapping[Any, Any], key: str, error: _Report) -> tuple[str, ...] | None:
    if key not in raw:
        return None
    value = raw[key]
    if value is None:
        return ()
    if not isinstance(value, list):
        error(f"'{key}' must be a list of strings")
        return None
    items: list[str] = []
    for position, item in enumerate(value, start=1):
        if isinstance(item, Mapping):
            # An unquoted "text: more text" in a list item is YAML for a one-key mapping.
            error(f"'{key}' item {position} is a mapping: quote text that contains ': '")
            return None
        if not isinstance(item, str) or not item.strip():
            error(f"'{key}' item {position} must be a non-empty string")
            return None
        items.append(item.strip() if key != "examples" else item)
    return tuple(items)


def _rules(value: object, error: _Report) -> tuple[MatchRule, ...]:
    raw_rules = [value] if isinstance(value, Mapping) else value
    if not isinstance(raw_rules, list) or not raw_rules:
        error("match must be a rule (a mapping) or a non-empty list of rules")
        return ()
    rules: list[MatchRule] = []
    for number, raw_rule in enumerate(raw_rules, start=1):
        rule = _rule(raw_rule, f"match rule {number}", error)
        if rule is not None:
            rules.append(rule)
    return tuple(rules)


def _rule(raw: object, where: str, error: _Report) -> MatchRule | None:
    if not isinstance(raw, Mapping):
        error(f"{where}: a rule must be a mapping of keys to values")
        return None
    problems = 0

    def bad(message: str) -> None:
        nonlocal problems
        problems += 1
        error(f"{where}: {message}")

    for key in raw:
        if key not in RULE_KEYS:
            bad(f"unknown key '{key}' (expected one of: {', '.join(RULE_KEYS)})")
    if not raw:
        bad("is empty (a rule needs at least one key)")
    values: dict[str, Any] = {}
    kind = raw.get("kind")
    if kind is not None and kind not in _KINDS:
        bad(f"kind '{kind}' is not a finding kind (expected one of: {', '.join(_KINDS)})")
    values["kind"] = kind
    code = raw.get("code")
    if code is not None and not (isinstance(code, str) and _CODE_PATTERN.match(code)):
        bad(f"code '{code}' must be a product code such as ESTS_TOKEN_ERROR or UserNotFound")
    values["code"] = code
    message = raw.get("message")
    pattern: re.Pattern[str] | None = None
    if message is not None:
        if not isinstance(message, str) or not message.strip():
            bad("message must be a non-empty regular expression")
        else:
            try:
                pattern = re.compile(message, re.IGNORECASE)
            except re.error as failure:
                bad(f"message is not a valid regular expression: {failure}")
    values["message"] = message
    aadsts = raw.get("aadsts")
    if aadsts is not None and not (isinstance(aadsts, str) and _AADSTS_PATTERN.match(aadsts)):
        bad(f"aadsts '{aadsts}' must look like AADSTS700027")
    values["aadsts"] = aadsts
    state = raw.get("response_state")
    if state is not None and state not in RESPONSE_STATES:
        allowed = ", ".join(RESPONSE_STATES)
        bad(f"response_state '{state}' is not allowed (expected one of: {allowed})")
    values["response_state"] = state
    for key in ("event_id", "reason_code"):
        number = raw.get(key)
        if number is not None and (
            isinstance(number, bool) or not isinstance(number, int) or number < 0
        ):
            bad(f"{key} '{number}' must be a non-negative integer")
        values[key] = number
    error_code = raw.get("error_code")
    if error_code is not None and (isinstance(error_code, bool) or not isinstance(error_code, int)):
        bad(f"error_code '{error_code}' must be an integer")
    values["error_code"] = error_code
    fallback = raw.get("fallback", False)
    if not isinstance(fallback, bool):
        bad(f"fallback '{fallback}' must be true or false")
    elif fallback and all(values[key] is None for key in values):
        bad("a fallback rule needs at least one other key (e.g. kind) to say what it covers")
    if problems:
        return None
    return MatchRule(**values, fallback=bool(fallback), pattern=pattern)


def _check(value: object, error: _Report) -> ConfigCheck | None:
    """Validate a ``check`` block (the rule language is documented in catalog/README.md)."""
    if not isinstance(value, Mapping):
        error("check must be a mapping of keys to values (see catalog/README.md)")
        return None
    problems = 0

    def bad(message: str) -> None:
        nonlocal problems
        problems += 1
        error(f"check: {message}")

    for key in value:
        if key not in CHECK_KEYS:
            bad(f"unknown key '{key}' (expected one of: {', '.join(CHECK_KEYS)})")
    if "key" not in value:
        bad("missing required key 'key'")
    keys = _check_names(value, "key", bad, allowed=tuple(REGISTRY_KEYS)) or ()
    values = _check_names(value, "value", bad) or ()
    ignore = _check_names(value, "ignore", bad) or ()
    when = value.get("when", "present")
    if when not in CHECK_WHEN:
        bad(f"when '{when}' is not allowed (expected one of: {', '.join(CHECK_WHEN)})")
    dump = value.get("dump", "newest")
    if dump not in CHECK_DUMPS:
        bad(f"dump '{dump}' is not allowed (expected one of: {', '.join(CHECK_DUMPS)})")
    matches = _check_pattern(value, "matches", bad)
    not_matches = _check_pattern(value, "not_matches", bad)
    consistent = _check_consistent(value.get("consistent"), bad) if "consistent" in value else ()
    tests_data = [key for key in ("matches", "not_matches") if key in value]

    if "consistent" in value:
        for key in ("value", "matches", "not_matches", "ignore"):
            if key in value:
                bad(f"'{key}' cannot be combined with 'consistent' (it names its own values)")
        if when != "present":
            bad(f"'consistent' compares present values: remove 'when: {when}'")
    elif when == "present" and "value" not in value:
        bad("when: present needs a 'value' (to check the key itself, use when: missing)")
    if when == "missing":
        for key in tests_data:
            bad(f"'{key}' tests the data of a present value: it cannot go with when: missing")
    if when == "changed":
        for key in ("dump", *tests_data):
            if key in value:
                bad(f"'{key}' does not apply to when: changed (it compares before and after)")
    if "ignore" in value and (when != "changed" or "value" in value):
        bad("'ignore' only applies to when: changed without 'value' (every other value)")
    if problems:
        return None
    return ConfigCheck(
        keys=keys,
        values=values,
        when=when,
        matches=matches,
        not_matches=not_matches,
        consistent=consistent,
        dump=dump,
        ignore=ignore,
    )


def _check_names(
    raw: Mapping[Any, Any],
    key: str,
    bad: _Report,
    *,
    allowed: tuple[str, ...] | None = None,
) -> tuple[str, ...] | None:
    """One name or a non-empty list of distinct names (registry keys or value names)."""
    if key not in raw:
        return None
    value = raw[key]
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        bad(f"'{key}' must be a name or a non-empty list of names")
        return None
    names: list[str] = []
    seen: set[str] = set()
    for item in items:
        if not isinstance(item, str) or not item.strip():
            bad(f"'{key}' holds '{item}', which is not a name")
            return None
        if allowed is not None and item not in allowed:
            bad(f"{key} '{item}' is not allowed (expected one of: {', '.join(allowed)})")
            return None
        if allowed is None and not _VALUE_NAME_PATTERN.fullmatch(item):
            bad(f"{key} '{item}' is not a registry value name (control characters or too long)")
            return None
        # Windows compares registry names without letter case.
        if item.casefold() in seen:
            bad(f"'{key}' names '{item}' twice")
            return None
        seen.add(item.casefold())
        names.append(item)
    return tuple(names)


def _check_pattern(raw: Mapping[Any, Any], key: str, bad: _Report) -> str | None:
    if key not in raw:
        return None
    pattern = raw[key]
    if not isinstance(pattern, str) or not pattern:
        bad(f"{key} must be a non-empty regular expression")
        return None
    try:
        re.compile(pattern)
    except re.error as failure:
        bad(f"{key} is not a valid regular expression: {failure}")
        return None
    return pattern


def _check_consistent(
    value: object, bad: _Report
) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """Validate ``consistent``: two or more groups, each naming the same values with patterns."""
    if not isinstance(value, Mapping) or len(value) < 2:
        bad("consistent must map two or more group names to their value patterns")
        return ()
    groups: list[tuple[str, tuple[tuple[str, str], ...]]] = []
    expected: set[str] | None = None
    for group, patterns in value.items():
        if not isinstance(group, str) or not _GROUP_PATTERN.fullmatch(group):
            bad(f"consistent: group name '{group}' must be lower-case kebab-case (e.g. usgov)")
            continue
        if not isinstance(patterns, Mapping) or not patterns:
            bad(f"consistent: group '{group}' must map value names to regular expressions")
            continue
        pairs: list[tuple[str, str]] = []
        for name, pattern in patterns.items():
            if not isinstance(name, str) or not _VALUE_NAME_PATTERN.fullmatch(name):
                bad(f"consistent: group '{group}' names '{name}', which is not a value name")
                continue
            where = f"consistent: group '{group}': the pattern for {name}"
            if not isinstance(pattern, str) or not pattern:
                bad(f"{where} must be a non-empty regular expression")
                continue
            try:
                re.compile(pattern)
            except re.error as failure:
                bad(f"{where} is not a valid regular expression: {failure}")
                continue
            pairs.append((name, pattern))
        names = {name.casefold() for name, _ in pairs}
        if expected is None:
            expected = names
        elif names != expected:
            bad(f"consistent: group '{group}' must name the same values as the first group")
        groups.append((group, tuple(pairs)))
    return tuple(groups)


# ---------------------------------------------------------------------------------------------
# Lint checks: issues worth fixing that do not make the catalog unusable.


def _lint_catalog(entries: Sequence[CatalogEntry], collector: _Collector) -> None:
    ids = {entry.id for entry in entries}
    namespaces = {entry_id.split(".")[0] for entry_id in ids}
    bare_code_owner: dict[str, str] = {}
    for entry in entries:
        where = f"entry '{entry.id}'"
        for target in entry.explains:
            # Checked only when the target's namespace was loaded (config.yaml checked alone
            # cannot know the ext. ids).
            if target not in ids and target.split(".")[0] in namespaces:
                collector.warn(entry.file, where, f"explains '{target}', which no entry has as id")
        codes = entry.codes
        if len(codes) == 1 and all(rule.code for rule in entry.rules):
            expected = f"ext.{code_to_kebab(codes[0])}"
            if entry.id.startswith("ext.") and entry.family != expected:
                collector.warn(
                    entry.file,
                    where,
                    f"id does not follow the code: expected {expected}[.<suffix>]",
                )
        if entry.id != entry.family and entry.family not in ids:
            collector.warn(entry.file, where, f"refinement without a family entry '{entry.family}'")
        if len(entry.steps) > _MAX_STEPS:
            collector.warn(
                entry.file,
                where,
                f"{len(entry.steps)} steps; keep it to {_MAX_STEPS} or fewer so it stays readable",
            )
        if entry.steps and entry.category in _NEEDS_FIX and not entry.fixes:
            collector.warn(
                entry.file,
                where,
                f"no 'fix' step: a {entry.category} entry says what removes the cause",
            )
        if (
            entry.category == "needs-support"
            and entry.steps
            and not {"fix", "escalate"} & set(entry.step_kinds)
        ):
            collector.warn(
                entry.file, where, "needs-support entry with neither 'fix' nor 'escalate'"
            )
        if entry.category == "needs-support" and not entry.collect:
            collector.warn(entry.file, where, "needs-support entry without a 'collect' list")
        for rule in entry.rules:
            if rule.code is not None and rule.specificity == 1:
                owner = bare_code_owner.setdefault(rule.code, entry.id)
                if owner != entry.id:
                    collector.warn(
                        entry.file,
                        where,
                        f"code {rule.code} alone is also matched by '{owner}' (ties go by id)",
                    )
        if entry.check is not None:
            # Check examples are cheap to run for real, so lint does (tests do it too).
            from npsdiag.configlint import example_problems

            for problem in example_problems(entry):
                collector.warn(entry.file, where, problem)
            continue
        if entry.fact_check is not None:
            from npsdiag.factcheck import example_problems as fact_example_problems

            for problem in fact_example_problems(entry):
                collector.warn(entry.file, where, problem)
            continue
        if entry.detector is not None:
            # A detector entry's examples describe the pattern; they have no rule to show.
            continue
        for number, example in enumerate(entry.examples, start=1):
            if not any(_mentions(rule, example) for rule in entry.rules):
                collector.warn(
                    entry.file,
                    where,
                    f"example {number} does not show what any match rule looks for",
                )


def _mentions(rule: MatchRule, text: str) -> bool:
    """A cheap textual check (no extractor) that an example shows what a rule looks for."""
    if rule.code is not None and not re.search(rf"\b{re.escape(rule.code)}\b", text):
        return False
    if rule.aadsts is not None and rule.aadsts not in text:
        return False
    if rule.response_state is not None and rule.response_state not in text:
        return False
    return not (rule.pattern is not None and not rule.pattern.search(text))
