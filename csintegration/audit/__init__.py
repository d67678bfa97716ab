"""The audit log of API calls: who called what, from where, with which outcome and how fast."""
