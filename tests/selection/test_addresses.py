"""The targeted second wave: allocation, a reproducible draw, extract errors naming the line."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activities.selection.addresses import ExtractError, allocate, draw_wave, parse_extract
from activities.selection.outreach import GroupGap

EXTRACT = "id,address,age,milieu\n" + "".join(
    f"a{i:03d},Weg {i},{'16-29' if i % 4 == 0 else '65+'},"
    f"{'precarious' if i % 5 == 0 else 'middle'}\n"
    for i in range(100)
)


def gap(feature: str, category: str, missing: int) -> GroupGap:
    return GroupGap(
        feature=feature,
        category=category,
        target_share=0.3,
        actual_share=0.1,
        registered=1,
        missing=missing,
    )


@given(
    st.lists(st.integers(min_value=1, max_value=500), min_size=1, max_size=8), st.integers(0, 5000)
)
def test_allocation_sums_to_the_letters_and_follows_the_gaps(
    missing: list[int], letters: int
) -> None:
    gaps = [gap("f", str(i), m) for i, m in enumerate(missing)]
    shares = allocate(gaps, letters)
    assert sum(shares) == letters
    for share, m in zip(shares, missing, strict=True):
        assert abs(share - letters * m / sum(missing)) < 1  # largest remainder: within one


def test_draw_is_reproducible_and_only_reaches_missing_groups() -> None:
    extract = parse_extract(EXTRACT, ["age", "milieu"])
    gaps = [gap("age", "16-29", 6), gap("milieu", "precarious", 3)]
    rows, groups = draw_wave(extract, gaps, 12, "wave-1")
    again, _ = draw_wave(extract, gaps, 12, "wave-1")
    other, _ = draw_wave(extract, gaps, 12, "wave-2")
    assert [r["id"] for r in rows] == [r["id"] for r in again]
    assert [r["id"] for r in rows] != [r["id"] for r in other]
    assert [(g.allotted, g.drawn) for g in groups] == [(8, 8), (4, 4)]
    assert len({r["id"] for r in rows}) == 12
    assert all(r["age"] == "16-29" for r in rows[:8])
    assert all(r["milieu"] == "precarious" for r in rows[8:])


def test_a_small_group_passes_its_letters_on() -> None:
    extract = parse_extract(EXTRACT, ["age", "milieu"])
    # 25 people are 16-29; 20 are precarious; 5 are both (i % 20 == 0)
    rows, groups = draw_wave(
        extract, [gap("age", "16-29", 9), gap("milieu", "precarious", 1)], 40, "w"
    )
    assert groups[0].allotted == 36
    assert groups[0].drawn == 25  # everyone of the group
    assert groups[1].drawn == 4 + 11  # its own letters plus the 11 passed on, capped by 15 left
    assert len(rows) == 40


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty file"),
        ("id,address\nx,Weg 1\n", "line 1: missing column(s) age"),
        ("id,age\na,65+\na,16-29\n", "line 3, column id: id 'a' appears twice"),
        ("id,age\n,65+\n", "line 2, column id: empty id"),
        ("id,age\na,65+,extra\n", "line 2: more cells than the header"),
    ],
)
def test_extract_errors_name_line_and_column(text: str, message: str) -> None:
    with pytest.raises(ExtractError, match=r"register\.csv") as info:
        parse_extract(text, ["age"], source="register.csv")
    assert message in str(info.value)
