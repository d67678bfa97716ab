"""One Django app per business domain of Customer Success."""
