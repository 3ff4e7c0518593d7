"""KQL's scalar operators in SQL, with Kusto's semantics rather than SQL's.

* Arithmetic: datetimes are TIMESTAMPs and timespans BIGINT ticks (see ``types``), so
  ``datetime +- timespan`` shifts by ``ticks // 10`` microseconds, ``datetime - datetime`` is a
  tick count, ``timespan * number`` stays ticks; integer ``/`` truncates towards zero and ``%`` is
  never negative (``0 <= N % D < abs(D)``).
* Equality: ``==`` of two nulls is null, of a null and a value false (``!=``: true), as Kusto's
  docs define; ``==`` on strings is case-sensitive, ``=~`` is not.
* String operators: ``has`` matches whole terms (maximal runs of letters, digits and ``_``),
  ``contains`` substrings, ``startswith``/``endswith`` prefixes/suffixes, all case-insensitive
  unless ``_cs``; a ``!`` form is the plain negation (strings are never null, so it is true
  where the positive form is false). Constant needles compile to ``ILIKE`` (an index-free but
  vectorised substring scan) with a regular-expression check for term boundaries.
"""

from __future__ import annotations

from sqlglot import exp

from . import ast
from .gen_dynamic import dynamic_to
from .gen_sql import cast, fn, lit_str, literal
from .tokens import STRING_OPERATOR_STEMS
from .typed import Typed
from .types import KustoType

__all__ = ["ScalarOps", "like_escape", "re2_escape"]

_NUMERIC_ORDER = [KustoType.INT, KustoType.LONG, KustoType.DECIMAL, KustoType.REAL]
_TERM = r"[^\pL\pN]"
_REGEX_SPECIAL = set("\\.^$|?*+()[]{}")
COMPARISONS = {"==", "!=", "<>", "<", "<=", ">", ">="}
ARITHMETIC = {"+", "-", "*", "/", "%"}
STRING_OPERATORS = {"=~", "!~", *STRING_OPERATOR_STEMS, "matches regex"}


def re2_escape(text: str) -> str:
    return "".join("\\" + ch if ch in _REGEX_SPECIAL else ch for ch in text)


def like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def numeric_type(a: KustoType, b: KustoType) -> KustoType:
    if KustoType.REAL in (a, b):
        return KustoType.REAL
    if KustoType.DECIMAL in (a, b):
        return KustoType.DECIMAL
    return KustoType.LONG


