"""One module per screen of the viewer."""
