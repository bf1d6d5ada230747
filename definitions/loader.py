"""Load procedure definitions from YAML, with every problem reported at once and positioned.

API for the engine's `load_definition` activity and the CLI:
- `load_definition(definition_id, version=None) -> LoadedDefinition`: from the catalogue
  (`definitions/catalogue/*.yaml`, read through importlib.resources so it works installed);
  `version=None` takes the newest (versions compare as tuples of integers).
- `list_definitions() -> list[LoadedDefinition]`: every catalogue definition, by id and version.
- `load_file(path)` / `load_text(text, source)`: any file, e.g. a municipality's own.
- `content_hash(definition)`: sha256 of canonical JSON (sorted keys, no whitespace, UTF-8) of
  `definition.model_dump(mode="json")`; a running procedure pins it.
Outreach targets may sit in a CSV next to the definition (`settings.outreach.targets_csv`,
see `definitions.outreach`): the loader reads it relative to the definition's folder (the
catalogue folder for catalogue entries), reports its problems as `file.csv:line:col`, and
inlines the shares into `targets` before validation, so the pinned snapshot holds them.
All of them raise `DefinitionError` (a ValueError) whose `problems` list everything found:
YAML syntax, schema (pydantic) and semantic problems (`definitions.validate`), each formatted
`file:line:col: dotted.path: problem` plus the source line with a caret. A YAML syntax error
stops there; when some phases fail the schema, the other phases are still checked
semantically (reference checks; the graph checks need every phase).

Safety: only `yaml.SafeLoader` or its libyaml twin `CSafeLoader` (no tags that construct
objects, nothing executes); files over `MAX_BYTES` are refused before parsing; more than
`MAX_ALIASES` aliases (a YAML bomb), nesting deeper than `MAX_DEPTH` or more than `MAX_NODES`
nodes are refused.

Reading files is I/O: call the loader from an activity or the CLI, never from workflow code
(the workflow gets the loaded snapshot through the activity's result).
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path as FsPath
from typing import Any, Final

import yaml
from pydantic import ValidationError

from definitions import schema_errors, validate
from definitions.outreach import CSV_NAME, TargetsCsvError, parse_targets_csv
from definitions.problems import DefinitionError, Position, Problem, SourceMap
from definitions.schema import Definition

__all__ = [
    "MAX_ALIASES",
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "DefinitionError",
    "LoadedDefinition",
    "catalogue_root",
    "content_hash",
    "list_definitions",
    "load_definition",
    "load_file",
    "load_text",
]

MAX_BYTES: Final = 1_000_000
MAX_ALIASES: Final = 16
MAX_DEPTH: Final = 40
MAX_NODES: Final = 100_000

Path = tuple[str | int, ...]
Resolver = Callable[[str], tuple[str, str]]
"""A file referenced by a definition (relative name) -> (source name for messages, text)."""
# libyaml's safe loader when PyYAML was built with it (same nodes and marks, faster).
_SAFE_LOADER: Final[type[yaml.SafeLoader] | type[yaml.CSafeLoader]] = getattr(
    yaml, "CSafeLoader", yaml.SafeLoader
)


@dataclass(frozen=True)
class LoadedDefinition:
    """A validated definition, its content hash, where it came from, and its source map."""

    definition: Definition
    content_hash: str
    source: str
    source_map: SourceMap


def content_hash(definition: Definition) -> str:
    """sha256 of the canonical JSON of the validated model (see the module docstring)."""
    canonical = json.dumps(
        definition.model_dump(mode="json"),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _mark_position(mark: Any) -> Position | None:
    if mark is None:
        return None
    return Position(mark.line + 1, mark.column + 1)


def _yaml_problem(source: str, lines: tuple[str, ...], err: yaml.YAMLError) -> Problem:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    position = _mark_position(mark)
    problem = getattr(err, "problem", None) or str(err)
    context = getattr(err, "context", None)
    message = f"invalid YAML: {context}, {problem}" if context else f"invalid YAML: {problem}"
    line = lines[position.line - 1] if position and position.line <= len(lines) else None
    return Problem(source, "", message, position, line)


def _prescan(text: str, source: str, lines: tuple[str, ...]) -> list[Problem]:
    """Refuse YAML bombs and absurd nesting before anything is composed."""
    aliases = depth = 0
    for event in yaml.parse(text, Loader=_SAFE_LOADER):
        if isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                msg = f"more than {MAX_ALIASES} YAML aliases: refused (possible YAML bomb)"
                return [_at(source, lines, event.start_mark, msg)]
        elif isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                msg = f"nesting deeper than {MAX_DEPTH} levels: refused"
                return [_at(source, lines, event.start_mark, msg)]
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return []


def _at(source: str, lines: tuple[str, ...], mark: Any, message: str) -> Problem:
    position = _mark_position(mark)
    line = lines[position.line - 1] if position and position.line <= len(lines) else None
    return Problem(source, "", message, position, line)


class _Walker:
    """Records the position of every node and finds duplicate keys."""

    def __init__(self, source_map: SourceMap) -> None:
        self.map = source_map
        self.nodes = 0
        self.duplicates: list[tuple[Path, Position]] = []

    def walk(self, node: yaml.Node, path: Path) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            msg = f"more than {MAX_NODES} YAML nodes"
            raise _TooBigError(msg)
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
                child = (*path, key)
                if key in seen:
                    self.duplicates.append((child, _node_position(key_node)))
                    continue
                seen.add(key)
                self.map.keys[child] = _node_position(key_node)
                self.map.values[child] = _node_position(value_node)
                self.walk(value_node, child)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                child = (*path, index)
                self.map.values[child] = _node_position(item)
                self.walk(item, child)


class _TooBigError(Exception):
    pass


def _node_position(node: yaml.Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


def _parse(text: str, source: str) -> tuple[Any, SourceMap, list[Problem]]:
    """YAML text to plain data and its source map; problems instead of exceptions."""
    lines = tuple(text.splitlines())
    size = len(text.encode("utf-8"))
    if size > MAX_BYTES:
        msg = f"file is {size} bytes, more than the limit of {MAX_BYTES}: refused"
        return None, SourceMap(source=source), [Problem(source, "", msg)]
    try:
        problems = _prescan(text, source, lines)
        if problems:
            return None, SourceMap(source=source, lines=lines), problems
        loader = _SAFE_LOADER(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as err:
        return None, SourceMap(source=source, lines=lines), [_yaml_problem(source, lines, err)]
    source_map = SourceMap(source=source, data=data, lines=lines)
    if node is not None:
        source_map.values[()] = _node_position(node)
        walker = _Walker(source_map)
        try:
            walker.walk(node, ())
        except _TooBigError as err:
            return None, source_map, [Problem(source, "", f"{err}: refused")]
        problems = [
            Problem(
                source,
                source_map.dotted(path),
                "duplicate key",
                pos,
                source_map.line_text(pos.line),
            )
            for path, pos in walker.duplicates
        ]
        return data, source_map, problems
    return data, source_map, []


def _salvage(
    data: dict[str, Any], exc: ValidationError
) -> tuple[Definition, validate.Partial] | None:
    """When only some phases fail the schema, the rest can still be checked semantically."""
    locs = [tuple(err["loc"]) for err in exc.errors()]
    if not all(len(loc) > 1 and loc[0] == "phases" and isinstance(loc[1], int) for loc in locs):
        return None
    phases = data.get("phases")
    if not isinstance(phases, list):
        return None
    bad = {loc[1] for loc in locs}
    kept = [i for i in range(len(phases)) if i not in bad]
    try:
        definition = Definition.model_validate({**data, "phases": [phases[i] for i in kept]})
    except ValidationError:
        return None
    dropped = {
        phase["id"]
        for i, phase in enumerate(phases)
        if i in bad and isinstance(phase, dict) and isinstance(phase.get("id"), str)
    }
    return definition, validate.Partial(kept, frozenset(dropped))


def load_text(
    text: str,
    source: str = "<definition>",
    *,
    semantic: bool = True,
    templates: Callable[[str], bool] = validate.template_exists,
    resolve: Resolver | None = None,
) -> LoadedDefinition:
    """Parse, validate (schema, then semantics) and hash a definition; DefinitionError else.

    `templates` tells whether a template id exists (default: the packaged templates);
    `resolve` reads files the definition references (targets CSVs); without it a reference
    is a problem.
    """
    data, source_map, problems = _parse(text, source)
    if problems:
        raise DefinitionError(problems)
    if not isinstance(data, dict):
        msg = f"expected a mapping (id, version, title, phases, ...), got {type(data).__name__}"
        raise DefinitionError([source_map.problem((), msg)])
    problems = _inline_targets(data, source_map, resolve)
    if problems:
        raise DefinitionError(problems)
    try:
        definition = Definition.model_validate(data)
    except ValidationError as exc:
        problems = schema_errors.problems(exc, source_map)
        salvaged = _salvage(data, exc) if semantic else None
        if salvaged is not None:
            problems += validate.check(
                salvaged[0], source_map, templates=templates, partial=salvaged[1]
            )
        raise DefinitionError(problems) from None
    if semantic:
        problems = validate.check(definition, source_map, templates=templates)
        if problems:
            raise DefinitionError(problems)
    return LoadedDefinition(definition, content_hash(definition), source, source_map)


def _outreach_blocks(data: dict[str, Any]) -> Iterator[tuple[Path, dict[str, Any]]]:
    phases = data.get("phases")
    if not isinstance(phases, list):
        return
    for index, phase in enumerate(phases):
        settings = phase.get("settings") if isinstance(phase, dict) else None
        outreach = settings.get("outreach") if isinstance(settings, dict) else None
        if isinstance(outreach, dict):
            yield ("phases", index, "settings", "outreach"), outreach


def _inline_targets(
    data: dict[str, Any], source_map: SourceMap, resolve: Resolver | None
) -> list[Problem]:
    """Read every `targets_csv` and put its shares into `targets` (in place)."""
    problems: list[Problem] = []
    for path, outreach in _outreach_blocks(data):
        name = outreach.get("targets_csv")
        if name is None:
            continue
        where = (*path, "targets_csv")
        if not isinstance(name, str) or CSV_NAME.match(name) is None:
            continue  # the schema reports the bad name with its expected pattern
        if "targets" in outreach:
            problems.append(source_map.problem(where, "give targets or targets_csv, not both"))
            continue
        if resolve is None:
            msg = "targets_csv needs the definition's folder: load it from a file"
            problems.append(source_map.problem(where, msg))
            continue
        try:
            csv_source, text = resolve(name)
        except (OSError, DefinitionError) as err:
            reason = err.problems[0].message if isinstance(err, DefinitionError) else err
            msg = f"cannot read {name}: {getattr(reason, 'strerror', None) or reason}"
            problems.append(source_map.problem(where, msg))
            continue
        try:
            outreach["targets"] = parse_targets_csv(text)
        except TargetsCsvError as err:
            position = Position(err.line, err.column)
            problems.append(Problem(csv_source, "", err.message, position, err.text))
    return problems


def _file_resolver(folder: Traversable | FsPath, prefix: str) -> Resolver:
    def resolve(name: str) -> tuple[str, str]:
        source = f"{prefix}/{name}" if prefix else name
        resource = folder.joinpath(*name.split("/"))
        if not resource.is_file():
            raise FileNotFoundError(2, "no such file", source)
        return source, _read(resource, source)

    return resolve


def _read(resource: Traversable | FsPath, source: str) -> str:
    with resource.open("rb") as handle:
        raw = handle.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        msg = f"file is larger than the limit of {MAX_BYTES} bytes: refused"
        raise DefinitionError([Problem(source, "", msg)])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        msg = f"not UTF-8 text ({err.reason} at byte {err.start})"
        raise DefinitionError([Problem(source, "", msg)]) from None


def load_file(
    path: str | FsPath,
    *,
    semantic: bool = True,
    templates: Callable[[str], bool] = validate.template_exists,
) -> LoadedDefinition:
    """Load a definition from a file on disk."""
    source = str(path)
    try:
        text = _read(FsPath(path), source)
    except OSError as err:
        msg = f"cannot read file: {err.strerror or err}"
        raise DefinitionError([Problem(source, "", msg)]) from None
    folder = FsPath(path).parent
    resolve = _file_resolver(folder, str(folder) if str(folder) != "." else "")
    return load_text(text, source, semantic=semantic, templates=templates, resolve=resolve)


def catalogue_root() -> Traversable:
    """The packaged catalogue folder (works from a source tree and when installed)."""
    return importlib.resources.files("definitions").joinpath("catalogue")


def _catalogue_files(
    root: Traversable | None, definition_id: str | None = None
) -> Iterator[tuple[Traversable, str, Resolver]]:
    """Catalogue files, all or only those named `<id>.yaml` / `<id>@<version>.yaml`, each
    with a resolver for the files it references (relative to the catalogue folder)."""
    folder = root if root is not None else catalogue_root()
    prefix = "definitions/catalogue" if root is None else str(root)
    resolve = _file_resolver(folder, prefix)
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        stem = entry.name.removesuffix(".yaml")
        if not entry.is_file() or stem == entry.name:
            continue
        if definition_id is None or stem.split("@", 1)[0] == definition_id:
            yield entry, f"{prefix}/{entry.name}", resolve


def _load_catalogue_entry(entry: Traversable, source: str, resolve: Resolver) -> LoadedDefinition:
    loaded = load_text(_read(entry, source), source, resolve=resolve)
    stem = entry.name.removesuffix(".yaml")
    expected = {loaded.definition.id, f"{loaded.definition.id}@{loaded.definition.version}"}
    if stem not in expected:
        msg = f"file name must be {loaded.definition.id}.yaml or id@version.yaml, got {entry.name}"
        raise DefinitionError([loaded.source_map.problem(("id",), msg)])
    return loaded


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def list_definitions(root: Traversable | None = None) -> list[LoadedDefinition]:
    """Every catalogue definition, sorted by id and version; DefinitionError names bad files.

    `root` is another catalogue folder (default: the packaged one).
    """
    loaded: list[LoadedDefinition] = []
    problems: list[Problem] = []
    for entry, source, resolve in _catalogue_files(root):
        try:
            loaded.append(_load_catalogue_entry(entry, source, resolve))
        except DefinitionError as err:
            problems.extend(err.problems)
    if problems:
        raise DefinitionError(problems)
    return sorted(loaded, key=lambda d: (d.definition.id, _version_key(d.definition.version)))


def load_definition(
    definition_id: str, version: str | None = None, *, root: Traversable | None = None
) -> LoadedDefinition:
    """A catalogue definition by id and version (newest if None); LookupError if absent."""
    candidates = [
        d
        for d in (
            _load_catalogue_entry(e, src, resolve)
            for e, src, resolve in _catalogue_files(root, definition_id)
        )
        if version is None or d.definition.version == version
    ]
    if not candidates:
        wanted = definition_id if version is None else f"{definition_id} version {version}"
        msg = f"no definition {wanted} in the catalogue"
        raise LookupError(msg)
    return max(candidates, key=lambda d: _version_key(d.definition.version))
