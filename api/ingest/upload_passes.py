"""An upload's passes as one job for the group commit, built as columns (no object per pass).

Times outside the plausible window are refused here, before the write path, naming the record,
the field and the value; the write path checks the rest of each pass in the group's batch.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

import numpy as np

from collector.columns import PassColumns, epoch_us
from collector.plausible import TimeRule

from .group_commit import Job
from .models import DIRECTION


class _Pass(Protocol):
    speed_kmh: float
    direction: str
    length_m: float | None
    key: uuid.UUID


def passes_job(sign_id: int, batch_id: uuid.UUID, times: Sequence[datetime], passes: Sequence[_Pass],
               rule: TimeRule, received: datetime, token_hash: bytes | None) -> Job:
    """The job of one sign's upload of ``passes`` (``times`` their times, aware) received at ``received``."""
    cols = PassColumns.build(times, [p.speed_kmh for p in passes], [DIRECTION[p.direction] for p in passes],
                             [p.key for p in passes], sign_id=sign_id, length_m=[p.length_m for p in passes])
    implausible = (cols.time_us < epoch_us(rule.earliest)) | (cols.time_us > epoch_us(received + rule.future_margin))
    rejected: list[dict[str, Any]] = []
    indices: Sequence[int] = range(len(cols))
    if implausible.any():
        for i in np.flatnonzero(implausible).tolist():
            t = times[i]
            rejected.append({"record": i, "field": "time", "value": t.isoformat(), "reason": rule.problem(t, received)})
        kept = np.flatnonzero(~implausible)
        cols, indices = cols.take(kept), kept.tolist()
    return Job(sign_id, batch_id, "passes", len(passes), cols, indices, rejected, token_hash=token_hash)
