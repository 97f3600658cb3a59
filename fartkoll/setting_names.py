"""Which keys of the TOML file and which ``FARTKOLL_*`` variables name a setting.

A typo must stop the start, not quietly leave the default in force: each unknown key or variable
gets a message naming it and the nearest valid name (difflib). Works on any pydantic model by
following its fields (sections, lists of tables, keyed tables), so new settings need no change
here.
"""

from __future__ import annotations

import difflib
import json
import types
from collections.abc import Iterator, Mapping
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel

PREFIX = "FARTKOLL_"
# FARTKOLL_* variables read outside the settings object (the settings file itself; the PDF
# renderer's browser). Any other FARTKOLL_* variable must name a setting.
OUTSIDE_SETTINGS = frozenset({"FARTKOLL_CONFIG", "FARTKOLL_CHROMIUM"})


def model_of(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds directly or as ``X | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (Union, types.UnionType):
        for arg in get_args(annotation):
            if (m := model_of(arg)) is not None:
                return m
    return None


def items_of(annotation: Any) -> tuple[str, Any] | None:
    """("list", item type) or ("dict", value type) for a container field, else None."""
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin in (list, tuple, set, frozenset) and args:
        return "list", args[0]
    if origin in (dict, Mapping) and len(args) == 2:
        return "dict", args[1]
    return None


def suggest(key: str, valid: list[str]) -> str:
    near = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    return f"did you mean {near[0]!r}?" if near else f"valid keys here: {', '.join(sorted(valid))}"


def unknown_keys(model: type[BaseModel], values: Any, at: tuple[str, ...]) -> Iterator[str]:
    """A message for each key in ``values`` (nested TOML tables, arrays of tables) that no field of
    ``model`` takes, naming the key and the nearest valid one."""
    if not isinstance(values, dict):
        return
    fields = model.model_fields
    for key, value in values.items():
        field = fields.get(key)
        if field is None:
            name = ".".join((*at, key))
            yield f"{name}: unknown setting; {suggest(key, list(fields))}"
            continue
        yield from unknown_in_value(field.annotation, value, (*at, key))


def unknown_in_value(annotation: Any, value: Any, at: tuple[str, ...]) -> Iterator[str]:
    if (sub := model_of(annotation)) is not None:
        yield from unknown_keys(sub, value, at)
    elif (items := items_of(annotation)) is not None:
        kind, item = items
        if kind == "list" and isinstance(value, list):
            for i, v in enumerate(value):
                yield from unknown_in_value(item, v, (*at[:-1], f"{at[-1]}[{i}]"))
        elif kind == "dict" and isinstance(value, dict):
            for k, v in value.items():
                yield from unknown_in_value(item, v, (*at, str(k)))


def env_names(model: type[BaseModel], at: str = PREFIX) -> Iterator[str]:
    """Every variable name that sets a field (sections too: they take JSON)."""
    for key, field in model.model_fields.items():
        yield (at + key).upper()
        if (sub := model_of(field.annotation)) is not None:
            yield from env_names(sub, at + key + "__")


def resolve(model: type[BaseModel], parts: list[str], i: int = 0) -> tuple[int | None, Any]:
    """Follow a variable's ``__``-separated parts through the fields: (index of the first part
    that names nothing, the model it should name a field of, or None) or (None, the annotation
    of the field it sets)."""
    field = model.model_fields.get(parts[i])
    if field is None:
        return i, model
    annotation = field.annotation
    if i + 1 == len(parts):
        return None, annotation
    if (sub := model_of(annotation)) is not None:
        return resolve(sub, parts, i + 1)
    items = items_of(annotation)
    if items is not None and items[0] == "dict":  # parts[i + 1] is a key of the dict
        if i + 2 == len(parts):
            return None, items[1]
        sub = model_of(items[1])
        return resolve(sub, parts, i + 2) if sub is not None else (None, Any)
    return i + 1, None


def environment_problems(model: type[BaseModel], environ: Mapping[str, str]) -> Iterator[str]:
    """A message for each ``FARTKOLL_*`` variable that names no setting (with the nearest name)
    and for each whose JSON value (a section or a list) does not parse."""
    names: list[str] = []
    for var in sorted(environ):
        if not var.upper().startswith(PREFIX) or var.upper() in OUTSIDE_SETTINGS:
            continue
        parts = var[len(PREFIX):].lower().split("__")
        bad, annotation = resolve(model, parts)
        if bad is not None:
            names = names or sorted({*env_names(model), *OUTSIDE_SETTINGS})
            here = [PREFIX + "__".join([*parts[:bad], f]).upper() for f in annotation.model_fields] \
                if bad and annotation is not None else []
            near = difflib.get_close_matches(var.upper(), here, n=1, cutoff=0.6) or \
                difflib.get_close_matches(var.upper(), names, n=1, cutoff=0.6)
            hint = f"did you mean {near[0]}?" if near else "see the settings table in the README"
            yield f"{var}: no such setting ({'.'.join(parts[:bad + 1])} is unknown); {hint}"
        elif model_of(annotation) is not None or items_of(annotation) is not None:
            try:
                parsed = json.loads(environ[var])
            except ValueError as e:
                shape = "a JSON object {...}" if model_of(annotation) or items_of(annotation)[0] == "dict" \
                    else "a JSON array [...]"
                yield f"{var}: not valid JSON ({e}); this setting takes {shape}"
                continue
            yield from (f"{var}: {p}" for p in unknown_in_value(annotation, parsed, tuple(parts)))
