//! Traffic-shifting schedules: CodeDeploy's predefined names (`Canary10Percent5Minutes`,
//! `Linear10PercentEvery1Minute`, `AllAtOnce`, with or without `Lambda`/`CodeDeployDefault.`
//! in front, and any numbers in those forms) and custom steps (`--steps 5,25,50,100 --interval
//! 5m`). A schedule is only the weights and the waits between them: the tool moves its pointer,
//! `crate::progressive` watches the alarms. Pure: parsed and tested without AWS.

use std::time::Duration;

/// One step: send `percent` of the traffic to the new artifact, then watch for `wait` before
/// the next step. The last step is always 100 (the pointer finishes on the new artifact), with
/// no wait after it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    pub percent: f64,
    pub wait: Duration,
}

/// The steps of a shift, in order, ending at 100.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// The name it was given by (`Canary10Percent5Minutes`, or `steps 5,25,100 every 1m`).
    pub name: String,
    pub steps: Vec<Step>,
}

impl Schedule {
    /// A schedule by CodeDeploy's name.
    pub fn named(name: &str) -> Result<Schedule, String> {
        let bare = name
            .trim_start_matches("CodeDeployDefault.")
            .trim_start_matches("Lambda")
            .trim_start_matches("ApiGateway");
        let unknown = || {
            format!(
                "{name:?} is not a schedule: AllAtOnce, Canary<P>Percent<N>Minutes \
                 (Canary10Percent5Minutes), Linear<P>PercentEvery<N>Minute(s) \
                 (Linear10PercentEvery1Minute), or --steps 5,25,50,100 --interval 5m"
            )
        };
        if bare == "AllAtOnce" {
            return Ok(Schedule {
                name: name.to_string(),
                steps: vec![Step {
                    percent: 100.0,
                    wait: Duration::ZERO,
                }],
            });
        }
        let minutes = |s: &str| -> Result<Duration, String> {
            let n: u64 = s.parse().map_err(|_| unknown())?;
            if n == 0 {
                return Err(unknown());
            }
            Ok(Duration::from_secs(n * 60))
        };
        if let Some(rest) = bare.strip_prefix("Canary") {
            let (percent, rest) = rest.split_once("Percent").ok_or_else(unknown)?;
            let wait = rest
                .strip_suffix("Minutes")
                .or_else(|| rest.strip_suffix("Minute"))
                .ok_or_else(unknown)?;
            let percent = percent_of(percent).ok_or_else(unknown)?;
            return Ok(Schedule {
                name: name.to_string(),
                steps: vec![
                    Step {
                        percent,
                        wait: minutes(wait)?,
                    },
                    Step {
                        percent: 100.0,
                        wait: Duration::ZERO,
                    },
                ],
            });
        }
        if let Some(rest) = bare.strip_prefix("Linear") {
            let (percent, rest) = rest.split_once("PercentEvery").ok_or_else(unknown)?;
            let every = rest
                .strip_suffix("Minutes")
                .or_else(|| rest.strip_suffix("Minute"))
                .ok_or_else(unknown)?;
            let percent = percent_of(percent).ok_or_else(unknown)?;
            let wait = minutes(every)?;
            let mut steps = Vec::new();
            let mut at = percent;
            while at < 100.0 {
                steps.push(Step { percent: at, wait });
                at += percent;
            }
            steps.push(Step {
                percent: 100.0,
                wait: Duration::ZERO,
            });
            return Ok(Schedule {
                name: name.to_string(),
                steps,
            });
        }
        Err(unknown())
    }

    /// Custom steps: rising percentages, the last of them 100 (added when left out), each held
    /// for `interval`.
    pub fn custom(percents: &[f64], interval: Duration) -> Result<Schedule, String> {
        if percents.is_empty() {
            return Err("--steps needs at least one percentage".into());
        }
        let mut steps = Vec::new();
        let mut last = 0.0;
        for &p in percents {
            if !(p > 0.0 && p <= 100.0) {
                return Err(format!("--steps: {p} is not a percentage in (0, 100]"));
            }
            if p <= last {
                return Err(format!("--steps must rise: {p} comes after {last}"));
            }
            steps.push(Step {
                percent: p,
                wait: interval,
            });
            last = p;
        }
        if last < 100.0 {
            steps.push(Step {
                percent: 100.0,
                wait: Duration::ZERO,
            });
        }
        if let Some(step) = steps.last_mut() {
            step.wait = Duration::ZERO;
        }
        let shown: Vec<String> = steps.iter().map(|s| s.percent.to_string()).collect();
        Ok(Schedule {
            name: format!("steps {} every {}", shown.join(","), humane(interval)),
            steps,
        })
    }

