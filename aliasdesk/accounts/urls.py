from django.contrib.auth import views as auth_views
from django.urls import path

from aliasdesk.accounts import language, login_views, security_views, views

urlpatterns = [
    path("login/", login_views.login_view, name="login"),
    path("login/code/", login_views.login_code, name="login-code"),
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
    path("account/language", language.choose_language, name="language"),
    path("account/2fa/", security_views.two_factor, name="two-factor"),
    path("account/2fa/enrol", security_views.enrol, name="two-factor-enrol"),
    path("account/2fa/codes", security_views.new_codes, name="two-factor-codes"),
    path("account/2fa/remove", security_views.remove, name="two-factor-remove"),
    path("users/<int:user_id>/2fa-reset", security_views.admin_reset, name="user-2fa-reset"),
    path("users/<int:user_id>/unlock", security_views.admin_unlock, name="user-unlock"),
]
