"""What every command module shares: the usage line's form and a number check."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer
from typer.core import TyperCommand


class Command(TyperCommand):
    """A command whose usage line reads as typed: ``npsdiag analyze [OPTIONS] INPUT...``.

    typer writes a required argument as ``{INPUT...}``; every command is registered with this
    class instead (``app.command(cls=Command)``).
    """

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                metavar = param.make_metavar(ctx)
                optional = not param.required and not metavar.startswith("[")
                pieces.append(f"[{metavar}]" if optional else metavar)
        return pieces


def at_least(minimum: int) -> Callable[[float | None], float | None]:
    """A typer callback that refuses a number (int or float) below ``minimum`` in plain words.

    Used instead of typer's ``min=``, which writes ``[x>=0]`` into the help.
    """

    def check(value: float | None) -> float | None:
        if value is not None and value < minimum:
            raise typer.BadParameter(f"must be {minimum} or more (got {value:g})")
        return value

    return check
