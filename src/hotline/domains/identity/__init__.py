"""Identity: organisation units, users, roles and grants, sessions, MFA, API tokens."""
