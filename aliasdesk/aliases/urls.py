from django.urls import path

from aliasdesk.aliases import across_views, domain_views, grant_views, resolve_views, upload_views, views

urlpatterns = [
    path("domains/<str:name>/", views.domain_detail, name="domain-detail"),
    path("domains/<str:name>/aliases/new", views.alias_create, name="alias-create"),
    path("domains/<str:name>/aliases/bulk", views.alias_bulk, name="alias-bulk"),
    path("domains/<str:name>/paste", views.alias_paste, name="alias-paste"),
    path("domains/<str:name>/upload", upload_views.upload, name="alias-upload"),
    path("domains/<str:name>/upload/apply", upload_views.upload_apply, name="alias-upload-apply"),
    path("domains/<str:name>/upload/cancel", upload_views.upload_cancel, name="alias-upload-cancel"),
    path("domains/<str:name>/trash", views.trash, name="trash"),
    path("domains/<str:name>/aliases/<int:alias_id>/", views.alias_row, name="alias-row"),
    path("domains/<str:name>/aliases/<int:alias_id>/edit", views.alias_edit, name="alias-edit"),
    path("domains/<str:name>/aliases/<int:alias_id>/toggle", views.alias_toggle, name="alias-toggle"),
    path("domains/<str:name>/aliases/<int:alias_id>/delete", views.alias_delete, name="alias-delete"),
    path("domains/<str:name>/aliases/<int:alias_id>/history", views.alias_history, name="alias-history"),
    path(
        "domains/<str:name>/aliases/<int:alias_id>/restore/<int:history_id>",
        views.alias_restore_version,
        name="alias-restore-version",
    ),
]

urlpatterns += [
    path("domains/<str:name>/settings", domain_views.domain_settings, name="domain-settings"),
    path("domains/<str:name>/settings/alias-of", domain_views.domain_alias_of, name="domain-alias-of"),
    path("domains/<str:name>/settings/preview", domain_views.domain_settings_preview, name="domain-settings-preview"),
    path("resolve/", resolve_views.resolve_page, name="resolve"),
    path("search/", across_views.search_page, name="search"),
    path("offboard/", across_views.offboard_page, name="offboard"),
    # on a user's page (accounts), but domains are this app's
    path("users/<int:user_id>/grants", grant_views.grant_add, name="grant-add"),
    path("users/<int:user_id>/grants/<int:domain_id>/revoke", grant_views.grant_revoke, name="grant-revoke"),
]
