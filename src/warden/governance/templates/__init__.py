"""ARM templates, as far as policy needs them before deployment: resource expansion (pure)."""

from __future__ import annotations

from .expand import DeploymentScope, ExpandedResource, TemplateError, expand_template

__all__ = ["DeploymentScope", "ExpandedResource", "TemplateError", "expand_template"]
