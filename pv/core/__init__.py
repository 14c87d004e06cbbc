"""The ground every layer stands on: findings and their one formatter, the rule table (every
rule's id, severity, title and help), semver, atomic writes, git, the [tool.pv] config and
its waivers, the progress bar. Imports nothing of pv."""
