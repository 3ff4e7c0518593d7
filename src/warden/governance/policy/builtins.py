"""Import a directory of definition and initiative files (Azure's ``built-in-policies`` layout)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .definition import PolicyDefinition, _lower_keys, load_definition
from .errors import PolicyDefinitionError
from .set_definition import PolicySetDefinition, check_references, load_set_definition

__all__ = ["ImportReport", "import_directory", "load_document"]


@dataclass(slots=True)
class ImportReport:
    """What :func:`import_directory` loaded (keyed by lower-cased name) and what failed, with reasons."""

    definitions: dict[str, PolicyDefinition] = field(default_factory=dict)
    set_definitions: dict[str, PolicySetDefinition] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)
    reference_problems: list[tuple[str, str]] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # lower-cased name -> file

    @property
    def ok(self) -> bool:
        return not self.failures and not self.reference_problems


def load_document(document: Any) -> PolicyDefinition | PolicySetDefinition:
    """Load a parsed definition or initiative, deciding which by its content."""
    props = document
    if isinstance(document, dict):
        keys = _lower_keys(document)
        if "properties" in keys and isinstance(keys["properties"][1], dict):
            props = keys["properties"][1]
    if isinstance(props, dict) and "policydefinitions" in _lower_keys(props):
        return load_set_definition(document)
    return load_definition(document)


def import_directory(root: str | Path, *, check_members: bool = True) -> ImportReport:
    """Load every ``*.json`` under ``root``; a file that fails is reported, never fatal.

    With ``check_members`` each initiative's members are checked against the definitions found
    (unknown ids, undeclared or missing parameters) and problems land in ``reference_problems``.
    """
    report = ImportReport()
    base = Path(root)
    for path in sorted(base.rglob("*.json")):
        relative = str(path.relative_to(base))
        try:
            document = json.loads(path.read_text(encoding="utf-8-sig"))
            loaded = load_document(document)
        except ValueError as exc:
            report.failures.append((relative, f"not valid JSON: {exc}"))
            continue
        except PolicyDefinitionError as exc:
            report.failures.append((relative, str(exc)))
            continue
        key = (loaded.name or path.stem).lower()
        report.files[key] = relative
        if isinstance(loaded, PolicySetDefinition):
            report.set_definitions[key] = loaded
        else:
            report.definitions[key] = loaded
    if check_members:
        for key, set_definition in report.set_definitions.items():
            for problem in check_references(set_definition, report.definitions):
                report.reference_problems.append((report.files[key], problem))
    return report
