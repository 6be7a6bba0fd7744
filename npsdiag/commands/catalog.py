"""``npsdiag catalog``: browse and validate the error catalog.

``list`` and ``show`` read the shipped catalog; ``check`` validates it (or the files given) and
prints every problem, the way a linter does. Output is plain text via ``typer.echo``, or JSON
with ``--json`` (sorted keys, so it can be diffed).
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from npsdiag._words import plural
from npsdiag.commands._shared import Command

if TYPE_CHECKING:
    from npsdiag.catalog import Catalog, CatalogEntry, MatchRule

__all__ = ["register"]

_GROUP_NAME = "catalog"


def _width() -> int:
    """The width of standard output (the terminal's, else 100 columns)."""
    from npsdiag._screen import screen_of

    return screen_of(sys.stdout).width


def register(app: typer.Typer) -> None:
    """Add the ``catalog`` command group to ``app`` (a second call is a no-op)."""
    for group in app.registered_groups:
        instance_name = group.typer_instance.info.name if group.typer_instance else None
        if _GROUP_NAME in (group.name, instance_name):
            return
    catalog_app = typer.Typer(
        name=_GROUP_NAME,
        help="Browse and validate the error catalog (what each code means, what to do).",
        no_args_is_help=True,
        add_completion=False,
        rich_markup_mode=None,
    )
    catalog_app.command("list", cls=Command)(list_command)
    catalog_app.command("show", cls=Command)(show_command)
    catalog_app.command("check", cls=Command)(check_command)
    app.add_typer(catalog_app, name=_GROUP_NAME)


def list_command(
    category: str | None = typer.Option(
        None,
        "--category",
        metavar="CATEGORY",
        help="Only entries of this category: configuration, user, not-an-error, needs-support.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the entries as JSON."),
) -> None:
    """List catalog entries: id, severity, category and title.

    Example: npsdiag catalog list --category configuration
    """
    from npsdiag.catalog import CATEGORIES, load_catalog

    if category is not None and category not in CATEGORIES:
        raise typer.BadParameter(
            f"'{category}' is not a category (expected one of: {', '.join(CATEGORIES)})",
            param_hint="--category",
        )
    entries = [e for e in load_catalog().entries if category is None or e.category == category]
    if as_json:
        typer.echo(_to_json([entry.to_dict() for entry in entries]))
        return
    if entries:
        from npsdiag._screen import wrap

        id_width = max(len(entry.id) for entry in entries)
        width = _width()
        columns = f"{'ID':<{id_width}}  {'SEVERITY':<8}  {'CATEGORY':<13}  "
        wide = width - len(columns) >= 24
        typer.echo(f"{columns}TITLE" if wide else f"{columns.rstrip()}\n    TITLE")
        for entry in entries:
            head = f"{entry.id:<{id_width}}  {entry.severity:<8}  {entry.category:<13}  "
            if wide:
                typer.echo(wrap(entry.title, width, head, " " * len(head)))
            else:  # too narrow for a title column: the title goes under the id
                typer.echo(head.rstrip())
                typer.echo(wrap(entry.title, width, "    "))
    suffix = f" in category {category}" if category else ""
    typer.echo(f"{plural(len(entries), 'entry', 'entries')}{suffix}")


def show_command(
    key: str = typer.Argument(
        ..., metavar="ID", help="An entry id (ext.ests-token-error) or a product code."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the entry as JSON."),
) -> None:
    """Show one catalog entry: cause, next steps, what to collect, references.

    ID may also be a product code such as ESTS_TOKEN_ERROR or UserNotFound; the entry for the
    code itself is shown and its refinements are listed.

    Example: npsdiag catalog show ESTS_TOKEN_ERROR
    """
    from npsdiag.catalog import load_catalog
    from npsdiag.errors import UsageError

    catalog = load_catalog()
    entry = _lookup(catalog, key.strip())
    if entry is None:
        raise UsageError(
            f"no catalog entry or code '{key}'",
            hint="run 'npsdiag catalog list' to see every id",
        )
    related = _related(catalog, entry)
    if as_json:
        data = entry.to_dict()
        data["related"] = [other.id for other in related]
        typer.echo(_to_json(data))
        return
    typer.echo(_render_entry(entry, related))


def check_command(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="[PATH]...",
            help="Catalog files or folders to check (default: the catalog shipped with npsdiag).",
        ),
    ] = None,
) -> None:
    """Validate catalog files and print every error and warning.

    Exits 1 when there is any error, 0 otherwise (warnings do not fail the check).

    Example: npsdiag catalog check catalog/
    """
    from npsdiag.catalog import check_catalog
    from npsdiag.exit_status import ExitStatus

    result = check_catalog(list(paths) if paths else None)
    for line in result.errors:
        typer.echo(f"error: {line}")
    for line in result.warnings:
        typer.echo(f"warning: {line}")
    files = plural(len(result.files), "file", "files")
    warnings = plural(len(result.warnings), "warning", "warnings")
    if result.catalog is None:
        errors = plural(len(result.errors), "error", "errors")
        typer.echo(f"catalog check failed: {errors}, {warnings} in {files}")
        raise typer.Exit(ExitStatus.PROBLEMS)
    entries = plural(len(result.catalog), "entry", "entries")
    typer.echo(f"catalog OK: {entries} in {files}, {warnings}")


