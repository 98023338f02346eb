from ninja import Router

router = Router(tags=["operations"])
workspace_router = Router(tags=["operations"])
