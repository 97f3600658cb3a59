"""What an import did: counts and the records it skipped or rejected, each naming the field and value."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Problem:
    """A source record not stored: which record, which field, the value found and why."""

    record: str
    field: str
    value: object
    reason: str

    def __str__(self) -> str:
        return f"{self.record}: {self.field}={self.value!r}: {self.reason}"


@dataclass
class ImportSummary:
    """Counts of one import. ``read`` counts source records (vehicles, bins or rows as named by
    ``unit``); ``stored`` and ``duplicates`` count what reached the database; ``skipped`` are
    records that are not data (sentinels, empty rows), ``rejected`` records with bad values."""

    source: str
    target: str
    unit: str = "records"
    stored_unit: str = ""          # what stored/duplicates count, when not ``unit`` (e.g. bins)
    read: int = 0
    stored: int = 0
    duplicates: int = 0
    vehicles_stored: int = 0
    skipped: list[Problem] = field(default_factory=list)
    rejected: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    created: dict[str, int] = field(default_factory=dict)
    # progress through the source, in ``unit``: records handled so far and in all (None: unknown)
    done: int = 0
    total: int | None = None

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def made(self, what: str, n: int = 1) -> None:
        """Count places created on the way (sites, signs, deployments, speed limits)."""
        if n:
            self.created[what] = self.created.get(what, 0) + n

    def render(self, first: int = 10) -> str:
        """The summary for people: counts, created places, notes and the first problems."""
        lines = [
            f"{self.source} import of {self.target}",
            f"  read:       {self.read:,} {self.unit}",
            f"  stored:     {self.stored:,} {self.stored_unit or self.unit}"
            + (f" ({self.vehicles_stored:,} vehicles)" if self.vehicles_stored else ""),
            f"  duplicates: {self.duplicates:,} {self.stored_unit or self.unit} (already stored)",
            f"  skipped:    {len(self.skipped):,}",
            f"  rejected:   {len(self.rejected):,}",
        ]
        if self.created:
            lines.append("  created:    " + ", ".join(f"{n} {what}" for what, n in sorted(self.created.items())))
        for title, problems in (("skipped", self.skipped), ("rejected", self.rejected)):
            if problems:
                lines.append(f"  first {min(first, len(problems))} {title}:")
                lines.extend(f"    {p}" for p in problems[:first])
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)

    def detail(self, first: int = 50) -> dict[str, Any]:
        """The summary as JSON-able data for the audit log (the first problems only)."""
        return {
            "source": self.source, "target": self.target, "unit": self.unit,
            "stored_unit": self.stored_unit or self.unit, "read": self.read,
            "stored": self.stored, "duplicates": self.duplicates, "vehicles_stored": self.vehicles_stored,
            "skipped": len(self.skipped), "rejected": len(self.rejected), "created": self.created,
            "notes": self.notes,
            "first_skipped": [str(p) for p in self.skipped[:first]],
            "first_rejected": [str(p) for p in self.rejected[:first]],
        }
