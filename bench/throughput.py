"""Throughput: one large resource (`pipelines`: nested objects and a nested `errors` list) from the
emulator (no latency) into DuckDB, through the operator and through plain dlt, same data.

Variants (each load in a fresh process, like an Airflow task; timed from the call to the end of
the load, imports excluded; rows counted in the DuckDB file afterwards):

- `operator`: `AnalyticsLoadOperator.execute` with an explicit window over the whole history,
  its defaults (DuckDB: `jsonl`).
- `plain jsonl`: dlt `rest_api_source` with the same endpoint, cursor paginator, data selector,
  primary key and merge, one resource per org (the operator's shape), `loader_file_format="jsonl"`.
- `operator best`: the operator plus the dlt settings it can choose without code changes (see
  BEST_ENV: 2 normalize worker processes; the provider's defaults already cut the extract's files
  at 50k rows so that they share a table, and turn off dlt's gzip of intermediate files). Parquet and
  arrow need `pyarrow`, which the provider does not install (measured only when importable).
- `plain default`: plain dlt with no file format: dlt's DuckDB default, `insert_values`. dlt runs
  its file as 16 MB INSERT statements (`max_query_length / 2`); DuckDB takes ~1.2 GB of RSS to
  parse one, so the peak is high but does not grow with the rows.
- `operator + patches` (`--all-variants`): the operator with candidate product changes applied
  in the child (`_loads.apply_patches`), to measure them without editing the product. Changes A
  and B (`compiled-selector`, `fast-cursor`) have been applied to the product since.

Large tier: >= 200,000 rows, `operator`, `plain jsonl`, `operator best` and `plain default` (one
round by default: a 200k-row load takes 2-6 minutes on this machine). Small tier: `--small-rows`
rows from a second emulator, every variant, `--small-rounds` rounds. Rounds rotate the order of variants.

Run: `.venv/bin/python bench/throughput.py [--quick] [--rows 200000] [--rounds 1]`
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import _common
import _loads

DAYS = 30
PIPELINES_PER_SCALE_DAY = 33.0
BEST_ENV = {
    # 2 normalize processes over the extract's files of 50k rows (the provider's default since
    # session 3; before it, runs set `EXTRACT__DATA_WRITER__FILE_MAX_ITEMS`, which is no section dlt
    # reads: one file a table, so one worker had the whole table and 2 workers did not help)
    "NORMALIZE__WORKERS": "2",
}
PATCHES = "compiled-selector,fast-cursor"
VARIANTS: dict[str, dict[str, Any]] = {
    "operator": {"child": "operator", "format": "", "env": {}, "patch": ""},
    "plain jsonl": {"child": "plain", "format": "jsonl", "env": {}, "patch": ""},
    "operator best": {"child": "operator", "format": "", "env": BEST_ENV, "patch": ""},
    "plain default": {"child": "plain", "format": "default", "env": {}, "patch": ""},
    "operator + patches": {"child": "operator", "format": "", "env": {}, "patch": PATCHES},
    "operator best + patches": {"child": "operator", "format": "", "env": BEST_ENV, "patch": PATCHES},
    "operator + compiled-selector": {"child": "operator", "format": "", "env": {}, "patch": "compiled-selector"},
    "operator + fast-cursor": {"child": "operator", "format": "", "env": {}, "patch": "fast-cursor"},
}


def run_tier(rows: int, variants: list[str], rounds: int, tmp: Path, label: str) -> dict[str, list[dict[str, Any]]]:
    scale = max(0.5, round(rows / (PIPELINES_PER_SCALE_DAY * DAYS) * 1.05, 1))
    emu = _common.spawn(scale=scale, days=DAYS)
    try:
        _common.log(f"throughput {label}: emulator scale {scale}, {DAYS} days; building its data")
        _common.warm_segments(emu, DAYS)
        orgs = [r["slug"] for r in emu.truth("self_collaborations")]
        start, end = _common.window_iso(DAYS)

        def run(variant: str, r: int) -> dict[str, Any]:
            v = VARIANTS[variant]
            db = tmp / f"{label}_{variant.replace(' ', '_').replace('+', 'p')}_{r}.duckdb"
            emu.reset_stats()
            argv = _loads.child_argv(
                "throughput.py", v["child"], emu.base_url, orgs, start, end, str(db), v["format"], v["env"], v["patch"]
            )
            res = _common.run_child(argv)
            res["server_requests"] = emu.stats()["total"]
            res["main_rows"] = res["rows"].get("pipelines", 0)
            res["all_rows"] = sum(res["rows"].values())
            res["rows_per_s"] = res["main_rows"] / res["seconds"]
            db.unlink(missing_ok=True)
            _common.log(
                f"  {label} round {r + 1}: {variant}: {res['main_rows']:,} rows in {res['seconds']:.1f}s "
                f"({res['rows_per_s']:,.0f} rows/s; extract {res['phases']['extract']:.0f}s, normalize "
                f"{res['phases']['normalize']:.0f}s, load {res['phases']['load']:.0f}s), "
                f"peak RSS {res['peak_rss_mb']:.0f} MB"
            )
            return res

        results = _common.interleave(variants, rounds, run)
        for runs in results.values():
            for res in runs:
                res["scale"] = scale
        return results
    finally:
        emu.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small tier only, 3,000 rows, one round")
    ap.add_argument("--rows", type=int, default=200_000, help="rows of the large tier (default 200,000)")
    ap.add_argument("--rounds", type=int, default=1, help="rounds of the large tier (default 1)")
    ap.add_argument("--small-rows", type=int, default=None, help="rows of the small tier (default 10,000)")
    ap.add_argument("--small-rounds", type=int, default=None, help="rounds of the small tier (default 2)")
    ap.add_argument("--no-large", action="store_true", help="skip the large tier")
    ap.add_argument("--no-small", action="store_true", help="skip the small tier")
    ap.add_argument("--all-variants", action="store_true", help="also the candidate patches (small tier)")
    ap.add_argument(
        "--large-variants",
        default="operator,plain jsonl,operator best,plain default",
        help="comma-separated variants of the large tier",
    )
    ap.add_argument("--patch", default="", help=argparse.SUPPRESS)
    ap.add_argument("--env", action="append", default=[], help=argparse.SUPPRESS)
    ap.add_argument("--json", default=None, help="write the figures here")
    _loads.add_child_args(ap)
    args = ap.parse_args()
    if args.child:
        _common.emit(_loads.child_main(args))
        return 0

    _common.header("Throughput: `pipelines` into DuckDB, operator vs plain dlt", args.quick)
    try:
        import pyarrow  # noqa: F401

        VARIANTS["operator parquet"] = {"child": "operator", "format": "parquet", "env": BEST_ENV, "patch": ""}
        parquet = ["operator parquet"]
    except ImportError:
        parquet = []
    tmp = Path(tempfile.mkdtemp(prefix="bench_throughput_"))
    small_rows = args.small_rows or (3_000 if args.quick else 10_000)
    small_rounds = args.small_rounds or (1 if args.quick else 2)
    large: dict[str, list[dict[str, Any]]] = {}
    if not (args.quick or args.no_large):
        large = run_tier(args.rows, args.large_variants.split(","), args.rounds, tmp, "large")
    small_variants = ["operator", "plain jsonl", "operator best", "plain default", *parquet]
    if args.all_variants:
        # the candidate changes A and B (bench/_loads.py); the product has applied both since
        # (89ea76f), so on the current code these repeat `operator`
        small_variants += [
            "operator + patches",
            "operator best + patches",
            "operator + compiled-selector",
            "operator + fast-cursor",
        ]
    small = {} if args.no_small else run_tier(small_rows, small_variants, small_rounds, tmp, "small")
    report(large, small, args)
    return 0


def _summary_rows(results: dict[str, list[dict[str, Any]]]) -> list[list[Any]]:
    rows = []
    for variant, runs in results.items():
        ph = {p: _common.median(r["phases"][p] for r in runs) for p in ("extract", "normalize", "load")}
        rows.append(
            [
                variant,
                len(runs),
                int(_common.median(r["main_rows"] for r in runs)),
                int(_common.median(r["server_requests"] for r in runs)),
                _common.median(r["seconds"] for r in runs),
                _common.spread(r["seconds"] for r in runs),
                _common.median(r["rows_per_s"] for r in runs),
                ph["extract"],
                ph["normalize"],
                ph["load"],
                _common.median(r["peak_rss_mb"] for r in runs),
            ]
        )
    return rows


HEADERS = [
    "variant",
    "runs",
    "pipelines rows",
    "requests",
    "load s (median)",
    "range",
    "rows/s",
    "extract s",
    "normalize s",
    "load step s",
    "peak RSS MB",
]


def _rate(results: dict[str, list[dict[str, Any]]], variant: str) -> float:
    runs = results.get(variant) or []
    return _common.median(r["rows_per_s"] for r in runs) if runs else float("nan")


def _paired(results: dict[str, list[dict[str, Any]]], a: str, b: str) -> list[float]:
    """Per-round ratios a/b of rows/s (the rounds interleave, so each pair shares its conditions)."""
    return [x["rows_per_s"] / y["rows_per_s"] for x, y in zip(results.get(a, []), results.get(b, []), strict=False)]


def report(large: dict[str, list[dict[str, Any]]], small: dict[str, list[dict[str, Any]]], args: Any) -> None:
    out = _common.out
    out(
        "Rows/s = rows of the `pipelines` table / seconds from the call to the end of the load (extract + "
        "normalize + load). Every variant reads the same pages from the same emulator."
    )
    out()
    ratios = []
    for tier, results in (("large", large), ("small", small)):
        if not results:
            continue
        out(f"{tier.capitalize()} tier:")
        out()
        out(_common.table(HEADERS, _summary_rows(results)))
        out()
        for a, b, target in (
            ("operator", "plain jsonl", 0.9),
            ("operator", "plain default", 3.0),
            ("operator best", "plain default", 3.0),
            ("operator + patches", "plain jsonl", None),
            ("operator + patches", "operator", None),
            ("operator best", "operator", None),
            ("operator + compiled-selector", "operator", None),
            ("operator + fast-cursor", "operator", None),
            ("operator + compiled-selector", "plain jsonl", None),
            ("operator best + patches", "operator", None),
            ("operator best + patches", "plain default", None),
            ("operator parquet", "operator best", None),
        ):
            if a in results and b in results:
                pairs = _paired(results, a, b)
                ratio = _rate(results, a) / _rate(results, b)
                ratios.append(
                    [
                        tier,
                        f"{a} / {b}",
                        ratio,
                        _common.spread(pairs),
                        _common.verdict(ratio, target, True) if target else "-",
                    ]
                )
    out(_common.table(["tier", "rows/s ratio", "x (ratio of medians)", "per-round range", "target"], ratios))
    out()
    out(f"operator best = operator + {BEST_ENV}; patches = {PATCHES} (see bench/_loads.py).")
    out()
    _common.write_json(args.json, {"large": large, "small": small, "best_env": BEST_ENV, "patches": PATCHES})


if __name__ == "__main__":
    raise SystemExit(main())
