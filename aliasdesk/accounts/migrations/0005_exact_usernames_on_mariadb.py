"""User names compare exactly on MariaDB/MySQL (aliasdesk.aliases.collation), as on SQLite
and PostgreSQL: ``Alice`` and ``alice``, or ``rené`` and ``rene``, are two accounts there
too, so a database moved from another engine (``aliasdesk dbimport``) fits. Other
databases: nothing to do. aliasdesk's own checks for a name taken in another case compare
lower-cased names, which works under either collation."""

from django.db import migrations

from aliasdesk.aliases.collation import compare_exactly


def forward(apps, schema_editor):
    compare_exactly(schema_editor, apps.get_model("accounts", "User"), ["username"])


def backward(apps, schema_editor):
    compare_exactly(schema_editor, apps.get_model("accounts", "User"), ["username"], collation=None)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_merge_0003_security_events_0003_user_directory")]
    # DDL: outside a transaction, which MariaDB cannot roll it back in anyway.
    atomic = False
    operations = [migrations.RunPython(forward, backward)]
