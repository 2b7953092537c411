"""Role trust and least-privilege grants, next to the resources they govern (see each module)."""
