"""The shop's own code that salesman asks for (a product serializer, a payment method) and
its storefront page. None of it is for cartrecovery."""
from django.http import HttpResponse
from django.urls import reverse
from rest_framework import serializers
from salesman.checkout.payment import PaymentError, PaymentMethod
from salesman.core.utils import get_salesman_model

from .models import Product


class ProductSerializer(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = ["name", "code", "price"]


class PayOnDelivery(PaymentMethod):
    """Salesman's documented pattern: make the order from the basket, then delete it."""
    identifier = "pay-on-delivery"
    label = "Pay on delivery"

    def basket_payment(self, basket, request):
        order = get_salesman_model("Order").objects.create_from_basket(basket, request, status="HOLD")
        basket.delete()
        return request.build_absolute_uri(reverse("salesman-order-last") + f"?token={order.token}")


class DeclinedCard(PaymentMethod):
    """A card the bank declines: salesman answers the checkout with 402."""
    identifier = "declined-card"
    label = "Card"

    def basket_payment(self, basket, request):
        raise PaymentError("Your card was declined.")


def storefront(request):
    return HttpResponse("<!doctype html><html><head><title>Kite shop</title></head>"
                        "<body><h1>Your basket</h1><div id='app'></div></body></html>")
