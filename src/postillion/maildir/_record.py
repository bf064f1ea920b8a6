"""Small slotted value classes, for modules on the delivery path.

``deliverquota`` is started once per message, so every millisecond of import
counts: ``dataclasses`` costs several (it imports ``inspect`` and compiles
code for each class at import time).  A class here lists its fields once, in
``__slots__``, writes its own ``__init__``, and gets from :class:`Record`
what a dataclass would generate: field-wise ``==`` and a ``repr`` of the
form ``Name(field=value, ...)``; :class:`FrozenRecord` adds immutability and
hashing, as ``@dataclass(frozen=True)`` does.
"""

from __future__ import annotations

# For the type checker a FrozenRecord is a frozen dataclass (assigning a
# field is an error); at run time the decorator does nothing, and typing is
# not imported.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import dataclass_transform
else:
    def dataclass_transform(**_options):
        return lambda cls: cls


class Record:
    """Equality and repr over the fields named in ``__slots__``.

    Subclass it directly: the fields are those of the class's own
    ``__slots__`` (set ``__match_args__`` to the same tuple, as a dataclass
    has it).  Defining ``__eq__`` leaves instances unhashable, as a mutable
    dataclass's are.
    """

    __slots__: tuple[str, ...] = ()

    def _fields(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Record) or other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{self.__class__.__qualname__}({fields})"


@dataclass_transform(frozen_default=True)
class FrozenRecord(Record):
    """A :class:`Record` whose fields cannot be reassigned; hashable.

    ``__init__`` sets the fields with ``object.__setattr__``.
    """

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def __hash__(self) -> int:
        return hash(self._fields())
