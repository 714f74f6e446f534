from django.contrib.auth import views as auth_views
from django.urls import path

from aliasdesk.accounts import views
from aliasdesk.accounts.forms import LoginForm

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="accounts/login.html", authentication_form=LoginForm),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page="login"), name="logout"),
    path("password/", views.password_change, name="password-change"),
    path(
        "password/done/",
        auth_views.PasswordChangeDoneView.as_view(template_name="accounts/password_done.html"),
        name="password-change-done",
    ),
    path("users/", views.user_list, name="user-list"),
    path("users/new", views.user_create, name="user-create"),
    path("users/<int:user_id>/", views.user_edit, name="user-edit"),
    path("users/<int:user_id>/password", views.user_password, name="user-password"),
    path("users/<int:user_id>/source", views.user_source, name="user-source"),
    path("users/<int:user_id>/grants", views.grant_add, name="grant-add"),
    path("users/<int:user_id>/grants/<int:domain_id>/revoke", views.grant_revoke, name="grant-revoke"),
    path("audit/", views.audit_log, name="audit-log"),
    path("resolve/", views.resolve_page, name="resolve"),
]
