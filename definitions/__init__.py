"""The procedure language: schema, YAML loader, legal calendar and catalogue.

Imports nothing of civicflow's other packages, so workflow code may use it freely.

- `definitions.schema`: the definition model (pydantic, strict) and how the engine reads it.
- `definitions.calendar`: BGB §§187-193 deadline arithmetic per Land (pure, sandbox-safe).
- `definitions.loader`: YAML files and the catalogue to validated, hashed definitions (I/O).
- `definitions.validate`: semantic checks (references, graph, legal minimum periods).
- `definitions.problems`: positioned problems and `DefinitionError`.
- `definitions.schema_errors`: pydantic errors worded for YAML authors, with positions.
- `definitions.export`: the JSON Schema committed as `definitions/definition.schema.json`.
- `definitions/catalogue/`: real procedures; `definitions/templates/`: notification templates.
"""
