"""Subcommands of the `civicflow` CLI, one module each."""
