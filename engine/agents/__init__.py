"""Agent calls (stagehand.*, browserUse.*): model-driven steps and loops over a runtime's page.

`engine.agents.calls` registers them in the execute catalogue (engine.steps.registry) when it is
imported; the API imports it, since the steps layer below never imports this one.
"""
