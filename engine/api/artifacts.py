from ninja import Router

router = Router(tags=["artifacts"])
workspace_router = Router(tags=["artifacts"])
