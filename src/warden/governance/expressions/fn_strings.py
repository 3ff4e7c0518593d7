"""String and encoding functions (``uniqueString`` and ``guid`` reproduce ARM's values)."""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from typing import Any
from urllib.parse import quote, unquote, urljoin

from .errors import ExpressionEvaluationError
from .registry import TEMPLATE_ONLY, registry
from .values import is_number, require_int, require_string, to_arm_string, type_name

__all__ = ["guid", "unique_string"]


@registry.function("string", 1, 1)
def _string(ctx, args):
    return to_arm_string(args[0])


@registry.function("toLower", 1, 1)
def _to_lower(ctx, args):
    return require_string("toLower", args[0]).lower()


@registry.function("toUpper", 1, 1)
def _to_upper(ctx, args):
    return require_string("toUpper", args[0]).upper()


@registry.function("trim", 1, 1)
def _trim(ctx, args):
    return require_string("trim", args[0]).strip()


@registry.function("startsWith", 2, 2)
def _starts_with(ctx, args):
    text, prefix = require_string("startsWith", args[0], 1), require_string("startsWith", args[1], 2)
    return text.lower().startswith(prefix.lower())  # case-insensitive in ARM


@registry.function("endsWith", 2, 2)
def _ends_with(ctx, args):
    text, suffix = require_string("endsWith", args[0], 1), require_string("endsWith", args[1], 2)
    return text.lower().endswith(suffix.lower())


@registry.function("replace", 3, 3)
def _replace(ctx, args):
    text = require_string("replace", args[0], 1)
    old = require_string("replace", args[1], 2)
    new = require_string("replace", args[2], 3)
    if not old:
        raise ExpressionEvaluationError("The template function 'replace' can't replace an empty string")
    return text.replace(old, new)


@registry.function("split", 2, 2)
def _split(ctx, args):
    text = require_string("split", args[0], 1)
    delimiters = args[1]
    if isinstance(delimiters, str):
        delimiters = [delimiters]
    if not isinstance(delimiters, list) or not all(isinstance(d, str) for d in delimiters):
        raise ExpressionEvaluationError("The template function 'split' expects a String or an Array of Strings")
    delimiters = [d for d in delimiters if d]
    if not delimiters:
        return [text]
    # .NET String.Split: at each position the first delimiter (in the given order) that matches wins
    pattern = "|".join(re.escape(d) for d in delimiters)
    return re.split(pattern, text)


@registry.function("substring", 1, 3)
def _substring(ctx, args):
    text = require_string("substring", args[0], 1)
    start = require_int("substring", args[1], 2) if len(args) > 1 else 0
    length = require_int("substring", args[2], 3) if len(args) > 2 else len(text) - start
    if start < 0 or start > len(text) or length < 0 or start + length > len(text):
        raise ExpressionEvaluationError(
            f"The index and length parameters of 'substring' must refer to a location within the string "
            f"(string length {len(text)}, start {start}, length {length})"
        )
    return text[start : start + length]


@registry.function("padLeft", 2, 3)
def _pad_left(ctx, args):
    value = args[0]
    if isinstance(value, bool) or not (isinstance(value, str) or is_number(value)):
        raise ExpressionEvaluationError(
            f"The template function 'padLeft' expects a String or an Integer; got {type_name(value)}"
        )
    total = require_int("padLeft", args[1], 2)
    pad = args[2] if len(args) > 2 else " "
    if not isinstance(pad, str) or len(pad) != 1:
        raise ExpressionEvaluationError("The template function 'padLeft' expects a single padding character")
    return to_arm_string(value).rjust(total, pad)


_FORMAT_ITEM = re.compile(r"\{\{|\}\}|\{(\d+)(?:,(-?\d+))?(?::([^}]*))?\}")


def _format_one(value: Any, spec: str | None) -> str:
    if not spec or not is_number(value):
        return to_arm_string(value)
    kind, digits = spec[0].upper(), spec[1:]
    precision = int(digits) if digits.isdigit() else None
    if kind == "D" and isinstance(value, int):
        return f"{value:0{precision or 0}d}"
    if kind == "X" and isinstance(value, int):
        text = f"{value:0{precision or 0}x}"
        return text.upper() if spec[0] == "X" else text
    if kind == "N":
        return f"{value:,.{2 if precision is None else precision}f}"
    if kind == "F":
        return f"{value:.{2 if precision is None else precision}f}"
    if kind == "P":
        return f"{value * 100:,.{2 if precision is None else precision}f} %"
    if set(spec) <= {"0", "#", "."}:  # custom zero-padding such as "000"
        width = spec.split(".")[0].count("0")
        return f"{value:0{width}d}" if isinstance(value, int) else to_arm_string(value)
    return to_arm_string(value)


@registry.function("format", 1, None)
def _format(ctx, args):
    template = require_string("format", args[0], 1)
    values = args[1:]

    def replace(match: re.Match) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        index = int(match.group(1))
        if index >= len(values):
            raise ExpressionEvaluationError(f"The template function 'format' has no argument {index}")
        text = _format_one(values[index], match.group(3))
        if match.group(2):
            width = int(match.group(2))
            text = text.ljust(-width) if width < 0 else text.rjust(width)
        return text

    return _FORMAT_ITEM.sub(replace, template)


@registry.function("json", 1, 1)
def _json(ctx, args):
    text = require_string("json", args[0])
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ExpressionEvaluationError(f"The template function 'json' got invalid JSON: {exc}") from exc


