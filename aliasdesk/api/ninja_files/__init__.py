"""django-ninja's templates and static files (swagger-ui, redoc) as an app, without importing
ninja: listed as the app ``ninja`` itself, Django would import ninja and pydantic at every
start, ~0.1 s that a command such as ``deploy`` never needs. The web's API imports it."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from django.apps import AppConfig


def _ninja_dir() -> str:
    spec = find_spec("ninja")  # finds the package without running it
    assert spec is not None and spec.submodule_search_locations
    return str(Path(next(iter(spec.submodule_search_locations))))


class NinjaFilesConfig(AppConfig):
    name = "aliasdesk.api.ninja_files"
    label = "ninja"
    verbose_name = "django-ninja files"
    path = _ninja_dir()
