"""One module per screen: each has a module-level `router` and the `SCREENS` it adds to the navigation."""
