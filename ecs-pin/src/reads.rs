//! What a command reads of its services, asked for together: DescribeServices takes ten services
//! of a cluster a call, a task definition named by revision never changes, and one BatchGetImage
//! answers every tag of a repository. A service is read only once its work has started: in the
//! engine, when its item is prepared (the items prepared together are read together), and an item
//! that moves a service after another one did (a later round) reads what that one left.

use crate::calls::{Clients, Located};
use crate::digests;
use crate::ServiceRef;
use futures::StreamExt;
use shared::config::EnvSettings;
use shared::ecs::{Memo, ServiceState};
use shared::image::ImageRef;
use shared::Result;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::watch;

/// One [`Memo`] per account and region (two environments with the same settings share one).
#[derive(Debug, Default)]
pub(crate) struct Memos(Mutex<HashMap<EnvSettings, Arc<Memo>>>);

impl Memos {
    pub fn of(&self, at: &Located) -> Arc<Memo> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(at.settings.clone())
            .or_default()
            .clone()
    }
}

/// What identifies a service's read: its environment's clients (in the region its ARN names)
/// and its name in its cluster.
type Key = (Option<String>, Option<String>, String, String);

fn key(service: &ServiceRef) -> Key {
    (
        service.env.clone(),
        service.region.clone(),
        service.cluster.clone(),
        service.service.clone(),
    )
}

/// A cluster, in an environment's account and region.
type Cluster = (Option<String>, Option<String>, String);

/// The states one DescribeServices round read. A service missing from it (its cluster's call
/// failed) is read again on its own, so its error is its own.
type States = Arc<HashMap<Key, Option<ServiceState>>>;

/// A round in flight: `None` until its states are in.
type Round = watch::Receiver<Option<States>>;

#[derive(Debug, Default)]
struct Queue {
    /// Services whose work has started and that no round has read yet, in the order they started.
    wanted: Vec<ServiceRef>,
    /// Services a round has read (or is reading) for work that has not taken its state yet.
    read: HashMap<Key, Round>,
}

/// How far a command's work reads each service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Depth {
    /// Its state only (rollback checks the task definition it runs).
    State,
    /// Its state, task definition and images: a round reads those too, grouped.
    Running,
}

/// The reads of one command.
#[derive(Debug)]
pub(crate) struct Reads<'a> {
    pub clients: &'a Clients<'a>,
    pub memos: Memos,
    depth: Depth,
    /// At most this many task definitions are read at once.
    concurrency: usize,
    queue: Mutex<Queue>,
}

impl<'a> Reads<'a> {
    pub fn new(clients: &'a Clients<'a>, concurrency: usize, depth: Depth) -> Self {
        Reads {
            clients,
            memos: Memos::default(),
            depth,
            concurrency: concurrency.max(1),
            queue: Mutex::default(),
        }
    }

    /// Say that `service` is about to be read: call it as a work item starts, before it awaits
    /// anything, so items started together are read in one round. A state read for an earlier
    /// item and never taken is dropped: this item must see what is there now.
    pub fn want(&self, service: &ServiceRef) {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let key = key(service);
        queue.read.remove(&key);
        if !queue.wanted.iter().any(|s| self::key(s) == key) {
            queue.wanted.push(service.clone());
        }
    }

    /// The service's clients and its state (`None`: the cluster has no such service), read in
    /// one round with every other service wanted and not read yet.
    pub async fn state(&self, service: &ServiceRef) -> Result<(Located, Option<ServiceState>)> {
        let at = self
            .clients
            .get(service.env.as_deref(), service.region.as_deref())
            .await?;
        let key = key(service);
        let mut round = self.take(&key);
        if round.is_none() {
            // Let the items started with this one say what they want before the round goes out.
            tokio::task::yield_now().await;
            round = self.take(&key);
        }
        let states = match round {
            Some(mut round) => round
                .wait_for(Option::is_some)
                .await
                .ok()
                .and_then(|s| s.clone()),
            None => Some(self.round(service).await),
        };
        match states.and_then(|states| states.get(&key).cloned()) {
            Some(state) => Ok((at, state)),
            None => {
                let state = shared::ecs::describe_service(
                    &at.client.ecs,
                    &service.cluster,
                    &service.service,
                )
                .await?;
                Ok((at, state))
            }
        }
    }

    fn take(&self, key: &Key) -> Option<Round> {
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .read
            .remove(key)
    }

    /// Read `me` and every service wanted: one DescribeServices per cluster (ten services a call),
    /// then, for commands that need them, their task definitions and one BatchGetImage per
    /// repository for all their tags, so each item's own reads find them in the memos.
    async fn round(&self, me: &ServiceRef) -> States {
        let (sender, receiver) = watch::channel(None);
        let services: Vec<ServiceRef> = {
            let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            let mut services = std::mem::take(&mut queue.wanted);
            if !services.iter().any(|s| key(s) == key(me)) {
                services.insert(0, me.clone());
            }
            for service in &services {
                if key(service) != key(me) {
                    queue.read.insert(key(service), receiver.clone());
                }
            }
            services
        };
        // The services of each cluster (of each environment), in the order they were wanted.
        let mut clusters: Vec<(Cluster, Vec<String>)> = Vec::new();
        for service in &services {
            let cluster: Cluster = (
                service.env.clone(),
                service.region.clone(),
                service.cluster.clone(),
            );
            match clusters.iter_mut().find(|(c, _)| *c == cluster) {
                Some((_, names)) => names.push(service.service.clone()),
                None => clusters.push((cluster, vec![service.service.clone()])),
            }
        }
        let answers = futures::future::join_all(clusters.into_iter().map(
            |((env, region, cluster), names)| async move {
                let at = self
                    .clients
                    .get(env.as_deref(), region.as_deref())
                    .await
                    .ok()?;
                let states = shared::ecs::describe_services(&at.client.ecs, &cluster, &names)
                    .await
                    .ok()?;
                Some((at, env, region, cluster, names, states))
            },
        ))
        .await;
        let mut states = HashMap::new();
        let mut running = Vec::new();
        for (at, env, region, cluster, names, found) in answers.into_iter().flatten() {
            for (name, state) in names.into_iter().zip(found) {
                if let Some(state) = &state {
                    running.push((env.clone(), at.clone(), state.task_definition.clone()));
                }
                states.insert((env.clone(), region.clone(), cluster.clone(), name), state);
            }
        }
        if self.depth == Depth::Running {
            self.prefetch(running).await;
        }
        let states = Arc::new(states);
        // Nobody waiting is fine: every item may have found its state already.
        let _ = sender.send(Some(states.clone()));
        states
    }

    /// Read the task definitions the services run, then every image they name by tag, grouped
    /// by repository. Failures are left for each item's own read to report.
    async fn prefetch(&self, running: Vec<(Option<String>, Located, String)>) {
        let references: Vec<Vec<(Option<String>, ImageRef)>> =
            futures::stream::iter(running.into_iter().map(
                |(env, at, task_definition)| async move {
                    let memo = self.memos.of(&at);
                    let Ok((definition, _)) =
                        memo.task_definition(&at.client.ecs, &task_definition).await
                    else {
                        return Vec::new();
                    };
                    definition
                        .container_definitions()
                        .iter()
                        .filter_map(|c| ImageRef::parse(c.image().unwrap_or_default()).ok())
                        .filter(|r| r.digest.is_none() && r.is_ecr())
                        .map(|r| (env.clone(), r))
                        .collect()
                },
            ))
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        let references: Vec<(Option<String>, ImageRef)> =
            references.into_iter().flatten().collect();
        digests::prefetch(self.clients, &self.memos, &references, self.concurrency).await;
    }
}
