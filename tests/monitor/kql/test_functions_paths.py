"""parse_path: Kusto's documented examples and a few edge cases."""

from __future__ import annotations

import pytest

from monitor.kql.function_harness import evaluate


def _parts(scheme: str, root: str, directory: str, name: str, file: str, ext: str, stream: str = "") -> dict:
    return {
        "Scheme": scheme,
        "RootPath": root,
        "DirectoryPath": directory,
        "DirectoryName": name,
        "Filename": file,
        "Extension": ext,
        "AlternateDataStreamName": stream,
    }


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (r"C:\temp\file.txt", _parts("", "C:", r"C:\temp", "temp", "file.txt", "txt")),
        (r"temp\file.txt", _parts("", "", "temp", "temp", "file.txt", "txt")),
        ("file://C:/temp/file.txt:some.exe", _parts("file", "C:", "C:/temp", "temp", "file.txt", "txt", "some.exe")),
        (r"\\shared\users\temp\file.txt.gz", _parts("", "", r"\\shared\users\temp", "temp", "file.txt.gz", "gz")),
        ("/usr/lib/temp/file.txt", _parts("", "", "/usr/lib/temp", "temp", "file.txt", "txt")),
        ("README", _parts("", "", "", "", "README", "")),
    ],
)
def test_parse_path(path: str, expected: dict) -> None:
    assert evaluate("parse_path", path) == expected
