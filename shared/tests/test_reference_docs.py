"""The generated reference pages: every setting of every service appears, and a setting without a description
stops the generator instead of leaving an empty row."""

from __future__ import annotations

import pytest
from pydantic import Field
from pydantic_settings import BaseSettings

from snapinfra_shared import docs
from snapinfra_shared.local import reference


def test_every_setting_of_every_service_is_in_the_reference() -> None:
    page = reference.markdown()
    for path in reference.SERVICES.values():
        for name in reference.settings_class(path).model_fields:
            assert f"| `SNAPINFRA_{name.upper()}` |" in page, name


def test_the_checked_in_pages_are_current() -> None:
    assert docs.main(["--check"]) == 0, "run `make docs`"


def test_a_setting_without_a_description_is_refused() -> None:
    class Undocumented(BaseSettings):
        documented: int = Field(default=1, description="has one")
        bare: int = 2

    with pytest.raises(ValueError, match=r"Undocumented\.bare has no description"):
        reference._rows(Undocumented, list(Undocumented.model_fields))


def test_bounds_and_choices_come_from_the_field() -> None:
    page = reference.markdown()
    assert "| `SNAPINFRA_LOG_FORMAT` | `json` | `json`, `text` |" in page
    assert "| `SNAPINFRA_BATCH_SIZE` | `10` | ≥ 1, ≤ 10 |" in page
