from django.apps import AppConfig


class MaillogConfig(AppConfig):
    name = "aliasdesk.maillog"
    label = "maillog"

    def ready(self) -> None:
        from aliasdesk.aliases.traffic import provide
        from aliasdesk.maillog.traffic import grid_columns

        provide(grid_columns())
