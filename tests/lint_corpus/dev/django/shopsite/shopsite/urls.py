from django.urls import include, path
from rest_framework.routers import DefaultRouter

from orders import views

router = DefaultRouter()
router.register(r"orders", views.OrderViewSet, basename="order")

urlpatterns = [
    path("cart/add/", views.add_to_cart),
    path("reports/", views.ReportView.as_view()),
    path("jobs/<str:key>/", views.run_job),
    path("api/", include(router.urls)),
]
