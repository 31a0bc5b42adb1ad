"""Core commands; each module registers its commands on the root group when imported."""
