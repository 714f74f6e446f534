"""Rolling a domain back to one of its deploys: the deploy names the point in time for the
alias service (aliasdesk/aliases/rollback.py), which does the work; the web page and the
``rollback`` command both come through here."""

from __future__ import annotations

import hashlib

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from aliasdesk.accounts.models import User
from aliasdesk.aliases.errors import AliasError
from aliasdesk.aliases.models import Domain
from aliasdesk.aliases.rollback import PointInTime, RollbackPlan, plan_rollback, rollback_domain
from aliasdesk.deploys.checks import map_diff
from aliasdesk.deploys.models import Deploy

DEPLOY_POINT = gettext_noop("deploy #%(id)s of %(when)s")


def rollback_target(domain: Domain, deploy_id: int) -> Deploy:
    """The deploy of ``domain`` to roll back to; AliasError unless it is one that installed a map."""
    deploy = Deploy.objects.filter(pk=deploy_id, domain=domain).first()
    if deploy is None:
        raise AliasError(_("%(domain)s has no deploy #%(id)s") % {"domain": domain.name, "id": deploy_id})
    if deploy.status != Deploy.Status.OK or deploy.finished_at is None:
        raise AliasError(_("deploy #%(id)s of %(domain)s installed no map (%(status)s)") % {
            "id": deploy_id, "domain": domain.name, "status": deploy.get_status_display()
        })
    return deploy


def point_of(deploy: Deploy) -> PointInTime:
    assert deploy.finished_at is not None
    when = timezone.localtime(deploy.finished_at)
    values = {"id": deploy.pk, "when": f"{when:%Y-%m-%d %H:%M}"}
    return PointInTime(deploy.serial, deploy.finished_at, _(DEPLOY_POINT) % values, record=DEPLOY_POINT % values)


def preview_rollback(domain: Domain, deploy: Deploy, user: User | None) -> RollbackPlan:
    return plan_rollback(domain, point_of(deploy), user)


def apply_rollback(
    domain: Domain, deploy: Deploy, user: User | None, *, expected_serial: int | None = None
) -> RollbackPlan:
    return rollback_domain(domain, point_of(deploy), user, expected_serial=expected_serial)


def rollback_diff(plan: RollbackPlan) -> str:
    """The unified diff from the map text now to the text as of the deploy."""
    diff = map_diff(plan.text_now, plan.text_then, plan.domain.map_path)
    name = plan.domain.map_path
    return diff.replace(f"--- {name} (on disk)\n", f"--- {name} (now)\n", 1).replace(
        f"+++ {name} (new)\n", f"+++ {name} (as of {plan.point.label})\n", 1
    )


def same_as_deployed(plan: RollbackPlan, deploy: Deploy) -> bool:
    """Whether the rolled-back text is byte for byte what the deploy installed (False when
    its hash was not recorded)."""
    return bool(deploy.sha256) and hashlib.sha256(plan.text_then.encode("utf-8")).hexdigest() == deploy.sha256
