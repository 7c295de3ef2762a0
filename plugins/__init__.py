"""seambench's built-in plugins. Installed as the package ``seambench_plugins``; loaded from a fixed list.

They use exactly the hooks a third-party plugin uses (see ``seambench.hookspecs``).
"""
