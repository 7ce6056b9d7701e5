"""The guide's alarms (queue depth, dead letters, failed SNS deliveries, bucket size), the age of the
oldest message and the api's 5xx rate, all to the operations topic; and one dashboard.

The services' own metrics (the Prometheus ones at /metrics) reach CloudWatch through their JSON log lines: a
metric filter on each log group counts the access log, the consumer's "message handled" and the notifier's
"delivery attempted" lines into the namespace `Snapinfra/<prefix>`, with the same labels as dimensions."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from snapinfra_infra.compute import FargateServiceUnit
from snapinfra_infra.messaging import Messaging

QUEUE_DEPTH_THRESHOLD = 100  # the guide: "SQS queue depth > 100 messages"
FAILED_DELIVERIES_THRESHOLD = 10  # the guide: "SNS failed deliveries > 10"
BUCKET_SIZE_THRESHOLD_BYTES = 50 * 1024**3  # the guide: "S3 storage > 50GB"
OLDEST_MESSAGE_AGE_SECONDS = 15 * 60  # nothing should wait a quarter of an hour
API_5XX_RATE_PERCENT = 5
# BucketSizeBytes is reported per storage class; the codegen prefix moves to Intelligent-Tiering.
STORAGE_TYPES = (
    "StandardStorage",
    "IntelligentTieringFAStorage",
    "IntelligentTieringIAStorage",
    "IntelligentTieringAIAStorage",
)


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        messaging: Messaging,
        bucket: s3.IBucket,
        http_api: apigwv2.HttpApi,
        services: list[FargateServiceUnit],
        alarm_email: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic: sns.Topic = messaging.operations
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self.alarms: list[cloudwatch.Alarm] = []
        five_minutes = Duration.minutes(5)

        # Alarms name a work queue '<service>-work' (the notifier's deliveries), beside '<service>' (its events).
        queues: dict[str, sqs.Queue] = {str(s): q for s, q in messaging.queues.items()}
        queues |= {f"{s}-work": q for s, q in messaging.work_queues.items()}
        dlqs: dict[str, sqs.Queue] = {str(s): q for s, q in messaging.dlqs.items()}
        dlqs |= {f"{s}-work": q for s, q in messaging.work_dlqs.items()}
        for service, queue in queues.items():
            self._alarm(
                f"{service}-queue-depth",
                queue.metric_approximate_number_of_messages_visible(period=five_minutes, statistic="Maximum"),
                threshold=QUEUE_DEPTH_THRESHOLD,
                description=f"More than {QUEUE_DEPTH_THRESHOLD} messages wait in the {service} queue.",
            )
            self._alarm(
                f"{service}-oldest-message",
                queue.metric_approximate_age_of_oldest_message(period=five_minutes, statistic="Maximum"),
                threshold=OLDEST_MESSAGE_AGE_SECONDS,
                description=f"A message has waited over {OLDEST_MESSAGE_AGE_SECONDS} s in the {service} queue.",
            )
        for service, dlq in dlqs.items():
            self._alarm(
                f"{service}-dead-letters",
                dlq.metric_approximate_number_of_messages_visible(period=five_minutes, statistic="Maximum"),
                threshold=0,
                description=f"The {service} DLQ holds a message: a handler gave up on it (see its error attribute).",
            )
        for service, topic in messaging.topics.items():
            self._alarm(
                f"{service}-failed-deliveries",
                topic.metric_number_of_notifications_failed(period=five_minutes, statistic="Sum"),
                threshold=FAILED_DELIVERIES_THRESHOLD,
                description=f"More than {FAILED_DELIVERIES_THRESHOLD} deliveries from the {service} topic failed "
                "in 5 minutes.",
            )
        bucket_size = cloudwatch.MathExpression(
            expression=" + ".join(f"FILL(s{i}, 0)" for i in range(len(STORAGE_TYPES))),
            using_metrics={
                f"s{i}": cloudwatch.Metric(
                    namespace="AWS/S3",
                    metric_name="BucketSizeBytes",
                    dimensions_map={"BucketName": bucket.bucket_name, "StorageType": storage_type},
                    statistic="Maximum",
                    period=Duration.days(1),
                )
                for i, storage_type in enumerate(STORAGE_TYPES)
            },
            label="bucket size (bytes)",
            period=Duration.days(1),
        )
        self._alarm(
            "bucket-size",
            bucket_size,
            threshold=BUCKET_SIZE_THRESHOLD_BYTES,
            description="The bucket holds more than 50 GB.",
        )
        errors = http_api.metric_server_error(period=five_minutes, statistic="Sum")
        requests = http_api.metric_count(period=five_minutes, statistic="Sum")
        error_rate = cloudwatch.MathExpression(
            expression="IF(requests > 0, 100 * errors / requests, 0)",
            using_metrics={"errors": errors, "requests": requests},
            label="api 5xx rate (%)",
            period=five_minutes,
        )
        self._alarm(
            "api-5xx-rate",
            error_rate,
            threshold=API_5XX_RATE_PERCENT,
            description=f"More than {API_5XX_RATE_PERCENT}% of the api's answers in 5 minutes were 5xx.",
        )
        self.namespace = f"Snapinfra/{prefix}"
        self.metric_filters = self._metric_filters(services)
        self.dashboard = self._dashboard(prefix, messaging, queues, dlqs, bucket_size, http_api, error_rate, services)

    def _metric_filters(self, services: list[FargateServiceUnit]) -> list[logs.MetricFilter]:
        """Metrics from the services' JSON log lines (one line per request, per message, per delivery attempt)."""
        made: list[logs.MetricFilter] = []
        for unit in services:
            name = unit.service_name
            specs = [
                (
                    f"{name}-messages",
                    "MessagesHandled",
                    "message handled",
                    "1",
                    {"queue": "$.queue", "outcome": "$.outcome"},
                ),
                (
                    f"{name}-handler-time",
                    "HandlerTime",
                    "message handled",
                    "$.handler_ms",
                    {"event_type": "$.event_type"},
                ),
            ]
            if name == "api":
                specs += [
                    ("http-requests", "HttpRequests", "request", "1", {"route": "$.route", "status": "$.status"}),
                    ("http-latency", "HttpLatency", "request", "$.ms", {"route": "$.route"}),
                ]
            if name == "notifier":
                specs.append(
                    (
                        "deliveries",
                        "Deliveries",
                        "delivery attempted",
                        "1",
                        {"channel": "$.channel", "outcome": "$.outcome"},
                    )
                )
            for construct_id, metric, message, value, dimensions in specs:
                terms = [logs.FilterPattern.string_value("$.message", "=", message)]
                if metric.startswith("Http"):
                    terms.append(logs.FilterPattern.string_value("$.logger", "=", "snapinfra.access"))
                if value.startswith("$."):  # a value taken from a field must be matched by the pattern
                    terms.append(logs.FilterPattern.number_value(value, ">=", 0))
                pattern = logs.FilterPattern.all(*terms)
                made.append(
                    unit.log_group.add_metric_filter(
                        construct_id,
                        filter_pattern=pattern,
                        metric_namespace=self.namespace,
                        metric_name=metric,
                        metric_value=value,
                        dimensions=dimensions,
                        unit=cloudwatch.Unit.MILLISECONDS if value.startswith("$.") else cloudwatch.Unit.COUNT,
                    )
                )
        return made

    def _search(self, metric: str, dimensions: str, statistic: str, label: str) -> cloudwatch.MathExpression:
        """Every series of a log-derived metric, whatever its dimensions' values (routes, queues, channels)."""
        return cloudwatch.MathExpression(
            expression=f"SEARCH('{{{self.namespace},{dimensions}}} MetricName=\"{metric}\"', '{statistic}', 300)",
            using_metrics={},
            label=label,
            period=Duration.minutes(5),
        )

    def _alarm(
        self, name: str, metric: cloudwatch.Metric | cloudwatch.MathExpression, *, threshold: float, description: str
    ) -> None:
        alarm = metric.create_alarm(
            self,
            name,
            alarm_description=description,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        alarm.add_ok_action(actions.SnsAction(self.topic))
        self.alarms.append(alarm)

    def _dashboard(
        self,
        prefix: str,
        messaging: Messaging,
        queues: dict[str, sqs.Queue],
        dlqs: dict[str, sqs.Queue],
        bucket_size: cloudwatch.IMetric,
        http_api: apigwv2.HttpApi,
        error_rate: cloudwatch.IMetric,
        services: list[FargateServiceUnit],
    ) -> cloudwatch.Dashboard:
        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"{prefix}-operations")
        dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms), width=24),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="api: requests and 5xx",
                left=[http_api.metric_count(statistic="Sum"), http_api.metric_server_error(statistic="Sum")],
                right=[error_rate],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="api: latency (p50, p99)",
                left=[http_api.metric_latency(statistic="p50"), http_api.metric_latency(statistic="p99")],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Messages waiting",
                left=[q.metric_approximate_number_of_messages_visible(label=s) for s, q in queues.items()],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Oldest message (s)",
                left=[q.metric_approximate_age_of_oldest_message(label=s) for s, q in queues.items()],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Dead letters",
                left=[q.metric_approximate_number_of_messages_visible(label=s) for s, q in dlqs.items()],
                width=8,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Events published / failed deliveries",
                left=[
                    t.metric_number_of_messages_published(label=f"{s} published") for s, t in messaging.topics.items()
                ],
                right=[
                    t.metric_number_of_notifications_failed(label=f"{s} failed") for s, t in messaging.topics.items()
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(title="Bucket size (bytes)", left=[bucket_size], width=12),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="api: requests by route and status",
                left=[self._search("HttpRequests", "route,status", "Sum", "requests")],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="api: latency by route (ms, p99)",
                left=[self._search("HttpLatency", "route", "p99", "p99")],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Messages handled by queue and outcome",
                left=[self._search("MessagesHandled", "queue,outcome", "Sum", "messages")],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Handler time by event type (ms, p90)",
                left=[self._search("HandlerTime", "event_type", "p90", "p90")],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Deliveries by channel and outcome",
                left=[self._search("Deliveries", "channel,outcome", "Sum", "deliveries")],
                width=8,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Tasks: CPU %",
                left=[unit.service.metric_cpu_utilization(label=unit.service_name) for unit in services],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Tasks: memory %",
                left=[unit.service.metric_memory_utilization(label=unit.service_name) for unit in services],
                width=12,
            ),
        )
        return dashboard
