//! CloudWatch alarms in the emulator: made, and set to a state in the middle of a run (moto's
//! SetAlarmState works), the way a test fires the alarm a traffic shift watches.

use aws_sdk_cloudwatch::types::{ComparisonOperator, StateValue, Statistic};
use aws_sdk_cloudwatch::Client;

/// A CloudWatch client for the emulator.
#[must_use]
pub fn client() -> Client {
    Client::new(&crate::emulator::sdk_config())
}

/// An alarm on an error metric, in state OK.
pub async fn create_alarm(name: &str) {
    client()
        .put_metric_alarm()
        .alarm_name(name)
        .namespace("AWS/Lambda")
        .metric_name("Errors")
        .statistic(Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
        .send()
        .await
        .expect("put an alarm");
    set_state(name, StateValue::Ok, "created by the test").await;
}

/// Put the alarm in `state`, with `reason`.
pub async fn set_state(name: &str, state: StateValue, reason: &str) {
    client()
        .set_alarm_state()
        .alarm_name(name)
        .state_value(state)
        .state_reason(reason)
        .send()
        .await
        .expect("set an alarm's state");
}

/// The alarm's state as CloudWatch says it.
pub async fn state(name: &str) -> Option<String> {
    client()
        .describe_alarms()
        .alarm_names(name)
        .send()
        .await
        .expect("describe alarms")
        .metric_alarms()
        .first()
        .and_then(|a| a.state_value())
        .map(|s| s.as_str().to_string())
}
