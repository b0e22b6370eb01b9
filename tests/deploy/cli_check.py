"""Check command lines against the real CLIs, in one process: `python -m tests.deploy.cli_check < argvs.json`.

Input: a JSON list of `[program, argv]` with program `airflow` or `emulator`. Output: one JSON list of
`{"program", "argv", "command", "ok", "error"}`.

For `airflow`, each argv goes through the parser `airflow` itself builds (`get_parser()`, Airflow core
plus the installed providers' commands, e.g. `celery`): first `<command> --help` must print its usage
and exit 0, exactly as `airflow <command> --help` does, then the whole argv must parse. That is one
interpreter start instead of one `airflow` process (5-8 s here) per command.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from typing import Any


def _leaf(parser: argparse.ArgumentParser, argv: list[str]) -> tuple[list[str], argparse.ArgumentParser]:
    path: list[str] = []
    for token in argv:
        subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subparsers or token not in subparsers[0].choices:
            break
        path.append(token)
        parser = subparsers[0].choices[token]
    return path, parser


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


def check_airflow(argv: list[str]) -> dict[str, Any]:
    from airflow.cli.cli_parser import get_parser

    parser = get_parser()
    path, leaf = _leaf(parser, argv)
    if not path:
        return {"command": "", "ok": False, "error": f"`{argv[0] if argv else ''}` is not an airflow command"}
    if any(isinstance(a, argparse._SubParsersAction) for a in leaf._actions):
        return {"command": " ".join(path), "ok": False, "error": f"`airflow {' '.join(path)}` needs a subcommand"}
    code, text = _parse(parser, [*path, "--help"])
    if code != 0 or f"airflow {' '.join(path)}" not in text:
        return {"command": " ".join(path), "ok": False, "error": f"--help exited {code}: {text[-500:]}"}
    code, text = _parse(parser, argv)
    return {"command": " ".join(path), "ok": code == 0, "error": text[-500:] if code else ""}


def check_emulator(argv: list[str]) -> dict[str, Any]:
    from analytics_provider.testing.emulator.__main__ import parse_args

    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            parse_args(argv)
    except SystemExit as exc:
        return {"command": "emulator", "ok": False, "error": f"exit {exc.code}: {out.getvalue()[-500:]}"}
    return {"command": "emulator", "ok": True, "error": ""}


def main() -> int:
    checks = {"airflow": check_airflow, "emulator": check_emulator}
    results = []
    for program, argv in json.load(sys.stdin):
        result = checks[program](argv)
        results.append({"program": program, "argv": argv, **result})
    sys.stdout.write(json.dumps(results) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
