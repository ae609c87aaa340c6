"""Hub client tests."""
