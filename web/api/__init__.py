"""The back-office REST API (`/api/v1`): team tokens, queue, ticket detail, actions."""
