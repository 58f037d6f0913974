"""On-call: which messages are stuck, whether a provider is silent, slow or failing, what is
waiting in the inbox. A read-side wing over what the receiver writes (and, for findings, what
reconciliation writes); it writes nothing but its own metrics."""
