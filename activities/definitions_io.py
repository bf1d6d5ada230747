"""The real `load_definition` activity: reads the catalogue through `definitions.loader`.

Reading files is I/O, so it happens here and never in workflow code. The result carries
the definition as JSON-able data and its content hash; because it is an activity result it
lands in the workflow history, which is what pins a running procedure to exactly the
definition it started with, whatever changes on disk later.
"""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import contracts as c
from definitions import loader

__all__ = ["load_definition", "loaded_result"]


def loaded_result(loaded: loader.LoadedDefinition) -> c.LoadDefinitionResult:
    """The activity result for an already loaded definition (also used by tests and the CLI)."""
    return c.LoadDefinitionResult(
        definition_id=loaded.definition.id,
        version=loaded.definition.version,
        content_hash=loaded.content_hash,
        definition=loaded.definition.model_dump(mode="json"),
    )


@activity.defn(name=c.LOAD_DEFINITION)
async def load_definition(data: c.LoadDefinitionInput) -> c.LoadDefinitionResult:
    """Load a catalogue definition by id and version; unknown or invalid ones never retry."""
    try:
        loaded = loader.load_definition(data.definition_id, data.version)
    except LookupError as err:
        raise ApplicationError(str(err), type="DefinitionNotFound", non_retryable=True) from err
    except loader.DefinitionError as err:
        raise ApplicationError(str(err), type="DefinitionInvalid", non_retryable=True) from err
    return loaded_result(loaded)
