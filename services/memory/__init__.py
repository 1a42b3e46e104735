"""Memory (issue 9): what the assistant keeps about each member. `store` (the member's own CRUD, limits,
export), `select` (which memories a reply uses, within a token budget, and the request's memory block)."""
