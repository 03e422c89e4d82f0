"""Notifications: messages to a tenant's users, departments or role holders, and read receipts."""
