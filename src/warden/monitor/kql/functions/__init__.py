"""KQL scalar and aggregate functions, each compiled to sqlglot with Kusto's semantics.

Modules register implementations in :mod:`.registry` when imported; importing this package
imports them all.
"""
