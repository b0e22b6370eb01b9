"""Run the emulator in a child process (benchmarks: the server does not share the client's GIL)."""

from __future__ import annotations

import json
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Mapping
from typing import IO, Any
from urllib.parse import urlencode

from .config import EmulatorConfig

_URL = re.compile(r"https?://\S+")


class EmulatorProcess:
    """A running ``python -m analytics_provider.testing.emulator`` child.

    Its control API is wrapped by the same methods as :class:`~.server.Emulator`'s.
    """

    def __init__(self, proc: subprocess.Popen[str], base_url: str, pump: threading.Thread) -> None:
        self.proc = proc
        self.base_url = base_url
        self._pump = pump

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self._pump.join(timeout)  # ends at EOF of the child's stdout
        if self.proc.stdout is not None and not self._pump.is_alive():
            self.proc.stdout.close()
        return int(self.proc.returncode)

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- control API ----------------------------------------------------------------------
    def control(
        self, method: str, name: str, body: Mapping[str, Any] | None = None, query: Mapping[str, str] | None = None
    ) -> Any:
        url = f"{self.base_url}/_emulator/{name}"
        if query:
            url += "?" + urlencode(query)
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())

    def stats(self) -> dict[str, Any]:
        return self.control("GET", "stats")

    def reset_stats(self) -> None:
        self.control("POST", "stats/reset", {})

    def truth(self, resource: str, since: str | None = None, until: str | None = None) -> list[dict[str, Any]]:
        query = {k: v for k, v in (("since", since), ("until", until)) if v}
        return self.control("GET", f"truth/{resource}", query=query)["rows"]

    def set_faults(self, spec: str | dict[str, Any] | None) -> dict[str, Any]:
        if spec is None or isinstance(spec, str):
            spec = {} if spec in (None, "", "none") else {"profile": spec}
        return self.control("POST", "faults", spec)

    def mutate(self, resource: str, count: int = 1) -> dict[str, Any]:
        return self.control("POST", "mutate", {"resource": resource, "count": count})

    def advance(self, minutes: float) -> dict[str, Any]:
        return self.control("POST", "advance", {"minutes": minutes})

    def finish(self) -> dict[str, Any]:
        return self.control("POST", "finish", {})


def spawn_emulator(
    config: EmulatorConfig | None = None,
    *,
    timeout: float = 30.0,
    python: str | None = None,
    env: Mapping[str, str] | None = None,
) -> EmulatorProcess:
    """Start the emulator as a subprocess and wait until it answers.

    :param config: knobs (``port=0`` picks a free port); ``now=None`` is resolved here, so the
        child's data is fixed at spawn time.
    :param timeout: seconds to wait for the child to answer ``/_emulator/health``.
    :param python: interpreter to run; defaults to this one.
    :param env: environment of the child; defaults to this process's.
    """
    config = config or EmulatorConfig()
    cmd = [python or sys.executable, "-m", "analytics_provider.testing.emulator", *config.cli_args()]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=None if env is None else dict(env))
    assert proc.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    pump = threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True)
    pump.start()
    deadline = time.monotonic() + timeout
    try:
        base_url = _wait_for_url(proc, lines, deadline)
        handle = EmulatorProcess(proc, base_url, pump)
        while True:
            try:
                if handle.control("GET", "health").get("status") == "ok":
                    return handle
            except OSError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)
    except BaseException:
        proc.kill()
        proc.wait()
        raise


def _pump(stream: IO[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


def _wait_for_url(proc: subprocess.Popen[str], lines: queue.Queue[str], deadline: float) -> str:
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the emulator exited with code {proc.returncode} before it was ready")
        try:
            line = lines.get(timeout=0.1)
        except queue.Empty:
            if time.monotonic() > deadline:
                raise TimeoutError("the emulator did not report its URL in time") from None
            continue
        found = _URL.search(line)
        if found:
            return found.group(0)
