"""Each existing map owns the mail domains of the keys it holds today, so every map that
deploys now still deploys. A mail domain held by several maps goes to the map named after
it, else to the one with the most of its keys; the others' keys of it are recorded as
ownership conflicts, which their deploys only warn about and `aliasdesk check` lists.
"""

from collections import Counter, defaultdict

from django.db import migrations

from aliasdesk.aliases.collation import compare_exactly
from aliasdesk.postfix.maps.keys import key_form, mail_domain
from aliasdesk.postfix.maps.virtual import parse_virtual


def forward(apps, schema_editor):
    Domain = apps.get_model("aliases", "Domain")
    Alias = apps.get_model("aliases", "Alias")
    MailDomain = apps.get_model("aliases", "MailDomain")
    OwnershipConflict = apps.get_model("aliases", "OwnershipConflict")

    owner = {}
    for domain in Domain.objects.order_by("pk"):
        owner.setdefault(mail_domain(domain.name), domain.pk)
    holders = defaultdict(Counter)
    rows = (
        Alias.objects.filter(deleted_at__isnull=True, domain__deleted_at__isnull=True)
        .order_by()
        .values_list("domain_id", "key")
    )
    for domain_id, key in rows.iterator(chunk_size=5000):
        form = key_form(key)
        if not form.bare:
            holders[form.domain][domain_id] += 1
    for domain in Domain.objects.filter(deleted_at__isnull=True).exclude(header="", footer=""):
        for text in (domain.header, domain.footer):
            for entry in parse_virtual(text).entries if text else []:
                form = key_form(entry.key)
                if entry.enabled and not form.bare:
                    holders[form.domain][domain.pk] += 1

    extras = defaultdict(list)
    conflicts = []
    for name in sorted(holders):
        counter = holders[name]
        if name not in owner:
            best = min(counter.items(), key=lambda item: (-item[1], item[0]))[0]
            owner[name] = best
            extras[best].append(name)
        conflicts += [(domain_id, name, n) for domain_id, n in counter.items() if domain_id != owner[name]]

    MailDomain.objects.bulk_create([MailDomain(name=name, domain_id=domain_id) for name, domain_id in owner.items()])
    for domain_id, names in extras.items():
        Domain.objects.filter(pk=domain_id).update(extra_domains="\n".join(sorted(names)))
    OwnershipConflict.objects.bulk_create(
        [OwnershipConflict(domain_id=d, mail_domain=name, keys=n) for d, name, n in conflicts]
    )


def exact_names(apps, schema_editor):
    """Before any name goes in: on MariaDB hjolavefsja.is and hjólavefsjá.is would be one
    unique name (0007 does the same for the older tables' columns)."""
    compare_exactly(schema_editor, apps.get_model("aliases", "MailDomain"), ["name"])
    compare_exactly(schema_editor, apps.get_model("aliases", "OwnershipConflict"), ["mail_domain"])


def backward(apps, schema_editor):
    apps.get_model("aliases", "OwnershipConflict").objects.all().delete()
    apps.get_model("aliases", "MailDomain").objects.all().delete()
    apps.get_model("aliases", "Domain").objects.update(extra_domains="")


class Migration(migrations.Migration):
    dependencies = [("aliases", "0005_mail_domains")]
    operations = [
        # DDL: outside a transaction, which MariaDB cannot roll it back in anyway.
        migrations.RunPython(exact_names, migrations.RunPython.noop, atomic=False),
        migrations.RunPython(forward, backward),
    ]
