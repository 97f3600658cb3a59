"""Names, not codes, at every boundary: the stored codes of direction and display mode and the
names the CLI's JSON, the API and the pages use for them."""

from __future__ import annotations

from typing import Literal

from core.errors import InvalidInput

DirectionName = Literal["unknown", "approaching", "receding"]
DisplayName = Literal["stealth", "display"]

DIRECTIONS: dict[int, DirectionName] = {0: "unknown", 1: "approaching", 2: "receding"}
DISPLAYS: dict[int, DisplayName] = {0: "stealth", 1: "display"}
DIRECTION_CODES: dict[str, int] = {v: k for k, v in DIRECTIONS.items()}
DISPLAY_CODES: dict[str, int] = {v: k for k, v in DISPLAYS.items()}


def direction_name(code: int) -> DirectionName:
    """The name of a stored direction code (0, 1, 2)."""
    return DIRECTIONS[int(code)]


def display_name(code: int) -> DisplayName:
    """The name of a stored display code (0 stealth, 1 display)."""
    return DISPLAYS[int(code)]


def direction_code(name: str, field: str = "direction") -> int:
    """The stored code of a direction name; an InvalidInput naming the value otherwise."""
    try:
        return DIRECTION_CODES[name.strip().lower()]
    except KeyError:
        raise InvalidInput(f"{field} {name!r} is not one of {', '.join(DIRECTION_CODES)}",
                           errors=[{"record": None, "field": field, "value": name,
                                    "reason": f"must be one of {', '.join(DIRECTION_CODES)}"}]) from None
