"""Turn the keys a parent task returned into batches for its child's mapped load tasks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

MAX_MAP_LENGTH = 1024  # Airflow's `[core] max_map_length` default: a longer list fails the plan task


def plan_batches(
    parent_output: Any, child: str, batch_size: int = 0, max_batches: int = MAX_MAP_LENGTH
) -> list[list[dict[str, Any]]]:
    """Collect `keys[child]` from the parent's output (one summary, or one per mapped parent task),
    drop duplicates, and cut them into batches of `batch_size` (0: one batch with every key).
    An empty result makes Airflow skip the mapped child instead of failing the run. Batches grow
    past `batch_size` when needed to stay within `max_batches` mapped tasks."""
    if isinstance(parent_output, Mapping):
        outputs: Iterable[Any] = [parent_output]
    elif parent_output is None:
        outputs = []
    else:
        # a mapped parent's outputs: one slice is one XCom request, where iterating asks index by
        # index until Airflow answers "not found" (logged as an ERROR line in every plan task)
        outputs = parent_output[:] if isinstance(parent_output, Sequence) else parent_output
    seen: set[tuple[tuple[str, Any], ...]] = set()
    keys: list[dict[str, Any]] = []
    for output in outputs:
        if not isinstance(output, Mapping):
            continue
        for key in (output.get("keys") or {}).get(child, []):
            ident = tuple(sorted(key.items()))
            if ident not in seen:
                seen.add(ident)
                keys.append(dict(key))
    if not keys:
        return []
    size = batch_size if batch_size > 0 else len(keys)
    size = max(size, -(-len(keys) // max_batches))
    return [keys[i : i + size] for i in range(0, len(keys), size)]
