//! cfg-diff: the artifact is promoted unchanged, so everything that differs between two
//! environments must live outside it. cfg-diff reads each place configuration lives, for both
//! environments, and prints one `config` record per key: same, differs, parallel (the healthy
//! case: equal but for the environment's own name), only in one, or crossed (a value naming the
//! other environment, or an environment named inside an artifact). Secret values appear only as
//! fingerprints keyed per run.
//!
//! Layout: `args` (the command line), `compare` (the statuses, pure), `gather` (reading each
//! place for one environment). `cfg-diff release`: `release` (reading every environment's
//! pointers), `relation` (how each stands to the one before, pure), `view` (table and page).

pub mod args;
pub mod compare;
pub mod gather;
pub mod relation;
pub mod release;
pub mod view;

pub use args::{Cli, Command, ReleaseArgs, Source};
use compare::{classify, glob, Envs, Status};
use futures::StreamExt;
use gather::{Clients, Place, Side};
use serde_json::Value as Json;
use shared::cli::{CommonArgs, Context, Tool};
use shared::config::{map_name, Project, Template};
use shared::input::Input;
use shared::output::Output;

use shared::secrets::{judge, Exposure, Fingerprinter};
use shared::{Action, Error, ExitCode, Record, Result, Service};
use std::collections::BTreeSet;

impl Tool for Cli {
    const SERVICES: &'static [Service] = &[
        Service::Lambda,
        Service::Ecs,
        Service::Apigateway,
        Service::Stepfunctions,
    ];
    const EXAMPLES: &'static str = "\
  cfg-diff staging prod --output table            # everywhere config lives
  cfg-diff staging prod --source ssm,secrets      # only those places
  cfg-diff staging prod --ignore 'LOG_*'          # excuse known drift
  cfg-diff release --check prod                   # CI gate: exit 1 unless prod is at staging
  cfg-diff release --output html > release.html   # the release at a glance, as a page";
    const CHANGES: &'static [&'static str] = &[];
    fn common(&self) -> &CommonArgs {
        &self.common
    }

    fn mutates(&self) -> bool {
        false
    }

    fn prints_html(&self) -> bool {
        matches!(self.command, Some(Command::Release(_)))
    }

    async fn run(self, ctx: &mut Context) -> Result<ExitCode> {
        self.check_shape()?;
        if let Some(Command::Release(args)) = &self.command {
            let clients = gather::clients(&ctx.aws);
            return release::run(
                args,
                ctx.project.as_ref(),
                &clients,
                ctx.opts.concurrency,
                &mut ctx.out,
            )
            .await;
        }
        let input = ctx.stdin_if(true)?;
        let clients = gather::clients(&ctx.aws);
        execute(
            &self,
            ctx.project.as_ref(),
            input.as_ref(),
            &clients,
            ctx.opts.concurrency,
            &mut ctx.out,
        )
        .await
    }
}

/// One resource compared between the two environments.
#[derive(Debug, Clone)]
struct Unit {
    source: Source,
    a: Place,
    b: Place,
}

