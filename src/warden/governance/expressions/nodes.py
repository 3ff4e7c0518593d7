"""The expression tree: literals, function calls, property access and indexing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Call", "Index", "Literal", "Node", "Property", "walk"]


@dataclass(frozen=True, slots=True)
class Literal:
    """A string or number written in the expression (or the whole value when it is not one)."""

    value: Any


@dataclass(frozen=True, slots=True)
class Call:
    """``name(args...)``; ``namespace`` is set for user-defined functions (``ns.fn()``)."""

    name: str
    args: tuple[Node, ...]
    position: int = 0
    namespace: str | None = None

    @property
    def key(self) -> str:
        """The lower-cased name used to look the function up (names are case-insensitive)."""
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Property:
    """``target.name`` (property names are matched case-insensitively)."""

    target: Node
    name: str


@dataclass(frozen=True, slots=True)
class Index:
    """``target[index]``: array element by integer or object property by string."""

    target: Node
    index: Node


Node = Literal | Call | Property | Index


def walk(node: Node):
    """Yield ``node`` and every node below it, parents first."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, Call):
            stack.extend(reversed(current.args))
        elif isinstance(current, Property):
            stack.append(current.target)
        elif isinstance(current, Index):
            stack.append(current.index)
            stack.append(current.target)
