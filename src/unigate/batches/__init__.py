"""Files and batches: OpenAI's ``/v1/files`` and ``/v1/batches``, run by the gateway itself.

Each batch line goes through the gateway's own routes (chat completions, embeddings,
responses) as the batch's key, so every model the gateway serves works, and every line is
limited, charged and ledgered like an interactive request. Per-line state lives in the
database, so a restarted gateway resumes where it stopped (docs/batches.md).
"""
