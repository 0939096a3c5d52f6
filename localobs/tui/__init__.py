"""The terminal viewer: a Textual app that reads through the store's query layer."""
