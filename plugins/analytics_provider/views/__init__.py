"""Ready views of CI metrics in the destination dataset (catalog.py), refreshed after the loads."""
