"""Signals the alias app sends; apps above it (deploys) listen. aliases imports none of them."""

from __future__ import annotations

from django.dispatch import Signal

# Sent once the transaction of a change to a domain with "deploy on save" has committed.
# Arguments: domain_id, user (who saved; None from the command line or the system).
map_changed = Signal()
