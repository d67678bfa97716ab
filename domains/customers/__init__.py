"""The core domain: customers, their health and its history."""
