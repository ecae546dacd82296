"""Back-office logic shared by the API and the console: who is asking (`auth`, `users`), what they may
see (`queries`) and the actions they take on tickets (`commands`, all through `hub.handling`)."""
