"""walkdose host: replay, eval, sync, reports."""
