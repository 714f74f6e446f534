from django.apps import AppConfig


class DbMoveConfig(AppConfig):
    """The whole database in one engine-neutral file (``aliasdesk dbexport`` / ``dbimport``).

    A top layer like ``web``: it reads every app's models through the app registry, and no
    app uses it.
    """

    name = "aliasdesk.dbmove"
    label = "dbmove"
