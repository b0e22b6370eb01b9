"""Shared helpers of the benchmarks: environment, emulator, child processes, statistics, tables.

Import this module first in every benchmark script: it fixes `sys.path` (this folder holds
`requests.py`, which would otherwise shadow the `requests` library for every script run from
here) and sets the environment Airflow and dlt read at import time.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path[:] = [p for p in sys.path if Path(p or os.getcwd()).resolve() != BENCH_DIR] + [str(BENCH_DIR)]

API_KEY = "bench-key"
EMULATOR_NOW = "2026-11-20T12:00:00Z"
"""Fixed: the same data on every run."""

_HOME = Path(os.environ.get("BENCH_AIRFLOW_HOME") or tempfile.mkdtemp(prefix="analytics_bench_airflow_"))
_DEFAULT_ENV = {
    "AIRFLOW_HOME": str(_HOME),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
    "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    "PROVIDERS__ENABLE_AIRFLOW_SECRETS": "false",
    "RUNTIME__DLTHUB_TELEMETRY": "false",
    "RUNTIME__LOG_LEVEL": "WARNING",
}
for _key, _value in _DEFAULT_ENV.items():
    os.environ.setdefault(_key, _value)
os.environ["BENCH_AIRFLOW_HOME"] = os.environ["AIRFLOW_HOME"]  # children share one throw-away home


def log(message: str) -> None:
    """Progress on stderr (stdout carries the results)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)  # noqa: T201


def out(text: str = "") -> None:
    print(text, flush=True)  # noqa: T201


# -- the emulator ---------------------------------------------------------------------------------
def api_connection_env(base_url: str, conn_id: str = "analytics_api_default") -> dict[str, str]:
    conn = {"conn_type": "analytics_api", "host": base_url, "password": API_KEY, "extra": {"key_name": "api_key"}}
    return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(conn)}


def spawn(scale: float, days: int, latency_ms: float = 0.0, rate_limit: float = 0.0, seed: int = 42) -> Any:
    """The emulator in a child process (it does not share the client's GIL), with fixed data."""
    from analytics_provider.testing.emulator import EmulatorConfig, spawn_emulator

    config = EmulatorConfig(
        port=0,
        seed=seed,
        days=days,
        now=EMULATOR_NOW,
        scale=scale,
        api_key=API_KEY,
        latency_ms=latency_ms,
        rate_limit=rate_limit,
    )
    return spawn_emulator(config, timeout=60)


def day_bounds(days: int) -> list[tuple[str, str]]:
    """ISO [since, until) of each 24-hour segment of the emulator's history, oldest first."""
    from datetime import datetime, timedelta

    now = datetime.fromisoformat(EMULATOR_NOW.replace("Z", "+00:00"))
    start = now - timedelta(days=days)
    return [
        (
            (start + timedelta(days=k)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            (start + timedelta(days=k + 1)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        )
        for k in range(days)
    ]


def warm_segments(emulator: Any, days: int) -> float:
    """Make the emulator build every day of its history now (it builds lazily on first use), so that
    no timed run pays for data generation. One tiny truth query per day. Returns seconds taken."""
    started = time.monotonic()
    for since, _until in day_bounds(days):
        emulator.truth("pipelines", since=since, until=since.replace(".000Z", ".001Z"))
    return time.monotonic() - started


def window_iso(days: int) -> tuple[str, str]:
    """[now - days, now) of the emulator, ISO 8601."""
    return day_bounds(days)[0][0], EMULATOR_NOW


# -- child processes --------------------------------------------------------------------------------
def run_child(
    argv: Sequence[str],
    env: dict[str, str] | None = None,
    timeout: float = 1800.0,
    sample_s: float = 0.05,
    series: bool = False,
) -> dict[str, Any]:
    """Run `python <argv>` in a fresh process and return the JSON object it prints on its last
    stdout line, plus `peak_rss_mb` (largest sum of RSS over the child and its descendants,
    sampled every `sample_s`), `ru_maxrss_mb` (the kernel's high-water mark of the child itself)
    and `wall_s` (process start to exit, interpreter start-up included). With `series`, also
    `rss_series`: [(unix time, MB)] of every sample."""
    import psutil

    child_env = dict(os.environ)
    child_env.update(env or {})
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, *argv], stdout=stdout, stderr=stderr, env=child_env, cwd=ROOT)
        peak = [0]
        samples: list[tuple[float, float]] = []
        done = threading.Event()

        def sample() -> None:
            try:
                root = psutil.Process(proc.pid)
            except psutil.Error:
                return
            while not done.is_set():
                total = 0
                try:
                    procs = [root, *root.children(recursive=True)]
                except psutil.Error:
                    break
                for p in procs:
                    with contextlib.suppress(psutil.Error):
                        total += p.memory_info().rss
                peak[0] = max(peak[0], total)
                if series:
                    samples.append((time.time(), total / 1e6))
                done.wait(sample_s)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                proc.returncode = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() > deadline:
                proc.kill()
                _, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = -9
                break
            time.sleep(0.02)
        wall = time.monotonic() - started
        done.set()
        sampler.join()
        stdout.seek(0)
        stderr.seek(0)
        text, err = stdout.read(), stderr.read()
    if proc.returncode != 0:
        raise RuntimeError(f"child {' '.join(argv)} exited with {proc.returncode}:\n{err[-3000:]}\n{text[-1000:]}")
    lines = [line for line in text.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"child {' '.join(argv)} printed no result:\n{err[-3000:]}")
    result = json.loads(lines[-1])
    result["peak_rss_mb"] = peak[0] / 1e6
    result["ru_maxrss_mb"] = usage.ru_maxrss / 1e3  # KiB on Linux
    result["wall_s"] = wall
    if series:
        result["rss_series"] = samples
    return result


