"""The stateless app tier: the ASGI app factory and the server entry for one instance.

``stateline.app.factory.create_app(settings)`` builds the app;
``stateline app`` (``stateline.app.server``) runs one instance as one process.
Nothing is imported here, so that ``stateline <other command>`` does not pay for
Starlette, SQLAlchemy and Pillow.
"""
