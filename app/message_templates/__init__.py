"""Message templates: the WhatsApp Business Account's templates, synced from Meta, and
the check of a template send against them before Meta is called."""
