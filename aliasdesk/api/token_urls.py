from django.urls import path

from aliasdesk.api import token_views

urlpatterns = [
    path("account/tokens/", token_views.token_list, name="token-list"),
    path("account/tokens/<int:token_id>/revoke", token_views.token_revoke, name="token-revoke"),
]
