from django.urls import path

from aliasdesk.deploys import rollback_views, views

urlpatterns = [
    path("domains/<str:name>/deploy", views.deploy_preview, name="deploy-preview"),
    path("domains/<str:name>/deploy/import", views.import_hand_edits, name="deploy-import"),
    path("domains/<str:name>/deploys/", views.deploy_history, name="deploy-history"),
    path("domains/<str:name>/deploys/<int:deploy_id>", views.deploy_detail, name="deploy-detail"),
    path("nodes/", views.node_list, name="node-list"),
    path("domains/<str:name>/deploys/<int:deploy_id>/rollback", rollback_views.deploy_rollback, name="deploy-rollback"),
]
