"""Falsification ids bound to checks: the binding, the pytest plugin and its report, the
mutants, `pv falsify`, the test scan and the claims checked against it. May import pv.clis
and the layers below."""