/// Compare everything asked for; write a record per key (records of services cfg-diff does not
/// compare pass through first).
pub async fn execute(
    cli: &Cli,
    project: Option<&Project>,
    input: Option<&Input>,
    clients: &Clients<'_>,
    concurrency: usize,
    out: &mut Output,
) -> Result<ExitCode> {
    if let Some(project) = project {
        project.position(cli.a())?;
        project.position(cli.b())?;
    }
    let wanted = |s: Source| cli.source.is_empty() || cli.source.contains(&s);
    let mut units = Vec::new();
    let mut seen = BTreeSet::new();
    let mut push = |unit: Unit, units: &mut Vec<Unit>| {
        if seen.insert(format!("{:?}", (unit.source, &unit.a, &unit.b))) {
            units.push(unit);
        }
    };

    let from_stdin = input.is_some();
    if let Some(input) = input {
        for item in input.items(Cli::SERVICES) {
            let raw = match item {
                shared::input::Item::Own(record) => record,
                // Not configuration cfg-diff reads: passed on, as every tool does.
                shared::input::Item::Pass(passage) => {
                    out.pass(&passage)?;
                    continue;
                }
            };
            let origin = format!("{}:{}", input.origin(), raw.line);
            match raw.service {
                Service::Lambda | Service::Ecs | Service::Apigateway | Service::Stepfunctions => {
                    let record = raw.parse(input.origin())?;
                    if let Some(unit) = unit_from_record(&record, &origin, cli, project)? {
                        if wanted(unit.source) {
                            push(unit, &mut units);
                        }
                    }
                }
                _ => out.raw(raw.raw)?,
            }
        }
    } else if let Some(project) = project {
        for unit in units_from_project(project, cli)? {
            if wanted(unit.source) {
                push(unit, &mut units);
            }
        }
    }
    // Parameter Store and Secrets Manager come from promote.toml or the flags, stdin or not.
    let ssm = cli.ssm_path.clone().or_else(|| {
        project
            .and_then(|p| p.ssm_path.as_ref())
            .map(|t| t.pattern().to_string())
    });
    if let (Some(path), true) = (ssm, wanted(Source::Ssm)) {
        let t = template(&path, "--ssm-path")?;
        push(
            Unit {
                source: Source::Ssm,
                a: Place::Ssm {
                    path: t.render(cli.a()),
                },
                b: Place::Ssm {
                    path: t.render(cli.b()),
                },
            },
            &mut units,
        );
    }
    let secrets = cli.secrets_prefix.clone().or_else(|| {
        project
            .and_then(|p| p.secrets_prefix.as_ref())
            .map(|t| t.pattern().to_string())
    });
    if let (Some(prefix), true) = (secrets, wanted(Source::Secrets)) {
        let t = template(&prefix, "--secrets-prefix")?;
        push(
            Unit {
                source: Source::Secrets,
                a: Place::Secrets {
                    prefix: t.render(cli.a()),
                },
                b: Place::Secrets {
                    prefix: t.render(cli.b()),
                },
            },
            &mut units,
        );
    }
    if units.is_empty() {
        if from_stdin {
            return Ok(ExitCode::Success);
        }
        return Err(Error::usage(
            "nothing to compare: pipe lambda, ecs, apigateway or stepfunctions records in, or describe the app in promote.toml \
             (or pass --ssm-path / --secrets-prefix)",
        ));
    }

    // Both sides of every unit, read concurrently (at most --concurrency units at once).
    let sides: Vec<Result<(Side, Side)>> =
        futures::stream::iter(units.iter().map(|unit| async move {
            let (a, b) = futures::future::join(
                read(clients, cli.a(), &unit.a),
                read(clients, cli.b(), &unit.b),
            )
            .await;
            Ok((a?, b?))
        }))
        .buffered(concurrency.max(1))
        .collect()
        .await;

    let fingerprints = Fingerprinter::new()?;
    let all: Vec<String> = project.map(|p| p.order.clone()).unwrap_or_default();
    let envs = Envs {
        a: cli.a(),
        b: cli.b(),
        all: &all,
    };
    let mut worst = ExitCode::Success;
    for (unit, sides) in units.iter().zip(sides) {
        let (a, b) = match sides {
            Ok(sides) => sides,
            Err(e) => {
                shared::cli::report(&e);
                worst = worst.worst(e.exit_code());
                continue;
            }
        };
        // A read that failed (not a secret with no value) is an AWS failure, besides its record.
        for unreadable in a.unreadable.values().chain(b.unreadable.values()) {
            if unreadable.failed {
                shared::cli::note(&unreadable.reason);
                worst = worst.worst(ExitCode::Aws);
            }
        }
        for (status, key, record) in compare_unit(unit, &a, &b, &envs, &fingerprints) {
            let excused = cli
                .ignore
                .iter()
                .any(|p| glob(p, &key) || glob(p, &format!("{}:{key}", unit.source.as_str())));
            if status.is_drift() && !excused {
                worst = worst.worst(ExitCode::Drift);
            }
            out.record(&record)?;
        }
    }
    Ok(worst)
}

