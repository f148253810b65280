//! The HTTPS listener's extra (SNI) certificates: read with
//! `DescribeListenerCertificates`, converged with `AddListenerCertificates` and
//! `RemoveListenerCertificates`. They have no id or tags of their own; they are the
//! stack's because the listener is, and their id is the listener's ARN.

use std::collections::BTreeSet;

use aws_sdk_elasticloadbalancingv2::types::{Certificate, Listener, ProtocolEnum};

use super::ignore_not_found;
use super::{found, Ctx, Teardown};
use crate::aws::error::{AwsError, AwsResultExt, ResourceError};
use crate::aws::retry::{retry, Policy};
use crate::model::found::Found;
use crate::model::ids::CertificateArn;
use crate::model::names::logical;
use crate::model::plan::{Change, Observed};
use crate::model::spec::{ListenerCertificatesSpec, Ref};
use crate::model::stack::Tags;

/// The listener's certificates other than its default one.
async fn extras(ctx: &Ctx<'_>, listener: &str) -> Result<BTreeSet<String>, AwsError> {
    let mut extras = BTreeSet::new();
    let mut pages = ctx
        .aws
        .elb
        .describe_listener_certificates()
        .listener_arn(listener)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.aws("DescribeListenerCertificates", listener)?;
        extras.extend(
            page.certificates()
                .iter()
                .filter(|c| c.is_default() != Some(true))
                .filter_map(|c| c.certificate_arn().map(str::to_string)),
        );
    }
    Ok(extras)
}

/// The extra certificates of every HTTPS listener, by listener ARN, when the config
/// manages them (`[https] extra_certificate_arns` is set): without the key albkit
/// neither reads nor changes them. Read beside the listeners' tags, so before it is
/// known which listener is the stack's `listener/https` ([`observed_for`] picks it).
pub(crate) async fn read(
    ctx: &Ctx<'_>,
    listeners: &[Listener],
) -> Result<Vec<(String, BTreeSet<String>)>, AwsError> {
    let managed = ctx
        .config
        .https
        .as_ref()
        .is_some_and(|h| h.extra_certificate_arns.is_some());
    if !managed {
        return Ok(Vec::new());
    }
    let https = listeners
        .iter()
        .filter(|l| l.protocol() == Some(&ProtocolEnum::Https))
        .filter_map(|l| l.listener_arn());
    futures::future::try_join_all(https.map(|arn| async move {
        let what = "read listener certificates";
        let found = super::read(ctx, logical::LISTENER_CERTIFICATES, what, || {
            extras(ctx, arn)
        })
        .await?;
        Ok((arn.to_string(), found))
    }))
    .await
}

/// The found `listener/https/certificates`: the certificates [`read`] found on the
/// listener discovery named `listener/https`. Pure.
pub(crate) fn found_for(listeners: &[Found], found: Vec<(String, BTreeSet<String>)>) -> Vec<Found> {
    let Some(https) = listeners
        .iter()
        .find(|f| f.logical == logical::LISTENER_HTTPS)
    else {
        return Vec::new();
    };
    found
        .into_iter()
        .filter(|(arn, _)| *arn == https.id)
        .map(|(arn, certificates)| {
            let arns: Vec<CertificateArn> =
                certificates.into_iter().map(CertificateArn::new).collect();
            let listener = Ref::Stack(logical::LISTENER_HTTPS.into());
            let spec = ListenerCertificatesSpec::new(listener, &arns);
            Found::new(arn, logical::LISTENER_CERTIFICATES, spec, Tags::new())
        })
        .collect()
}

fn certificates<'a>(arns: impl IntoIterator<Item = &'a String>) -> Vec<Certificate> {
    arns.into_iter()
        .map(|arn| Certificate::builder().certificate_arn(arn).build())
        .collect()
}

