from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Webhooks: above aliases and deploys, it listens to them; none of them imports it."""

    name = "aliasdesk.webhooks"
    label = "webhooks"

    def ready(self) -> None:
        from simple_history.signals import post_create_historical_record

        from aliasdesk.aliases.signals import aliases_inserted
        from aliasdesk.deploys.signals import agent_round, deploy_finished
        from aliasdesk.webhooks import events, worker

        post_create_historical_record.connect(events.alias_recorded, dispatch_uid="aliasdesk-webhooks-alias")
        aliases_inserted.connect(events.aliases_inserted, dispatch_uid="aliasdesk-webhooks-import")
        deploy_finished.connect(events.deploy_finished, dispatch_uid="aliasdesk-webhooks-deploy")
        agent_round.connect(worker.agent_round, dispatch_uid="aliasdesk-webhooks-agent")
