"""The framework features run on: the router, the context a handler gets, forms asked one field
at a time."""
