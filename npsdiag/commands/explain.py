"""``npsdiag explain``: diagnose one pasted event message, code or number."""

from __future__ import annotations

import json
import re
import sys

import typer

from npsdiag.commands._shared import Command

_EPILOG = (
    "Examples:\n\n"
    "  npsdiag explain ESTS_TOKEN_ERROR\n\n"
    "  npsdiag explain AADSTS700027\n\n"
    "  npsdiag explain 6273      (an event id; also a reason or error code where one exists)\n\n"
    '  npsdiag explain "reason code 48"\n\n'
    '  npsdiag explain "NPS Extension for Azure MFA: CID: ... Access Rejected for user alice '
    'with Azure MFA response: UserNotFound and message: ..."\n\n'
    "  Get-Clipboard | npsdiag explain -      (read the text from standard input)\n\n"
    "Exit codes: 0 the text is known (harmless notices included), 1 not in the catalog, "
    "2 usage error (for example an empty text)."
)


def register(app: typer.Typer) -> None:
    """Register ``explain`` on the app."""
    app.command(name="explain", epilog=_EPILOG, cls=Command)(explain)


def explain(
    text: str = typer.Argument(
        ...,
        metavar="TEXT",
        help="An event message, a code such as UserNotFound or AADSTS700027, an event id such "
        'as 6273, or "reason code 48"; - reads stdin.',
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Explain one message, error code or event id of the NPS MFA sign-in chain."""
    from npsdiag.catalog import load_catalog
    from npsdiag.explain import explain_text

    if text == "-":
        text = sys.stdin.read()
    result = explain_text(text, load_catalog())
    if as_json:
        typer.echo(json.dumps(result, indent=2, sort_keys=True, ensure_ascii=False))
    else:
        from npsdiag._screen import screen_of

        typer.echo(_wrapped(_as_text(result), screen_of(sys.stdout).width))
    raise typer.Exit(0 if result["known"] else 1)


#: A numbered step ("  1. (fix) ") or list item: continuation lines go under its text.
_MARKER = re.compile(r"(\s*)(\d+\.\s+(?:\(\w+\)\s+)?)?")


def _wrapped(text: str, width: int) -> str:
    """Each line of ``text`` wrapped to ``width``, continuation lines under its text."""
    from npsdiag._screen import wrap

    lines: list[str] = []
    for line in text.splitlines():
        if len(line) <= width:
            lines.append(line)
            continue
        found = _MARKER.match(line)
        indent, marker = (found.group(1), found.group(2) or "") if found else ("", "")
        hanging = " " * (len(indent) + len(marker)) if marker else indent + "  "
        lines.append(wrap(line[len(indent) + len(marker) :], width, indent + marker, hanging))
    return "\n".join(lines)


def _as_text(result: dict[str, object]) -> str:
    lines: list[str] = []
    found = result["found"]
    assert isinstance(found, dict)
    if found.get("kind") != "number":
        facts = [
            f"{key}: {value}"
            for key, value in found.items()
            if value not in (None, "", [], {}) and key not in ("aadsts_names", "recognised_as")
        ]
        if facts:
            lines.append(f"Recognised as {found['recognised_as']}.")
            lines.append("Found in the text:")
            lines.extend(f"  {fact}" for fact in facts)
        names = found.get("aadsts_names")
        if isinstance(names, dict) and names:
            lines.append("Entra sign-in codes:")
            lines.extend(f"  {code}: {name}" for code, name in names.items())
    events = result["events"]
    assert isinstance(events, list)
    for event in events:
        assert isinstance(event, dict)
        where = f"{event['log']}, {event['source']}"
        lines.append(f"Event {event['event_id']} ({where}): {event['what']}")
        entries = event["entries"]
        assert isinstance(entries, list)
        if entries:
            lines.append("  Explained by:")
            lines.extend(f"    {e['id']}  {e['title'] or ''}".rstrip() for e in entries)
        if event["hint"]:
            lines.append(f"  Next: {event['hint']}")
    matches = result["matches"]
    assert isinstance(matches, list)
    if not result["known"]:
        if found.get("kind") == "text" and not matches:
            lines.append(
                "This text is not in the catalog, and npsdiag does not recognise it as a message "
                "of the NPS extension, of NPS, of Windows or of a RADIUS client."
            )
        else:
            lines.append("This text or code is not in the catalog.")
    elif result["harmless"]:
        lines.append("This is expected behaviour or a harmless notice, not a fault.")
    if not matches:
        if not result["known"]:
            lines.append("Next step: check the spelling, or run 'npsdiag catalog list'.")
        return "\n".join(lines)
    for number, match in enumerate(matches, start=1):
        assert isinstance(match, dict)
        lines.append("")
        lines.append(f"{number}. {match['title']}  [{match['id']}]")
        lines.append(
            f"   category: {match['category']}, severity: {match['severity']}, "
            f"confidence: {match['confidence']}"
        )
        lines.append(f"   Likely cause: {match['cause']}")
        steps = match["steps"]
        kinds = match["step_kinds"]
        assert isinstance(steps, list) and isinstance(kinds, list)
        if steps:
            lines.append("   Next steps:")
            lines.extend(
                f"     {index}. ({kind}) {step}"
                for index, (kind, step) in enumerate(zip(kinds, steps, strict=True), start=1)
            )
        references = match["references"]
        assert isinstance(references, list)
        if references:
            lines.append("   References: " + " ".join(str(r) for r in references))
    return "\n".join(lines)
