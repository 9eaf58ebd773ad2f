"""The admin panel and inbox at /admin (sqladmin), behind a login from the settings."""

ADMIN_OFF_MESSAGE = (
    "admin panel is off: set ADMIN_USERNAME and ADMIN_PASSWORD_HASH "
    "(make the hash with `whatsapp-inbox hash-password`) to turn it on at /admin"
)
