from django.urls import include, path
from rest_framework.routers import DefaultRouter

from shop import api, views
from shop.views_cbv import ProductDetailView, ProductListView

router = DefaultRouter()
router.register("orders", api.OrderViewSet, basename="order")  # trap: route registration

urlpatterns = [
    path("cart/add/<str:sku>/", views.cart_add),
    path("stock/<str:sku>/", views.stock_check),
    path("orders/<int:order_id>/charge/", views.charge),
    path("products/", ProductListView.as_view(), name="products"),
    path("products/<int:pk>/", ProductDetailView.as_view(), name="product"),
    path("quotes/", api.QuoteView.as_view()),
    path("admin/prices/reload/", views.reload_prices),
    path("api/", include(router.urls)),
]
