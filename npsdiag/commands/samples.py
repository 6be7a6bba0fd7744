"""``npsdiag samples``: write a synthetic scenario (placeholder until the synth layer lands)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Register the ``samples`` command (replaced by the scenario work)."""
    _ = app
