"""CLI subcommands of the codeward core."""
