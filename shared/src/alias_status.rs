//! The work of a `status` over aliases (Lambda's, Step Functions'): which aliases of which
//! resources to read, from the command line's names, the records on stdin, or promote.toml's
//! templates, in that order of preference; and how each item is named in an `error` record when
//! it cannot be read. A tool supplies how its resource is named ([`Owner`]) and reads each item.

use crate::batch::{self, Described, Work};
use crate::config::{Project, Template};
use crate::engine::Target;
use crate::error::{Error, Result};
use crate::input::Input;
use crate::record::Service;

/// What owns the aliases (a function, a state machine), as the tool parses its names.
pub trait Owner: Sized {
    /// A name on the command line or in promote.toml; `hint` says what names the alias instead
    /// of a qualifier.
    ///
    /// # Errors
    /// A message naming the text.
    fn parse(text: &str, hint: &str) -> std::result::Result<Self, String>;
    /// A record's `resource`, in the record's `region` unless it names its own.
    ///
    /// # Errors
    /// A message naming the text.
    fn of_record(resource: &str, region: Option<&str>) -> std::result::Result<Self, String>;
    /// The name records show as `resource`.
    fn name(&self) -> &str;
    /// The region the owner is called in, when its name says.
    fn region(&self) -> Option<&str>;
}

/// One owner to show: one alias of it, or all of them.
#[derive(Debug)]
pub struct Item<O> {
    pub owner: O,
    pub alias: Option<String>,
    pub env: Option<String>,
}

/// What a `status` command line asks for.
#[derive(Debug)]
pub struct Asked<'a> {
    pub service: Service,
    /// The names on the command line (none: stdin's records, else promote.toml's templates).
    pub names: &'a [String],
    /// `--env`: only that environment's alias.
    pub env: Option<&'a str>,
    /// The alias template.
    pub aliases: &'a Template,
    /// promote.toml's owners, `{env}` allowed.
    pub templates: &'a [Template],
    /// What a qualifier on a command-line name should be instead.
    pub hint: &'a str,
    /// The same, for promote.toml's names.
    pub toml_hint: &'a str,
    /// The usage error when nothing names anything to show.
    pub nothing: &'a str,
}

/// The items to read, in order, other services' records passed through in their place.
///
/// # Errors
/// A name that does not parse (exit 2), a malformed record (exit 2 naming its line), or nothing
/// to show.
pub fn work<'a, O: Owner>(
    asked: &Asked<'_>,
    project: Option<&Project>,
    input: Option<&'a Input>,
) -> Result<Vec<Work<'a, Item<O>>>> {
    let alias_for = |env: Option<&str>| env.map(|e| asked.aliases.render(e));
    let mut work: Vec<Work<'a, Item<O>>> = Vec::new();
    if !asked.names.is_empty() {
        for name in asked.names {
            work.push(Work::Own(Item {
                owner: O::parse(name, asked.hint).map_err(Error::usage)?,
                alias: alias_for(asked.env),
                env: asked.env.map(str::to_string),
            }));
        }
    } else if let Some(input) = input {
        for item in input.items(&[asked.service]) {
            let Some(record) = batch::own(item, &mut work) else {
                continue;
            };
            let parsed = record.parse(input.origin())?;
            let origin = format!("{}:{}", input.origin(), record.line);
            let owner = O::of_record(&parsed.resource, parsed.region.as_deref())
                .map_err(|e| Error::bad_input(&origin, format!("`resource`: {e}")))?;
            // --env names the alias; without it, the alias the record names.
            let (alias, env) = match asked.env {
                Some(env) => (alias_for(Some(env)), Some(env.to_string())),
                None => (parsed.pointer.clone(), parsed.env.clone()),
            };
            work.push(Work::Own(Item { owner, alias, env }));
        }
    } else if !asked.templates.is_empty() {
        let envs: Vec<Option<String>> = match asked.env {
            Some(env) => vec![Some(env.to_string())],
            None => project.map_or_else(Vec::new, |p| p.order.iter().cloned().map(Some).collect()),
        };
        let one_place = project.is_none_or(Project::one_place);
        for template in asked.templates {
            if asked.env.is_none() && !template.varies_by_env() && one_place {
                // One owner for all environments, in one account and region: list all its
                // aliases at once. (Environments in accounts or regions of their own each have
                // one of that name: each is read with its environment's credentials.)
                work.push(Work::Own(Item {
                    owner: O::parse(template.pattern(), asked.toml_hint).map_err(Error::usage)?,
                    alias: None,
                    env: None,
                }));
                continue;
            }
            for env in &envs {
                let name = env
                    .as_ref()
                    .map_or_else(|| template.pattern().to_string(), |e| template.render(e));
                work.push(Work::Own(Item {
                    owner: O::parse(&name, asked.toml_hint).map_err(Error::usage)?,
                    alias: alias_for(env.as_deref()),
                    env: env.clone(),
                }));
            }
        }
    } else {
        return Err(Error::usage(asked.nothing));
    }
    Ok(work)
}

/// How an item is named in the `error` record written when it cannot be read: `status |
/// promote` then refuses instead of promoting the rest of the manifest in silence.
pub fn describe<O: Owner>(service: Service) -> impl Fn(&Item<O>) -> Described {
    move |item| Described {
        key: None,
        subject: Some({
            let mut target = Target::new(
                service,
                item.owner.name(),
                item.alias.clone().unwrap_or_default(),
            )
            .env(item.env.as_deref())
            .region(item.owner.region());
            if item.alias.is_none() {
                target.pointer = None;
            }
            target
        }),
    }
}
