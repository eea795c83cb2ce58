# Owned by the value_model stage; see contracts.py for the layout.
