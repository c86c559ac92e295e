"""The shop's cart, as a Django shop that writes its own reminders keeps it."""
from django.db import models


class Cart(models.Model):
    cart_id = models.CharField(max_length=64, unique=True)
    email = models.EmailField()
    first_name = models.CharField(max_length=100, blank=True)
    items = models.JSONField(default=list)
    value = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, default="EUR")
    last_activity = models.DateTimeField(db_index=True)
    ordered = models.BooleanField(default=False)
    reminded_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        app_label = "fire_peers"
