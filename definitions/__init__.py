"""The procedure language: schema, YAML loader, legal calendar and catalogue.

Imports nothing of civicflow's other packages, so workflow code may use it freely.
"""
