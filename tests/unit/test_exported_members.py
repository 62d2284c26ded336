"""faxcast's public names are exactly its __all__."""

from __future__ import annotations

import faxcast


def test_all_names_are_exported_and_nothing_else_is_public() -> None:
    public = {
        name
        for name, value in vars(faxcast).items()
        if not name.startswith("_") and not isinstance(value, type(faxcast))
    }

    assert public == set(faxcast.__all__)
