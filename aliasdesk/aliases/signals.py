"""Signals the alias app sends; apps above it (deploys) listen. aliases imports none of them."""

from __future__ import annotations

from django.dispatch import Signal

# Sent once the transaction of a change to a domain with "deploy on save" has committed.
# Arguments: domain_id, user (who saved; None from the command line or the system).
map_changed = Signal()

# Sent by the importer's bulk insert (aliasdesk.aliases.importer.bulk_insert_aliases), inside
# its transaction, for rows written without the ORM (so without post_create_historical_record).
# Arguments: domain, user (or None), reason (of their history rows), rows: a list of
# (id, key, destinations, enabled, comment).
aliases_inserted = Signal()
