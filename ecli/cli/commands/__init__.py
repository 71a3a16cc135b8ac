"""One module per command: `add_arguments(parser)` and `run(args, context) -> Result`.

A command never prints: it returns an `ecli.cli.render.Result`, and reports
while it works through `ecli.cli.progress` (status lines, warnings, bars).
"""
