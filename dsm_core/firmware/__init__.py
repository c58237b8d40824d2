"""Dell firmware: the catalog of a local repository, version ordering, and fleet compliance (pure functions)."""