@registry.function("base64", 1, 1)
def _base64(ctx, args):
    return base64.b64encode(require_string("base64", args[0]).encode("utf-8")).decode("ascii")


def _from_base64(function: str, value: Any) -> str:
    try:
        return base64.b64decode(require_string(function, value), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ExpressionEvaluationError(f"The template function '{function}' got invalid base64 text") from exc


@registry.function("base64ToString", 1, 1)
def _base64_to_string(ctx, args):
    return _from_base64("base64ToString", args[0])


@registry.function("base64ToJson", 1, 1)
def _base64_to_json(ctx, args):
    text = _from_base64("base64ToJson", args[0])
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ExpressionEvaluationError("The template function 'base64ToJson' got invalid JSON") from exc


@registry.function("dataUri", 1, 1)
def _data_uri(ctx, args):
    encoded = base64.b64encode(require_string("dataUri", args[0]).encode("utf-8")).decode("ascii")
    return f"data:text/plain;charset=utf8;base64,{encoded}"


@registry.function("dataUriToString", 1, 1)
def _data_uri_to_string(ctx, args):
    text = require_string("dataUriToString", args[0])
    if not text.startswith("data:") or "," not in text:
        raise ExpressionEvaluationError("The template function 'dataUriToString' expects a data URI")
    header, payload = text[5:].split(",", 1)
    if header.endswith(";base64"):
        return _from_base64("dataUriToString", payload)
    return unquote(payload)


@registry.function("uri", 2, 2)
def _uri(ctx, args):
    base = require_string("uri", args[0], 1)
    relative = require_string("uri", args[1], 2)
    return urljoin(base, relative)


@registry.function("uriComponent", 1, 1)
def _uri_component(ctx, args):
    return quote(require_string("uriComponent", args[0]), safe="")


@registry.function("uriComponentToString", 1, 1)
def _uri_component_to_string(ctx, args):
    return unquote(require_string("uriComponentToString", args[0]))


# ----------------------------------------------------------------------------- deterministic ids

_GUID_NAMESPACE = uuid.UUID("11fb06fb-712d-4ddd-98c7-e71bbd588830")
_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"
_M32 = 0xFFFFFFFF


def _rotl(value: int, shift: int) -> int:
    return ((value << shift) | (value >> (32 - shift))) & _M32


def _fmix(value: int) -> int:
    value ^= value >> 16
    value = (value * 0x85EBCA6B) & _M32
    value ^= value >> 13
    value = (value * 0xC2B2AE35) & _M32
    return value ^ (value >> 16)


def _murmur64(data: bytes) -> int:
    """The 64-bit MurmurHash variant behind ARM's ``uniqueString`` (two 32-bit lanes, seed 0)."""
    c1, c2 = 0x239B961B, 0xAB0E9789
    length = len(data)
    h1 = h2 = 0
    index = 0
    while index + 8 <= length:
        k1 = int.from_bytes(data[index : index + 4], "little")
        k2 = int.from_bytes(data[index + 4 : index + 8], "little")
        k1 = (_rotl((k1 * c1) & _M32, 15) * c2) & _M32
        h1 = (_rotl(h1 ^ k1, 19) + h2) & _M32
        h1 = (h1 * 5 + 0x561CCD1B) & _M32
        k2 = (_rotl((k2 * c2) & _M32, 17) * c1) & _M32
        h2 = (_rotl(h2 ^ k2, 13) + h1) & _M32
        h2 = (h2 * 5 + 0x0BCAA747) & _M32
        index += 8
    tail = length - index
    if tail:
        k1 = int.from_bytes(data[index : index + min(tail, 4)], "little")
        h1 ^= (_rotl((k1 * c1) & _M32, 15) * c2) & _M32
        if tail > 4:
            k2 = int.from_bytes(data[index + 4 : index + tail], "little")
            h2 ^= (_rotl((k2 * c2) & _M32, 17) * c1) & _M32
    h1 ^= length
    h2 ^= length
    h1 = (h1 + h2) & _M32
    h2 = (h2 + h1) & _M32
    h1, h2 = _fmix(h1), _fmix(h2)
    h1 = (h1 + h2) & _M32
    h2 = (h2 + h1) & _M32
    return (h2 << 32) | h1


def unique_string(*values: str) -> str:
    """ARM's ``uniqueString(values...)``: 13 base-32 characters of a hash of the values joined by ``-``."""
    digest = _murmur64("-".join(values).encode("utf-8"))
    return "".join(_BASE32[((digest << (5 * i)) & 0xFFFFFFFFFFFFFFFF) >> 59] for i in range(13))


def guid(*values: str) -> str:
    """ARM's ``guid(values...)``: a name-based (v5) UUID of the values joined by ``-``."""
    return str(uuid.uuid5(_GUID_NAMESPACE, "-".join(values)))


def _strings(function: str, args: list[Any]) -> list[str]:
    return [require_string(function, value, i) for i, value in enumerate(args, 1)]


@registry.function("uniqueString", 1, None)
def _unique_string(ctx, args):
    return unique_string(*_strings("uniqueString", args))


@registry.function("guid", 1, None)
def _guid(ctx, args):
    return guid(*_strings("guid", args))


@registry.function("newGuid", 0, 0, scopes=TEMPLATE_ONLY)
def _new_guid(ctx, args):
    return str(uuid.uuid4())
