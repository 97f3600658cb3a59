"""`fartkoll serve` as a subprocess on a free port, for tests that kill or restart the server
(one server process unless the test asks for more: the tests share two cores)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from servers import free_port


class ServeProcess:
    def __init__(self, database_url: str, log: Path, port: int | None = None, workers: int = 1) -> None:
        self.database_url = database_url
        self.workers = workers
        self.log = log
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> ServeProcess:
        env = {k: v for k, v in os.environ.items() if k not in ("FARTKOLL_CONFIG", "FARTKOLL_DATABASE_URL")}
        env["DATABASE_URL"] = self.database_url
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "fartkoll.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                 "--workers", str(self.workers)],
                env=env, stdout=out, stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[1])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"fartkoll serve exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"fartkoll serve did not answer /healthz within {timeout:g} s:\n{self.tail()}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()  # SIGKILL
        self.proc.wait(10)

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def tail(self, n: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-n:] if self.log.exists() else ""
