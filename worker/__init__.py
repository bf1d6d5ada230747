"""Processes and the `civicflow` command: config, Temporal client and worker, dev stack."""
