"""AI providers: how the engine talks to OpenAI, Anthropic, Google and OpenAI-compatible APIs."""
