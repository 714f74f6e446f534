"""Date and time formats where aliasdesk departs from Django's for a language (FORMAT_MODULE_PATH)."""
