"""One module per insight: its route `PATH` and `compute(connection, user_id, as_of)`."""
