"""Analytics domain: daily aggregates in DuckDB over the lake. Dagster's loader finds the definitions in its modules."""
