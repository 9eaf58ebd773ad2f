"""Names of the kinds of background job; each has one handler in app.jobs.handlers."""

MEDIA_DOWNLOAD = "media.download"
SEND_MESSAGE = "message.send"
READ_RECEIPT = "message.read_receipt"
AUTO_REPLY = "auto_reply.send"
RETENTION = "retention.apply"
TEMPLATE_SYNC = "templates.sync"
SUBSCRIPTION_DELIVERY = "subscription.deliver"
