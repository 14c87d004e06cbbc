"""Every rule family and the validator that runs them: parse-level refusals, the kinds and
their rules (kernel, kaizen, beat, competitive-parity ledgers, artifacts, obligations), the
cross-file rules, and `validate`. May import pv.contracts and pv.core."""
