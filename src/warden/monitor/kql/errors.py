"""The KQL engine's exceptions: one root, :class:`KqlError`, and three kinds below it.

Every error may carry the position of the offending source text (1-based ``line`` and
``column``, 0-based ``offset``) and a two-line ``snippet``: the source line and a caret under the
offending column. ``str(error)`` renders all of it::

    unexpected token ')' (line 2, column 16)
    | where x == )
                 ^
"""

from __future__ import annotations

from typing import Any, Self


class KqlError(Exception):
    """Root of every error the KQL engine raises."""

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        offset: int | None = None,
        snippet: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.offset = offset
        self.snippet = snippet

    @classmethod
    def at(cls, message: str, text: str | None, offset: int, **extra: Any) -> Self:
        """Return an error located at ``offset`` of ``text`` (line, column and caret snippet computed)."""
        if text is None:
            return cls(message, offset=offset, **extra)
        offset = max(0, min(offset, len(text)))
        line_start = text.rfind("\n", 0, offset) + 1
        line_end = text.find("\n", offset)
        if line_end < 0:
            line_end = len(text)
        line = text.count("\n", 0, offset) + 1
        column = offset - line_start + 1
        snippet = caret_snippet(text[line_start:line_end], column)
        return cls(message, line=line, column=column, offset=offset, snippet=snippet, **extra)

    @classmethod
    def at_pos(cls, message: str, pos: Any, text: str | None = None, **extra: Any) -> Self:
        """Return an error at an AST position (anything with ``offset``, ``line``, ``column``).

        With the query ``text`` the snippet is included; without it only line and column are.
        """
        if text is not None:
            return cls.at(message, text, pos.offset, **extra)
        return cls(message, line=pos.line, column=pos.column, offset=pos.offset, **extra)

    def __str__(self) -> str:
        text = self.message
        if self.line is not None and self.column is not None:
            text += f" (line {self.line}, column {self.column})"
        if self.snippet:
            text += "\n" + self.snippet
        return text


def caret_snippet(source_line: str, column: int) -> str:
    """Return ``source_line`` and, below it, a caret under 1-based ``column`` (tabs kept aligned)."""
    source_line = source_line.rstrip("\r")
    prefix = "".join("\t" if ch == "\t" else " " for ch in source_line[: max(column - 1, 0)])
    return f"{source_line}\n{prefix}^"


class KqlSyntaxError(KqlError):
    """The text is not a well-formed KQL query."""


class KqlSemanticError(KqlError):
    """The query is well formed but wrong: an unknown table or column, a type mismatch, a bad argument."""


class KqlUnsupportedError(KqlError):
    """The query uses a KQL construct this engine does not implement; ``construct`` names it."""

    def __init__(self, message: str, *, construct: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.construct = construct
