import random

from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from .models import Order


class OrderSerializer(serializers.ModelSerializer):
    class Meta:
        model = Order
        fields = ["id", "product", "qty", "charged"]  # trap: declarations


class OrderViewSet(viewsets.ModelViewSet):
    queryset = Order.objects.all()  # trap: DRF viewset attribute
    serializer_class = OrderSerializer
    exports_pending: list[int] = []
    page_hits = 0

    def perform_create(self, serializer):
        order = serializer.save(owner=self.request.user)  # trap: SQL write through the ORM
        OrderViewSet.exports_pending.append(order.pk)  # expect: SL105

    def list(self, request, *args, **kwargs):
        self.page_hits += 1  # trap: int += through self on a per-request viewset makes an instance attribute
        return super().list(request, *args, **kwargs)

    @action(detail=False)
    def pending(self, request):
        return Response({"pending": list(self.exports_pending)})


class QuoteView(APIView):
    def get(self, request):
        random.seed(int(request.query_params.get("seed", "0")))  # expect: SL115
        return Response({"quote": random.choice(["buy", "hold", "sell"])})