@contextlib.contextmanager
def worktree(ref: str | None) -> Any:
    """A git worktree of `ref` (another commit of this repository), removed afterwards; None: none."""
    if ref is None:
        yield None
        return
    path = Path(tempfile.mkdtemp(prefix="bench_ref_")) / "tree"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), ref], check=True, stdout=sys.stderr
    )
    try:
        yield path
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)], check=False)


def allow_direct_execute() -> None:
    """Benchmarks call `operator.execute()` directly, as the tests do: skip the Task SDK's warning
    that it runs outside the task runner (it only logs, one line per task, on stdout)."""
    from airflow.sdk.bases.operator import ExecutorSafeguard

    ExecutorSafeguard.test_mode = True


def emit(result: dict[str, Any]) -> None:
    """A child's result: one JSON line on stdout."""
    out(json.dumps(result, default=str))


# -- statistics and tables -----------------------------------------------------------------------
def median(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


def spread(values: Iterable[float]) -> str:
    values = sorted(values)
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.3g}"
    return f"{values[0]:.3g}..{values[-1]:.3g}"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A Markdown table (what BENCHMARKS.md holds)."""
    body = [[_cell(v) for v in row] for row in rows]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if value != value:  # nan
            return "-"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.2f}" if abs(value) >= 1 else f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def verdict(value: float, target: float, higher_is_better: bool) -> str:
    met = value >= target if higher_is_better else value <= target
    sign = ">=" if higher_is_better else "<="
    if met:
        return f"MET ({value:.2f} {sign} {target:g})"
    gap = (target - value) / target if higher_is_better else (value - target) / target
    return f"MISSED ({value:.2f}, target {sign} {target:g}, off by {gap:.0%})"


def machine() -> dict[str, Any]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import psutil

    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
    }


def versions() -> dict[str, str]:
    from importlib.metadata import version

    found = {}
    for name in ("apache-airflow", "dlt", "duckdb", "requests", "pyarrow"):
        try:
            found[name] = version(name)
        except Exception:
            found[name] = "-"
    return found


def header(title: str, quick: bool) -> None:
    m = machine()
    out(f"## {title}{' (quick)' if quick else ''}")
    out(
        f"machine: {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB, load average {m['loadavg']} "
        f"at start; Python {m['python']}; " + ", ".join(f"{k} {v}" for k, v in versions().items())
    )
    out()


def write_json(path: str | None, payload: dict[str, Any]) -> None:
    if not path:
        return
    payload = {**payload, "machine_at_end": machine(), "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(payload, indent=2, default=str))


def interleave(variants: Sequence[str], rounds: int, run: Callable[[str, int], dict[str, Any]]) -> dict[str, list]:
    """Run every variant once per round, in a rotating order (noise and drift hit all alike)."""
    results: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    for r in range(rounds):
        order = list(variants[r % len(variants) :]) + list(variants[: r % len(variants)])
        for v in order:
            results[v].append(run(v, r))
    return results
