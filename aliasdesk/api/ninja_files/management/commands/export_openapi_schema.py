"""django-ninja's own command, where Django looks for it (the app's path is ninja's)."""

from ninja.management.commands.export_openapi_schema import Command

__all__ = ["Command"]
