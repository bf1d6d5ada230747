"""The real `load_definition` activity: reads the catalogue through `definitions.loader`.

Reading files is I/O, so it happens here and never in workflow code. The result carries
the definition as JSON-able data and its content hash; because it is an activity result it
lands in the workflow history, which is what pins a running procedure to exactly the
definition it started with, whatever changes on disk later.

Every procedure start calls this activity, and parsing and validating the YAML was 6.5 % of
the worker's CPU in the start benchmark (bench/REPORT.md). So results are cached, keyed by the
definition id, the version asked for and the sha256 of every file in the catalogue folder,
subfolders included (read on every call: some 30 KB, well under a millisecond): an edited,
added or removed file, a definition or a file it references such as an outreach targets CSV,
changes the key, so the cache never hands out a snapshot (or a content hash) that differs
from what a fresh parse of the files on disk would give.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from importlib.resources.abc import Traversable

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import contracts as c
from definitions import loader

__all__ = ["DefinitionCache", "load_definition", "loaded_result"]

Fingerprint = tuple[tuple[str, str], ...]
_MAX_FOLDERS = 1000  # a guard against a link loop, far above any real catalogue


def loaded_result(loaded: loader.LoadedDefinition) -> c.LoadDefinitionResult:
    """The activity result for an already loaded definition (also used by tests and the CLI)."""
    return c.LoadDefinitionResult(
        definition_id=loaded.definition.id,
        version=loaded.definition.version,
        content_hash=loaded.content_hash,
        definition=loaded.definition.model_dump(mode="json"),
    )


class DefinitionCache:
    """Loaded catalogue definitions, reused while the files they come from are unchanged.

    Only successful loads are kept (an invalid or missing definition is reported afresh each
    time, so fixing the file is seen at once). The least recently used entry goes first once
    `size` entries are held. Results are frozen models and are only ever serialised, so one
    instance may be handed to many activity calls. Safe to share between threads.
    """

    def __init__(self, root: Traversable | None = None, size: int = 64) -> None:
        self._root = root
        self._size = size
        self._entries: OrderedDict[tuple[str, str | None, Fingerprint], c.LoadDefinitionResult]
        self._entries = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def _fingerprint(self) -> Fingerprint:
        """(relative path, sha256 of its bytes) of every file under the catalogue folder."""
        found: list[tuple[str, str]] = []
        todo = [("", self._root if self._root is not None else loader.catalogue_root())]
        visited = 0
        while todo:
            prefix, folder = todo.pop()
            visited += 1
            for entry in folder.iterdir():
                if entry.is_dir():
                    if visited + len(todo) < _MAX_FOLDERS:
                        todo.append((f"{prefix}{entry.name}/", entry))
                elif entry.is_file():
                    digest = hashlib.sha256(entry.read_bytes()).hexdigest()
                    found.append((prefix + entry.name, digest))
        return tuple(sorted(found))

    def load(self, definition_id: str, version: str | None = None) -> c.LoadDefinitionResult:
        """Like `loader.load_definition`, as an activity result; raises what it raises."""
        key = (definition_id, version, self._fingerprint())
        with self._lock:
            cached = self._entries.get(key)
            if cached is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return cached
        result = loaded_result(loader.load_definition(definition_id, version, root=self._root))
        with self._lock:
            self.misses += 1
            self._entries[key] = result
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return result

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


CACHE = DefinitionCache()
"""The worker process's cache of the packaged catalogue."""


@activity.defn(name=c.LOAD_DEFINITION)
async def load_definition(data: c.LoadDefinitionInput) -> c.LoadDefinitionResult:
    """Load a catalogue definition by id and version; unknown or invalid ones never retry."""
    try:
        return CACHE.load(data.definition_id, data.version)
    except LookupError as err:
        raise ApplicationError(str(err), type="DefinitionNotFound", non_retryable=True) from err
    except loader.DefinitionError as err:
        raise ApplicationError(str(err), type="DefinitionInvalid", non_retryable=True) from err
