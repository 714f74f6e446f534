from django.apps import AppConfig


class DeploysConfig(AppConfig):
    name = "aliasdesk.deploys"
    label = "deploys"

    def ready(self) -> None:
        from aliasdesk.aliases.signals import map_changed
        from aliasdesk.deploys.onsave import deploy_saved

        map_changed.connect(deploy_saved, dispatch_uid="aliasdesk-deploy-on-save")
