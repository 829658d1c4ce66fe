"""The kinds of "why": attribution maps (the method registry and its compiled passes),
their trust score and sanity check, and the report that serves every front end."""
