"""The Responses API's own parts: request translation to the canonical chat form (``convert``),
rendering of answers and stream events (``render``), and stored responses (``store``)."""
