"""`civicflow definitions list | show ID | validate PATH... | schema`: the procedure language.

`validate` is meant for a municipality's own CI: it prints every problem of every file
(`file:line:col: dotted.path: problem` with the source line) and exits 1 if any file is bad.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from definitions import export, loader, validate
from definitions.problems import DefinitionError

__all__ = ["app"]

app = typer.Typer(
    name="definitions",
    help="Procedure definitions: list the catalogue, show one, validate files, export the schema.",
    no_args_is_help=True,
)


def _fail(err: DefinitionError) -> typer.Exit:
    typer.echo(str(err), err=True)
    return typer.Exit(1)


@app.command("list")
def list_command() -> None:
    """List the catalogue: id, version, kind, content hash and title."""
    try:
        definitions = loader.list_definitions()
    except DefinitionError as err:
        raise _fail(err) from None
    for loaded in definitions:
        d = loaded.definition
        typer.echo(f"{d.id}\t{d.version}\t{d.kind}\t{loaded.content_hash[:12]}\t{d.title.de}")


@app.command("show")
def show_command(
    definition_id: Annotated[str, typer.Argument(help="definition id, e.g. baugb-3-2")],
    version: str | None = typer.Option(None, help="version (default: the newest)"),
) -> None:
    """Print one catalogue definition as canonical JSON with its content hash."""
    try:
        loaded = loader.load_definition(definition_id, version)
    except DefinitionError as err:
        raise _fail(err) from None
    except LookupError as err:
        typer.echo(f"civicflow definitions show: {err}", err=True)
        raise typer.Exit(1) from None
    document = {
        "content_hash": loaded.content_hash,
        "source": loaded.source,
        "definition": loaded.definition.model_dump(mode="json"),
    }
    typer.echo(json.dumps(document, indent=2, ensure_ascii=False))


def _expand(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml")))
        else:
            files.append(path)
    return files


@app.command("validate")
def validate_command(
    paths: Annotated[list[Path], typer.Argument(help="definition files or folders of them")],
    templates: Annotated[
        list[Path] | None,
        typer.Option(help="extra folder of <id>.de.j2 templates (repeatable)"),
    ] = None,
) -> None:
    """Validate definition files; print every problem; exit 1 if any file is invalid."""
    folders = list(templates or [])

    def template_exists(template_id: str) -> bool:
        local = any((folder / f"{template_id}.de.j2").is_file() for folder in folders)
        return local or validate.template_exists(template_id)

    failed = 0
    files = _expand(paths)
    for path in files:
        try:
            loaded = loader.load_file(path, templates=template_exists)
        except DefinitionError as err:
            failed += 1
            typer.echo(f"{path}: invalid\n{err}", err=True)
            continue
        d = loaded.definition
        typer.echo(f"{path}: ok ({d.id} {d.version}, sha256 {loaded.content_hash})")
    if not files:
        typer.echo("civicflow definitions validate: no definition files found", err=True)
        raise typer.Exit(1)
    if failed:
        typer.echo(f"{failed} of {len(files)} files invalid", err=True)
        raise typer.Exit(1)


@app.command("schema")
def schema_command(
    write: bool = typer.Option(False, "--write", help=f"write {export.SCHEMA_FILE.name}"),
    start_input: bool = typer.Option(
        False, "--start-input", help="the schema of the procedure start input instead"
    ),
) -> None:
    """Print the JSON Schema of the definition format (or of the start input)."""
    if start_input:
        from workflows.messages import StartProcedure

        schema = StartProcedure.model_json_schema(mode="validation")
        typer.echo(json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False))
        return
    text = export.render()
    if write:
        export.SCHEMA_FILE.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {export.SCHEMA_FILE}")
        return
    typer.echo(text, nl=False)
