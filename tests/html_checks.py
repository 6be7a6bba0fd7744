"""The HTML report's one script, so that tests can tell it from anything injected."""

from __future__ import annotations

from typing import Any

from npsdiag.report.html import page_script

#: The exact text of the report's own script (``templates/report.js``).
OUR_SCRIPT = page_script()[0]


def foreign_scripts(document: Any) -> list[Any]:
    """``<script>`` elements of an lxml document that are not the report's own script."""
    return [
        script
        for script in document.xpath("//script")
        if script.get("src") is not None or (script.text or "") != OUR_SCRIPT
    ]


def without_our_script(page: str) -> str:
    """``page`` with the report's own script element taken out (once)."""
    return page.replace(f"<script>{OUR_SCRIPT}</script>", "", 1)
