//! One file per kind of AWS resource: how to read it (`discover`), create or update it
//! to match a planned change (`apply`), and delete it (`delete`).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;

use crate::model::config::Config;
use crate::model::found::Found;
use crate::model::names::{Names, TAG_RESOURCE, TAG_STACK};
use crate::model::plan::{Change, Observed};
use crate::model::spec::{for_each_kind, Props, Ref, Spec};
use crate::model::stack::{resource_tags, Kind, Tags};
use crate::package::Artifact;

use super::clients::Aws;
use super::error::{AwsError, Bug, ResourceError};
use super::events::{Reporter, ResourceNotify};
use super::identity::Identity;
use super::propagation::Propagation;
use super::retry::{retry, Policy};

pub(crate) mod alarm;
pub(crate) mod alarm_topic;
pub(crate) mod certificate;
pub(crate) mod dashboard;
pub(crate) mod dns_record;
pub(crate) mod ec2;
pub(crate) mod elb;
pub(crate) mod function;
pub(crate) mod function_concurrency;
pub(crate) mod function_provisioned;
pub(crate) mod gate_alarms;
pub(crate) mod internet_gateway;
pub(crate) mod listener;
pub(crate) mod listener_certificates;
pub(crate) mod load_balancer;
pub(crate) mod log_bucket;
pub(crate) mod log_group;
pub mod role;
pub(crate) mod route_table;
pub(crate) mod rule;
pub(crate) mod security_group;
pub(crate) mod subnet;
pub(crate) mod target_group;
pub(crate) mod trust_store;
pub(crate) mod vpc;
pub(crate) mod web_acl;
pub(crate) mod web_acl_association;

/// Generates [`apply`] from the registry of kinds: each kind's module here has an
/// `apply(ctx, change, &its spec, have)` that returns the resource's AWS id; `have` is
/// what discovery found of the resource the change updates (`None` for a creation).
macro_rules! dispatch_apply {
    ($($variant:ident($spec:ident) in $module:ident),* $(,)?) => {
        /// Creates or updates one resource as its change says; its AWS id.
        pub async fn apply(
            ctx: &Ctx<'_>,
            change: &Change,
            want: &Spec,
            have: Option<&Observed>,
        ) -> Result<String, ResourceError> {
            match want {
                $(Spec::$variant(s) => $module::apply(ctx, change, s, have).await,)*
            }
        }
    };
}

for_each_kind!(dispatch_apply);

/// Generates [`delete`] from the registry of kinds: each kind's module here has a
/// `delete(ctx, &Observed, Teardown)`, idempotent (a resource already gone is deleted).
macro_rules! dispatch_delete {
    ($($variant:ident($spec:ident) in $module:ident),* $(,)?) => {
        /// Deletes one observed resource, taking with it what `opts` allows.
        pub async fn delete(ctx: &Ctx<'_>, have: &Observed, opts: Teardown) -> Result<(), AwsError> {
            match have.resource.kind {
                $(Kind::$variant => $module::delete(ctx, have, opts).await,)*
            }
        }
    };
}

for_each_kind!(dispatch_delete);

/// What a deletion may take with it beyond the resource itself. Each is the user's
/// explicit choice on `down`; the deletions `up` plans take none of them but the logs
/// its plan showed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Teardown {
    /// Delete the access-log bucket (every object version) and the log groups; without
    /// it they are kept.
    pub purge_logs: bool,
    /// Turn off the load balancer's deletion protection first; without it a protected
    /// load balancer is not deleted.
    pub disable_deletion_protection: bool,
    /// Delete the certificate's DNS validation CNAMEs, which ACM shares between every
    /// certificate of the same domain name in the account; without it they are kept.
    pub delete_validation_records: bool,
}

impl Teardown {
    /// What `up` may do when its plan deletes or replaces something: the logs (the plan
    /// marks their deletion), nothing else.
    pub const UP: Teardown = Teardown {
        purge_logs: true,
        disable_deletion_protection: false,
        delete_validation_records: false,
    };
}

/// Where the load balancer answers: its DNS name, and the hosted zone an alias record
/// to it names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoint {
    pub dns_name: String,
    pub zone_id: String,
}

/// Ids of the stack's resources by logical id: seeded from discovery, filled in as
/// resources are created. Dependents read their parents' ids here; the load balancer's
/// endpoint is kept beside them.
#[derive(Debug, Default)]
pub struct Ids {
    inner: Mutex<BTreeMap<String, String>>,
    endpoint: Mutex<Option<Endpoint>>,
}

impl Ids {
    pub fn set_endpoint(&self, endpoint: Endpoint) {
        if let Ok(mut e) = self.endpoint.lock() {
            *e = Some(endpoint);
        }
    }

