"""Every report in every format: ``<report>.csv`` (spreadsheet CSV), ``.xlsx``, ``.ods`` and
``.html`` (the printable page); the aliases also as ``aliases.csv``, the exact data CSV."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.urls import URLPattern, path

from aliasdesk.web.reports import views

FORMATS = {"csv": "csv", "xlsx": "xlsx", "ods": "ods", "html": "print"}


def formats_of(stem: str, view: Callable[..., Any], name: str) -> list[URLPattern]:
    """``stem.csv``, ``stem.xlsx``, ``stem.ods``, ``stem.html``, named ``name-csv`` … ``name-print``."""
    return [
        path(f"{stem}.{extension}", view, {"fmt": extension}, name=f"{name}-{suffix}")
        for extension, suffix in FORMATS.items()
    ]


urlpatterns = [
    # CONTRACT.md: aliases.csv, .xlsx, .ods; aliases.csv is the data file, the report's CSV is aliases-report.csv.
    path("domains/<str:name>/aliases.csv", views.aliases_data_csv, name="aliases-csv"),
    path("domains/<str:name>/aliases-report.csv", views.aliases_report, {"fmt": "csv"}, name="aliases-report-csv"),
    path("domains/<str:name>/aliases.xlsx", views.aliases_report, {"fmt": "xlsx"}, name="aliases-xlsx"),
    path("domains/<str:name>/aliases.ods", views.aliases_report, {"fmt": "ods"}, name="aliases-ods"),
    path("domains/<str:name>/aliases.html", views.aliases_report, {"fmt": "html"}, name="aliases-print"),
    *formats_of("domains/<str:name>/deploys", views.deploys_report, "deploys"),
    *formats_of("reports/audit", views.audit_report, "audit"),
    *formats_of("reports/domains", views.summary_report, "summary"),
    *formats_of("reports/expiring", views.expiring_report, "expiring"),
    *formats_of("reports/unused", views.unused_report, "unused"),
]
