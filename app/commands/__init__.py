"""CLI subcommands, one module per topic (see app/cli.py)."""
