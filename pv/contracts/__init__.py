"""Reading contract files: discovery and reading (files), YAML with positions (load), the one
typed contract model (model), the JSON Schemas and their check (schema), per-file results and
their cache. May import pv.core."""
