"""Live readings: stored passes announced after their commit (PostgreSQL NOTIFY), and the one
listener per server process that hands them to the event streams of the signs' live pages.

:func:`announce` runs inside the ingest transaction (NOTIFY is delivered only once it commits, and
to every ``fartkoll serve`` process on the database); :class:`hub.Hub` listens and fans out.
"""

from __future__ import annotations

from .announce import CHANNEL, announce, payloads

__all__ = ["CHANNEL", "announce", "payloads"]
