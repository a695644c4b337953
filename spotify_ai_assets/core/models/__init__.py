"""Models over the lake with LightGBM: feature tables, a recommendations ranker, a stream forecaster, their
evaluation, explanations and a content-addressed registry. Pure: no Dagster import (see defs/models/ for the
assets).

Time: every function takes a `cutoff` day and uses only plays strictly before it (`played_at < cutoff`, UTC). A
feature partition for day D in Dagster is "as of the end of D", i.e. cutoff = D + 1.
"""
