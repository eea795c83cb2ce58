# Owned by the train stage; see contracts.py for the layout.
