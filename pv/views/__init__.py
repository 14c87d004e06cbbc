"""What people read: status, coverage, audit, graph, equations, the dashboard (board, its
template in templates/, formulas), the output formats (text, JSON, SARIF), and the set-up
commands (init, scaffold). May import pv.gate and below."""
