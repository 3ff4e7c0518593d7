"""The Kusto scalar type system and its mapping onto DuckDB, ClickHouse and Arrow.

Storage decisions (one place, so the generator, the loader and the encoder agree):

- ``datetime`` is a DuckDB ``TIMESTAMP`` (no time zone, always UTC by convention, microsecond
  resolution). Kusto counts 100 ns ticks; the seventh fractional digit is lost on storage. We
  accept that because DuckDB's date functions (``date_trunc``, ``time_bucket``, ``strftime``)
  are built on microsecond timestamps, the nanosecond type only spans 1677-2262 while Kusto's
  datetime spans 0001-9999, and ClickHouse gets the same precision with ``DateTime64(6, 'UTC')``.
  ``TIMESTAMP WITH TIME ZONE`` is avoided so that no result depends on a session time zone.
- ``timespan`` is a ``BIGINT`` count of 100 ns ticks, Kusto's own unit. It is exact, sums and
  averages like any integer, compares without DuckDB's month/day/micro ``INTERVAL`` quirks
  (``INTERVAL 1 MONTH = INTERVAL 30 DAYS`` is true there), and ClickHouse has no storable
  interval type at all. Arithmetic with datetimes converts ticks to microseconds (``ticks // 10``).
- ``dynamic`` is DuckDB ``JSON`` (text underneath); ClickHouse stores the JSON text in a
  ``String`` because its ``JSON`` column type cannot hold top-level arrays or scalars.
- ``guid`` is ``UUID`` on both engines (16 bytes, printed lower-case).
- ``decimal`` is ``DECIMAL(38, 18)``: Kusto's SqlDecimal has 38 digits of precision with a
  floating scale; a fixed scale of 18 keeps 20 integer digits.
- ``string`` is ``VARCHAR``. Kusto strings are never null (an absent string is ``''``), so loaders
  store ``''`` for a missing string and ClickHouse uses a non-nullable ``String``.
"""

from __future__ import annotations

import re
from enum import StrEnum

import pyarrow as pa
from sqlglot import exp

from warden.monitor.kql.errors import KqlSemanticError

__all__ = [
    "CLICKHOUSE_TYPES",
    "DUCKDB_TYPES",
    "KustoType",
    "from_arrow",
    "from_dotnet",
    "from_duckdb",
    "lookup_type",
    "parse_type",
    "to_sqlglot",
]


class KustoType(StrEnum):
    """A Kusto scalar type, spelled exactly as Azure spells it in query results."""

    BOOL = "bool"
    DATETIME = "datetime"
    DYNAMIC = "dynamic"
    GUID = "guid"
    INT = "int"
    LONG = "long"
    REAL = "real"
    STRING = "string"
    TIMESPAN = "timespan"
    DECIMAL = "decimal"

    @property
    def is_numeric(self) -> bool:
        """True for int, long, real and decimal."""
        return self in _NUMERIC

    @property
    def duckdb(self) -> str:
        """The DuckDB column type that stores this Kusto type."""
        return DUCKDB_TYPES[self]

    @property
    def clickhouse(self) -> str:
        """The ClickHouse column type that stores this Kusto type."""
        return CLICKHOUSE_TYPES[self]


#: The column where log stores keep each row's ingestion time, for ``ingestion_time()``: in every
#: stored table, in no schema (so ``*``, ``getschema`` and the query API never show it).
INGESTION_TIME_COLUMN = "__ingestion_time"

_NUMERIC = frozenset({KustoType.INT, KustoType.LONG, KustoType.REAL, KustoType.DECIMAL})

