"""The dashboard's pages, one module per section; each exposes `register(blueprint)`."""
