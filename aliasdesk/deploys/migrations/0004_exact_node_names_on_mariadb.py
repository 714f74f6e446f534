"""Node names compare exactly on MariaDB/MySQL (aliasdesk.aliases.collation), as on SQLite
and PostgreSQL: ``MX1`` and ``mx1`` are two nodes there too, so a database moved from
another engine (``aliasdesk dbimport``) fits. Other databases: nothing to do."""

from django.db import migrations

from aliasdesk.aliases.collation import compare_exactly


def forward(apps, schema_editor):
    compare_exactly(schema_editor, apps.get_model("deploys", "Node"), ["name"])


def backward(apps, schema_editor):
    compare_exactly(schema_editor, apps.get_model("deploys", "Node"), ["name"], collation=None)


class Migration(migrations.Migration):
    dependencies = [("deploys", "0003_nodes")]
    # DDL: outside a transaction, which MariaDB cannot roll it back in anyway.
    atomic = False
    operations = [migrations.RunPython(forward, backward)]
