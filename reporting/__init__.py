"""参保进度督导平台: the domain and the web blueprints."""