    /// The load balancer's endpoint, once it was created or found.
    pub fn endpoint(&self) -> Option<Endpoint> {
        self.endpoint.lock().ok().and_then(|e| e.clone())
    }

    pub fn insert(&self, logical: &str, id: &str) {
        if let Ok(mut map) = self.inner.lock() {
            map.insert(logical.to_string(), id.to_string());
        }
    }

    pub fn remove(&self, logical: &str) {
        if let Ok(mut map) = self.inner.lock() {
            map.remove(logical);
        }
    }

    pub fn find(&self, logical: &str) -> Option<String> {
        self.inner.lock().ok().and_then(|m| m.get(logical).cloned())
    }

    /// The id of a resource this one depends on. The executor only starts a resource
    /// after its dependencies, so a miss is a bug in the dependency graph.
    pub fn get(&self, logical: &str) -> Result<String, Bug> {
        self.find(logical)
            .ok_or_else(|| Bug::new(logical, "has no id yet: the dependency order is wrong"))
    }

    /// The AWS id of a typed reference: a stack resource's from the map, an external
    /// one as the config gave it.
    pub fn of(&self, reference: &Ref) -> Result<String, Bug> {
        match reference {
            Ref::Stack(id) => self.get(id.as_str()),
            Ref::External(id) => Ok(id.clone()),
        }
    }

    pub fn snapshot(&self) -> BTreeMap<String, String> {
        self.inner.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

/// Everything resource code needs.
pub struct Ctx<'a> {
    pub aws: &'a Aws,
    pub config: &'a Config,
    pub names: &'a Names,
    pub identity: &'a Identity,
    pub reporter: &'a dyn Reporter,
    pub ids: &'a Ids,
    pub artifacts: &'a BTreeMap<String, Artifact>,
    /// The gate of the calls refused while new roles propagate (`CreateFunction`).
    pub(crate) propagation: &'a Propagation,
}

impl Ctx<'_> {
    pub fn stack(&self) -> &str {
        &self.config.stack.name
    }

    /// The account id (from STS, asked once per run).
    pub async fn account(&self) -> Result<&str, AwsError> {
        self.identity.account().await
    }

    pub fn tags(&self, logical: &str) -> Tags {
        resource_tags(self.config, logical)
    }

    pub fn notify(&self, logical: &str) -> ResourceNotify<'_> {
        ResourceNotify {
            reporter: self.reporter,
            logical: logical.to_string(),
        }
    }

    /// `true` when `tags` mark a resource as this stack's.
    pub fn owns(&self, tags: &Tags) -> bool {
        tags.get(TAG_STACK).map(String::as_str) == Some(self.stack())
    }
}

/// The logical id a resource's tags give it.
pub fn logical_of(tags: &Tags) -> Option<String> {
    tags.get(TAG_RESOURCE).cloned()
}

/// Tags to set and keys to remove to go from the observed resource's tags to `new`.
pub fn tag_changes(have: Option<&Observed>, new: &Tags) -> (Tags, Vec<String>) {
    let empty = Tags::new();
    let old = have.map_or(&empty, |h| &h.tags);
    let set = new
        .iter()
        .filter(|(k, v)| old.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let remove = old
        .keys()
        .filter(|k| !new.contains_key(*k))
        .cloned()
        .collect();
    (set, remove)
}

/// How many reads of one kind discovery keeps in flight at once: a stack of 50 functions
/// is read in a few round trips, not 50 one after another, without bursts of hundreds
/// of calls into one API's rate limit.
pub(crate) const PARALLEL_READS: usize = 16;

/// `read` of each of `items`, at most [`PARALLEL_READS`] at once; the results in the
/// items' order. The first error stands.
pub(crate) async fn read_each<I, T, F, Fut>(items: I, read: F) -> Result<Vec<T>, AwsError>
where
    I: IntoIterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    use futures::stream::{StreamExt, TryStreamExt};
    futures::stream::iter(items)
        .map(read)
        .buffered(PARALLEL_READS)
        .try_collect()
        .await
}

/// One read per stack function among `functions` (what discovery found), all at once:
/// `read_one(function, its name, the logical id of its `suffix` setting)` gives the
/// setting (a reserved or provisioned concurrency) when the function has one.
pub(crate) async fn per_function<'a, F, Fut>(
    functions: &'a [Found],
    suffix: &str,
    read_one: F,
) -> Result<Vec<Found>, AwsError>
where
    F: Fn(&'a Found, &'a str, String) -> Fut,
    Fut: Future<Output = Result<Option<Found>, AwsError>> + 'a,
{
    let reads = functions
        .iter()
        .filter(|f| f.spec.kind() == Kind::Function)
        .filter_map(|f| Some((f, f.name()?)))
        .map(|(f, name)| read_one(f, name, format!("{}/{suffix}", f.logical)));
    Ok(futures::future::try_join_all(reads)
        .await?
        .into_iter()
        .flatten()
        .collect())
}

