"""pv: validate contracts, bind falsification ids to checks, run them, report drift.

Its layers, each importing only from its own and the ones above it (config, git and atomic
sit under all of them):
- loading and rules: files, load, schema, rules, crossfile, findings, validate, cache, report;
- binding and the plugin: bind, idreport, plugin, mutants, falsify, claims, testscan;
- the CLIs a project has: clispec (click), typerspec, argspec, apps, registry;
- drift and the gate: drift, diff, gate;
- the views and set-up: status, coverage, audit, graph, equations, onboard, scaffold;
- the command line: cli, commands, project_commands.
pv never imports torch or numpy; its base install has neither."""

from __future__ import annotations

__version__ = "0.1.0"
