"""The ``fartkoll`` command run inside the test process: the same ``fartkoll.cli.main`` the console
script calls (argument parsing, settings from the environment, the handler, errors mapped to their
message on stderr and their exit code), without starting a new Python that imports FastAPI, numpy
and the rest for every call (about a second each).

What a subprocess would add is the entry point itself (``python -m fartkoll.cli``), the process's
exit status and a real standard input; every test file that uses this keeps at least one real
subprocess run for those.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from contextlib import contextmanager

from fartkoll.cli import main


@contextmanager
def _environment(env: Mapping[str, str]):
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _text_stream(data: bytes = b"") -> io.TextIOWrapper:
    """A text stream with a ``.buffer`` as the real standard streams have (never a terminal)."""
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline=None, write_through=True)


def run(argv: Sequence[str], *, env: Mapping[str, str] | None = None, stdin: str | bytes | None = None,
        text: bool = True) -> subprocess.CompletedProcess:
    """``fartkoll *argv`` with ``env`` as the whole environment (default: this process's) and
    ``stdin`` as standard input (default: empty, not a terminal); its exit code, stdout and stderr
    in the shape ``subprocess.run(..., capture_output=True, text=text)`` gives."""
    streams = (sys.stdin, sys.stdout, sys.stderr)
    data = stdin.encode() if isinstance(stdin, str) else (stdin or b"")
    sys.stdin = _text_stream(data)
    out, err = _text_stream(), _text_stream()
    sys.stdout, sys.stderr = out, err
    try:
        with _environment(os.environ if env is None else env):
            try:
                code = main(list(argv))
            except SystemExit as e:  # argparse refusing the arguments, or a handler's sys.exit
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
                if isinstance(e.code, str):
                    print(e.code, file=sys.stderr)
    finally:
        sys.stdin, sys.stdout, sys.stderr = streams
    raw = [s.buffer.getvalue() for s in (out, err)]
    if text:
        raw = [b.decode("utf-8", errors="replace") for b in raw]
    return subprocess.CompletedProcess(["fartkoll", *argv], code, raw[0], raw[1])
