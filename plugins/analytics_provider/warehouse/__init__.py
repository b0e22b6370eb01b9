"""The warehouse: Airflow connection -> dlt destination and its write lock, DuckDB loads, the SQL reads."""
