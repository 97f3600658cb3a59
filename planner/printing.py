"""Where the planner's printable documents (the situation picture, the control plan) find their
templates, and the one environment they are rendered with (core.templating)."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment

from core import templating

TEMPLATES = Path(__file__).resolve().parent / "templates"


def environment() -> Environment:
    """The planner's templates, autoescaped and strict."""
    return templating.environment(TEMPLATES)