/// A read's result with "not found" as `None`; any other error stands.
pub fn found<T>(result: Result<T, AwsError>) -> Result<Option<T>, AwsError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads with `read`, retried under the transient policy, pauses reported for `logical`.
pub async fn read<T, Fut>(
    ctx: &Ctx<'_>,
    logical: &str,
    what: &str,
    read: impl FnMut() -> Fut,
) -> Result<T, AwsError>
where
    Fut: Future<Output = Result<T, AwsError>>,
{
    retry(Policy::transient(), what, &ctx.notify(logical), read).await
}

/// Deletes with `delete`, retried under the teardown policy (what depends on the resource
/// may still be letting go of it); one that is gone already counts as deleted.
pub async fn teardown<T, Fut>(
    ctx: &Ctx<'_>,
    logical: &str,
    what: &str,
    delete: impl FnMut() -> Fut,
) -> Result<(), AwsError>
where
    Fut: Future<Output = Result<T, AwsError>>,
{
    let deleted = retry(Policy::teardown(), what, &ctx.notify(logical), delete).await;
    deleted.map(|_| ()).or_else(ignore_not_found)
}

/// Keeps `text`, a value as AWS reported it, among a found resource's `extras` when its
/// spec renders the property `name` otherwise (`rendered`): a value albkit never sets,
/// or one the spec cannot hold. The plan then shows it as AWS has it.
pub fn as_found(
    extras: &mut Props,
    name: &'static str,
    text: impl Into<String>,
    rendered: impl AsRef<str>,
) {
    let text = text.into();
    if text != rendered.as_ref() {
        extras.push((name, text));
    }
}

/// A resource found under one of the stack's names (or in a place the stack writes to)
/// without the proof that it is the stack's: albkit never changes or deletes it. `plan`
/// and `up` refuse to go on while one is in the way; `down` leaves it and says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Foreign {
    /// What it is, for people: "load balancer", "S3 bucket", "Route 53 alias record".
    pub kind: &'static str,
    /// Its name or id.
    pub name: String,
    /// Why it is not the stack's: the missing or different proof of ownership.
    pub reason: String,
}

/// Why `tags` do not prove that a resource is this stack's.
pub fn not_tagged_reason(ctx: &Ctx<'_>, tags: &Tags) -> String {
    match tags.get(TAG_STACK) {
        None => format!("it has no {TAG_STACK} tag"),
        Some(other) => format!("its {TAG_STACK} tag is {other:?}, not {:?}", ctx.stack()),
    }
}

/// Splits what a discovery found, resource by resource, into the stack's resources and
/// the foreign ones in their place (`None`: neither, e.g. another stack's).
pub fn split_found(found: Vec<Option<Result<Found, Foreign>>>) -> (Vec<Found>, Vec<Foreign>) {
    let mut ours = Vec::new();
    let mut foreign = Vec::new();
    for f in found.into_iter().flatten() {
        match f {
            Ok(o) => ours.push(o),
            Err(f) => foreign.push(f),
        }
    }
    (ours, foreign)
}

/// For calls whose lost response makes the retry fail with "already done" (the
/// attachment, route or association is there): those codes are success.
pub fn already_done(codes: &'static [&'static str]) -> impl Fn(AwsError) -> Result<(), AwsError> {
    move |e| {
        if codes.iter().any(|c| e.is(c)) {
            Ok(())
        } else {
            Err(e)
        }
    }
}

/// Deleting something already gone is success.
pub fn ignore_not_found(e: AwsError) -> Result<(), AwsError> {
    if e.not_found() {
        Ok(())
    } else {
        Err(e)
    }
}

/// A waiter's failure as an AWS error of the operation it polled.
pub fn wait_error(
    e: crate::aws::retry::WaitError,
    operation: &'static str,
    resource: &str,
) -> AwsError {
    match e {
        crate::aws::retry::WaitError::Aws(e) => e,
        other => AwsError {
            operation,
            resource: resource.to_string(),
            code: Some("WaiterTimeout".into()),
            message: other.to_string(),
            status: None,
            class: crate::aws::error::ErrorClass::Permanent,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::spec::LogicalId;

    #[test]
    fn a_missing_dependency_is_a_bug_and_an_external_id_passes_through() {
        let ids = Ids::default();
        let bug = ids.get("vpc").expect_err("no id yet");
        assert_eq!(bug.resource, "vpc");
        ids.insert("vpc", "vpc-1");
        assert_eq!(
            ids.of(&Ref::Stack(LogicalId::from("vpc"))),
            Ok("vpc-1".into())
        );
        assert_eq!(ids.of(&Ref::External("vpc-9".into())), Ok("vpc-9".into()));
    }
}
