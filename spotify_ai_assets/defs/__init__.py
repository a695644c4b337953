"""The Dagster shell: assets, checks, resources, automation.

Each subpackage is a domain; Dagster's loader finds every definition at module scope, with no registration."""
