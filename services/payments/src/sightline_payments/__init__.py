"""payments: payment intents, wearer confirmation, capture and the ledger."""
