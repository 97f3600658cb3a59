"""Text files read line by line in bounded memory, decoded with a named encoding.

A line longer than :data:`MAX_LINE_BYTES` is skipped in chunks, a line that does not decode is
kept (with U+FFFD for the bad bytes) and marked; :func:`csv_rows` turns both, and CSV fields over
:data:`FIELD_LIMIT`, into rejected records naming the line, the column and the value, so no line
of a file can stop the rest of it from being read.
"""

from __future__ import annotations

import codecs
import csv
from dataclasses import dataclass
from typing import BinaryIO, Iterator

from .places import ImportFailed
from .report import Problem

MAX_LINE_BYTES = 1 << 20        # 1 MiB: far beyond any real row, small enough to hold
FIELD_LIMIT = 128 * 1024        # the csv module's default field limit, made explicit
_BOM = codecs.BOM_UTF8


@dataclass(frozen=True)
class LineFault:
    """Why a line cannot be used as read: ``value`` shows it, ``shown`` is its text with the
    undecodable bytes as ``\\xNN`` (None for an over-long line)."""

    reason: str
    value: str
    shown: str | None = None


def check_encoding(encoding: str) -> str:
    """The codec's canonical name; refuses unknown codecs and ones that do not keep ASCII newlines."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise ImportFailed(f"--encoding {encoding!r} is not a known encoding: use e.g. utf-8, latin-1 or cp1252") from None
    if "a\n".encode(name)[-2:] != b"a\n" or name.startswith(("utf-16", "utf-32")):
        raise ImportFailed(f"--encoding {encoding!r}: only encodings that write a newline as one byte are read "
                           "(utf-8, latin-1, cp1252, …): convert the file to UTF-8 first")
    return name


class Lines:
    """Decoded lines of a binary file (newline kept), counting lines and bytes; ``faults`` holds
    lines that are too long or do not decode, by line number. A UTF-8 BOM is dropped."""

    def __init__(self, f: BinaryIO, path: str, encoding: str = "utf-8") -> None:
        self.f, self.path = f, path
        self.encoding = check_encoding(encoding)
        self.line = 0
        self.offset = 0
        self.faults: dict[int, LineFault] = {}

    def __iter__(self) -> "Lines":
        return self

    def __next__(self) -> str:
        raw = self.f.readline(MAX_LINE_BYTES + 1)
        if not raw:
            raise StopIteration
        self.line += 1
        start = self.offset
        self.offset += len(raw)
        if len(raw) > MAX_LINE_BYTES:
            while raw and not raw.endswith(b"\n"):       # skip the rest, a chunk at a time
                raw = self.f.readline(MAX_LINE_BYTES)
                self.offset += len(raw)
            self.faults[self.line] = LineFault(
                f"the line is {self.offset - start:,} bytes long, more than {MAX_LINE_BYTES:,}: not a row of this file",
                "(line not shown)")
            return "\n"
        if self.line == 1 and raw.startswith(_BOM) and self.encoding.startswith("utf-8"):
            raw = raw[len(_BOM):]
            start += len(_BOM)
        try:
            text = raw.decode(self.encoding)
        except UnicodeDecodeError as e:
            column = len(raw[:e.start].decode(self.encoding, errors="replace")) + 1
            self.faults[self.line] = LineFault(
                f"byte {raw[e.start:e.start + 1]!r} at line {self.line}, column {column} (byte offset "
                f"{start + e.start}) is not {self.encoding}: if the file is in another encoding, give "
                "--encoding (e.g. --encoding latin-1 or cp1252)",
                raw[e.start:e.end].hex(" "), raw.decode(self.encoding, errors="backslashreplace"))
            return raw.decode(self.encoding, errors="replace")
        if "\x00" in text:
            self.faults[self.line] = LineFault("NUL byte: binary data, not text", "\\x00")
            return text.replace("\x00", "\ufffd")
        return text


def header(lines: Lines, delimiter: str) -> list[str]:
    """The first row of a CSV file; refuses empty files, binary files and undecodable headers."""
    try:
        first = next(lines)
    except StopIteration:
        raise ImportFailed(f"{lines.path}: the file is empty (expected a header row)") from None
    fault = lines.faults.pop(1, None)
    if fault is not None:
        raise ImportFailed(f"{lines.path}: header (line 1): {fault.reason}")
    try:
        row = next(csv.reader([first], delimiter=delimiter))
    except (csv.Error, StopIteration) as e:
        raise ImportFailed(f"{lines.path}: header (line 1) is not CSV ({e})") from None
    return [c.strip() for c in row]


def csv_rows(lines: Lines, names: list[str], delimiter: str) -> Iterator[tuple[int, dict[str, str]] | Problem]:
    """The data rows after the header as (first line number, {column: value}), or a
    :class:`Problem` for a row that cannot be read (naming its line, column and value)."""
    csv.field_size_limit(FIELD_LIMIT)
    reader = csv.reader(lines, delimiter=delimiter)
    while True:
        first = lines.line + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            where = f"line {first}" if lines.line <= first else f"lines {first}-{lines.line}"
            yield Problem(where, "(row)", "(not shown)", f"not a CSV row: {e} (a field may hold at most {FIELD_LIMIT:,} characters)")
            continue
        faults = [(n, lines.faults.pop(n)) for n in range(first, lines.line + 1) if n in lines.faults]
        if faults:
            n, fault = faults[0]
            column, value = _column_of(fault, names, delimiter)
            yield Problem(f"line {n}", column, value or fault.value, fault.reason)
            continue
        if not row:
            continue
        yield first, {name: (row[i] if i < len(row) else "") for i, name in enumerate(names)}


def _column_of(fault: LineFault, names: list[str], delimiter: str) -> tuple[str, str | None]:
    """The column holding the first undecodable byte of a line and its value with the bad bytes
    as ``\\xNN``, or ('(line)', None)."""
    if fault.shown is None:
        return "(line)", None
    try:
        fields = next(csv.reader([fault.shown], delimiter=delimiter))
    except (csv.Error, StopIteration):
        return "(line)", None
    for i, f in enumerate(fields):
        if "\\x" in f:
            return (names[i] if i < len(names) else f"column {i + 1}"), f
    return "(line)", None
