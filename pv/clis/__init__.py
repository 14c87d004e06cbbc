"""The command lines a project has: click, typer and argparse read into one spec, the apps
`[tool.pv]` names, entry points, how a call is intercepted and attributed to its command, and
the registry written from them. May import pv.rules, pv.contracts and pv.core."""
