"""Knowledge base: schema, loader (YAML -> database) and search."""
