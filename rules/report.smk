# Owned by the report stage; see contracts.py for the layout.
