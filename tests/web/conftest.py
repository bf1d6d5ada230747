"""Fixtures of the public-site tests: a seeder over the test's migrated schema."""

from __future__ import annotations

import asyncpg
import pytest

from tests.web.seed import Seeder


@pytest.fixture
def seeder(db_pool: asyncpg.Pool) -> Seeder:
    return Seeder(db_pool)
