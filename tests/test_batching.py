"""Parent summaries -> batches of keys for a child's mapped load tasks."""

from __future__ import annotations

from typing import Any

import pytest

from analytics_provider.batching import plan_batches


def _summary(**keys: list[dict[str, Any]]) -> dict[str, Any]:
    """The shape of an AnalyticsLoadOperator summary, reduced to what plan_batches reads."""
    return {"resource": "parent", "rows": {"parent": 1}, "keys": keys}


def _orgs(*ids: str) -> list[dict[str, Any]]:
    return [{"org_id": i} for i in ids]


def test_single_summary_one_batch_per_batch_size() -> None:
    output = _summary(context=_orgs("a", "b", "c", "d", "e"))
    assert plan_batches(output, "context", batch_size=2) == [
        _orgs("a", "b"),
        _orgs("c", "d"),
        _orgs("e"),
    ]


def test_only_the_named_child_keys_are_taken() -> None:
    output = _summary(context=_orgs("a"), pipelines=[{"org_slug": "gh/acme"}])
    assert plan_batches(output, "pipelines") == [[{"org_slug": "gh/acme"}]]
    assert plan_batches(output, "context") == [_orgs("a")]
    assert plan_batches(output, "jobs") == []


def test_list_of_summaries_from_a_mapped_parent() -> None:
    outputs = [_summary(jobs=_orgs("a", "b")), _summary(jobs=_orgs("c")), _summary(jobs=_orgs("d", "e"))]
    assert plan_batches(outputs, "jobs", batch_size=3) == [_orgs("a", "b", "c"), _orgs("d", "e")]


def test_tuple_and_generator_of_summaries() -> None:
    """A mapped parent's XCom arrives as a lazy sequence, not a list."""
    outputs = (_summary(jobs=_orgs("a")), _summary(jobs=_orgs("b")))
    assert plan_batches(outputs, "jobs") == [_orgs("a", "b")]
    assert plan_batches(iter(outputs), "jobs") == [_orgs("a", "b")]


def test_duplicates_across_summaries_are_dropped_keeping_first_seen_order() -> None:
    outputs = [
        _summary(jobs=[{"slug": "gh/a/x", "n": 1}, {"slug": "gh/a/x", "n": 2}]),
        _summary(jobs=[{"n": 1, "slug": "gh/a/x"}, {"slug": "gh/a/y", "n": 1}]),
        _summary(jobs=[{"slug": "gh/a/x", "n": 2}]),
    ]
    assert plan_batches(outputs, "jobs") == [
        [{"slug": "gh/a/x", "n": 1}, {"slug": "gh/a/x", "n": 2}, {"slug": "gh/a/y", "n": 1}]
    ]


def test_duplicates_inside_one_summary_are_dropped() -> None:
    output = _summary(context=_orgs("a", "a", "b", "a"))
    assert plan_batches(output, "context") == [_orgs("a", "b")]


def test_none_entries_from_skipped_map_indexes_are_ignored() -> None:
    outputs = [None, _summary(jobs=_orgs("a")), None, _summary(jobs=_orgs("b"))]
    assert plan_batches(outputs, "jobs", batch_size=1) == [_orgs("a"), _orgs("b")]


@pytest.mark.parametrize("batch_size", [0, -1], ids=["zero", "negative"])
def test_batch_size_zero_means_one_batch_with_every_key(batch_size: int) -> None:
    keys = [{"org_slug": f"gh/org{i}"} for i in range(450)]
    batches = plan_batches(_summary(pipelines=keys), "pipelines", batch_size=batch_size)
    assert batches == [keys]


def test_default_batch_size_is_one_batch() -> None:
    keys = _orgs(*[str(i) for i in range(300)])
    assert plan_batches(_summary(context=keys), "context") == [keys]


@pytest.mark.parametrize(
    ("count", "batch_size", "sizes"),
    [(200, 200, [200]), (201, 200, [200, 1]), (450, 200, [200, 200, 50]), (3, 5, [3]), (4, 1, [1, 1, 1, 1])],
    ids=["exact", "one-over", "several", "fewer-than-size", "size-one"],
)
def test_batch_sizes_are_respected(count: int, batch_size: int, sizes: list[int]) -> None:
    keys = [{"workflow_id": f"w{i}"} for i in range(count)]
    batches = plan_batches(_summary(workflow_jobs=keys), "workflow_jobs", batch_size=batch_size)
    assert [len(b) for b in batches] == sizes
    assert [k for batch in batches for k in batch] == keys, "every key once, in order"


@pytest.mark.parametrize(
    "parent_output",
    [
        None,
        [],
        [None, None],
        {},
        _summary(),
        _summary(jobs=[]),
        {"resource": "parent", "keys": None},
        [{"resource": "parent"}],
    ],
    ids=[
        "none",
        "empty-list",
        "all-skipped",
        "empty-mapping",
        "no-child-keys",
        "empty-child-keys",
        "keys-none",
        "summary-without-keys",
    ],
)
def test_nothing_to_load_gives_no_batches(parent_output: Any) -> None:
    """An empty list makes Airflow skip the mapped child instead of failing the run."""
    assert plan_batches(parent_output, "jobs", batch_size=10) == []


def test_returned_keys_are_copies() -> None:
    key = {"org_id": "a"}
    output = _summary(context=[key])
    batches = plan_batches(output, "context")
    batches[0][0]["org_id"] = "changed"
    assert key == {"org_id": "a"}, "the parent's XCom value is not modified"


def test_batches_grow_to_stay_within_airflows_max_map_length() -> None:
    keys = [{"pipeline_id": str(i)} for i in range(204_801)]
    batches = plan_batches({"keys": {"child": keys}}, child="child", batch_size=200)
    assert len(batches) <= 1024
    assert sum(len(b) for b in batches) == len(keys)
    assert [k for b in batches for k in b] == keys
    small = plan_batches({"keys": {"child": keys[:1000]}}, child="child", batch_size=200, max_batches=1024)
    assert [len(b) for b in small] == [200] * 5
