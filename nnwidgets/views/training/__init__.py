"""Views of a training session: the live plot, its controls and figures."""