    /// The steps still to take when the pointer already sends `current` percent to the new
    /// artifact (a schedule run again after an interruption, or after `--leave`): those above.
    #[must_use]
    pub fn from_weight(&self, current: f64) -> Vec<Step> {
        self.steps
            .iter()
            .copied()
            .filter(|s| s.percent > current + 1e-9)
            .collect()
    }
}

fn percent_of(s: &str) -> Option<f64> {
    let p: u32 = s.parse().ok()?;
    (1..=100).contains(&p).then_some(f64::from(p))
}

/// `--steps 5,25,50`: percentages.
pub fn parse_percent(s: &str) -> Result<f64, String> {
    s.trim()
        .trim_end_matches('%')
        .parse::<f64>()
        .map_err(|_| format!("{s:?} is not a percentage"))
}

/// `90`, `90s`, `15m`, `1h`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (number, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (e.g. 90s, 15m, 1h)"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("{s:?} is not a duration (e.g. 90s, 15m, 1h)")),
    };
    Ok(Duration::from_secs(seconds))
}

/// A duration as people say it: `90s`, `5m`, `1h`.
#[must_use]
pub fn humane(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => "0s".into(),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn percents(s: &Schedule) -> Vec<f64> {
        s.steps.iter().map(|s| s.percent).collect()
    }

    #[test]
    fn codedeploy_names_are_read_in_every_spelling() {
        let c = Schedule::named("Canary10Percent5Minutes").unwrap();
        assert_eq!(percents(&c), [10.0, 100.0]);
        assert_eq!(c.steps[0].wait, Duration::from_secs(300));
        assert_eq!(c.steps[1].wait, Duration::ZERO);
        for name in [
            "LambdaCanary10Percent30Minutes",
            "CodeDeployDefault.LambdaCanary10Percent30Minutes",
        ] {
            let s = Schedule::named(name).unwrap();
            assert_eq!(s.steps[0].wait, Duration::from_secs(1800), "{name}");
        }
        let l = Schedule::named("Linear10PercentEvery1Minute").unwrap();
        assert_eq!(
            percents(&l),
            [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0]
        );
        assert!(l.steps[..9]
            .iter()
            .all(|s| s.wait == Duration::from_secs(60)));
        let l = Schedule::named("Linear30PercentEvery10Minutes").unwrap();
        assert_eq!(percents(&l), [30.0, 60.0, 90.0, 100.0]);
        assert_eq!(percents(&Schedule::named("AllAtOnce").unwrap()), [100.0]);
        for bad in [
            "Canary",
            "Canary0Percent5Minutes",
            "Canary10Percent0Minutes",
            "Fast",
            "Linear10Percent",
        ] {
            let e = Schedule::named(bad).unwrap_err();
            assert!(
                e.contains("is not a schedule") && e.contains("--steps"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn custom_steps_rise_and_end_at_100() {
        let s = Schedule::custom(&[5.0, 25.0, 50.0], Duration::from_secs(1)).unwrap();
        assert_eq!(percents(&s), [5.0, 25.0, 50.0, 100.0]);
        assert_eq!(s.steps[2].wait, Duration::from_secs(1));
        assert_eq!(s.steps[3].wait, Duration::ZERO);
        assert_eq!(s.name, "steps 5,25,50,100 every 1s");
        let with_100 = Schedule::custom(&[50.0, 100.0], Duration::from_secs(60)).unwrap();
        assert_eq!(percents(&with_100), [50.0, 100.0]);
        assert!(Schedule::custom(&[50.0, 25.0], Duration::ZERO).is_err());
        assert!(Schedule::custom(&[0.0], Duration::ZERO).is_err());
        assert!(Schedule::custom(&[120.0], Duration::ZERO).is_err());
        assert!(Schedule::custom(&[], Duration::ZERO).is_err());
    }

    #[test]
    fn a_schedule_run_again_continues_from_the_current_weight() {
        let s = Schedule::custom(&[5.0, 25.0, 50.0], Duration::from_secs(1)).unwrap();
        let rest: Vec<f64> = s.from_weight(25.0).iter().map(|s| s.percent).collect();
        assert_eq!(rest, [50.0, 100.0]);
        assert_eq!(s.from_weight(0.0).len(), 4);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5d").is_err());
        assert_eq!(humane(Duration::from_secs(300)), "5m");
        assert_eq!(humane(Duration::from_secs(90)), "90s");
    }
}