class ScalarOps:
    """Mixin of the generator: binary operators over compiled operands."""

    dialect: str

    # ------------------------------------------------------------------------------- helpers

    def coerce(self, value: Typed, target: KustoType) -> Typed:
        """Implicit conversion of ``value`` to ``target`` (dynamic unwrapping, int widening)."""
        if value.type == target:
            return value
        if value.type is KustoType.DYNAMIC:
            return dynamic_to(value, target, self.dialect)
        if target is KustoType.STRING:
            return self.to_string(value)
        if (value.type.is_numeric and target.is_numeric) or (value.type is KustoType.BOOL and target.is_numeric):
            return Typed(cast(value.sql, target, self.dialect), target, value.literal)
        return Typed(cast(value.sql, target, self.dialect, safe=True), target)

    def to_string(self, value: Typed) -> Typed:  # overridden by the generator (uses tostring())
        if value.type is KustoType.STRING:
            return value
        if value.type is KustoType.DYNAMIC:
            return dynamic_to(value, KustoType.STRING, self.dialect)
        return Typed(exp.Coalesce(this=cast(value.sql, "string", self.dialect), expressions=[lit_str("")]), "string")

    def _unify(self, left: Typed, right: Typed) -> tuple[Typed, Typed]:
        """Bring two comparison operands to one type (dynamic takes the other side's type)."""
        if left.type == right.type:
            return left, right
        if left.type is KustoType.DYNAMIC:
            return self.coerce(left, right.type), right
        if right.type is KustoType.DYNAMIC:
            return left, self.coerce(right, left.type)
        if left.type.is_numeric and right.type.is_numeric:
            target = numeric_type(left.type, right.type)
            if KustoType.REAL in (left.type, right.type) or KustoType.DECIMAL in (left.type, right.type):
                return self.coerce(left, target), self.coerce(right, target)
            return left, right
        if KustoType.STRING in (left.type, right.type):
            return self.to_string(left), self.to_string(right)
        return left, right

    # ---------------------------------------------------------------------------- arithmetic

    def arithmetic(self, op: str, left: Typed, right: Typed, node: ast.Node) -> Typed:
        lt, rt = left.type, right.type
        if lt is KustoType.DYNAMIC:
            left = self.coerce(left, KustoType.REAL if rt is KustoType.DYNAMIC or rt.is_numeric else rt)
            lt = left.type
        if rt is KustoType.DYNAMIC:
            right = self.coerce(right, KustoType.REAL if lt.is_numeric else lt)
            rt = right.type
        dt_, ts = KustoType.DATETIME, KustoType.TIMESPAN
        if lt is KustoType.BOOL:
            left, lt = self.coerce(left, KustoType.LONG), KustoType.LONG
        if rt is KustoType.BOOL:
            right, rt = self.coerce(right, KustoType.LONG), KustoType.LONG
        if op == "+" and {lt, rt} == {dt_, ts}:
            stamp, span = (left, right) if lt is dt_ else (right, left)
            return self.shift(stamp, span, negate=False)
        if op == "-" and lt is dt_ and rt is ts:
            return self.shift(left, right, negate=True)
        if op == "-" and lt is dt_ and rt is dt_:
            if left.is_constant and right.is_constant and left.literal is not None and right.literal is not None:
                return literal(ts, left.literal - right.literal, self.dialect)
            diff = exp.Sub(this=self.epoch_us(left.sql), expression=self.epoch_us(right.sql))
            return Typed(exp.Mul(this=exp.Paren(this=diff), expression=exp.Literal.number(10)), ts)
        if lt is ts and rt is ts:
            if op in {"+", "-", "%"}:
                return self._numeric(op, left, right, ts)
            if op == "/":
                return self._numeric("/", self.coerce(left, KustoType.REAL), right, KustoType.REAL)
        if (lt is ts and rt.is_numeric and op in {"*", "/"}) or (rt is ts and lt.is_numeric and op == "*"):
            span, number = (left, right) if lt is ts else (right, left)
            return self._span_scale(op, span, number)
        if lt.is_numeric and rt.is_numeric:
            return self._numeric(op, left, right, numeric_type(lt, rt))
        raise self.binder.semantic(f"operator '{op}' cannot be applied to {lt} and {rt}", node)

    def _numeric(self, op: str, left: Typed, right: Typed, result: KustoType) -> Typed:
        a, b = left.sql, right.sql
        integral = result in (KustoType.LONG, KustoType.INT, KustoType.TIMESPAN)
        if integral and KustoType.INT in (left.type, right.type):
            a = cast(a, "long", self.dialect) if left.type is KustoType.INT else a
            b = cast(b, "long", self.dialect) if right.type is KustoType.INT else b
        if result is KustoType.REAL:
            a = a if left.type is KustoType.REAL else cast(a, "real", self.dialect)
        folded = self._fold(op, left, right, result)
        if folded is not None:
            return folded
        a, b = exp.Paren(this=a), exp.Paren(this=b)
        if op == "+":
            sql: exp.Expression = exp.Add(this=a, expression=b)
        elif op == "-":
            sql = exp.Sub(this=a, expression=b)
        elif op == "*":
            sql = exp.Mul(this=a, expression=b)
        elif op == "/":
            divisor = exp.Nullif(this=b, expression=exp.Literal.number(0))
            sql = exp.IntDiv(this=a, expression=divisor) if integral else exp.Div(this=a, expression=b)
        else:  # % : Kusto's modulo is never negative
            if right.is_constant and isinstance(right.literal, int) and right.literal:
                divisor = exp.Literal.number(abs(right.literal))
            else:
                divisor = exp.Abs(this=exp.Nullif(this=b, expression=exp.Literal.number(0)))
            shifted = exp.Add(this=exp.Mod(this=a, expression=divisor), expression=divisor.copy())
            sql = exp.Mod(this=exp.Paren(this=shifted), expression=divisor.copy())
        return Typed(exp.Paren(this=sql), result)

    def _fold(self, op: str, left: Typed, right: Typed, result: KustoType) -> Typed | None:
        x, y = left.literal, right.literal
        if not (left.is_constant and right.is_constant) or x is None or y is None:
            return None
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (x, y)):
            return None
        if result is KustoType.DECIMAL:
            return None
        try:
            if op == "+":
                value = x + y
            elif op == "-":
                value = x - y
            elif op == "*":
                value = x * y
            elif op == "/" and y != 0:
                if result is KustoType.REAL:
                    value = float(x) / y
                else:
                    value = abs(x) // abs(y) * (1 if (x >= 0) == (y > 0) else -1)
            elif op == "%" and y != 0:
                value = x % abs(y)
            else:
                return None
        except (OverflowError, ValueError, ZeroDivisionError):
            return None
        if result in (KustoType.LONG, KustoType.TIMESPAN) and not -(2**63) <= int(value) < 2**63:
            return None
        return literal(result, value if result is KustoType.REAL else int(value), self.dialect)

    def _span_scale(self, op: str, span: Typed, number: Typed) -> Typed:
        if number.type is KustoType.REAL or number.type is KustoType.DECIMAL:
            if span.is_constant and number.is_constant and span.literal is not None and number.literal is not None:
                value = span.literal * float(number.literal) if op == "*" else None
                if op == "/" and float(number.literal) != 0:
                    value = span.literal / float(number.literal)
                if value is not None:
                    return literal(KustoType.TIMESPAN, int(value), self.dialect)
            real = self._numeric(op, self.coerce(span, KustoType.REAL), number, KustoType.REAL)
            return Typed(cast(fn("trunc", real.sql), "long", self.dialect), KustoType.TIMESPAN)
        return self._numeric(op, span, number, KustoType.TIMESPAN)

    def epoch_us(self, sql: exp.Expression) -> exp.Expression:
        return fn("toUnixTimestamp64Micro" if self.dialect == "clickhouse" else "epoch_us", sql.copy())

    def shift(self, stamp: Typed, span: Typed, *, negate: bool) -> Typed:
        """``stamp + span`` (``- span`` with ``negate``): a datetime moved by a timespan in ticks."""
        if stamp.is_constant and span.is_constant and stamp.literal is not None and span.literal is not None:
            ticks = stamp.literal - span.literal if negate else stamp.literal + span.literal
            if 0 <= ticks <= 3_155_378_975_999_999_999:
                return literal(KustoType.DATETIME, ticks, self.dialect)
        micros: exp.Expression
        if span.is_constant and span.literal is not None:
            micros = exp.Literal.number(int(span.literal / 10) if span.literal >= 0 else -int(-span.literal / 10))
        else:
            micros = exp.IntDiv(this=exp.Paren(this=span.sql.copy()), expression=exp.Literal.number(10))
        interval = exp.Interval(this=exp.Paren(this=micros), unit=exp.Var(this="MICROSECOND"))
        node = exp.Sub if negate else exp.Add
        return Typed(exp.Paren(this=node(this=stamp.sql.copy(), expression=interval)), KustoType.DATETIME)

    # ---------------------------------------------------------------------------- comparisons

    def compare(self, op: str, left: Typed, right: Typed, *, in_filter: bool) -> Typed:
        left, right = self._unify(left, right)
        folded = _fold_comparison(op, left, right)
        if folded is not None:
            return literal(KustoType.BOOL, folded, self.dialect)
        a, b = left.sql, right.sql
        if op in {"<", "<=", ">", ">="}:
            node = {"<": exp.LT, "<=": exp.LTE, ">": exp.GT, ">=": exp.GTE}[op]
            return Typed(node(this=a, expression=b), KustoType.BOOL)
        equal = op == "=="
        node = exp.EQ if equal else exp.NEQ
        sql: exp.Expression = node(this=a, expression=b)
        both_strings = left.type is KustoType.STRING and right.type is KustoType.STRING
        if both_strings or (in_filter and equal):
            return Typed(sql, KustoType.BOOL)
        fixed = exp.Coalesce(this=sql, expressions=[exp.Boolean(this=not equal)])
        if (left.is_constant and left.literal is not None) or (right.is_constant and right.literal is not None):
            return Typed(fixed, KustoType.BOOL)
        both_null = exp.And(
            this=exp.Is(this=a.copy(), expression=exp.Null()), expression=exp.Is(this=b.copy(), expression=exp.Null())
        )
        return Typed(exp.Case(ifs=[exp.If(this=both_null, true=exp.Null())], default=fixed), KustoType.BOOL)

    # ------------------------------------------------------------------------ string operators

    def string_op(self, op: str, left: Typed, right: Typed) -> Typed:
        negated = op.startswith("!")
        base = op[1:] if negated else op
        if base == "~":  # "!~"
            base = "=~"
        left = self.to_string(left)
        right = self.to_string(right)
        sql = self._string_positive(base, left, right)
        return Typed(exp.Not(this=exp.Paren(this=sql)) if negated else sql, KustoType.BOOL)

    def _string_positive(self, op: str, left: Typed, right: Typed) -> exp.Expression:
        a = left.sql
        const = right.literal if right.is_constant and isinstance(right.literal, str) else None
        case_sensitive = op.endswith("_cs")
        base = op.removesuffix("_cs")
        if base == "=~":
            if const is not None:
                return exp.EQ(this=self.lower(a), expression=lit_str(const.lower()))
            return exp.EQ(this=self.lower(a), expression=self.lower(right.sql))
        if base == "matches regex":
            return exp.RegexpLike(this=a, expression=right.sql)
        if base in {"contains", "startswith", "endswith"}:
            if const is not None:
                pattern = like_escape(const)
                pattern = {"contains": f"%{pattern}%", "startswith": f"{pattern}%", "endswith": f"%{pattern}"}[base]
                return self.like(a, pattern, case_sensitive=case_sensitive, escaped=like_escape(const) != const)
            x, y = (a, right.sql) if case_sensitive else (self.lower(a), self.lower(right.sql))
            if base == "contains":
                if self.dialect == "clickhouse":
                    return exp.GT(this=fn("position", x, y), expression=exp.Literal.number(0))
                return fn("contains", x, y)
            if base == "startswith":
                return exp.StartsWith(this=x, expression=y)
            return fn("endsWith" if self.dialect == "clickhouse" else "ends_with", x, y)
        # has, hasprefix, hassuffix: whole-term matching
        before = f"(?:^|{_TERM})" if base in {"has", "hasprefix"} else ""
        after = f"(?:$|{_TERM})" if base in {"has", "hassuffix"} else ""
        flags = "" if case_sensitive else "(?i)"
        if const is not None:
            regex = exp.RegexpLike(this=a.copy(), expression=lit_str(f"{flags}{before}{re2_escape(const)}{after}"))
            if not const:
                return regex
            pattern = like_escape(const)
            prefilter = self.like(a, f"%{pattern}%", case_sensitive=case_sensitive, escaped=like_escape(const) != const)
            return exp.And(this=prefilter, expression=regex)
        escaped = fn("regexp_escape", right.sql) if self.dialect != "clickhouse" else fn("escapeRegexp", right.sql)
        pattern = exp.DPipe(
            this=exp.DPipe(this=lit_str(f"{flags}{before}"), expression=escaped), expression=lit_str(after)
        )
        return exp.RegexpLike(this=a, expression=pattern)

    def lower(self, sql: exp.Expression) -> exp.Expression:
        if self.dialect == "clickhouse":
            return fn("lowerUTF8", sql.copy())
        return exp.Lower(this=sql.copy())

    def like(self, sql: exp.Expression, pattern: str, *, case_sensitive: bool, escaped: bool) -> exp.Expression:
        node = (exp.Like if case_sensitive else exp.ILike)(this=sql.copy(), expression=lit_str(pattern))
        if escaped and self.dialect != "clickhouse":
            return exp.Escape(this=node, expression=lit_str("\\"))
        return node


_PYTHON_COMPARE = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _fold_comparison(op: str, left: Typed, right: Typed) -> bool | None:
    """The value of a comparison of two non-null constants of the same kind, else None."""
    if not (left.is_constant and right.is_constant) or left.literal is None or right.literal is None:
        return None
    a, b = left.literal, right.literal
    numbers = (int, float)
    same = (isinstance(a, str) and isinstance(b, str)) or (
        isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) and not isinstance(b, bool)
    )
    if not same or left.type is KustoType.DYNAMIC or right.type is KustoType.DYNAMIC:
        return None
    return _PYTHON_COMPARE[op](a, b)
