from django.http import HttpRequest

from aliasdesk.deploys.nodes import agent_mode


def deploy_mode(request: HttpRequest) -> dict[str, bool]:
    """Pages say "queued" and show the mail hosts when agents apply the deploys."""
    return {"agent_mode": agent_mode()}
