"""/metrics: mail counters, domains and deploys, and log ingestion, for Prometheus.

Every scrape reads the database afresh through a registry of its own (no state in
the process, so any worker answers the same) in six aggregate queries, whatever
the number of domains. Open without signing in, but only to the client addresses
of ``METRICS_ALLOW`` or to a request with ``Authorization: Bearer METRICS_TOKEN``.
Behind a reverse proxy every client has the proxy's address (127.0.0.1 for the documented
proxy on the same host): a request that carries any forwarding header therefore counts as
remote and needs the token, whatever address it comes from.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterator
from datetime import datetime

from django.conf import settings
from django.db.models import Count, Max, Q, Sum
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.deploys.models import Deploy
from aliasdesk.maillog.models import HostHour, LogSource

MESSAGE_KINDS = (
    "received", "delivered", "forwarded", "deferrals", "bounced", "rejected", "reject_warnings", "held", "discarded",
)
FINISHED = (Deploy.Status.OK, Deploy.Status.NOOP, Deploy.Status.FAILED)


def _timestamp(moment: datetime) -> float:
    return moment.timestamp()


class AliasdeskCollector(Collector):
    """The metrics of one scrape, read when the registry collects them."""

    def collect(self) -> Iterator[Metric]:
        yield from self._mail()
        yield from self._domains()
        yield from self._logingest()

    def _mail(self) -> Iterator[Metric]:
        messages = CounterMetricFamily(
            "aliasdesk_mail_messages", "Messages counted in the mail logs (as pflogsumm counts them).",
            labels=["host", "kind"],
        )
        size = CounterMetricFamily(
            "aliasdesk_mail_bytes", "Bytes of mail received and delivered, from the mail logs.",
            labels=["host", "direction"],
        )
        fields = [*MESSAGE_KINDS, "bytes_received", "bytes_delivered"]
        rows = (
            HostHour.objects.values("host")
            .annotate(**{f"n_{f}": Sum(f) for f in fields})
            .order_by("host")
            .values_list("host", *(f"n_{f}" for f in fields))
        )
        for host, *values in rows:
            sums = dict(zip(fields, values, strict=True))
            for kind in MESSAGE_KINDS:
                messages.add_metric([host, kind], sums[kind] or 0)
            size.add_metric([host, "received"], sums["bytes_received"] or 0)
            size.add_metric([host, "delivered"], sums["bytes_delivered"] or 0)
        yield messages
        yield size

    def _domains(self) -> Iterator[Metric]:
        now = timezone.now()
        domains = list(Domain.objects.filter(deleted_at__isnull=True).order_by("name").values_list(
            "pk", "name", "serial", "deployed_serial"
        ))
        counts: dict[int, tuple[int, int]] = {
            domain_id: (on, off)
            for domain_id, on, off in Alias.objects.filter(deleted_at__isnull=True, domain__deleted_at__isnull=True)
            .values("domain_id")
            .annotate(on=Count("pk", filter=Q(enabled=True)), off=Count("pk", filter=Q(enabled=False)))
            .order_by()
            .values_list("domain_id", "on", "off")
        }
        latest = Deploy.objects.filter(status__in=FINISHED, finished_at__isnull=False).order_by().values("domain_id")
        last: dict[int, tuple[str, datetime | None]] = {
            domain_id: (status, finished)
            for domain_id, status, finished in Deploy.objects.filter(
                pk__in=latest.annotate(last=Max("pk")).values("last")
            ).values_list("domain_id", "status", "finished_at")
        }
        good: dict[int, datetime] = dict(
            Deploy.objects.filter(status=Deploy.Status.OK, finished_at__isnull=False)
            .values("domain_id")
            .annotate(at=Max("finished_at"))
            .order_by()
            .values_list("domain_id", "at")
        )

        aliases = GaugeMetricFamily(
            "aliasdesk_domain_aliases", "Aliases of the domain (not deleted), switched on or off.",
            labels=["domain", "state"],
        )
        pending = GaugeMetricFamily(
            "aliasdesk_domain_undeployed_changes", "Changes to the domain since its last deploy (serial numbers).",
            labels=["domain"],
        )
        ok = GaugeMetricFamily(
            "aliasdesk_domain_last_deploy_ok",
            "1 when the domain's last finished deploy wrote the map or had nothing to do, 0 when it failed.",
            labels=["domain"],
        )
        last_at = GaugeMetricFamily(
            "aliasdesk_domain_last_deploy_timestamp_seconds",
            "When the domain's last deploy finished, however it went.",
            labels=["domain"],
        )
        age = GaugeMetricFamily(
            "aliasdesk_domain_last_deploy_age_seconds", "Seconds since the domain's last deploy finished.",
            labels=["domain"],
        )
        good_at = GaugeMetricFamily(
            "aliasdesk_domain_last_successful_deploy_timestamp_seconds",
            "When a deploy last wrote the domain's map successfully.",
            labels=["domain"],
        )
        for pk, name, serial, deployed_serial in domains:
            on, off = counts.get(pk, (0, 0))
            aliases.add_metric([name, "enabled"], on)
            aliases.add_metric([name, "disabled"], off)
            pending.add_metric([name], max(0, serial - deployed_serial))
            status, finished = last.get(pk, ("", None))
            if finished is not None:
                ok.add_metric([name], 0 if status == Deploy.Status.FAILED else 1)
                last_at.add_metric([name], _timestamp(finished))
                age.add_metric([name], max(0.0, (now - finished).total_seconds()))
            if pk in good:
                good_at.add_metric([name], _timestamp(good[pk]))
        yield from (aliases, pending, ok, last_at, age, good_at)

    def _logingest(self) -> Iterator[Metric]:
        lines = CounterMetricFamily(
            "aliasdesk_logingest_lines", "Log lines read by logingest.", labels=["node", "path"]
        )
        read_at = GaugeMetricFamily(
            "aliasdesk_logingest_last_read_timestamp_seconds", "When logingest last read the log.",
            labels=["node", "path"],
        )
        line_at = GaugeMetricFamily(
            "aliasdesk_logingest_last_line_timestamp_seconds", "The hour of the newest line counted from the log.",
            labels=["node", "path"],
        )
        for node, path, count, last_read, last_line in LogSource.objects.order_by("node", "path").values_list(
            "node", "path", "lines", "last_read_at", "last_line_at"
        ):
            lines.add_metric([node, path], count)
            if last_read:
                read_at.add_metric([node, path], _timestamp(last_read))
            if last_line:
                line_at.add_metric([node, path], _timestamp(last_line))
        yield from (lines, read_at, line_at)


# Headers a proxy adds (or a client forges) to say whom it forwards for; any one of them makes
# a request remote. As WSGI META keys.
FORWARDING_HEADERS = (
    "HTTP_FORWARDED",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_SERVER",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_REAL_IP",
    "HTTP_X_CLIENT_IP",
    "HTTP_X_CLUSTER_CLIENT_IP",
    "HTTP_CLIENT_IP",
    "HTTP_TRUE_CLIENT_IP",
    "HTTP_CF_CONNECTING_IP",
    "HTTP_FASTLY_CLIENT_IP",
    "HTTP_VIA",
)


def is_forwarded(request: HttpRequest) -> bool:
    """True when a proxy (or someone pretending to be one) stands between the client and us."""
    return any(name in request.META for name in FORWARDING_HEADERS)


def metrics_allowed(request: HttpRequest) -> bool:
    """With the bearer token, or directly (no forwarding header) from an address of
    METRICS_ALLOW (an address or a network)."""
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    bearer = header.removeprefix("Bearer ").strip().encode()
    if token and header.startswith("Bearer ") and hmac.compare_digest(bearer, token.encode()):
        return True
    if is_forwarded(request):
        return False
    try:
        client = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    if isinstance(client, ipaddress.IPv6Address) and client.ipv4_mapped:
        client = client.ipv4_mapped
    for allowed in settings.METRICS_ALLOW:
        try:
            if client in ipaddress.ip_network(allowed, strict=False):
                return True
        except ValueError:
            continue
    return False


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        return HttpResponseForbidden(
            "Not allowed: see METRICS_ALLOW and METRICS_TOKEN (a proxied request needs the token).\n",
            content_type="text/plain",
        )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AliasdeskCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
