"""A faster `__init__` for the frozen, slotted dataclasses made once or more per claim on every plan run.

A frozen dataclass's generated `__init__` sets each field with `object.__setattr__(self, name, value)`, which looks
the slot up by name every time: a 13-field Balance took 1.45 µs to build, ~45 fields are set per claim. Calling each
slot's descriptor directly does the same in 1.0 µs. The class stays what it was: frozen (assignment still raises),
equal, hashable and printed as before; only construction is quicker.
"""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any, TypeVar

T = TypeVar("T")


def slot_init(cls: type[T]) -> type[T]:
    """Give `cls` (a `@dataclass(frozen=True, slots=True)` without `__post_init__`, default factories or init-only
    fields) an `__init__` that sets its slots through their descriptors. Apply above the dataclass decorator."""
    assert "__slots__" in cls.__dict__ and not hasattr(cls, "__post_init__"), cls
    names, defaults, setters = [], {}, {}
    for number, field in enumerate(fields(cls)):  # type: ignore[arg-type]
        assert field.init and not field.kw_only and field.default_factory is MISSING, (cls, field.name)
        names.append(field.name if field.default is MISSING else f"{field.name}=_d{number}")
        if field.default is not MISSING:
            defaults[f"_d{number}"] = field.default
        setters[f"_s{number}"] = getattr(cls, field.name).__set__
    body = "".join(f"    _s{number}(self, {field.name})\n" for number, field in enumerate(fields(cls)))  # type: ignore[arg-type]
    namespace: dict[str, Any] = {**defaults, **setters}
    exec(f"def __init__(self, {', '.join(names)}):\n{body}", namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    setattr(cls, "__init__", init)  # noqa: B010  (mypy does not let a method be assigned)
    return cls