def _lookup(catalog: Catalog, key: str) -> CatalogEntry | None:
    """Find an entry by id, else by product code (the code's own entry), ignoring case last."""
    entry = catalog.find(key)
    if entry is not None:
        return entry
    by_code = catalog.by_code(key)
    if by_code:
        return by_code[0]
    folded = key.casefold()
    for candidate in catalog.entries:
        if candidate.id.casefold() == folded:
            return candidate
    for code in sorted(catalog.codes):
        if code.casefold() == folded:
            return catalog.by_code(code)[0]
    return None


def _related(catalog: Catalog, entry: CatalogEntry) -> list[CatalogEntry]:
    """Other entries of the same family or naming the same code (refinements first by id)."""
    related = {
        other.id: other
        for other in catalog.entries
        if other.id != entry.id
        and (other.family == entry.family or set(other.codes) & set(entry.codes))
    }
    return [related[entry_id] for entry_id in sorted(related)]


def _render_entry(entry: CatalogEntry, related: list[CatalogEntry]) -> str:
    from npsdiag.catalog import DETECTORS

    detector = f"   detector: {entry.detector}" if entry.detector is not None else ""
    lines = [
        f"{entry.id}  {entry.title}",
        _indent(
            f"category: {entry.category}   severity: {entry.severity}   scope: {entry.scope}"
            f"   source: {entry.source}"
        ),
        f"  file: {entry.file}{detector}",
        "",
    ]
    if entry.check is not None:
        # Configuration checks test registry dumps, not events.
        lines += ["Fires when:", "     " + entry.check.describe()]
    elif entry.fact_check is not None:
        # Checks over what `npsdiag collect` gathers (certificates, auditing, extension).
        lines += ["Fires when:", "     " + entry.fact_check.describe()]
        lines += ["States:", "     " + entry.fact_check.says]
    elif entry.detector is not None:
        # A pattern over many events: no rule says when, the detector's description does.
        lines.append(f"Raised by the diagnosis when: {DETECTORS[entry.detector]}")
    else:
        lines.append("Matches when:")
        for number, rule in enumerate(entry.rules):
            prefix = "  or " if number else "     "
            lines.append(prefix + _describe_rule(rule))
    lines += ["", "Likely cause:", _indent(entry.cause)]
    if entry.steps:
        lines += ["", "Next steps:"]
        lines += [
            _indent(step.text, first=f"  {number}. ({step.kind}) ")
            for number, step in enumerate(entry.typed_steps, 1)
        ]
    if entry.collect:
        lines += ["", "Collect for support:"]
        lines += [_indent(item, first="  - ") for item in entry.collect]
    lines += ["", "References:"]
    lines += [f"  - {url}" for url in entry.references]
    if entry.examples:
        # Detector entries may have none: their evidence is a pattern, not one event.
        lines += ["", "Examples:"]
        lines += [_indent(example, first="  - ") for example in entry.examples]
    if related:
        lines += ["", "Related entries:"]
        lines += [_indent(f"{other.id}  {other.title}", first="  - ") for other in related]
    return "\n".join(lines)


def _describe_rule(rule: MatchRule) -> str:
    parts: list[str] = []
    if rule.kind is not None:
        parts.append(f"kind {rule.kind}")
    if rule.code is not None:
        parts.append(f"code {rule.code}")
    if rule.aadsts is not None:
        parts.append(f"aadsts {rule.aadsts}")
    if rule.response_state is not None:
        parts.append(f"response state {rule.response_state}")
    if rule.event_id is not None:
        parts.append(f"event id {rule.event_id}")
    if rule.reason_code is not None:
        parts.append(f"reason code {rule.reason_code}")
    if rule.error_code is not None:
        parts.append(f"error code {rule.error_code}")
    if rule.message is not None:
        parts.append(f"message matches /{rule.message}/")
    text = " and ".join(parts)
    if rule.fallback:
        text += " (only when no other entry matches)"
    return text


def _indent(text: str, *, first: str = "  ") -> str:
    """Wrap ``text`` to the report width; continuation lines line up under the first."""
    hanging = " " * len(first)
    paragraphs = text.splitlines() or [""]
    wrapped = [
        textwrap.fill(
            paragraph,
            width=_width(),
            initial_indent=first if index == 0 else hanging,
            subsequent_indent=hanging,
            break_long_words=False,
            break_on_hyphens=False,
        )
        for index, paragraph in enumerate(paragraphs)
    ]
    return "\n".join(wrapped)


def _to_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)
