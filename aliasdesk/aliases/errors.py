"""The exception every refused alias or domain change raises."""

from __future__ import annotations


class AliasError(Exception):
    """A change that cannot be made; the message says why, for the user.

    ``field`` names the input the message is about (key, destinations, comment), if any.
    """

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field
