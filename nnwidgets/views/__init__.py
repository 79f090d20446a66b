"""Widgets: each is a small class that observes a :class:`~nnwidgets.ModelState`."""
