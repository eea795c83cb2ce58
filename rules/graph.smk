# Owned by the graph stage; see contracts.py for the layout.