fn template(pattern: &str, flag: &str) -> Result<Template> {
    Template::parse(pattern).map_err(|e| Error::usage(format!("{flag}: {e}")))
}

async fn read(clients: &Clients<'_>, env: &str, place: &Place) -> Result<Side> {
    let at = clients.get(Some(env), None).await?;
    let mut side = gather::read(&at, place).await?;
    side.account = at.account;
    side.region = at.region;
    Ok(side)
}

/// The unit a lambda, ecs or apigateway record names: the same resource in both environments.
fn unit_from_record(
    record: &Record,
    origin: &str,
    cli: &Cli,
    project: Option<&Project>,
) -> Result<Option<Unit>> {
    let (a, b) = (cli.a(), cli.b());
    let env = record.env.as_deref();
    // The record's name in its own environment, mapped to each side through promote.toml.
    let map = |templates: &[Template], name: &str, to: &str| match env {
        Some(from) => map_name(templates, name, from, to),
        None => name.to_string(),
    };
    Ok(Some(match record.service {
        Service::Lambda => {
            let functions = project
                .and_then(|p| p.lambda.as_ref())
                .map(|l| l.functions.clone())
                .unwrap_or_default();
            let alias = lambda_alias(project);
            Unit {
                source: Source::Lambda,
                a: Place::Lambda {
                    function: map(&functions, &record.resource, a),
                    alias: alias.render(a),
                },
                b: Place::Lambda {
                    function: map(&functions, &record.resource, b),
                    alias: alias.render(b),
                },
            }
        }
        Service::Ecs => {
            // `CLUSTER/SERVICE` or a service ARN: the names ecs-pin's records print.
            let named = shared::arn::EcsService::parse(&record.resource)
                .map_err(|e| Error::bad_input(origin, format!("`resource`: {e}")))?;
            let ecs = project.and_then(|p| p.ecs.as_ref());
            let clusters: Vec<Template> = ecs.map(|e| vec![e.cluster.clone()]).unwrap_or_default();
            let services: Vec<Template> = ecs.map(|e| e.services.clone()).unwrap_or_default();
            // Mapped by name, whatever form (name or ARN) promote.toml writes.
            let place = |to: &str| -> Result<Place> {
                let mapped = |r: std::result::Result<String, String>| {
                    r.map_err(|e| Error::usage(format!("promote.toml [ecs]: {e}")))
                };
                Ok(match env {
                    Some(from) => Place::Ecs {
                        cluster: mapped(
                            shared::ecs::cluster_in(&clusters, &named.cluster, from, to)
                                .map(|c| c.name),
                        )?,
                        service: mapped(shared::ecs::service_in(
                            &services,
                            &named.service,
                            from,
                            to,
                        ))?,
                    },
                    None => Place::Ecs {
                        cluster: named.cluster.clone(),
                        service: named.service.clone(),
                    },
                })
            };
            Unit {
                source: Source::Ecs,
                a: place(a)?,
                b: place(b)?,
            }
        }
        Service::Apigateway => {
            let stage = apigateway_stage(project);
            Unit {
                source: Source::Apigateway,
                a: Place::Apigateway {
                    api: record.resource.clone(),
                    stage: stage.render(a),
                },
                b: Place::Apigateway {
                    api: record.resource.clone(),
                    stage: stage.render(b),
                },
            }
        }
        Service::Stepfunctions => {
            let machines = project
                .and_then(|p| p.stepfunctions.as_ref())
                .map(|s| s.state_machines.clone())
                .unwrap_or_default();
            let alias = sfn_alias(project);
            Unit {
                source: Source::Stepfunctions,
                a: Place::Stepfunctions {
                    machine: map(&machines, &record.resource, a),
                    alias: alias.render(a),
                },
                b: Place::Stepfunctions {
                    machine: map(&machines, &record.resource, b),
                    alias: alias.render(b),
                },
            }
        }
        _ => return Ok(None),
    }))
}

fn sfn_alias(project: Option<&Project>) -> Template {
    project
        .and_then(|p| p.stepfunctions.as_ref())
        .map_or_else(Template::env_name, |s| s.alias.clone())
}

