"""A realistic, deterministic demo data set: ``seed(conn)`` writes it, ``is_empty(conn)`` tells
whether a database has any data yet.

``world`` (places, signs, deployments, limits, controls, tips) and ``traffic`` (vehicle passes
from a seeded numpy generator) are pure; ``seed`` does the I/O.
"""

from .seed import DemoError, SeedSummary, is_empty, seed
from .world import World, build_world

__all__ = ["DemoError", "SeedSummary", "World", "build_world", "is_empty", "seed"]
