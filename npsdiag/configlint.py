"""Check the extension's registry configuration with the catalog's ``check`` entries.

A support bundle from Microsoft's health-check script holds four ``REG QUERY`` dumps: the
extension's key ``HKLM\\SOFTWARE\\Microsoft\\AzureMfa`` and NPS's
``HKLM\\SYSTEM\\CurrentControlSet\\Services\\AuthSrv\\Parameters``, each taken before and after
the script turns verbose logging on (``BeforeRegAdd_AzureMFA.txt``, ``AfterRegAdd_AzureMFA.txt``,
``BeforeRegAdd_AuthSrv.txt``, ``AfterRegAdd_AuthSrv.txt``).

What each dump holds is decided by the key paths inside it; a dump without any known key (the
script's dump of a missing key is empty) is placed by its file name. Whether a dump is the
"before" or the "after" one comes from its file name only; a dump named neither way (a
``REG QUERY`` someone ran by hand) stands for the current state.

Every rule is catalog data (``catalog/config.yaml``, rule language in ``catalog/README.md``);
this module only evaluates them. Nothing here reads files or prints.

References:
    - https://github.com/Azure-Samples/azure-mfa-nps-extension-health-check
      (``MFA_NPS_Troubleshooter.ps1``: the collection steps and the values it checks)
    - https://learn.microsoft.com/entra/identity/authentication/howto-mfa-nps-extension
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from npsdiag.catalog_model import REGISTRY_KEYS, SEVERITIES, Catalog, CatalogEntry, ConfigCheck
from npsdiag.errors import TextDumpError, UsageError
from npsdiag.sources.regquery import RegistryDump, RegValue, parse_regquery

__all__ = [
    "AFTER",
    "BEFORE",
    "UNLABELLED",
    "ConfigFinding",
    "DumpIdentity",
    "check_configuration",
    "effective_values",
    "entry_finding",
    "example_dumps",
    "example_problems",
    "identify_dump",
]

#: The dump taken before the health-check script set VERBOSE_LOG (``BeforeRegAdd_*``).
BEFORE = "before"
#: The dump taken after it (``AfterRegAdd_*``).
AFTER = "after"
#: A dump named neither way: it stands for the current state of the server.
UNLABELLED = ""

#: The file-name part the health-check script uses for each key (``BeforeRegAdd_AzureMFA.txt``).
_FILE_STEMS = {"azuremfa": "AzureMFA", "authsrv": "AuthSrv"}
_NAME_SEPARATORS = re.compile(r"[\\/!]")
_NOT_SET = "(not set)"
_EVIDENCE_JOIN = " | "
_KEYS_SHOWN = 3


@dataclass(frozen=True, slots=True)
class ConfigFinding:
    """One configuration check that fired, or one value that changed during collection.

    Attributes:
        id: the catalog entry's id (``config.ldap-lookup-forests-separator``).
        title: the entry's title.
        category: the entry's category (``configuration``, ``not-an-error`` ...).
        severity: the entry's severity.
        key: the full registry key path the finding is about.
        value: the value name (several, comma-separated, for a consistency check; empty when
            the key itself is missing).
        data: the data as dumped; for a change, ``"old" -> "new"``; empty when missing.
        evidence: ``<dump>:<line>: <line text>`` for each line that shows it, `` | ``-joined.
        fix: the entry's first ``fix`` step, else its first step (empty without steps).
        source: the dump the finding comes from (the "after" dump for a change).
    """

    id: str
    title: str
    category: str
    severity: str
    key: str
    value: str
    data: str
    evidence: str
    fix: str
    source: str

    def as_dict(self) -> dict[str, str]:
        """The finding as flat string keys, in field order (what reports show)."""
        return {
            "id": self.id,
            "title": self.title,
            "category": self.category,
            "severity": self.severity,
            "key": self.key,
            "value": self.value,
            "data": self.data,
            "evidence": self.evidence,
            "fix": self.fix,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class DumpIdentity:
    """What one dump is.

    Attributes:
        role: :data:`BEFORE`, :data:`AFTER` or :data:`UNLABELLED` (from the file name).
        keys: short names of the known keys it is about (``azuremfa``, ``authsrv``): the
            ones it holds, or, when it holds none, the one its file name names.
    """

    role: str
    keys: tuple[str, ...]


def identify_dump(dump: RegistryDump) -> DumpIdentity:
    """Say whether ``dump`` is a before or after dump, and of which keys."""
    base = _NAME_SEPARATORS.split(dump.name)[-1].casefold()
    before, after = "before" in base, "after" in base
    role = BEFORE if before and not after else AFTER if after and not before else UNLABELLED
    keys = tuple(short for short, path in REGISTRY_KEYS.items() if dump.find_key(path))
    if not keys:
        squeezed = re.sub(r"[^a-z0-9]", "", base)
        keys = tuple(short for short in REGISTRY_KEYS if short in squeezed)
    return DumpIdentity(role=role, keys=keys)


def check_configuration(dumps: Sequence[RegistryDump], catalog: Catalog) -> list[ConfigFinding]:
    """Evaluate every check entry of ``catalog`` against the dumps of one server.

    A check reads, for each key it names, the newest dump of that key (the "after" one, else
    an unlabelled one, else the "before" one) or, with ``dump: before``, the dump taken before
    the script changed anything (else an unlabelled one; never the "after" one). A
    ``changed`` check compares the "before" and "after" dumps. Where several dumps have the
    same role and key, the last one given counts.

    Args:
        dumps: the parsed ``REG QUERY`` dumps of one server, in any order.
        catalog: the catalog whose ``check`` entries are evaluated.

    Returns:
        The findings, worst first, then by id, value name, key and dump.
    """
    return _sorted(_run(dumps, catalog.checks))


def effective_values(dumps: Sequence[RegistryDump], key: str = "azuremfa") -> dict[str, str]:
    """The values of one key as the newest dump shows them: ``{name: data}`` in dump order.

    Args:
        dumps: parsed dumps of one server.
        key: the short name of the key (``azuremfa`` or ``authsrv``).

    Returns:
        Value names (as dumped) and their data (``REG_MULTI_SZ`` with its ``\\0``
        separators); empty when no dump holds the key.

    Raises:
        UsageError: ``key`` is not a known short name.
    """
    if key not in REGISTRY_KEYS:
        raise UsageError(
            f"unknown registry key '{key}'",
            hint=f"use one of: {', '.join(REGISTRY_KEYS)}",
        )
    dump = _newest(_select(dumps).get(key, {}))
    values = dump.values(REGISTRY_KEYS[key]) if dump is not None else None
    return {value.name: value.data for value in (values or {}).values()}


def example_dumps(entry: CatalogEntry, example: str) -> list[RegistryDump]:
    """The dumps one ``examples`` snippet of a check entry stands for.

    The snippet is read as the dump the check reads: the "before" dump for ``dump: before``,
    the "after" dump otherwise. For ``when: changed`` it is the "after" dump, compared with a
    "before" dump that holds the same keys without any value, so every value in the snippet
    counts as added. A snippet without a known key (reg's "unable to find" error, say) is a
    dump of the entry's first key.

    Raises:
        UsageError: ``entry`` has no check.
        TextDumpError: the snippet is not ``REG QUERY`` output.
    """
    check = _require_check(entry)
    stem = _FILE_STEMS[check.keys[0]]
    data = example.encode("utf-8")
    if check.when == "changed":
        after = parse_regquery(data, f"AfterRegAdd_{stem}.txt")
        held = identify_dump(after).keys
        before = RegistryDump(
            name=f"BeforeRegAdd_{stem}.txt",
            keys={REGISTRY_KEYS[short]: {} for short in held},
            key_lines={REGISTRY_KEYS[short]: 1 for short in held},
        )
        return [before, after]
    role = "BeforeRegAdd" if check.dump == BEFORE else "AfterRegAdd"
    return [parse_regquery(data, f"{role}_{stem}.txt")]


def example_problems(entry: CatalogEntry) -> list[str]:
    """Why examples of a check entry fail to trigger it (empty when every one does)."""
    problems: list[str] = []
    for number, example in enumerate(entry.examples, start=1):
        try:
            dumps = example_dumps(entry, example)
        except TextDumpError as error:
            problems.append(f"example {number} is not REG QUERY output: {error.message}")
            continue
        if not any(finding.id == entry.id for finding in _run(dumps, (entry,))):
            problems.append(f"example {number} does not trigger the check")
    return problems


# ---------------------------------------------------------------------------------------------
# Evaluation


def _require_check(entry: CatalogEntry) -> ConfigCheck:
    if entry.check is None:
        raise UsageError(f"catalog entry '{entry.id}' is not a configuration check")
    return entry.check


def _select(dumps: Sequence[RegistryDump]) -> dict[str, dict[str, RegistryDump]]:
    """``{short key: {role: dump}}``; the last dump of a role wins."""
    selected: dict[str, dict[str, RegistryDump]] = {}
    for dump in dumps:
        identity = identify_dump(dump)
        for short in identity.keys:
            selected.setdefault(short, {})[identity.role] = dump
    return selected


def _newest(roles: dict[str, RegistryDump]) -> RegistryDump | None:
    return roles.get(AFTER) or roles.get(UNLABELLED) or roles.get(BEFORE)


def _before(roles: dict[str, RegistryDump]) -> RegistryDump | None:
    # The "after" dump never stands in: the script has changed VERBOSE_LOG in it.
    return roles.get(BEFORE) or roles.get(UNLABELLED)


def _run(dumps: Sequence[RegistryDump], entries: Iterable[CatalogEntry]) -> list[ConfigFinding]:
    selected = _select(dumps)
    findings: list[ConfigFinding] = []
    for entry in entries:
        check = _require_check(entry)
        for short in check.keys:
            roles = selected.get(short)
            if roles:
                findings.extend(_evaluate(entry, check, REGISTRY_KEYS[short], roles))
    return findings


def _evaluate(
    entry: CatalogEntry, check: ConfigCheck, path: str, roles: dict[str, RegistryDump]
) -> list[ConfigFinding]:
    if check.when == "changed":
        before, after = roles.get(BEFORE), roles.get(AFTER)
        if before is None or after is None:
            return []
        return _changes(entry, check, path, before, after)
    dump = _before(roles) if check.dump == BEFORE else _newest(roles)
    if dump is None:
        return []
    if not check.values and not check.consistent:
        # ``when: missing`` about the key itself (validation allows nothing else here).
        if dump.find_key(path) is not None:
            return []
        return [entry_finding(entry, path, "", "", _key_missing_evidence(dump, path), dump.name)]
    shown = dump.find_key(path)
    if shown is None:
        # The key's own check reports that; value checks have nothing to read.
        return []
    if check.consistent:
        return _consistency(entry, check, path, dump)
    findings: list[ConfigFinding] = []
    for name in check.values:
        value = dump.value(path, name)
        if check.when == "missing":
            if value is None:
                line = dump.key_lines.get(shown, 0)
                evidence = f"{dump.name}:{line}: {shown} has no {name} value"
                findings.append(entry_finding(entry, path, name, "", evidence, dump.name))
        elif value is not None and check.data_fits(value.data):
            findings.append(
                entry_finding(entry, path, value.name, value.data, _line(dump, value), dump.name)
            )
    return findings


def _consistency(
    entry: CatalogEntry, check: ConfigCheck, path: str, dump: RegistryDump
) -> list[ConfigFinding]:
    """One finding when the present, non-empty values do not all fit one common group.

    Missing or empty values are left to the checks that look for those.
    """
    present: list[tuple[RegValue, tuple[str, ...]]] = []
    for name in check.consistent_values:
        value = dump.value(path, name)
        if value is not None and value.data.strip():
            present.append((value, check.groups_of(name, value.data)))
    if not present:
        return []
    common = {group for group, _ in check.consistent}
    for _, groups in present:
        common &= set(groups)
    if common:
        return []
    names = ", ".join(value.name for value, _ in present)
    data = "; ".join(
        f"{value.name} {value.data} ({'/'.join(groups) if groups else 'no known group'})"
        for value, groups in present
    )
    evidence = _EVIDENCE_JOIN.join(_line(dump, value) for value, _ in present)
    return [entry_finding(entry, path, names, data, evidence, dump.name)]


def _changes(
    entry: CatalogEntry,
    check: ConfigCheck,
    path: str,
    before: RegistryDump,
    after: RegistryDump,
) -> list[ConfigFinding]:
    """One finding per value added, removed, or changed in type or data."""
    old = {value.name.casefold(): value for value in (before.values(path) or {}).values()}
    new = {value.name.casefold(): value for value in (after.values(path) or {}).values()}
    wanted = {name.casefold() for name in check.values}
    skipped = {name.casefold() for name in check.ignore}
    findings: list[ConfigFinding] = []
    for folded in dict.fromkeys([*new, *old]):
        if (wanted and folded not in wanted) or folded in skipped:
            continue
        was, now = old.get(folded), new.get(folded)
        if was is not None and now is not None and (was.type, was.data) == (now.type, now.data):
            continue
        show_type = was is not None and now is not None and was.type != now.type
        data = f"{_shown(was, show_type)} -> {_shown(now, show_type)}"
        lines = [
            _line(before, was) if was is not None else f"{before.name}: {_NOT_SET}",
            _line(after, now) if now is not None else f"{after.name}: {_NOT_SET}",
        ]
        current = now if now is not None else was
        name = current.name if current is not None else folded
        findings.append(
            entry_finding(entry, path, name, data, _EVIDENCE_JOIN.join(lines), after.name)
        )
    return findings


def _shown(value: RegValue | None, with_type: bool) -> str:
    if value is None:
        return _NOT_SET
    return f'{value.type} "{value.data}"' if with_type else f'"{value.data}"'


def _line(dump: RegistryDump, value: RegValue) -> str:
    return f"{dump.name}:{value.line}: {value.text}"


def _key_missing_evidence(dump: RegistryDump, path: str) -> str:
    if dump.errors:
        line, text = dump.errors[0]
        return f"{dump.name}:{line}: {text}"
    if dump.keys:
        held = list(dump.keys)[:_KEYS_SHOWN]
        more = ", ..." if len(dump.keys) > _KEYS_SHOWN else ""
        return f"{dump.name}: holds {', '.join(held)}{more} but not {path}"
    # reg writes "unable to find" to stderr, which a ">" redirection leaves out of the file.
    return f"{dump.name}: no key at all (REG QUERY found nothing to write)"


def entry_finding(
    entry: CatalogEntry, path: str, value: str, data: str, evidence: str, source: str
) -> ConfigFinding:
    """A finding of ``entry`` about ``path`` (the checks over collected facts use it too)."""
    return ConfigFinding(
        id=entry.id,
        title=entry.title,
        category=entry.category,
        severity=entry.severity,
        key=path,
        value=value,
        data=data,
        evidence=evidence,
        # The first step that removes the cause; an entry without one offers its first step.
        fix=next(iter(entry.fixes), entry.steps[0] if entry.steps else ""),
        source=source,
    )


def _sorted(findings: list[ConfigFinding]) -> list[ConfigFinding]:
    rank = {severity: index for index, severity in enumerate(SEVERITIES)}
    return sorted(
        findings,
        key=lambda finding: (
            rank.get(finding.severity, len(rank)),
            finding.id,
            finding.value,
            finding.key,
            finding.source,
            finding.data,
            finding.evidence,
        ),
    )