fn lambda_alias(project: Option<&Project>) -> Template {
    project
        .and_then(|p| p.lambda.as_ref())
        .map_or_else(Template::env_name, |l| l.alias.clone())
}

fn apigateway_stage(project: Option<&Project>) -> Template {
    project
        .and_then(|p| p.apigateway.as_ref())
        .map_or_else(Template::env_name, |s| s.stage.clone())
}

/// Everything promote.toml describes.
fn units_from_project(project: &Project, cli: &Cli) -> Result<Vec<Unit>> {
    let (a, b) = (cli.a(), cli.b());
    let mut units = Vec::new();
    if let Some(lambda) = &project.lambda {
        for f in &lambda.functions {
            units.push(Unit {
                source: Source::Lambda,
                a: Place::Lambda {
                    function: f.render(a),
                    alias: lambda.alias.render(a),
                },
                b: Place::Lambda {
                    function: f.render(b),
                    alias: lambda.alias.render(b),
                },
            });
        }
    }
    if let Some(ecs) = &project.ecs {
        for s in &ecs.services {
            units.push(Unit {
                source: Source::Ecs,
                a: Place::Ecs {
                    cluster: ecs.cluster.render(a),
                    service: s.render(a),
                },
                b: Place::Ecs {
                    cluster: ecs.cluster.render(b),
                    service: s.render(b),
                },
            });
        }
    }
    if let Some(sfn) = &project.stepfunctions {
        for m in &sfn.state_machines {
            units.push(Unit {
                source: Source::Stepfunctions,
                a: Place::Stepfunctions {
                    machine: m.render(a),
                    alias: sfn.alias.render(a),
                },
                b: Place::Stepfunctions {
                    machine: m.render(b),
                    alias: sfn.alias.render(b),
                },
            });
        }
    }
    if let Some(api) = &project.apigateway {
        units.push(Unit {
            source: Source::Apigateway,
            a: Place::Apigateway {
                api: api.rest_api.render(a),
                stage: api.stage.render(a),
            },
            b: Place::Apigateway {
                api: api.rest_api.render(b),
                stage: api.stage.render(b),
            },
        });
    }
    Ok(units)
}

