from ninja import Router

router = Router(tags=["ai_credentials"])
