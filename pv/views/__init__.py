"""What people read: status, coverage, audit, graph, equations, the dashboard (board, its
page, formulas), text/JSON/SARIF output, and the set-up commands (init, scaffold). May import
pv.gate and below."""
