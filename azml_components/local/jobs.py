"""Batch jobs: placeholder."""

from __future__ import annotations

from .context import Context
from .web import Router


def add_routes(router: Router, ctx: Context) -> None:
    pass


def recover(ctx: Context) -> None:
    pass


def shutdown(ctx: Context) -> None:
    pass
