"""A real JupyterHub for the class-mode tests (tests/test_hub_class.py).

``fixture.ClassHub`` starts JupyterHub on 127.0.0.1 with deploy/jupyterhub_config.py
(the one-server recipe, loaded as it is) and the few settings a test needs on top: random
ports, a temporary folder, the dummy authenticator with a password, the simple local
spawner, the proxy from npm, and an admin service whose token makes the users' tokens.
"""