# Every name a declaration (datatable, let-function parameters, to typeof(...)) may use. The list
# follows the language service's ScalarTypes table (microsoft/Kusto-Query-Language), which is more
# permissive than the docs page: the docs call float/int16/uint* "unsupported", yet the parser
# accepts them as aliases of real/int/long. Lookup is case-sensitive, as it is in Kusto.
_ALIASES: dict[str, KustoType] = {
    "bool": KustoType.BOOL,
    "boolean": KustoType.BOOL,
    "datetime": KustoType.DATETIME,
    "date": KustoType.DATETIME,
    "dynamic": KustoType.DYNAMIC,
    "guid": KustoType.GUID,
    "uuid": KustoType.GUID,
    "uniqueid": KustoType.GUID,
    "int": KustoType.INT,
    "int32": KustoType.INT,
    "int8": KustoType.INT,
    "int16": KustoType.INT,
    "uint": KustoType.INT,
    "uint8": KustoType.INT,
    "uint16": KustoType.INT,
    "uint32": KustoType.INT,
    "long": KustoType.LONG,
    "int64": KustoType.LONG,
    "ulong": KustoType.LONG,
    "uint64": KustoType.LONG,
    "real": KustoType.REAL,
    "double": KustoType.REAL,
    "float": KustoType.REAL,
    "single": KustoType.REAL,
    "string": KustoType.STRING,
    "timespan": KustoType.TIMESPAN,
    "time": KustoType.TIMESPAN,
    "decimal": KustoType.DECIMAL,
}

# The .NET type names the Kusto engine reports (e.g. in the conformance corpus' column_types and
# in getschema's DataType column). SByte is how Kusto stores bool.
_DOTNET: dict[str, KustoType] = {
    "Boolean": KustoType.BOOL,
    "SByte": KustoType.BOOL,
    "DateTime": KustoType.DATETIME,
    "Object": KustoType.DYNAMIC,
    "Guid": KustoType.GUID,
    "Int32": KustoType.INT,
    "Int64": KustoType.LONG,
    "Double": KustoType.REAL,
    "String": KustoType.STRING,
    "TimeSpan": KustoType.TIMESPAN,
    "SqlDecimal": KustoType.DECIMAL,
    "Decimal": KustoType.DECIMAL,
}

DUCKDB_TYPES: dict[KustoType, str] = {
    KustoType.BOOL: "BOOLEAN",
    KustoType.DATETIME: "TIMESTAMP",
    KustoType.DYNAMIC: "JSON",
    KustoType.GUID: "UUID",
    KustoType.INT: "INTEGER",
    KustoType.LONG: "BIGINT",
    KustoType.REAL: "DOUBLE",
    KustoType.STRING: "VARCHAR",
    KustoType.TIMESPAN: "BIGINT",
    KustoType.DECIMAL: "DECIMAL(38, 18)",
}

CLICKHOUSE_TYPES: dict[KustoType, str] = {
    KustoType.BOOL: "Nullable(Bool)",
    KustoType.DATETIME: "Nullable(DateTime64(6, 'UTC'))",
    KustoType.DYNAMIC: "Nullable(String)",
    KustoType.GUID: "Nullable(UUID)",
    KustoType.INT: "Nullable(Int32)",
    KustoType.LONG: "Nullable(Int64)",
    KustoType.REAL: "Nullable(Float64)",
    KustoType.STRING: "String",
    KustoType.TIMESPAN: "Nullable(Int64)",
    KustoType.DECIMAL: "Nullable(Decimal(38, 18))",
}


def lookup_type(name: str) -> KustoType | None:
    """Return the Kusto type a declaration name (or alias) denotes, or None if it is not one."""
    return _ALIASES.get(name)


def parse_type(name: str) -> KustoType:
    """Return the Kusto type a declaration name (or alias) denotes.

    Raises KqlSemanticError for a name that is not a Kusto scalar type.
    """
    found = _ALIASES.get(name)
    if found is None:
        raise KqlSemanticError(f"unknown scalar type '{name}'")
    return found


def from_dotnet(name: str) -> KustoType | None:
    """Return the Kusto type of a .NET type name (``Int64``, ``System.Int64``...), or None."""
    return _DOTNET.get(name.removeprefix("System."))


