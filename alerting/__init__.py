"""What happens to an alert after it fires: silences, dedup, routing, notifiers, retries.

Public API (what the shell calls)::

    from alerting import (AlertingSettings, build_notifiers, build_pipeline,
                          restore_from_messages, alerting_handler, alerting_ticker)
"""

from alerting.notification_log import NotificationRecord, Status, decode_record, encode_record
from alerting.notifiers import REGISTRY, DeliveryError, Notification, Notifier, build_notifiers
from alerting.pipeline import AlertingPipeline, build_pipeline
from alerting.settings import (
    AlertingSettings,
    EmailReceiver,
    OutboxReceiver,
    RetryPolicy,
    Silence,
    SlackReceiver,
    WebhookReceiver,
)
from alerting.stage import alerting_handler, alerting_ticker
from alerting.state import AlertingState, restore_from_messages

__all__ = [
    "REGISTRY",
    "AlertingPipeline",
    "AlertingSettings",
    "AlertingState",
    "DeliveryError",
    "EmailReceiver",
    "Notification",
    "NotificationRecord",
    "Notifier",
    "OutboxReceiver",
    "RetryPolicy",
    "Silence",
    "SlackReceiver",
    "Status",
    "WebhookReceiver",
    "alerting_handler",
    "alerting_ticker",
    "build_notifiers",
    "build_pipeline",
    "decode_record",
    "encode_record",
    "restore_from_messages",
]
