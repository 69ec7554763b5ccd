"""The lock model: PEP 751 locks with lockkeys' table, read, checked, written and viewed."""
