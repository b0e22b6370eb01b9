"""What differs between the SQL dialects the views are written for: DuckDB and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dialect:
    """SQL fragments whose spelling depends on the warehouse. Everything else in the views is the
    common subset of both (window functions, `FILTER`, `AT TIME ZONE`, `EXTRACT(EPOCH ...)`)."""

    name: str

    def percentile(self, fraction: float, expr: str) -> str:
        """The continuous (linearly interpolated) percentile of `expr` over the group."""
        if self.name == "duckdb":
            return f"quantile_cont({expr}, {fraction})"
        return f"percentile_cont({fraction}) WITHIN GROUP (ORDER BY {expr})"

    def seconds(self, end: str, start: str) -> str:
        """Seconds from `start` to `end` (timestamps with time zone), as a double."""
        return f"CAST(EXTRACT(EPOCH FROM ({end} - {start})) AS DOUBLE PRECISION)"

    def day(self, ts: str) -> str:
        """The UTC calendar date of a timestamp with time zone."""
        return f"CAST(({ts} AT TIME ZONE 'UTC') AS DATE)"

    def ratio(self, part: str, whole: str) -> str:
        """`part / whole` as a double, NULL when `whole` is 0."""
        return f"CAST({part} AS DOUBLE PRECISION) / NULLIF({whole}, 0)"

    def quote(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'


DIALECTS = {"duckdb": Dialect("duckdb"), "postgres": Dialect("postgres")}


def dialect_for(kind: str) -> Dialect:
    """The dialect of a destination kind (`destinations.DestinationTarget.kind`)."""
    try:
        return DIALECTS[kind]
    except KeyError:
        raise ValueError(
            f"CI views are defined for {', '.join(sorted(DIALECTS))}, not for destination `{kind}`; "
            "set ANALYTICS_VIEWS=false to skip them there"
        ) from None
