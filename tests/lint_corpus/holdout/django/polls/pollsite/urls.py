from django.urls import include, path
from rest_framework import routers

from polls import views

router = routers.SimpleRouter()
router.register(r"polls", views.PollViewSet, basename="poll")

urlpatterns = [
    path("", include(router.urls)),
    path("polls/<int:pk>/close/", views.close_poll),
    path("ballots/", views.issue_ballot),
]
