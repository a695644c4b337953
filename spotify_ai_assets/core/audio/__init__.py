"""Pure audio core (no dagster): decode a landed clip and compute its per-track features (see `features`)."""
