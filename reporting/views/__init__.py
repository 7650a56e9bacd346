"""The web blueprints: thin handlers that load, check access, validate, call the domain and respond."""
