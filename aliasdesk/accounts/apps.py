from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "aliasdesk.accounts"
    label = "accounts"

    def ready(self) -> None:
        from simple_history.signals import pre_create_historical_record

        from aliasdesk.accounts import channel, signals

        signals.connect()
        pre_create_historical_record.connect(channel.mark_history, dispatch_uid="aliasdesk-history-channel")
