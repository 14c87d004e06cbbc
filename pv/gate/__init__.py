"""The pre-merge gate: validation, drift, the bound checks and the contracts' semver against
the merge-base (diff). May import pv.drift and below."""
