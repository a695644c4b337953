"""Analytics domain: daily aggregates in DuckDB over the lake. Modules here are discovered automatically."""
