"""Map-path policy, kept here for the deploy engine and views: it lives in :mod:`aliasdesk.aliases.paths`."""

from aliasdesk.aliases.paths import MapPathError, check_map_path, lock_path

__all__ = ["MapPathError", "check_map_path", "lock_path"]
