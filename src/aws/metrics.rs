//! `albkit top`'s one read: every query of a refresh in one `GetMetricData` call (its
//! pages, for a long window), the answers handed to [`crate::model::metrics`].

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
use aws_smithy_types::DateTime;

use crate::aws::error::{AwsError, AwsResultExt};
use crate::aws::retry::{retry, Notify, Policy};
use crate::model::metrics::{Answer, Query, Window, PERIOD_SECONDS};

/// A query as the SDK takes it: the metric's statistic over 60-second periods.
fn sdk_query(q: &Query) -> MetricDataQuery {
    let (namespace, name, stat) = q.metric.query();
    let metric = Metric::builder()
        .namespace(namespace)
        .metric_name(name)
        .set_dimensions(Some(
            q.dimensions
                .iter()
                .map(|(n, v)| Dimension::builder().name(*n).value(v).build())
                .collect(),
        ))
        .build();
    MetricDataQuery::builder()
        .id(&q.id)
        .metric_stat(
            MetricStat::builder()
                .metric(metric)
                .period(PERIOD_SECONDS)
                .stat(stat)
                .build(),
        )
        .return_data(true)
        .build()
}

/// The points of every query over `window`, oldest first; several answers may carry the
/// same id (one per page).
pub(crate) async fn read(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    queries: &[Query],
    window: Window,
    notify: &dyn Notify,
) -> Result<Vec<Answer>, AwsError> {
    let sdk: Vec<MetricDataQuery> = queries.iter().map(sdk_query).collect();
    retry(Policy::transient(), "read the metrics", notify, || async {
        let mut pages = cloudwatch
            .get_metric_data()
            .set_metric_data_queries(Some(sdk.clone()))
            .start_time(DateTime::from_secs(window.start))
            .end_time(DateTime::from_secs(window.end()))
            .scan_by(ScanBy::TimestampAscending)
            .into_paginator()
            .send();
        let mut answers = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.aws("GetMetricData", "the stack's metrics")?;
            answers.extend(page.metric_data_results().iter().map(|r| Answer {
                id: r.id().unwrap_or_default().to_string(),
                timestamps: r.timestamps().iter().map(DateTime::secs).collect(),
                values: r.values().to_vec(),
            }));
        }
        Ok(answers)
    })
    .await
}
