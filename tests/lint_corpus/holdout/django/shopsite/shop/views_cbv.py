from django.views.generic import DetailView, ListView

from .models import Product


class ProductListView(ListView):
    model = Product  # trap: class-based view attribute
    paginate_by = 20  # trap: class-based view attribute
    recent_queries: list[str] = []

    def get_queryset(self):
        self.query = self.request.GET.get("q", "")  # trap: a new view instance per request
        self.recent_queries.append(self.query)  # expect: SL105
        return super().get_queryset().filter(name__icontains=self.query)


class ProductDetailView(DetailView):
    model = Product
    template_name = "shop/product.html"  # trap: class-based view attribute
    views = 0

    def get_object(self, queryset=None):
        obj = super().get_object(queryset)
        type(self).views += 1  # expect: SL105
        self.extra_context = {"seen": True}  # trap: instance attribute of a per-request view
        return obj
