"""iomodels: equivalent network servers, one per IO model, and the tools to compare them."""

__version__ = "0.1.0"
