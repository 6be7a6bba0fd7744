"""Command modules. Each exposes ``register(app)``; keep their top-level imports light."""

from __future__ import annotations

import typer


def register_all(app: typer.Typer) -> None:
    """Register every command on the typer app, in the order shown by ``--help``."""
    from npsdiag.commands import analyze, batch, catalog, collect, explain, samples

    for module in (analyze, collect, batch, explain, catalog, samples):
        module.register(app)
