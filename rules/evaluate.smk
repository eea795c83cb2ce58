# Owned by the evaluate stage; see contracts.py for the layout.
