// Placeholder until the stack tests land.
