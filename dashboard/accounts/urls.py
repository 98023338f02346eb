from django.urls import path

from dashboard.accounts import account, views

urlpatterns = [
    path("users/", views.user_list, name="users"),
    path("users/new/", views.user_create, name="user_create"),
    path("users/<int:user_id>/role/", views.user_role, name="user_role"),
    path("users/<int:user_id>/active/", views.user_active, name="user_active"),
    path("users/<int:user_id>/delete/", views.user_delete, name="user_delete"),
    path("users/<int:user_id>/password/", views.user_password, name="user_password"),
    path("account/", account.account, name="account"),
    path("account/password/", account.account_password, name="account_password"),
]
