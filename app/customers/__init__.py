"""A customer's data as a whole: erasure for data-protection requests."""
