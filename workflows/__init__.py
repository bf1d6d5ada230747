"""Deterministic workflow code: the `Procedure` workflow and its phase runners."""
