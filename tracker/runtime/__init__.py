"""Process runtime: embedded servers and the supervisor behind ``tracker up``."""
