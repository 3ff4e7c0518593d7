"""The exception tree of the expression language: one root, :class:`ExpressionError`."""

from __future__ import annotations

__all__ = [
    "ExpressionError",
    "ExpressionEvaluationError",
    "ExpressionSyntaxError",
    "FunctionNotAllowedError",
    "UnknownFunctionError",
]


class ExpressionError(Exception):
    """Root of every error raised by :mod:`warden.governance.expressions`."""


class ExpressionSyntaxError(ExpressionError):
    """The text is not a well-formed ``[...]`` expression; ``position`` is the 0-based offset in it."""

    def __init__(self, message: str, text: str = "", position: int | None = None) -> None:
        self.text = text
        self.position = position
        where = f" at position {position}" if position is not None else ""
        super().__init__(f"{message}{where} in expression {text!r}" if text else message)


class UnknownFunctionError(ExpressionError):
    """The expression calls a function the language does not define."""

    def __init__(self, name: str) -> None:
        self.function = name
        super().__init__(f"The template function '{name}' is not valid")


class FunctionNotAllowedError(ExpressionError):
    """The function exists but the context (e.g. a policy rule) forbids it."""

    def __init__(self, name: str, context: str, detail: str = "") -> None:
        self.function = name
        self.context = context
        extra = f": {detail}" if detail else ""
        super().__init__(f"The function '{name}' is not allowed in {context}{extra}")


class ExpressionEvaluationError(ExpressionError):
    """A function failed while the expression was evaluated (bad argument, missing property, ...)."""
