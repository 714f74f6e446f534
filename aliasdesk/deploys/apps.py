from typing import Any

from django.apps import AppConfig


def _deploy_saved(sender: object, **kwargs: Any) -> None:
    # Imported on first use: the engine is not needed to start every command.
    from aliasdesk.deploys.onsave import deploy_saved

    deploy_saved(sender, **kwargs)


class DeploysConfig(AppConfig):
    name = "aliasdesk.deploys"
    label = "deploys"

    def ready(self) -> None:
        from aliasdesk.aliases.signals import map_changed

        map_changed.connect(_deploy_saved, dispatch_uid="aliasdesk-deploy-on-save")
