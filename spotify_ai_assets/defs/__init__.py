"""The Dagster shell: assets, checks, resources, automation.

Each subpackage is a domain package whose modules are discovered automatically."""