/// The records of one unit, with each one's status and key: the artifact line (Lambda, ECS), then
/// one per key, sorted.
fn compare_unit(
    unit: &Unit,
    a: &Side,
    b: &Side,
    envs: &Envs<'_>,
    fingerprints: &Fingerprinter,
) -> Vec<(Status, String, Record)> {
    let source = unit.source.as_str();
    let record = |key: &str,
                  status: Status,
                  va: Option<String>,
                  vb: Option<String>,
                  note: Option<String>| {
        let mut r = Record::new(Service::Config, Action::Resolved, &a.resource);
        r.extra.insert("source".into(), source.into());
        if b.resource != a.resource {
            r.extra
                .insert("resource_b".into(), b.resource.clone().into());
        }
        // Each side was read in its own environment's account.
        r.account = shared::aws::account_of(Some(envs.a));
        let account_b = shared::aws::account_of(Some(envs.b));
        if account_b != r.account {
            r.extra.insert(
                "account_b".into(),
                account_b.map_or(Json::Null, Json::String),
            );
        }
        r.extra.insert("key".into(), key.into());
        r.extra.insert(
            "status".into(),
            serde_json::to_value(status).unwrap_or(Json::Null),
        );
        r.extra
            .insert("a".into(), va.map_or(Json::Null, Json::String));
        r.extra
            .insert("b".into(), vb.map_or(Json::Null, Json::String));
        r.extra.insert("env_a".into(), envs.a.into());
        r.extra.insert("env_b".into(), envs.b.into());
        if let Some(note) = note {
            r.extra.insert("note".into(), note.into());
        }
        (status, key.to_string(), r)
    };
    match (a.present, b.present) {
        (false, false) => {
            return vec![record(
                "(resource)",
                Status::Same,
                None,
                None,
                Some("in neither environment".into()),
            )]
        }
        (true, false) => {
            return vec![record(
                "(resource)",
                Status::OnlyInA,
                Some(a.resource.clone()),
                None,
                None,
            )]
        }
        (false, true) => {
            return vec![record(
                "(resource)",
                Status::OnlyInB,
                None,
                Some(b.resource.clone()),
                None,
            )]
        }
        (true, true) => {}
    }
    // A Lambda version's environment is baked into it, and travels with it, only where both
    // environments run one function: with one function per environment (`api-{env}`), or a
    // function of that name in each environment's own account or region (a promotion copies
    // the code and publishes it with the target's configuration), versions never travel, and
    // each keeps its own values. A Step Functions version's definition likewise travels with
    // it where both environments are aliases of one state machine.
    let one_place = a.account == b.account && a.region == b.region;
    let one_owner = one_place
        && match (&unit.a, &unit.b) {
            (Place::Lambda { function: fa, .. }, Place::Lambda { function: fb, .. }) => fa == fb,
            (
                Place::Stepfunctions { machine: ma, .. },
                Place::Stepfunctions { machine: mb, .. },
            ) => ma == mb,
            _ => false,
        };
    let baked = one_owner;
    let mut records = Vec::new();
    if let (Some(x), Some(y)) = (&a.artifact, &b.artifact) {
        // In one function (or state machine) a version is the artifact; across two, version
        // numbers mean nothing, and the same code (or definition) under two of them (a
        // promotion's copy) is the same artifact.
        let status = if x == y || (!one_owner && a.code.is_some() && a.code == b.code) {
            Status::Same
        } else {
            Status::Differs
        };
        records.push(record(
            "(artifact)",
            status,
            Some(x.clone()),
            Some(y.clone()),
            None,
        ));
    }
    let keys: BTreeSet<&String> = a
        .values
        .keys()
        .chain(b.values.keys())
        .chain(a.unreadable.keys())
        .chain(b.unreadable.keys())
        .collect();
    for key in keys {
        // A JSON secret's keys, where the secret itself could not be read on one side: its one
        // `unreadable` record says it all (not an `only_in_*` per key).
        if let Some((secret, _)) = key.split_once('#') {
            if a.unreadable.contains_key(secret) || b.unreadable.contains_key(secret) {
                continue;
            }
        }
        let (va, vb) = (a.values.get(key), b.values.get(key));
        let (ua, ub) = (a.unreadable.get(key), b.unreadable.get(key));
        if ua.is_some() || ub.is_some() {
            // Nothing to compare: the side that could be read shows only its fingerprint (a
            // value that cannot be read lives where values are secret).
            let why = [(envs.a, ua), (envs.b, ub)]
                .into_iter()
                .filter_map(|(env, u)| u.map(|u| format!("{env}: {}", u.reason)))
                .collect::<Vec<_>>()
                .join("; ");
            let show = |v: Option<&gather::Value>| v.map(|v| fingerprints.masked(&v.text));
            records.push(record(
                key,
                Status::Unreadable,
                show(va),
                show(vb),
                Some(why),
            ));
            continue;
        }
        // Secret by where it lives or its key (`v.secret`): then masked whole, on both sides (a
        // SecureString in one environment and a String in the other is still one secret). Else
        // each value shows what `redacted` lets it: a URL's password, a token, a random-looking
        // string are hidden.
        let masked = [va, vb].into_iter().flatten().any(|v| v.secret);
        let secret = masked
            || [va, vb]
                .into_iter()
                .flatten()
                .any(|v| judge(&v.text) != Exposure::Plain);
        let (mut status, note) = classify(
            va.map(|v| v.text.as_str()),
            vb.map(|v| v.text.as_str()),
            envs,
            baked,
        );
        // Of a secret, say only whether it is the same: "parallel" would tell how two values
        // differ.
        if secret && status == Status::Parallel {
            status = Status::Differs;
        }
        let show = |v: Option<&gather::Value>| {
            v.map(|v| {
                if masked {
                    fingerprints.masked(&v.text)
                } else {
                    fingerprints.redacted(&v.text)
                }
            })
        };
        records.push(record(key, status, show(va), show(vb), note));
    }
    records
}
