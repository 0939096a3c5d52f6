"""Replaying a captured model call N times on a local model, and measuring the spread.

Modules here are imported one by one: the viewer uses only the pure ones (`runs`, `spread`),
never the ones that reach the receiver's decode path or start processes.
"""
