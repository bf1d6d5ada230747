"""Whatever the text, the loader answers with a definition or a DefinitionError, never a crash."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from definitions import loader
from definitions.problems import DefinitionError

SOURCE = loader.catalogue_root().joinpath("buergerrat.yaml").read_text("utf-8")
LINES = SOURCE.splitlines(keepends=True)
FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None)


def load_or_problems(text: str) -> None:
    error: DefinitionError | None = None
    try:
        loader.load_text(text, "fuzz.yaml")
    except DefinitionError as err:
        error = err
    if error is not None:
        assert error.problems
        for problem in error.problems:
            assert problem.message
            assert problem.format().startswith("fuzz.yaml")


@FUZZ
@given(st.text(max_size=300))
def test_random_text(text: str) -> None:
    load_or_problems(text)


@FUZZ
@given(st.lists(st.integers(0, len(LINES) - 1), min_size=1, max_size=6, unique=True))
def test_catalogue_file_with_lines_removed(removed: list[int]) -> None:
    load_or_problems("".join(line for i, line in enumerate(LINES) if i not in removed))


@FUZZ
@given(
    st.integers(0, len(LINES) - 1),
    st.sampled_from(["", "x", ": ", "- ", "{", "]", "&a ", "*a", "!!binary ", "${nope}", "\t"]),
)
def test_catalogue_file_with_garbage_inserted(line: int, garbage: str) -> None:
    text = "".join(garbage + t if i == line else t for i, t in enumerate(LINES))
    load_or_problems(text)
