"""Provider implementations: one module per native API, one table for the OpenAI-compatible family."""
