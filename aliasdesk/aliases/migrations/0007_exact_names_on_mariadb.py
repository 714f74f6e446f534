"""Domain names, map paths, mail domains and folded keys compare exactly on MariaDB/MySQL
(aliasdesk.aliases.collation): two maps for hjolavefsja.is and hjólavefsjá.is, or keys
that differ only in an accent, are two things there too. Other databases: nothing to do."""

from django.db import migrations

from aliasdesk.aliases.collation import compare_exactly

COLUMNS = {
    "Domain": ["name", "map_path"],
    "MailDomain": ["name"],
    "OwnershipConflict": ["mail_domain"],
    "Alias": ["key_folded"],
}


def forward(apps, schema_editor):
    for model, fields in COLUMNS.items():
        compare_exactly(schema_editor, apps.get_model("aliases", model), fields)


def backward(apps, schema_editor):
    for model, fields in COLUMNS.items():
        compare_exactly(schema_editor, apps.get_model("aliases", model), fields, collation=None)


class Migration(migrations.Migration):
    dependencies = [("aliases", "0006_mail_domains_from_keys")]
    # DDL: outside a transaction, which MariaDB cannot roll it back in anyway.
    atomic = False
    operations = [migrations.RunPython(forward, backward)]
