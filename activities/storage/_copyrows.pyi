from collections.abc import Sequence
from typing import Any

def encode_hashed(rows: Sequence[Sequence[Any]], /) -> tuple[bytes, bytes]: ...
