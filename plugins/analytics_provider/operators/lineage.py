"""OpenLineage for the load operator, by the OpenLineage provider's convention: the provider's
listener calls `get_openlineage_facets_on_complete` when a task succeeds.

Input: the API endpoint the task read (`https://host` + the endpoint's path template: no query, no
user info, no parent ids, so no key whatever the key location). Outputs: each table the load wrote,
with its row count (`outputStatistics`) and its columns and types from dlt's schema (`schema`).
Nothing here imports OpenLineage until the listener asks, so the provider stays optional.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from analytics_provider.warehouse.written import WrittenTables


def api_inputs(base_url: str, spec: Any, resource: Any) -> list[tuple[str, str]]:
    """The endpoints a load of `resource` reads: its own, and its parent's when it reads the parent's
    rows from the API itself (`fetch_parent`: `pipelines` lists the orgs)."""
    paths = [resource.endpoint.path]
    if resource.fetch_parent and resource.parent:
        paths.append(spec.resource(resource.parent).endpoint.path)
    return [api_dataset_name(base_url, path) for path in paths]


def api_dataset_name(base_url: str, path: str) -> tuple[str, str]:
    """(namespace, name) of an API endpoint: `scheme://host[:port]` and the base path + path template."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return f"{parts.scheme or 'https'}://{netloc}", parts.path.rstrip("/") + path


class LineageMixin:
    """Gives an operator `get_openlineage_facets_on_complete` from what its `execute` recorded in
    `self._lineage_inputs` ([(namespace, name)]) and `self._lineage_written` (WrittenTables)."""

    _lineage_inputs: list[tuple[str, str]] | None = None
    _lineage_written: WrittenTables | None = None

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        from airflow.providers.common.compat.openlineage.facet import (
            Dataset,
            OutputDataset,
            OutputStatisticsOutputDatasetFacet,
            SchemaDatasetFacet,
            SchemaDatasetFacetFields,
        )
        from airflow.providers.openlineage.extractors import OperatorLineage

        inputs = [Dataset(namespace=n, name=name) for n, name in self._lineage_inputs or []]
        outputs = []
        written = self._lineage_written
        for table, count in (written.rows if written else {}).items():
            columns = written.tables.get(table, {})  # type: ignore[union-attr]
            outputs.append(
                OutputDataset(
                    namespace=written.namespace,  # type: ignore[union-attr]
                    name=f"{written.prefix}.{table}",  # type: ignore[union-attr]
                    facets={
                        "schema": SchemaDatasetFacet(
                            fields=[SchemaDatasetFacetFields(name=c, type=t) for c, t in columns.items()]
                        )
                    },
                    outputFacets={"outputStatistics": OutputStatisticsOutputDatasetFacet(rowCount=count)},
                )
            )
        return OperatorLineage(inputs=inputs, outputs=outputs)
