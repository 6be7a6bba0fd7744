"""``npsdiag explain``: diagnose one pasted event message or code."""

from __future__ import annotations

import json
import sys

import typer

_EPILOG = (
    "Examples:\n\n"
    "  npsdiag explain ESTS_TOKEN_ERROR\n\n"
    '  npsdiag explain "NPS Extension for Azure MFA: CID: ... Access Rejected for user alice '
    'with Azure MFA response: UserNotFound and message: ..."\n\n'
    "  Get-Clipboard | npsdiag explain -      (read the text from standard input)\n\n"
    "Exit codes: 0 the text is known (including benign notices), 1 not in the catalog, "
    "2 usage error."
)


def register(app: typer.Typer) -> None:
    """Register ``explain`` on the app."""
    app.command(name="explain", epilog=_EPILOG)(explain)


def explain(
    text: str = typer.Argument(
        ..., help="An event message, or a code such as UserNotFound; - reads stdin."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Explain one NPS extension message or error code using the catalog."""
    from npsdiag.catalog import load_catalog
    from npsdiag.explain import explain_text

    if text == "-":
        text = sys.stdin.read()
    result = explain_text(text, load_catalog())
    if as_json:
        typer.echo(json.dumps(result, indent=2, sort_keys=True, ensure_ascii=False))
    else:
        typer.echo(_as_text(result))
    raise typer.Exit(0 if result["known"] else 1)


def _as_text(result: dict[str, object]) -> str:
    lines: list[str] = []
    found = result["found"]
    assert isinstance(found, dict)
    facts = [f"{key}: {value}" for key, value in found.items() if value not in (None, "", [])]
    if facts:
        lines.append("Found in the text:")
        lines.extend(f"  {fact}" for fact in facts)
    matches = result["matches"]
    assert isinstance(matches, list)
    if not result["known"]:
        lines.append("This text or code is not in the catalog.")
    if not matches:
        lines.append("Next step: check the code's spelling, or run 'npsdiag catalog list'.")
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
        assert isinstance(steps, list)
        if steps:
            lines.append("   Next steps:")
            lines.extend(f"     {index}. {step}" for index, step in enumerate(steps, start=1))
        references = match["references"]
        assert isinstance(references, list)
        if references:
            lines.append("   References: " + " ".join(str(r) for r in references))
    return "\n".join(lines)
