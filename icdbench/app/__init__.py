"""The application layer, the top floor (ARCHITECTURE.md): every command's orchestration, each taking a typed
request (:mod:`icdbench.app.requests`). The domain packages below import nothing from here."""
