"""{% load cartrecovery %} {% cartrecovery_script "product" product=p.sku cart_items=n %}"""
from django import template
from django.utils.safestring import mark_safe

from .. import script_tag

register = template.Library()


@register.simple_tag(takes_context=True)
def cartrecovery_script(context, page_type=None, **data):
    request = context.get("request")
    if request is None:
        raise template.TemplateSyntaxError(
            "cartrecovery_script needs the request in the context "
            "(django.template.context_processors.request)")
    return mark_safe(script_tag(request, page_type, **data))  # built with escaped values