/// Adds the missing certificates and removes the others, against what the listener
/// has now (read again: the plan's view may be old). Returns the listener's ARN.
pub(crate) async fn apply(
    ctx: &Ctx<'_>,
    _change: &Change,
    want: &ListenerCertificatesSpec,
    _: Option<&Observed>,
) -> Result<String, ResourceError> {
    let listener = ctx.ids.of(&want.listener)?;
    let notify = ctx.notify(logical::LISTENER_CERTIFICATES);
    let have = retry(
        Policy::fresh(),
        "read listener certificates",
        &notify,
        || extras(ctx, &listener),
    )
    .await?;
    let wanted: BTreeSet<String> = want
        .certificates
        .iter()
        .map(|c| c.as_str().to_string())
        .collect();
    let add: Vec<&String> = wanted.difference(&have).collect();
    let remove: Vec<&String> = have.difference(&wanted).collect();
    if !add.is_empty() {
        retry(
            Policy::fresh(),
            "add listener certificates",
            &notify,
            || async {
                ctx.aws
                    .elb
                    .add_listener_certificates()
                    .listener_arn(&listener)
                    .set_certificates(Some(certificates(add.iter().copied())))
                    .send()
                    .await
                    .aws("AddListenerCertificates", &listener)
            },
        )
        .await?;
    }
    if !remove.is_empty() {
        remove_certificates(ctx, &listener, remove).await?;
    }
    Ok(listener)
}

async fn remove_certificates(
    ctx: &Ctx<'_>,
    listener: &str,
    arns: Vec<&String>,
) -> Result<(), AwsError> {
    retry(
        Policy::teardown(),
        "remove listener certificates",
        &ctx.notify(logical::LISTENER_CERTIFICATES),
        || async {
            ctx.aws
                .elb
                .remove_listener_certificates()
                .listener_arn(listener)
                .set_certificates(Some(certificates(arns.iter().copied())))
                .send()
                .await
                .aws("RemoveListenerCertificates", listener)
        },
    )
    .await
    .map(|_| ())
}

/// Removes every extra certificate of `listener`; nothing to do when the listener is
/// gone (its certificates went with it).
pub(crate) async fn delete(ctx: &Ctx<'_>, have: &Observed, _: Teardown) -> Result<(), AwsError> {
    let listener = have.id.as_str();
    let Some(have) = found(extras(ctx, listener).await)?.filter(|h| !h.is_empty()) else {
        return Ok(());
    };
    remove_certificates(ctx, listener, have.iter().collect())
        .await
        .or_else(ignore_not_found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::found::resolve;

    fn listener(logical: &str, arn: &str) -> Found {
        let spec = ListenerCertificatesSpec::new(Ref::Stack(logical.into()), &[]);
        Found::new(arn, logical, spec, Tags::new())
    }

    #[test]
    fn only_the_stacks_https_listener_has_certificates_observed() {
        let set = |arns: &[&str]| arns.iter().map(std::string::ToString::to_string).collect();
        let found = vec![
            ("arn:https".to_string(), set(&["b", "a"])),
            ("arn:other".to_string(), set(&["c"])),
        ];
        let listeners = [
            listener(logical::LISTENER_HTTP, "arn:http"),
            listener(logical::LISTENER_HTTPS, "arn:https"),
        ];
        let got = resolve(found_for(&listeners, found.clone()), &[]);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].id, "arn:https");
        assert_eq!(got[0].resource.logical, logical::LISTENER_CERTIFICATES);
        assert_eq!(got[0].resource.get("certificates"), Some("a, b"));
        assert_eq!(
            got[0].resource.get("listener"),
            Some(logical::LISTENER_HTTPS)
        );
        assert!(found_for(&listeners[..1], found).is_empty());
        let none = found_for(&listeners, vec![("arn:https".to_string(), BTreeSet::new())]);
        let none = resolve(none, &[]);
        assert_eq!(none[0].resource.get("certificates"), Some("(none)"));
    }
}
