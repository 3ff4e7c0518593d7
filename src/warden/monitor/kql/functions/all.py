"""Import every function module of this package so that all KQL functions are registered.

Modules are discovered rather than listed, so adding a family of functions is adding one module.
"""

import importlib
import pkgutil

from . import __name__ as _package
from . import __path__ as _path

_SKIP = {"all", "registry", "common"}

for _module in sorted(pkgutil.iter_modules(_path), key=lambda m: m.name):
    if _module.name not in _SKIP and not _module.name.startswith("_"):
        importlib.import_module(f"{_package}.{_module.name}")
