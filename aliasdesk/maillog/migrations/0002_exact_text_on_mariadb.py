"""Log sources, host names, reasons and peer domains compare exactly on MariaDB/MySQL
(aliasdesk.aliases.collation): a reason or a host that differs only in case is its own
counter row there too, instead of a duplicate-key error in the middle of an ingest."""

from django.db import migrations

from aliasdesk.aliases.collation import compare_exactly

COLUMNS = {
    "LogSource": ["node", "path"],
    "HostHour": ["host"],
    "ReasonDay": ["host", "reason"],
    "PeerDay": ["host", "domain"],
}


def forward(apps, schema_editor):
    for model, fields in COLUMNS.items():
        compare_exactly(schema_editor, apps.get_model("maillog", model), fields)


def backward(apps, schema_editor):
    for model, fields in COLUMNS.items():
        compare_exactly(schema_editor, apps.get_model("maillog", model), fields, collation=None)


class Migration(migrations.Migration):
    dependencies = [("maillog", "0001_initial")]
    # DDL: outside a transaction, which MariaDB cannot roll it back in anyway.
    atomic = False
    operations = [migrations.RunPython(forward, backward)]