def to_sqlglot(kusto_type: KustoType, dialect: str = "duckdb") -> exp.DataType:
    """Return the sqlglot DataType node storing ``kusto_type`` on ``dialect`` (duckdb or clickhouse)."""
    if dialect == "clickhouse":
        return exp.DataType.build(CLICKHOUSE_TYPES[kusto_type], dialect="clickhouse")
    return exp.DataType.build(DUCKDB_TYPES[kusto_type], dialect="duckdb")


def from_arrow(arrow_type: pa.DataType) -> KustoType:
    """Return the Kusto type a column of this Arrow type loads as.

    Unknown or lossy cases fall back to the nearest type: binary and null columns become
    ``string``, nested types ``dynamic``, ``time`` of day ``timespan``.
    """
    t = arrow_type
    if pa.types.is_dictionary(t):
        return from_arrow(t.value_type)
    if isinstance(t, pa.BaseExtensionType):
        if t.extension_name == "arrow.uuid":
            return KustoType.GUID
        if t.extension_name == "arrow.json":
            return KustoType.DYNAMIC
        return from_arrow(t.storage_type)
    if pa.types.is_boolean(t):
        return KustoType.BOOL
    if pa.types.is_integer(t):
        # Kusto's int is 32-bit signed; anything that may not fit is long (uint32 included).
        small = pa.types.is_int8(t) or pa.types.is_int16(t) or pa.types.is_int32(t)
        small = small or pa.types.is_uint8(t) or pa.types.is_uint16(t)
        return KustoType.INT if small else KustoType.LONG
    if pa.types.is_floating(t):
        return KustoType.REAL
    if pa.types.is_decimal(t):
        return KustoType.DECIMAL
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return KustoType.DATETIME
    if pa.types.is_duration(t) or pa.types.is_time(t) or pa.types.is_interval(t):
        return KustoType.TIMESPAN
    if pa.types.is_nested(t):
        return KustoType.DYNAMIC
    return KustoType.STRING


_DUCKDB_SIMPLE: dict[str, KustoType] = {
    "BOOLEAN": KustoType.BOOL,
    "TINYINT": KustoType.INT,
    "SMALLINT": KustoType.INT,
    "INTEGER": KustoType.INT,
    "UTINYINT": KustoType.INT,
    "USMALLINT": KustoType.INT,
    "BIGINT": KustoType.LONG,
    "UINTEGER": KustoType.LONG,
    "UBIGINT": KustoType.LONG,
    "HUGEINT": KustoType.LONG,
    "UHUGEINT": KustoType.LONG,
    "FLOAT": KustoType.REAL,
    "DOUBLE": KustoType.REAL,
    "DATE": KustoType.DATETIME,
    "INTERVAL": KustoType.TIMESPAN,
    "UUID": KustoType.GUID,
    "JSON": KustoType.DYNAMIC,
    "VARCHAR": KustoType.STRING,
}


def from_duckdb(type_name: str) -> KustoType:
    """Return the Kusto type a DuckDB column type (as ``DESCRIBE`` prints it) loads as.

    This is how CSV and JSON-lines columns are inferred: DuckDB's sniffer picks a SQL type and this
    maps it. Lists, structs, maps and unions are ``dynamic``; anything unrecognised is ``string``.
    """
    name = type_name.strip().upper()
    if name.endswith("]") or re.match(r"^(STRUCT|MAP|UNION)\b", name):
        return KustoType.DYNAMIC
    if name.startswith("DECIMAL") or name.startswith("NUMERIC"):
        return KustoType.DECIMAL
    # TIMESTAMP, TIMESTAMP_NS, TIMESTAMPTZ_NS, "TIMESTAMP WITH TIME ZONE"...; then TIME, TIMETZ...
    if name.startswith("TIMESTAMP"):
        return KustoType.DATETIME
    if name.startswith("TIME"):
        return KustoType.TIMESPAN
    return _DUCKDB_SIMPLE.get(name, KustoType.STRING)
