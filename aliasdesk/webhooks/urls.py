from django.urls import path

from aliasdesk.webhooks import views

urlpatterns = [
    path("webhooks/", views.hook_list, name="webhook-list"),
    path("webhooks/new", views.hook_create, name="webhook-create"),
    path("webhooks/<int:hook_id>/", views.hook_detail, name="webhook-detail"),
    path("webhooks/<int:hook_id>/rotate", views.hook_rotate, name="webhook-rotate"),
    path("webhooks/<int:hook_id>/test", views.hook_test, name="webhook-test"),
    path("webhooks/<int:hook_id>/delete", views.hook_delete, name="webhook-delete"),
    path("webhooks/<int:hook_id>/deliveries/<int:delivery_id>/retry", views.delivery_retry, name="webhook-retry"),
]
