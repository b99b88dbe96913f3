"""stateline: stateless app servers behind a gateway, state pushed down into stateful systems."""

__version__ = "0.1.0"
