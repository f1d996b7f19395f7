"""Metrics from the app's own JSON log lines, for the dashboard and the alarms: one CloudWatch
Logs metric filter per LogMetric the stack gives (IRIS's: iris_infra.apps.iris.observability).

The functions' log format is JSON, and Lambda keeps a JSON object written to stdout as the log
event itself, so filter patterns select the app's lines by their fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class LogMetric:
    """One metric filter: each log event matching `pattern` adds `value` to metric `name`:
    1 (a count), or a numeric field the pattern itself checks ("$.tokens")."""

    role: str
    name: str
    pattern: str
    # Dimension name -> the JSON field it takes its value from.
    dimensions: Mapping[str, str] = field(default_factory=dict)
    value: str = "1"


@dataclass(frozen=True)
class LogMetricsArgs:
    log_group_name: pulumi.Input[str]
    # A namespace of this stack's own (IRIS/<stack>), so stacks in one account never mix.
    namespace: str
    metrics: Sequence[LogMetric]


class LogMetrics(pulumi.ComponentResource):
    namespace: str

    def __init__(
        self, name: str, args: LogMetricsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("iris:index:LogMetrics", name, {}, opts)

        for metric in args.metrics:
            # Turns matching log lines into a count the dashboard graphs and alarms can watch.
            aws.cloudwatch.LogMetricFilter(
                f"{name}-{metric.role}",
                log_group_name=args.log_group_name,
                pattern=metric.pattern,
                metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                    name=metric.name,
                    namespace=args.namespace,
                    value=metric.value,
                    unit="Count",
                    dimensions=dict(metric.dimensions) or None,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )

        self.namespace = args.namespace
        self.register_outputs({"namespace": self.namespace})
