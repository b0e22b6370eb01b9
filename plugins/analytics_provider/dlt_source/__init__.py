"""Run-time half of the provider: spec -> dlt source. Imports dlt; never import it at DAG-parse time."""
