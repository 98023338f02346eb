"""Agent calls (stagehand.*, browserUse.*): model-driven steps and loops over a runtime's page.

Importing the package registers its calls in the execute catalogue (engine.steps.registry); the
API imports it, since the steps layer below never imports this one.
"""

from engine.agents import calls as calls
