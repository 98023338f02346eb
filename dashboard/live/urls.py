from dashboard.live import connect, runtimes, views

urlpatterns = [*views.urlpatterns, *runtimes.urlpatterns, *connect.urlpatterns]
