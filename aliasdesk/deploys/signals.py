"""Signals the deploys app sends; apps above it (webhooks) listen. deploys imports none of them."""

from __future__ import annotations

from django.dispatch import Signal

# Sent inside the transaction that saves a deploy's outcome (ok, noop, failed), by
# aliasdesk.deploys.engine.save_outcome. Arguments: deploy; drift (True when the deploy was
# refused because the map on disk was edited by hand since the last deploy).
deploy_finished = Signal()

# Sent by ``aliasdesk agent`` after each round (its deploys applied), outside any transaction:
# other work an agent may do in its loop (sending webhook deliveries). Arguments: agent.
agent_round = Signal()
