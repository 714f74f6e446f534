from django.conf import settings
from django.http import HttpRequest


def deploy_mode(request: HttpRequest) -> dict[str, bool]:
    """Pages say "queued" and show the mail hosts when agents apply the deploys."""
    return {"agent_mode": settings.DEPLOY_MODE == "agent"}
